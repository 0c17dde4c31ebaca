"""The ``build`` / ``write`` work every paper stage with plain tables and claims shares: its specs resolved on our
outputs beside its reference numbers, its claims checked on both sides, and the files written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from robust3d.tables.claims import Claim
    from robust3d.tables.render import BuiltTable
    from robust3d.tables.sources import Sources
    from robust3d.tables.spec import TableSpec


def build_tables_and_claims(specs: list[TableSpec], claims: list[Claim], sources: Sources, reference: str | Path,
                            intro: Callable[[str], list[str]]) -> tuple[list[BuiltTable], pd.DataFrame]:
    """Each spec built from ``sources`` and the reference file, each claim judged on both sides.
    ``intro(dataset)``: the lines above every table, given the reference's dataset description."""
    from robust3d.tables.claims import claims_frame
    from robust3d.tables.lookups import TableLookups
    from robust3d.tables.reference import load_reference
    from robust3d.tables.render import build_table

    ref = load_reference(reference)
    lines = intro(ref.dataset)
    tables = [build_table(spec, sources, ref, lines) for spec in specs]
    cells = TableLookups(tables, sources)
    return tables, claims_frame(claims, cells.side("ours"), cells.side("paper"), samples=cells.samples)


def write_tables_and_claims(paper: str, tables: list[BuiltTable], claims_df: pd.DataFrame, out_dir: str | Path
                            ) -> list[Path]:
    """``<paper>_<table>.*`` for every table and ``<paper>_claims.csv``, atomically; the paths written."""
    from robust3d.data.io import atomic_path
    from robust3d.tables.render import write_table

    out_dir = Path(out_dir)
    written = [p for table in tables for p in write_table(table, out_dir)]
    claims_path = out_dir / f"{paper}_claims.csv"
    with atomic_path(claims_path) as tmp:
        claims_df.to_csv(tmp, index=False)
    return [*written, claims_path]


def stage_io(paper: str, specs: Callable, claims: Callable, reference: str | Path,
             intro: Callable[[dict | None, str], list[str]]) -> tuple[Callable, Callable]:
    """A stage's ``build(sources, config)`` and ``write(tables, claims_df, out_dir, figures_dir)`` (the module
    convention of :mod:`robust3d.papers`) from its ``specs(config, sources)``, ``claims(config, sources)``, reference
    file and ``intro(config, dataset)`` lines, for stages without figures."""

    def build(sources: Sources, config: dict | None = None) -> tuple[list[BuiltTable], pd.DataFrame]:
        return build_tables_and_claims(specs(config, sources), claims(config, sources), sources, reference,
                                       lambda dataset: intro(config, dataset))

    def write(tables: list[BuiltTable], claims_df: pd.DataFrame, out_dir: str | Path, figures_dir: str | Path
              ) -> list[Path]:
        return write_tables_and_claims(paper, tables, claims_df, out_dir)

    return build, write
