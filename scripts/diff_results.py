"""Compare two runs of the pipeline: their tables, claims and metrics (``results``) or their job graphs (``dag``).

Meant to show that a reorganisation (files moved, rules renamed, output paths namespaced by paper) changes nothing.

    python scripts/diff_results.py results OLD NEW [--ignore-timing] [--map MAP.yaml] [--set KEY=VALUE ...]
    python scripts/diff_results.py dag OLD.txt NEW.txt [--map MAP.yaml] [--set KEY=VALUE ...] [--dump]

``results``: OLD and NEW are results folders (e.g. /tmp/base/results and /tmp/new/results). Every ``tables/*.csv``,
``tables/*.md`` and every ``*/metrics.csv`` directly under the folder is compared: table CSVs (long format, see
``robust3d.tables.render``) keyed by (table, row, column, source), the claims CSV (``robust3d.tables.claims``) by
claim_id, metrics CSVs by every column but value and n; numbers equal within 1e-12 relative, text exactly; Markdown
line by line; any other CSV as text. ``--ignore-timing`` skips the wall-clock cells declared in ``TIMING_COLUMNS``
and ``TIMING_CLAIMS`` below, and the Markdown files of those tables (their CSVs are still compared cell by cell).

``dag``: OLD.txt and NEW.txt are saved outputs of ``snakemake -n``. Every job block (``rule NAME:`` or
``localrule NAME:`` and its indented fields) is parsed; old rule names are renamed and old output paths rewritten
through the map (scripts/layout_map.yaml), hashes of resolved configs (``.config/NAME-<12 hex>.yaml``) become
``<hash>`` on both sides, and the job count and the multiset of output paths per rule are compared.

With ``--map`` the ``results`` command also rewrites OLD's file paths (as ``{results}/<path>``) to find their
counterparts in NEW. ``--set KEY=VALUE`` overrides a ``vars`` entry of the map (``{KEY}`` in its patterns and
replacements), e.g. ``--set results=results/smoke`` for the smoke config's dry run, ``--set benchmark=imagenet3d``
for the ImageNet3D config. Exit status: 0 identical, 1 any difference, 2 bad arguments or unreadable input.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pandas as pd
import yaml

# ---------------------------------------------------------------------------------------------- timing rules
# Wall-clock values that differ between two otherwise identical runs, skipped by --ignore-timing. Keys are
# "<paper>_<table>" (the file stem, e.g. compnets_table1.csv; the CSV's `table` column holds "table1");
# values are fnmatch patterns of column keys whose `value` is ignored. gflops_* / gflops_slope are FLOP counts
# (exact), so they are deliberately not matched. The Markdown files of these tables are skipped as a whole.
TIMING_COLUMNS: dict[str, tuple[str, ...]] = {
    "compnets_table1": ("train_hours",),
    "compnets_figure2": ("sec_*", "slope", "slope_cpu"),
}
# Claims CSV file stem -> fnmatch patterns of claim_id whose rows (every column) are ignored.
TIMING_CLAIMS: dict[str, tuple[str, ...]] = {
    "compnets_claims": ("train_time_*", "time_slope_*"),
}

RELATIVE_TOLERANCE = 1e-12
RESULT_GLOBS = ("tables/*.csv", "tables/*.md", "*/metrics.csv")


@dataclass(frozen=True)
class CsvKind:
    """A CSV format recognised by its key columns (all present in the header)."""

    name: str
    keys: tuple[str, ...]


CSV_KINDS = (
    CsvKind("claims", ("claim_id",)),
    CsvKind("table", ("table", "row", "column", "source")),
    CsvKind("metrics", ("benchmark", "paper", "model", "split", "variant", "level", "metric")),
)


# ---------------------------------------------------------------------------------------------- the layout map
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")
_HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{12}(?![0-9a-f])")


@dataclass
class LayoutMap:
    """Old -> new rule names and old -> new path rewrites (regex, replacement), applied in order."""

    rules: dict[str, str] = field(default_factory=dict)
    paths: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def rule(self, name: str) -> str:
        """The new name of an old rule (unchanged when not in the map)."""
        return self.rules.get(name, name)

    def path(self, path: str) -> str:
        """An old path rewritten by every path entry in turn."""
        for pattern, replacement in self.paths:
            path = pattern.sub(replacement, path)
        return path


def _substitute(text: str, variables: dict[str, str], escape: bool) -> str:
    """``{name}`` replaced by a variable (regex-escaped in a pattern, backslash-escaped in a replacement)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ValueError(f"unknown variable {{{name}}} in {text!r} (known: {', '.join(sorted(variables))})")
        return re.escape(variables[name]) if escape else variables[name].replace("\\", "\\\\")

    return _PLACEHOLDER.sub(value, text)


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def load_layout_map(path: str | Path | None, overrides: dict[str, str] | None = None) -> LayoutMap:
    """The map file (``vars``, ``rules``, ``paths``) with ``overrides`` replacing its vars; None: an empty map."""
    raw = yaml.safe_load(Path(path).read_text()) if path else {}
    raw = raw or {}
    if not isinstance(raw, dict) or set(raw) - {"vars", "rules", "paths"}:
        raise ValueError(f"{path}: expected a mapping with only vars, rules and paths")
    variables = {str(k): str(v) for k, v in (raw.get("vars") or {}).items()}
    variables.update(overrides or {})
    rules = raw.get("rules") or {}
    if not isinstance(rules, dict):
        raise ValueError(f"{path}: rules must map old names to new names")
    paths = []
    for entry in raw.get("paths") or []:
        if not (isinstance(entry, list | tuple) and len(entry) == 2):
            raise ValueError(f"{path}: each paths entry is [regex, replacement], got {entry!r}")
        pattern = _substitute(str(entry[0]), variables, escape=True)
        try:
            paths.append((re.compile(pattern), _substitute(str(entry[1]), variables, escape=False)))
        except re.error as err:
            raise ValueError(f"{path}: bad regex {pattern!r}: {err}") from err
    return LayoutMap({str(k): str(v) for k, v in rules.items()}, paths, variables)


def normalise_config_hash(path: str) -> str:
    """A resolved config's 12-hex-digit hash (``<results>/.config/name-<hash>.yaml``) replaced by ``<hash>``."""
    head, sep, tail = path.partition(".config/")
    if not sep or (head and not head.endswith("/")):
        return path
    return head + sep + _HASH.sub("<hash>", tail)


# ---------------------------------------------------------------------------------------------- results
@dataclass
class Report:
    """What a comparison looked at and every difference it found."""

    files: int = 0
    cells: int = 0
    lines: int = 0
    ignored_cells: int = 0
    skipped: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    def differ(self, message: str) -> None:
        self.differences.append(message)


def same_value(old: str, new: str) -> bool:
    """Equal text, or two numbers equal within RELATIVE_TOLERANCE (two NaNs are equal)."""
    if old == new:
        return True
    try:
        a, b = float(old), float(new)
    except ValueError:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)


def read_csv(path: Path) -> pd.DataFrame:
    """Every cell as the text written (empty cells as "")."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def csv_kind(columns: Iterable[str]) -> CsvKind | None:
    """The first known format whose key columns are all present."""
    present = set(columns)
    return next((kind for kind in CSV_KINDS if set(kind.keys) <= present), None)


def _qualified_table(stem: str, table: str) -> str:
    """``compnets_table1`` from the file stem ``compnets_table1`` (or any ``<paper>_...``) and ``table1``."""
    return f"{stem.rsplit('_', 1)[0]}_{table}" if "_" in stem else table


def ignored_columns(kind: CsvKind, stem: str, key: dict[str, str], columns: list[str]) -> set[str]:
    """The columns of one row that --ignore-timing skips."""
    if kind.name == "table":
        patterns = TIMING_COLUMNS.get(_qualified_table(stem, key["table"]), ())
        return {"value"} if any(fnmatchcase(key["column"], p) for p in patterns) else set()
    if kind.name == "claims":
        patterns = TIMING_CLAIMS.get(stem, ())
        return set(columns) if any(fnmatchcase(key["claim_id"], p) for p in patterns) else set()
    return set()


def _index(df: pd.DataFrame, keys: tuple[str, ...], where: str, report: Report) -> dict[tuple[str, ...], dict]:
    """Rows by key; a key seen twice is a difference (the comparison would be ambiguous)."""
    rows: dict[tuple[str, ...], dict] = {}
    for record in df.to_dict("records"):
        key = tuple(record[k] for k in keys)
        if key in rows:
            report.differ(f"{where}: duplicate key {_show_key(keys, key)}")
        rows[key] = record
    return rows


def _show_key(keys: tuple[str, ...], values: tuple[str, ...]) -> str:
    return "[" + " ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) + "]"


def compare_csv(old_path: Path, new_path: Path, label: str, report: Report, ignore_timing: bool = False) -> None:
    """One CSV pair, keyed by its format's key columns (as text when the format is unknown)."""
    try:
        old, new = read_csv(old_path), read_csv(new_path)
    except pd.errors.EmptyDataError:  # an empty file: its text says all there is
        compare_text(old_path, new_path, label, report)
        return
    kind = csv_kind(old.columns) or csv_kind(new.columns)
    if kind is None:
        compare_text(old_path, new_path, label, report)
        return
    for side, df in (("OLD", old), ("NEW", new)):
        if missing := [k for k in kind.keys if k not in df.columns]:
            report.differ(f"{label}: {side} lacks the key columns {', '.join(missing)} of a {kind.name} CSV")
            return
    for side, df, other in (("OLD", old, new), ("NEW", new, old)):
        if only := [c for c in df.columns if c not in other.columns]:
            report.differ(f"{label}: columns only in {side}: {', '.join(only)}")
    columns = [c for c in old.columns if c in new.columns and c not in kind.keys]
    old_rows = _index(old, kind.keys, f"{label} (OLD)", report)
    new_rows = _index(new, kind.keys, f"{label} (NEW)", report)
    stem = old_path.stem  # the timing rules name the old layout's files
    for key in sorted(old_rows.keys() | new_rows.keys()):
        shown = _show_key(kind.keys, key)
        if key not in new_rows or key not in old_rows:
            report.differ(f"{label}: row only in {'OLD' if key in old_rows else 'NEW'}: {shown}")
            continue
        a, b = old_rows[key], new_rows[key]
        skip = ignored_columns(kind, stem, dict(zip(kind.keys, key, strict=True)), columns) if ignore_timing else set()
        for column in columns:
            if column in skip:
                report.ignored_cells += 1
                continue
            report.cells += 1
            if not same_value(a[column], b[column]):
                report.differ(f"{label}: {shown} {column}: OLD {a[column]!r} != NEW {b[column]!r}")


def compare_text(old_path: Path, new_path: Path, label: str, report: Report) -> None:
    """Line by line; each changed run of lines is one difference."""
    old, new = old_path.read_text().splitlines(), new_path.read_text().splitlines()
    report.lines += max(len(old), len(new))
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            report.differ(f"{label}: OLD {_lines(i1, i2)} / NEW {_lines(j1, j2)} differ:\n"
                          + "".join(f"    - {line}\n" for line in old[i1:i2])
                          + "".join(f"    + {line}\n" for line in new[j1:j2]).rstrip("\n"))


def _lines(start: int, stop: int) -> str:
    """A 0-based half-open line range as text ("line 5", "lines 5-7", "no line (before 5)")."""
    if stop == start:
        return f"no line (before {start + 1})"
    return f"line {start + 1}" if stop == start + 1 else f"lines {start + 1}-{stop}"


def result_files(root: Path) -> list[str]:
    """The compared files under a results folder, as sorted relative POSIX paths."""
    found = {p.relative_to(root).as_posix() for pattern in RESULT_GLOBS for p in root.glob(pattern) if p.is_file()}
    return sorted(found)


def _counterpart(rel: str, layout: LayoutMap | None) -> str | None:
    """Where OLD's ``rel`` lives in NEW (None: the map sends it outside the results folder)."""
    if layout is None:
        return rel
    prefix = layout.variables.get("results", "results").rstrip("/")
    mapped = layout.path(f"{prefix}/{rel}")
    return mapped[len(prefix) + 1:] if mapped.startswith(prefix + "/") else None


def diff_results(old: str | Path, new: str | Path, ignore_timing: bool = False,
                 layout: LayoutMap | None = None) -> Report:
    """Every difference between two results folders' tables, claims and metrics."""
    old, new = Path(old), Path(new)
    for root in (old, new):
        if not root.is_dir():
            raise FileNotFoundError(f"not a folder: {root}")
    report = Report()
    new_files = set(result_files(new))
    matched = set()
    for rel in result_files(old):
        target = _counterpart(rel, layout)
        if target is None:
            report.differ(f"{rel}: the map rewrites it outside the results folder")
            continue
        shown = rel if target == rel else f"{rel} -> {target}"
        if not (new / target).is_file():
            report.differ(f"{shown}: missing in NEW")
            continue
        matched.add(target)
        if ignore_timing and rel.endswith(".md") and Path(rel).stem in TIMING_COLUMNS:
            report.skipped.append(rel)
            continue
        report.files += 1
        if rel.endswith(".csv"):
            compare_csv(old / rel, new / target, shown, report, ignore_timing)
        else:
            compare_text(old / rel, new / target, shown, report)
    for rel in sorted(new_files - matched):
        report.differ(f"{rel}: missing in OLD")
    return report


def print_results_report(report: Report, old: str, new: str, ignore_timing: bool) -> None:
    """Every difference, then a short summary."""
    for line in report.differences:
        print(line)
    print(f"results: OLD {old}  NEW {new}")
    print(f"compared {report.files} files: {report.cells} cells, {report.lines} Markdown/text lines")
    if ignore_timing:
        print(f"--ignore-timing: {report.ignored_cells} timing values ignored; Markdown skipped (their CSVs are "
              f"compared cell by cell): {', '.join(report.skipped) or 'none'}")
    print(f"differences: {len(report.differences)}")


# ---------------------------------------------------------------------------------------------- dag
_JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\S+):\s*$")
_FIELD = re.compile(r"^\s+(\w+):(?: (.*))?$")


@dataclass
class Job:
    """One job block of a dry run: its rule and its fields (input, output, log, jobid, wildcards, ...)."""

    rule: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def outputs(self) -> list[str]:
        return split_paths(self.fields.get("output", ""))


def split_paths(value: str) -> list[str]:
    """A dry run's comma-separated file list."""
    return [p.strip() for p in value.split(", ") if p.strip()]


def parse_dry_run(text: str) -> list[Job]:
    """Every job block of ``snakemake -n`` output, in order."""
    jobs: list[Job] = []
    current: Job | None = None
    for line in text.splitlines():
        if match := _JOB.match(line):
            current = Job(match.group(1))
            jobs.append(current)
        elif current is not None and (match := _FIELD.match(line)):
            current.fields[match.group(1)] = (match.group(2) or "").strip()
        elif not line[:1].isspace():
            current = None  # a timestamp, a blank line or the job stats: the block is over
    return jobs


def job_stats(text: str) -> dict[str, int] | None:
    """The first "Job stats:" table (rule -> count, without total), or None when there is none."""
    lines = text.splitlines()
    try:
        start = lines.index("Job stats:")
    except ValueError:
        return None
    stats = {}
    for line in lines[start + 3:]:  # past the "job count" header and the dashes
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total" or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


@dataclass
class DagReport:
    """Per-rule job counts of both sides (old rules under their new names) and every difference."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    renamed: dict[str, set[str]] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)


def _outputs_by_rule(jobs: list[Job], layout: LayoutMap | None) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for job in jobs:
        rule = layout.rule(job.rule) if layout else job.rule
        out[rule].update(normalise_config_hash(layout.path(p) if layout else p) for p in job.outputs)
    return out


def diff_dag(old_text: str, new_text: str, layout: LayoutMap) -> DagReport:
    """Job counts and output multisets per rule, OLD renamed and rewritten through ``layout``."""
    report = DagReport()
    old_jobs, new_jobs = parse_dry_run(old_text), parse_dry_run(new_text)
    for side, text, jobs in (("OLD", old_text, old_jobs), ("NEW", new_text, new_jobs)):
        stats, parsed = job_stats(text), Counter(j.rule for j in jobs)
        if stats is not None and stats != dict(parsed):
            bad = ", ".join(f"{r} {parsed[r]} parsed / {stats.get(r, 0)} listed"
                            for r in sorted(parsed.keys() | stats.keys()) if parsed[r] != stats.get(r, 0))
            report.differences.append(f"{side}: the job blocks disagree with its Job stats table: {bad}")
    old_counts = Counter(layout.rule(j.rule) for j in old_jobs)
    new_counts = Counter(j.rule for j in new_jobs)
    for job in old_jobs:
        if layout.rule(job.rule) != job.rule:
            report.renamed.setdefault(layout.rule(job.rule), set()).add(job.rule)
    old_outputs, new_outputs = _outputs_by_rule(old_jobs, layout), _outputs_by_rule(new_jobs, None)
    for rule in sorted(old_counts.keys() | new_counts.keys()):
        report.counts[rule] = (old_counts[rule], new_counts[rule])
        if old_counts[rule] != new_counts[rule]:
            report.differences.append(f"rule {rule}: {old_counts[rule]} jobs in OLD, {new_counts[rule]} in NEW")
        for side, mine, other in (("OLD", old_outputs[rule], new_outputs[rule]),
                                  ("NEW", new_outputs[rule], old_outputs[rule])):
            for path, n in sorted((mine - other).items()):
                report.differences.append(f"rule {rule}: output only in {side}{f' ({n}x)' if n > 1 else ''}: {path}")
    return report


def dump_jobs(side: str, jobs: list[Job], layout: LayoutMap | None) -> None:
    """The parsed jobs, as compared (old rule name and paths shown where the map changed them)."""
    for job in jobs:
        rule = layout.rule(job.rule) if layout else job.rule
        name = rule if rule == job.rule else f"{rule} (was {job.rule})"
        print(f"[{side}] {name} jobid={job.fields.get('jobid', '?')}")
        for path in job.outputs:
            shown = normalise_config_hash(layout.path(path) if layout else path)
            print(f"    {shown}" + (f"  (was {path})" if shown != path else ""))


def print_dag_report(report: DagReport) -> None:
    """Per-rule counts side by side, then every difference."""
    names = {rule: rule + (f" (was {', '.join(sorted(report.renamed[rule]))})" if rule in report.renamed else "")
             for rule in report.counts}
    width = max([len("rule"), *map(len, names.values())])
    print(f"{'rule':<{width}}  {'OLD':>5}  {'NEW':>5}")
    for rule, (a, b) in report.counts.items():
        print(f"{names[rule]:<{width}}  {a:>5}  {b:>5}{'' if a == b else '  <-'}")
    total_old = sum(a for a, _ in report.counts.values())
    total_new = sum(b for _, b in report.counts.values())
    print(f"{'total':<{width}}  {total_old:>5}  {total_new:>5}")
    for line in report.differences:
        print(line)
    print(f"differences: {len(report.differences)}")


# ---------------------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    results = sub.add_parser("results", help="compare two results folders' tables, claims and metrics")
    results.add_argument("old", help="the results folder before")
    results.add_argument("new", help="the results folder after")
    results.add_argument("--ignore-timing", action="store_true", help="skip wall-clock values (TIMING_* above)")
    dag = sub.add_parser("dag", help="compare two saved `snakemake -n` outputs")
    dag.add_argument("old", help="dry-run text before")
    dag.add_argument("new", help="dry-run text after")
    dag.add_argument("--dump", action="store_true", help="print the parsed (rule, outputs) of both sides")
    for p in (results, dag):
        p.add_argument("--map", help="layout map YAML (vars, rules, paths), e.g. scripts/layout_map.yaml")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a vars entry of the map ({KEY} in its patterns); repeatable")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        layout = load_layout_map(args.map, parse_assignments(args.set)) if args.map or args.set else None
        if args.command == "results":
            report = diff_results(args.old, args.new, args.ignore_timing, layout)
            print_results_report(report, args.old, args.new, args.ignore_timing)
            return 1 if report.differences else 0
        old_text, new_text = Path(args.old).read_text(), Path(args.new).read_text()
        layout = layout or LayoutMap()
        if args.dump:
            dump_jobs("OLD", parse_dry_run(old_text), layout)
            dump_jobs("NEW", parse_dry_run(new_text), None)
        dag_report = diff_dag(old_text, new_text, layout)
        print_dag_report(dag_report)
        return 1 if dag_report.differences else 0
    except (OSError, ValueError, yaml.YAMLError, pd.errors.ParserError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
