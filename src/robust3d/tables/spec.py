"""What a paper table is: rows (our model ids with the paper's labels) and columns (what each cell measures).

Columns resolve a cell for one row from :class:`~robust3d.tables.sources.Sources`; derived columns (means,
reductions against a reference row) combine cells of the same table, so they never see the paper's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from robust3d.tables.cell import Cell

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from robust3d.tables.sources import Sources

CLEAN = ("clean", "0")  # variant and level of an unmodified split (predictions CSV contract)


@dataclass(frozen=True)
class Row:
    key: str  # unique within the table (e.g. "pose:resnet50")
    model: str  # our model id (<paper>.models) or another source key (e.g. a series of a paper's extra CSV)
    label: str  # the paper's row label
    backbone: str = ""  # the paper's backbone label
    group: str = ""  # block of rows, e.g. "Class." / "Pose Est."
    metric: str | None = None  # metric of the row's cells when the column does not fix one
    source: str = "model"  # "model": `model` is a model id; "scaling": a series of the scaling CSV
    # The column keys this row has (None: every column): a row added for a claim reads only what the claim needs,
    # so the workflow predicts nothing else for it; its other cells stay empty with the reason.
    columns: tuple[str, ...] | None = None
    absent: str = ""  # why the columns outside ``columns`` are empty (default: names the columns it has)

    def has(self, column: str) -> bool:
        return self.columns is None or column in self.columns


#: Marks timed columns (wall-clock or CPU seconds) in rendered tables (see TIMING_NOTE).
TIMING_MARK = "⏱"
TIMING_NOTE = (f"{TIMING_MARK} time measured on the machine that ran it (wall-clock or process CPU seconds, as the "
               "column says): it changes with the hardware and the thread count, wall-clock time also with the "
               "load, so compare it only between runs on one machine")


def mean_per_sample(parts: list[pd.Series | None]) -> pd.Series | None:
    """Each sample's mean over several evaluations of the same samples (the variants of one split share their
    sample ids), so the result's mean is the mean of the evaluations' accuracies; None unless every part exists
    and covers the same samples."""
    if not parts or any(p is None for p in parts):
        return None
    index = parts[0].index
    if any(len(p) != len(index) or set(p.index) != set(index) for p in parts):
        return None
    return sum(p.loc[index] for p in parts) / len(parts)


@dataclass(frozen=True)
class Column:
    """Base column: subclasses say which evaluations they need and how to get the cell."""

    key: str
    label: str
    group: str = ""
    percent: bool = False  # formatting: one decimal (accuracies in percent)
    # A wall-clock value: it depends on the machine and its load (marked in rendered tables and in claims).
    timing: bool = field(default=False, kw_only=True)

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        """(split, variant, level) predictions this cell needs (the workflow plans them)."""
        return []

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        raise NotImplementedError

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        """The cell as a mean of per-sample values (indexed by ``sample_id``), for the claims' paired bootstrap;
        None for cells that are not such a mean (training fields, ratios, per-class averages). ``spec``: the table,
        for columns built from its other columns."""
        return None

    def replicates(self, row: Row, sources: Sources, n_resamples: int = 2000) -> np.ndarray | None:
        """``(n_resamples,)`` bootstrap replicates of the cell from its repeated measurements (a wall-clock cell's
        repeated timings), for the timing claims' intervals; None for a cell measured once."""
        return None

    @property
    def header(self) -> str:
        return f"{self.group} {self.label}".strip() + (f" {TIMING_MARK}" if self.timing else "")


@dataclass(frozen=True)
class MetricColumn(Column):
    """A metric of metrics.csv on one (split, variant, level); the metric comes from here or from the row."""

    split: str = "test"
    variant: str = "clean"
    level: str = "0"
    metric: str | None = None

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [(self.split, self.variant, self.level)]

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        metric = self.metric or row.metric
        if metric is None:
            raise ValueError(f"column {self.key} of row {row.key}: no metric on the column or the row")
        return sources.metric(row.model, self.split, self.variant, self.level, metric)

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        return sources.per_sample(row.model, self.split, self.variant, self.level, self.metric or row.metric)


@dataclass(frozen=True)
class MetricMeanColumn(Column):
    """Mean of one metric over several evaluations (a task of Figure 1, e.g. all occlusion levels)."""

    evaluations: tuple[tuple[str, str, str], ...] = ()
    metric: str | None = None

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return list(self.evaluations)

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        metric = self.metric or row.metric
        found = {"/".join(e): sources.metric(row.model, *e, metric) for e in self.evaluations}
        return mean_cell(found)

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        metric = self.metric or row.metric
        return mean_per_sample([sources.per_sample(row.model, *e, metric) for e in self.evaluations])


@dataclass(frozen=True)
class TrainColumn(Column):
    """A field of the model's training-metrics JSON, times ``scale`` (e.g. seconds to hours)."""

    field_name: str = ""
    scale: float = 1.0
    null_notes: tuple[tuple[str, str], ...] = ()  # (family, why its train.json has no such field)
    # A history key whose per-epoch values add up to the field, less a one-off setup time (``seconds``: each
    # epoch's wall time, for ``train_seconds``): the repeats behind a timing cell's interval.
    epoch_repeats: str | None = None

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        cell = sources.train_field(row.model, self.field_name, dict(self.null_notes))
        return cell if cell.missing else Cell(cell.value * self.scale, cell.n, cell.note)

    def fields(self, run: dict) -> tuple[str, str | None]:
        """(total field, per-epoch history key) this run's cell reads (a subclass may fall back for old files)."""
        return self.field_name, self.epoch_repeats

    def replicates(self, row: Row, sources: Sources, n_resamples: int = 2000) -> np.ndarray | None:
        """The total as setup + epochs x the mean of the epochs' times resampled with replacement; with several
        training seeds, the mean over runs drawn with replacement of each run's resampled total. The epochs are
        the history's records up to the stop (``epochs``: the epochs the run actually trained)."""
        import numpy as np

        from robust3d.evaluate.stats import bootstrap_replicates, resample_indices

        if self.epoch_repeats is None:
            return None
        views = [sources.with_seed(k) for k in sources.seeds] if sources.seeds else [sources]
        totals = []
        for k, view in enumerate(views):
            run = view.train_run(row.model)
            if run is None:
                return None
            field_name, repeats_key = self.fields(run)
            repeats = [h.get(repeats_key) for h in trained_epochs(run)]
            if run.get(field_name) is None or len(repeats) < 2 or None in repeats:
                return None  # an epoch timed once has no spread to resample
            setup = float(run[field_name]) - sum(repeats)
            resampled = bootstrap_replicates(repeats, lambda a: a.mean(axis=-1), n_resamples,
                                             seed=replicate_seed(row.model, self.key, k))
            totals.append(setup + len(repeats) * resampled)
        stacked = np.stack(totals)  # (runs, n_resamples)
        if len(views) > 1:  # resample the runs too
            drawn = resample_indices(np.random.default_rng(replicate_seed(row.model, self.key, "runs")), n_resamples,
                                     len(views))
            stacked = stacked[drawn.T, np.arange(n_resamples)]
        return stacked.mean(axis=0) * self.scale


def trained_epochs(run: dict) -> list[dict]:
    """The history records of the epochs a run trained: those before its stop epoch (``epochs``, when the
    train.json has it), so records of a longer schedule it never reached are not counted."""
    history = list(run.get("history") or [])
    stop = run.get("epochs")
    if stop is None:
        return history
    return [h for i, h in enumerate(history) if int(h.get("epoch", i)) < int(stop)]


@dataclass(frozen=True)
class TrainTimeColumn(TrainColumn):
    """Training time to the stop in process CPU seconds (train.json ``train_cpu_seconds``, each epoch's
    ``cpu_seconds`` for the interval), times ``scale``: other jobs sharing the machine stretch wall time but not the
    CPU time a run spends, so scheduling cannot make a larger model look faster. A train.json written before CPU
    time was recorded falls back to wall ``train_seconds`` / ``seconds``, with a note. A run that stopped without
    converging (``converged`` false: the step or epoch cap) gives a lower bound on its time to convergence (the
    cell's ``bound``); one that does not record convergence is noted as a fixed schedule's time."""

    field_name: str = "train_cpu_seconds"
    epoch_repeats: str | None = "cpu_seconds"
    fallback_field: str = "train_seconds"
    fallback_repeats: str = "seconds"

    def fields(self, run: dict) -> tuple[str, str | None]:
        if run.get(self.field_name) is None and run.get(self.fallback_field) is not None:
            return self.fallback_field, self.fallback_repeats
        return self.field_name, self.epoch_repeats

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        run = sources.train_run(row.model)
        if run is None:
            return super().resolve(row, sources, cells)  # the reason: no train.json
        field_name, _ = self.fields(run)
        cell = sources.train_field(row.model, field_name, dict(self.null_notes))
        if cell.missing:
            return cell
        notes = []
        if field_name != self.field_name:
            notes.append(f"wall-clock {field_name}: this train.json has no {self.field_name} (written before CPU "
                         "time was recorded)")
        converged, bound = run.get("converged"), None
        if converged is None:
            notes.append("no convergence record in train.json: the time of its fixed schedule "
                         f"(epochs: {run.get('epochs', '?')})")
        elif not converged:
            bound = "lower"
            notes.append(f"did not converge (stop: {run.get('stop_reason') or 'unknown'}; {run.get('epochs', '?')} "
                         f"of {run.get('max_epochs', '?')} epochs): a lower bound on the time to convergence")
        return Cell(cell.value * self.scale, cell.n, "; ".join(notes), bound=bound)


@dataclass(frozen=True)
class MeanColumn(Column):
    """Mean of other columns of the same row (the paper's "Average" columns: plain mean over levels)."""

    members: tuple[str, ...] = ()

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        return mean_cell({k: cells[k] for k in self.members})

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        if spec is None:
            return None
        return mean_per_sample([spec.column(k).per_sample(row, sources, spec) for k in self.members])


@dataclass(frozen=True)
class ReductionColumn(Column):
    """100 * (1 - value / value of ``base_row``) for column ``of``: the paper's "(-93%)" next to GFLOPs."""

    of: str = ""
    base_row: str = ""

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        raise NotImplementedError("resolved by TableSpec.resolve, which sees other rows")


@dataclass
class TableSpec:
    """One table of a paper. ``paper_notes`` explain where our setting differs from the paper's."""

    paper: str
    name: str  # e.g. "table1": files <paper>_<name>.csv / .md
    title: str
    rows: list[Row]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def row(self, key: str) -> Row:
        return next(r for r in self.rows if r.key == key)

    def needs(self) -> set[tuple[str, str, str, str]]:
        """(model, split, variant, level) evaluations this table reads."""
        return {(row.model, *need) for row in self.rows for col in self.columns if row.has(col.key)
                for need in col.needs(row)}

    def resolve(self, sources: Sources) -> dict[tuple[str, str], Cell]:
        """Our cells, keyed by (row key, column key); derived columns after the columns they read."""
        out: dict[tuple[str, str], Cell] = {}
        for row in self.rows:
            cells: dict[str, Cell] = {}
            for col in self.columns:
                if isinstance(col, ReductionColumn):
                    continue
                if not row.has(col.key):
                    cells[col.key] = Cell(None, None, row.absent or "not evaluated for this row (it has "
                                          f"{', '.join(row.columns)})")
                elif row.source == "model" and not sources.has_model(row.model):
                    cells[col.key] = Cell(None, None, sources.model_missing_reason(row.model))
                else:
                    cells[col.key] = col.resolve(row, sources, cells)
            out.update({(row.key, k): c for k, c in cells.items()})
        for col in self.columns:
            if isinstance(col, ReductionColumn):
                for row in self.rows:
                    out[(row.key, col.key)] = (Cell(None, None, "the reference row") if row.key == col.base_row
                                               else reduction(out[(row.key, col.of)], out[(col.base_row, col.of)]))
        return out


def replicate_seed(*parts: object) -> int:
    """A seed fixed by ``parts`` (the same on every run and machine), so unrelated cells resample independently."""
    import zlib

    return zlib.crc32("/".join(map(str, parts)).encode())


def cell_samples(spec: TableSpec, row: Row, column: Column, sources: Sources) -> pd.Series | pd.DataFrame | None:
    """A cell's per-sample values for the claims' bootstrap: a Series by ``sample_id``, or with several training
    seeds a DataFrame with one column per seed (None unless every seed has them on the same samples)."""
    if not sources.seeds:
        return column.per_sample(row, sources, spec)
    import pandas as pd

    per_seed = {k: column.per_sample(row, sources.with_seed(k), spec) for k in sources.seeds}
    if any(s is None for s in per_seed.values()):
        return None
    index = next(iter(per_seed.values())).index
    if any(len(s) != len(index) or set(s.index) != set(index) for s in per_seed.values()):
        return None
    return pd.DataFrame({k: s.loc[index].to_numpy() for k, s in per_seed.items()}, index=index)


def reduction(value: Cell, base: Cell) -> Cell:
    """Percent reduction of ``value`` against ``base`` (missing when either is, or the base is 0)."""
    if value.missing or base.missing:
        return Cell(None, None, "needs both values")
    if base.value == 0:
        return Cell(None, None, "the reference value is 0")
    return Cell(100.0 * (1.0 - value.value / base.value), None, "")


def mean_cell(cells: dict[str, Cell]) -> Cell:
    """Plain mean of the available cells; the note names the missing ones (and the first reason)."""
    present = [k for k, c in cells.items() if not c.missing]
    if not present:
        first = next(iter(cells.values())).note if cells else ""
        return Cell(None, None, f"none of {', '.join(cells)} is available ({first})")
    value = sum(cells[k].value for k in present) / len(present)
    n = sum(cells[k].n or 0 for k in present) or None
    absent = [k for k in cells if k not in present]
    note = f"mean of {', '.join(present)} only ({', '.join(absent)} missing)" if absent else ""
    return Cell(value, n, note)
