"""What the claims engine asks of a paper's built tables, answered once for every paper: a claim cell's value on
each side, its spec, whether it is timed, its per-sample values, its timing replicates and its chance level."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from robust3d.tables.cell import Cell
    from robust3d.tables.claims import Ref
    from robust3d.tables.render import BuiltTable
    from robust3d.tables.sources import Sources
    from robust3d.tables.spec import Column, Row, TableSpec


class TableLookups:
    """Lookups of claim cells (:class:`~robust3d.tables.claims.Ref`) in ``tables`` built from ``sources``."""

    def __init__(self, tables: list[BuiltTable], sources: Sources) -> None:
        self.by_name = {t.spec.name: t for t in tables}
        self.sources = sources

    def side(self, source: str):
        """``ref -> Cell`` on ``ours`` or ``paper``."""
        def get(ref: Ref) -> Cell:
            return self.by_name[ref.table].cell(source, ref.row, ref.column)
        return get

    def spec(self, ref: Ref) -> tuple[TableSpec, Row, Column] | None:
        """(spec, row, column) of a cell; None where this config's table lacks it."""
        table = self.by_name.get(ref.table)
        rows = [r for r in table.spec.rows if r.key == ref.row] if table else []
        cols = [c for c in table.spec.columns if c.key == ref.column] if table else []
        return (table.spec, rows[0], cols[0]) if rows and cols else None

    def timing(self, ref: Ref) -> bool:
        found = self.spec(ref)
        return found is not None and found[2].timing

    def samples(self, ref: Ref) -> pd.Series | pd.DataFrame | None:
        """A cell's per-sample values (None when it is not a mean over samples)."""
        from robust3d.tables.spec import cell_samples

        found = self.spec(ref)
        if found is None or found[1].source != "model" or not self.sources.has_model(found[1].model):
            return None
        return cell_samples(*found, self.sources)

    def replicates(self, ref: Ref) -> np.ndarray | None:
        """A timed cell's bootstrap replicates from its repeated timings."""
        from robust3d.tables.claims import BOOTSTRAP_RESAMPLES

        found = self.spec(ref)
        return None if found is None else found[2].replicates(found[1], self.sources, BOOTSTRAP_RESAMPLES)

    def chance(self, ref: Ref) -> float | None:
        """The chance level (percent) of an accuracy cell's split, as ``<paper>_chance.csv`` computes it."""
        from robust3d.tables.uncertainty import cell_chance

        found = self.spec(ref)
        return None if found is None else cell_chance(found[1], found[2], self.sources)
