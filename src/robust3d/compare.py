"""Compare two results folders: which of our numbers moved (and by how much), which claims changed verdict.

Unlike ``scripts/diff_results.py`` (a bit-exact check that a reorganisation changed nothing), this is a report for
a reader comparing two real runs (another seed, a fix, a new config): numbers within ``tolerance`` are equal, only
our cells are compared (the paper's are references), and a move is set against A's 95% bootstrap interval where
the table CSV has one.

A run is a folder with ``tables/``. Every ``tables/*.csv`` present in both runs is compared: a table CSV (long
format of ``robust3d.tables.render``, recognised by the columns table, row, column, source) cell by cell on its
``source == ours`` rows, a claims CSV (``robust3d.tables.claims``, recognised by claim_id and verdict) claim by
claim. Other CSVs (e.g. ``<paper>_chance.csv``) are listed as not compared; a file in one run only is listed, its
cells are not. The optional columns ``ci_low``, ``ci_high`` and ``timing`` may be absent (older runs).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from robust3d.errors import InputError

DEFAULT_TOLERANCE = 1e-9
TABLE_KEYS = ("table", "row", "column", "source")
CLAIM_KEYS = ("claim_id", "verdict")
TRUE_TEXT = frozenset({"true", "1", "yes"})


# ---------------------------------------------------------------------------------------------- what is read
@dataclass(frozen=True)
class Interval:
    """A 95% interval (bootstrap over test samples), shown as ``[low, high]``."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{number(self.low)}, {number(self.high)}]"


@dataclass(frozen=True)
class TableCell:
    """One of our cells of a table CSV; ``value`` None when empty or NaN (a missing cell)."""

    row_label: str
    column_label: str
    value: float | None
    interval: Interval | None
    timing: bool


@dataclass(frozen=True)
class ClaimRow:
    """One claim of a claims CSV: what a reader needs to see a verdict change."""

    claim: str
    verdict: str
    interval: Interval | None
    timing: bool


# ---------------------------------------------------------------------------------------------- what is found
@dataclass(frozen=True)
class CellChange:
    """A cell whose value differs beyond the tolerance, or that is a number on one side only."""

    paper: str
    table: str
    row: str
    column: str
    row_label: str
    column_label: str
    a: float | None
    b: float | None
    a_interval: Interval | None = None
    b_interval: Interval | None = None

    @property
    def kind(self) -> str:
        """``moved``, ``appeared`` (a number in B only) or ``disappeared`` (in A only)."""
        if self.a is None:
            return "appeared"
        return "disappeared" if self.b is None else "moved"

    @property
    def change(self) -> float | None:
        """B - A; None when a side is missing."""
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def beyond_a_interval(self) -> bool | None:
        """Whether B lies outside A's 95% interval; None when A has no interval or a side is missing."""
        if self.a_interval is None or self.b is None or self.a is None:
            return None
        return not self.a_interval.contains(self.b)


@dataclass(frozen=True)
class VerdictChange:
    """A claim whose verdict differs between the runs; a verdict is None where the claim is in one run only."""

    paper: str
    claim_id: str
    claim: str
    a_verdict: str | None
    b_verdict: str | None
    a_interval: Interval | None = None
    b_interval: Interval | None = None


@dataclass
class Comparison:
    """What was compared and what changed; :func:`render_markdown` turns it into the report."""

    run_a: str
    run_b: str
    tolerance: float = DEFAULT_TOLERANCE
    ignore_timing: bool = False
    cells: int = 0
    claims: int = 0
    cell_changes: list[CellChange] = field(default_factory=list)
    verdict_changes: list[VerdictChange] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)
    timed_cells_skipped: int = 0
    timed_claims_skipped: int = 0

    def count(self, kind: str) -> int:
        """How many cell changes are of ``kind`` (moved, appeared, disappeared)."""
        return sum(change.kind == kind for change in self.cell_changes)


# ---------------------------------------------------------------------------------------------- reading
def tables_folder(run: str | Path) -> Path:
    """``run/tables``, or an InputError naming what is missing (a run is a results folder such as results/)."""
    run = Path(run)
    if not run.is_dir():
        raise InputError(f"{run}: no such folder (expected a results folder such as results/, with tables/)")
    tables = run / "tables"
    if not tables.is_dir():
        raise InputError(f"{run}: no tables/ folder in it (expected a results folder such as results/, with "
                         "tables/<paper>_<table>.csv and tables/<paper>_claims.csv)")
    return tables


def paper_of(path: Path) -> str:
    """The paper id of ``<paper>_<name>.csv``: the part of the stem before its first underscore."""
    return path.stem.split("_", 1)[0] if "_" in path.stem else ""


def csv_kind(columns: Iterable[str]) -> str | None:
    """``table``, ``claims`` or None (some other CSV), from the header."""
    present = set(columns)
    if set(TABLE_KEYS) <= present:
        return "table"
    return "claims" if set(CLAIM_KEYS) <= present else None


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows as text (missing fields as ""), or an InputError naming the file."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = [{key: (value or "").strip() for key, value in row.items() if key is not None} for row in reader]
            return list(reader.fieldnames or []), rows
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path}: not a readable CSV file ({err})") from err


def parse_number(text: str, path: Path, where: str) -> float | None:
    """A number, None for an empty cell or NaN; an InputError for text that is not a number."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}: {where} is {text!r}, not a number") from None
    return None if math.isnan(value) else value


def parse_flag(text: str) -> bool:
    """A CSV boolean (pandas writes True/False)."""
    return text.strip().lower() in TRUE_TEXT


def parse_interval(row: dict[str, str], path: Path, where: str) -> Interval | None:
    """``ci_low``/``ci_high`` as an Interval; None when either is absent or empty (older runs, untestable cells)."""
    low = parse_number(row.get("ci_low", ""), path, f"{where} ci_low")
    high = parse_number(row.get("ci_high", ""), path, f"{where} ci_high")
    return None if low is None or high is None else Interval(low, high)


def read_table(path: Path, rows: list[dict[str, str]]) -> dict[tuple[str, str, str], TableCell]:
    """Our cells of a table CSV by (table, row, column); a cell twice is an InputError (it would be ambiguous)."""
    cells: dict[tuple[str, str, str], TableCell] = {}
    for index, row in enumerate(rows, start=1):
        if row.get("source") != "ours":
            continue
        key = (row["table"], row["row"], row["column"])
        where = f"row {index} ({key[0]}[{key[1]}, {key[2]}])"
        if key in cells:
            raise InputError(f"{path}: {where}: the cell appears twice among our rows")
        cells[key] = TableCell(row.get("row_label") or key[1], row.get("column_label") or key[2],
                               parse_number(row.get("value", ""), path, f"{where} value"),
                               parse_interval(row, path, where), parse_flag(row.get("timing", "")))
    return cells


def read_claims(path: Path, rows: list[dict[str, str]]) -> dict[str, ClaimRow]:
    """The claims of a claims CSV by claim_id; a claim_id twice is an InputError."""
    claims: dict[str, ClaimRow] = {}
    for index, row in enumerate(rows, start=1):
        claim_id = row["claim_id"]
        where = f"row {index} (claim {claim_id})"
        if claim_id in claims:
            raise InputError(f"{path}: {where}: the claim appears twice")
        claims[claim_id] = ClaimRow(row.get("claim", ""), row["verdict"], parse_interval(row, path, where),
                                    parse_flag(row.get("timing", "")))
    return claims


# ---------------------------------------------------------------------------------------------- comparing
def values_equal(a: float | None, b: float | None, tolerance: float) -> bool:
    """Equal within ``tolerance`` (absolute); two missing values are equal, one missing is not."""
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(b - a) <= tolerance


def compare_table(path_a: Path, rows_a: list[dict[str, str]], path_b: Path, rows_b: list[dict[str, str]],
                  report: Comparison) -> None:
    """Our cells of one table CSV in both runs: every changed, appeared or disappeared cell into ``report``."""
    cells_a, cells_b = read_table(path_a, rows_a), read_table(path_b, rows_b)
    paper = paper_of(path_a)
    for key in sorted(cells_a.keys() | cells_b.keys()):
        a, b = cells_a.get(key), cells_b.get(key)
        if report.ignore_timing and any(cell is not None and cell.timing for cell in (a, b)):
            report.timed_cells_skipped += 1
            continue
        report.cells += 1
        a_value, b_value = a.value if a else None, b.value if b else None
        if values_equal(a_value, b_value, report.tolerance):
            continue
        labels = a or b
        report.cell_changes.append(CellChange(paper, *key, labels.row_label, labels.column_label, a_value, b_value,
                                              a.interval if a else None, b.interval if b else None))


def compare_claims(path_a: Path, rows_a: list[dict[str, str]], path_b: Path, rows_b: list[dict[str, str]],
                   report: Comparison) -> None:
    """The claims of one claims CSV in both runs: every claim whose verdict differs into ``report``."""
    claims_a, claims_b = read_claims(path_a, rows_a), read_claims(path_b, rows_b)
    paper = paper_of(path_a)
    for claim_id in sorted(claims_a.keys() | claims_b.keys()):
        a, b = claims_a.get(claim_id), claims_b.get(claim_id)
        if report.ignore_timing and any(claim is not None and claim.timing for claim in (a, b)):
            report.timed_claims_skipped += 1
            continue
        report.claims += 1
        a_verdict, b_verdict = a.verdict if a else None, b.verdict if b else None
        if a_verdict == b_verdict:
            continue
        report.verdict_changes.append(VerdictChange(paper, claim_id, (a or b).claim, a_verdict, b_verdict,
                                                    a.interval if a else None, b.interval if b else None))


def _change_order(change: CellChange) -> tuple:
    """Moved cells first, largest |change| first; then appeared and disappeared ones; ties by place."""
    size = change.change
    place = (change.paper, change.table, change.row, change.column)
    return (0, -abs(size), *place) if size is not None else (1, change.kind, *place)


def compare_runs(run_a: str | Path, run_b: str | Path, tolerance: float = DEFAULT_TOLERANCE,
                 ignore_timing: bool = False) -> Comparison:
    """Every table and claims CSV of ``run_a/tables`` against its namesake in ``run_b/tables``."""
    if not tolerance >= 0:
        raise InputError(f"tolerance {tolerance}: give a number >= 0")
    tables_a, tables_b = tables_folder(run_a), tables_folder(run_b)
    report = Comparison(str(run_a), str(run_b), tolerance, ignore_timing)
    names_a = {p.name for p in tables_a.glob("*.csv") if p.is_file()}
    names_b = {p.name for p in tables_b.glob("*.csv") if p.is_file()}
    for name in sorted(names_a | names_b):
        if name not in names_b or name not in names_a:
            _note_single(tables_a / name if name in names_a else tables_b / name, name in names_a, report)
            continue
        _compare_file(tables_a / name, tables_b / name, report)
    report.cell_changes.sort(key=_change_order)
    report.verdict_changes.sort(key=lambda change: (change.paper, change.claim_id))
    return report


def _note_single(path: Path, in_a: bool, report: Comparison) -> None:
    """A table or claims CSV in one run only is listed as such; another CSV as not compared."""
    if csv_kind(read_rows(path)[0]) is None:
        report.not_compared.append(path.name)
    else:
        (report.only_in_a if in_a else report.only_in_b).append(path.name)


def _compare_file(path_a: Path, path_b: Path, report: Comparison) -> None:
    """One CSV present in both runs, by its kind (the two runs must agree on it)."""
    (header_a, rows_a), (header_b, rows_b) = read_rows(path_a), read_rows(path_b)
    kind_a, kind_b = csv_kind(header_a), csv_kind(header_b)
    if kind_a != kind_b:
        raise InputError(f"{path_a.name}: a {kind_a or 'non-table'} CSV in {report.run_a} but a "
                         f"{kind_b or 'non-table'} CSV in {report.run_b}")
    if kind_a == "table":
        compare_table(path_a, rows_a, path_b, rows_b, report)
    elif kind_a == "claims":
        compare_claims(path_a, rows_a, path_b, rows_b, report)
    else:
        report.not_compared.append(path_a.name)


# ---------------------------------------------------------------------------------------------- the report
def number(value: float | None, signed: bool = False) -> str:
    """A value as the report shows it (6 significant digits; "—" for a missing one)."""
    if value is None:
        return "—"
    return f"{value:+.6g}" if signed else f"{value:.6g}"


def cell_text(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip() or "—"


def interval_text(interval: Interval | None) -> str:
    return str(interval) if interval is not None else "—"


def _flag(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "no")


def _table(header: list[str], align: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def summary_line(report: Comparison) -> str:
    """N cells compared, M moved (and appeared / disappeared), K claims compared, L changed verdict."""
    line = (f"{report.cells} cells compared, {report.count('moved')} moved, {report.count('appeared')} appeared, "
            f"{report.count('disappeared')} disappeared; {report.claims} claims compared, "
            f"{len(report.verdict_changes)} changed verdict.")
    if report.ignore_timing:
        line += (f" Skipped as timing (--ignore-timing): {report.timed_cells_skipped} cells, "
                 f"{report.timed_claims_skipped} claims.")
    return line


def _files_lines(report: Comparison) -> list[str]:
    listed = [("Only in A (not compared)", report.only_in_a), ("Only in B (not compared)", report.only_in_b),
              ("Neither a table nor a claims CSV (not compared)", report.not_compared)]
    return [f"- {title}: " + ", ".join(f"`{name}`" for name in names) for title, names in listed if names]


def _interval_pair(change: CellChange) -> str:
    if change.a_interval is None and change.b_interval is None:
        return "—"
    return f"A {interval_text(change.a_interval)} → B {interval_text(change.b_interval)}"


def _change_text(change: CellChange) -> str:
    return number(change.change, signed=True) if change.change is not None else change.kind


def numbers_section(report: Comparison) -> list[str]:
    lines = ["## Numbers that moved", ""]
    if not report.cell_changes:
        return [*lines, "No numbers moved."]
    rows = [[cell_text(c.paper), cell_text(c.table), cell_text(c.row_label), cell_text(c.column_label), number(c.a),
             number(c.b), _change_text(c), _interval_pair(c), _flag(c.beyond_a_interval)] for c in report.cell_changes]
    header = ["paper", "table", "row", "column", "A", "B", "change (B - A)", "95% interval (A → B)",
              "beyond A's 95% interval"]
    return lines + _table(header, ["---"] * 4 + ["---:"] * 3 + ["---"] * 2, rows)


def claims_section(report: Comparison) -> list[str]:
    lines = ["## Claims that changed verdict", ""]
    if not report.verdict_changes:
        return [*lines, "No claim changed verdict."]
    rows = [[cell_text(c.paper), f"`{c.claim_id}`", cell_text(c.claim),
             f"{c.a_verdict or '—'} → {c.b_verdict or '—'}", interval_text(c.a_interval), interval_text(c.b_interval)]
            for c in report.verdict_changes]
    header = ["paper", "claim_id", "claim", "verdict (A → B)", "A interval", "B interval"]
    return lines + _table(header, ["---"] * 6, rows)


def render_markdown(report: Comparison) -> str:
    """The report: header naming the runs, summary, files not compared, moved numbers, changed claims."""
    settings = f"tolerance {report.tolerance:g}" + (", timing cells and claims skipped" if report.ignore_timing
                                                    else "")
    lines = ["# Comparing two runs", "", f"- A: `{report.run_a}`", f"- B: `{report.run_b}`",
             f"- Our cells only (the paper's numbers are references); {settings}.", "", summary_line(report)]
    if files := _files_lines(report):
        lines += ["", *files]
    lines += ["", *numbers_section(report), "", *claims_section(report)]
    return "\n".join(lines) + "\n"


def write_report(text: str, out: str | Path) -> None:
    """Write the report atomically (a killed run never leaves a half report)."""
    from robust3d.data.io import atomic_path

    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
