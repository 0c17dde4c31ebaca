"""How sure a table cell is: its 95% bootstrap interval over the test samples and the chance level of its samples.

Both are about our cells only (the paper prints neither). A cell gets an interval when it is a mean of per-sample
values (:meth:`~robust3d.tables.spec.Column.per_sample`: an accuracy on one evaluation, or a mean over evaluations
of the same samples); over several training seeds the interval also carries the seed-to-seed spread
(:func:`~robust3d.evaluate.stats.paired_bootstrap`). A chance level belongs to an accuracy cell of a whole split
(every sample of one split: the level its class frequencies and poses give a guess, as ``<paper>_chance.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from robust3d.tables.spec import cell_samples

if TYPE_CHECKING:
    from robust3d.tables.sources import Sources
    from robust3d.tables.spec import Column, Row, TableSpec

#: Resamples and seed of the cells' intervals (the claims engine uses the same numbers).
RESAMPLES, SEED = 2000, 0


@dataclass(frozen=True)
class Uncertainty:
    """A cell's chance level and 95% interval (percent, like the cell); None where they do not apply."""

    chance: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


def column_split_metric(row: Row, column: Column) -> tuple[str | None, str | None]:
    """(split, metric) of an accuracy cell over a whole split: the column's split (or the one split all its
    evaluations share) and the column's or the row's metric; (None, None) for a cell of one class or no split."""
    if getattr(column, "class_name", ""):
        return None, None  # one class's samples: the split's chance level is not theirs
    split = getattr(column, "split", None)
    evaluations = getattr(column, "evaluations", ())
    if split is None and evaluations and len({e[0] for e in evaluations}) == 1:
        split = evaluations[0][0]
    return split, getattr(column, "metric", None) or row.metric


def cell_chance(row: Row, column: Column, sources: Sources) -> float | None:
    """The chance level (percent) of an accuracy cell's split, from its samples (:meth:`Sources.chance`)."""
    if row.source != "model":
        return None
    split, metric = column_split_metric(row, column)
    levels = sources.chance(split) if split else None
    return levels[metric][0] if levels and metric in levels else None


def cell_interval(spec: TableSpec, row: Row, column: Column, sources: Sources) -> tuple[float, float] | None:
    """The 95% percentile bootstrap interval of a cell that is a mean of per-sample values, or None."""
    from robust3d.evaluate.stats import paired_bootstrap

    if row.source != "model" or not row.has(column.key) or not sources.has_model(row.model):
        return None
    series = cell_samples(spec, row, column, sources)
    if series is None or not len(series):
        return None
    interval = paired_bootstrap(lambda a: a.mean(axis=-1), series.to_numpy().T, n_resamples=RESAMPLES, seed=SEED)
    return interval.low, interval.high


def table_uncertainty(spec: TableSpec, sources: Sources) -> dict[tuple[str, str], Uncertainty]:
    """Every cell's :class:`Uncertainty`, keyed by (row key, column key); cells with neither are left out."""
    out = {}
    for row in spec.rows:
        for column in spec.columns:
            chance = cell_chance(row, column, sources) if row.has(column.key) else None
            interval = cell_interval(spec, row, column, sources)
            if chance is not None or interval is not None:
                out[(row.key, column.key)] = Uncertainty(chance, *(interval or (None, None)))
    return out
