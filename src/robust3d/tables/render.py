"""A table built from our sources and the paper's reference, written as a long CSV and a side-by-side Markdown.

CSV (long, one row per cell and source): ``table, row, row_label, column, column_label, source, value, n, note,
timing, sd, seeds, percent, chance, ci_low, ci_high`` with ``source`` in {ours, paper}; ``note`` says why a value is
missing or how it was derived; ``sd`` and ``seeds``: the spread over training seeds when ``value`` is a mean over
several (empty otherwise); ``percent``: the value is a percentage; ``chance``, ``ci_low``, ``ci_high``: our cell's
chance level and 95% bootstrap interval over the test samples, where they apply (:mod:`.uncertainty`).
JSON (``<paper>_<name>.json``): the table's title, the lines above it (what "ours" is) and its notes, so a
reader of the CSV (the HTML report) shows what the Markdown shows.
Markdown: one line per table row and source, ``mean ± sd`` over seeds, missing values shown as "—" with a
numbered reason, a bound as "≥ value" / "≤ value" (its reason in the note).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from robust3d.tables.cell import Cell, seed_mean
from robust3d.tables.reference import Reference
from robust3d.tables.sources import Sources
from robust3d.tables.spec import TIMING_NOTE, TableSpec
from robust3d.tables.uncertainty import Uncertainty, table_uncertainty

SOURCES = ("ours", "paper")
#: The files of one table (``<paper>_<name>.<ext>``).
TABLE_FILES = ("csv", "md", "json")
LONG_COLUMNS = ["table", "row", "row_label", "column", "column_label", "source", "value", "n", "note", "timing", "sd",
                "seeds", "percent", "chance", "ci_low", "ci_high"]


@dataclass
class BuiltTable:
    spec: TableSpec
    ours: dict[tuple[str, str], Cell]
    paper: dict[tuple[str, str], Cell]
    intro: list[str] = field(default_factory=list)  # lines above the Markdown table (what "ours" is)
    chance: list[str] = field(default_factory=list)  # notes: the chance levels of the splits the table reads
    uncertainty: dict[tuple[str, str], Uncertainty] = field(default_factory=dict)  # our cells' chance and interval

    def cell(self, source: str, row: str, column: str) -> Cell:
        cells = self.ours if source == "ours" else self.paper
        return cells.get((row, column), Cell(None, None, f"no cell ({row}, {column}) in {self.spec.name}"))


def build_table(spec: TableSpec, sources: Sources, reference: Reference, intro: list[str] | None = None) -> BuiltTable:
    """Our cells from ``sources`` only, the paper's from ``reference`` only. With several training seeds each of
    our cells is the mean (and sd) of the table resolved under every seed, so derived columns (averages,
    reductions) are computed within a seed first."""
    ours = resolve_over_seeds(spec, sources)
    # A paper row this pipeline does not rebuild says why (reference.yaml's not_reproduced), not just "not configured".
    absent = {r.key for r in spec.rows if r.source == "model" and not sources.has_model(r.model)}
    ours = {k: Cell(None, None, reference.ours_missing_reason(spec.name, k[0], c.note)) if k[0] in absent and c.missing
            else c for k, c in ours.items()}
    paper = {}
    for row in spec.rows:
        for col in spec.columns:
            value = reference.value(spec.name, row.key, col.key)
            paper[(row.key, col.key)] = Cell(value, None, "" if value is not None
                                             else reference.missing_reason(spec.name, row.key, col.key))
    return BuiltTable(spec, ours, paper, list(intro or []), chance_notes(spec, sources),
                      table_uncertainty(spec, sources))


def chance_notes(spec: TableSpec, sources: Sources) -> list[str]:
    """One note per split the table reads: its chance accuracies, computed from its samples (Sources.chance)."""
    names = {"class_accuracy": "class", "pose_acc_pi6": "pose π/6"}
    notes = []
    for split in sorted({need[1] for need in spec.needs()}):
        levels = sources.chance(split)
        if not levels:
            continue
        parts = [f"{names[m]} {chance:.1f}%" + (f" (majority class {majority:.1f}%)" if majority is not None else "")
                 for m, (chance, majority) in levels.items() if sources.reports(split, m)]
        if parts:
                notes.append(f"chance on {split} (a guess drawn from its own class frequencies and poses): "
                         + ", ".join(parts))
    return notes


def resolve_over_seeds(spec: TableSpec, sources: Sources) -> dict[tuple[str, str], Cell]:
    """``spec.resolve`` on the plain ids, or once per seed folded into mean +- sd (:func:`.cell.seed_mean`)."""
    if not sources.seeds:
        return spec.resolve(sources)
    per_seed = [spec.resolve(sources.with_seed(k)) for k in sources.seeds]
    return {key: seed_mean([cells[key] for cells in per_seed], sources.seeds) for key in per_seed[0]}


def long_frame(table: BuiltTable) -> pd.DataFrame:
    spec = table.spec
    none = Uncertainty()
    records = [
        {"table": spec.name, "row": row.key, "row_label": row_label(row), "column": col.key,
         "column_label": col.header, "source": source, "value": cell.value, "n": cell.n, "note": cell.note,
         "timing": col.timing, "sd": cell.sd, "seeds": cell.seeds, "percent": col.percent,
         "chance": sure.chance, "ci_low": sure.ci_low, "ci_high": sure.ci_high}
        for source in SOURCES for row in spec.rows for col in spec.columns
        for cell in [table.cell(source, row.key, col.key)]
        for sure in [table.uncertainty.get((row.key, col.key), none) if source == "ours" else none]
    ]
    df = pd.DataFrame.from_records(records, columns=LONG_COLUMNS)
    df["n"] = df["n"].astype("Int64")
    df["seeds"] = df["seeds"].astype("Int64")
    return df


def row_label(row) -> str:
    label = f"{row.group} {row.label}".strip()
    return f"{label} ({row.backbone})" if row.backbone else label


def format_value(value: float | None, percent: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if percent:
        return f"{value:.1f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def markdown(table: BuiltTable) -> str:
    spec = table.spec
    reasons: dict[str, int] = {}

    def text(cell: Cell, percent: bool, source: str) -> str:
        shown = format_value(cell.value, percent)
        if shown != "—" and cell.sd is not None:
            shown = f"{shown} ± {format_value(cell.sd, percent)}"
        if shown != "—" and cell.bound:
            shown = ("≥ " if cell.bound == "lower" else "≤ ") + shown  # a bound, not the value (see its † note)
        if shown != "—":
            return f"{shown} †" if cell.note else shown
        reason = f"{source}: {cell.note or 'missing'}"
        return f"— [{reasons.setdefault(reason, len(reasons) + 1)}]"

    header = ["Model", "source", *(c.header for c in spec.columns)]
    lines = [f"## {spec.title}", "", *table.intro, "" if table.intro else None,
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines = [x for x in lines if x is not None]
    for row in spec.rows:
        for source in SOURCES:
            cells = [text(table.cell(source, row.key, c.key), c.percent, source) for c in spec.columns]
            label = row_label(row) if source == "ours" else ""
            lines.append("| " + " | ".join([label, source, *cells]) + " |")
    if reasons:
        lines += ["", "Missing values (—):", ""]
        lines += [f"- [{i}] {reason}" for reason, i in reasons.items()]
    notes = table_notes(table)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def table_notes(table: BuiltTable) -> list[str]:
    """The notes under a table: timing and seeds, the chance levels, the spec's notes, then what each † means."""
    spec = table.spec
    derived: dict[tuple[str, str], list[str]] = {}  # (column, note) -> rows: values marked † above
    for (r, c), cell in table.ours.items():
        if cell.note and not cell.missing:
            derived.setdefault((spec.column(c).header, cell.note), []).append(row_label(spec.row(r)))
    marked = [f"† {col}: {note} ({'all rows' if len(rows) == len(spec.rows) else ', '.join(rows)})"
              for (col, note), rows in sorted(derived.items())]
    timing = [TIMING_NOTE] if any(c.timing for c in spec.columns) else []
    seeds = sorted({c.seeds for c in table.ours.values() if c.sd is not None})
    if seeds:
        timing.append(f"ours: mean ± sd over {' or '.join(map(str, seeds))} training seeds (each seed's table "
                      "resolved on its own, then folded cell by cell)")
    return [*timing, *table.chance, *spec.notes, *marked]


def table_meta(table: BuiltTable) -> dict:
    """What the JSON beside the CSV holds: the title, the intro lines and the notes."""
    return {"paper": table.spec.paper, "table": table.spec.name, "title": table.spec.title,
            "intro": list(table.intro), "notes": table_notes(table)}


def write_table(table: BuiltTable, out_dir: str | Path) -> list[Path]:
    """``<paper>_<name>.csv``, ``.md`` and ``.json`` under ``out_dir``, written atomically."""
    from robust3d.data.io import atomic_path, write_json

    out_dir = Path(out_dir)
    stem = f"{table.spec.paper}_{table.spec.name}"
    csv_path, md_path, json_path = (out_dir / f"{stem}.{ext}" for ext in TABLE_FILES)
    with atomic_path(csv_path) as tmp:
        long_frame(table).to_csv(tmp, index=False)
    with atomic_path(md_path) as tmp:
        tmp.write_text(markdown(table))
    write_json(json_path, table_meta(table))
    return [csv_path, md_path, json_path]
