"""``python -m robust3d compare``: which of our numbers moved between two results folders, which claims flipped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from robust3d.cli import main
from robust3d.compare import compare_runs, render_markdown
from robust3d.errors import InputError
from robust3d.tables.claims import CLAIM_COLUMNS
from robust3d.tables.render import LONG_COLUMNS

#: The long table format before the optional percent / chance / ci_low / ci_high columns.
OLD_COLUMNS = ["table", "row", "row_label", "column", "column_label", "source", "value", "n", "note", "timing", "sd",
               "seeds"]
#: (row, column) -> our value and 95% interval; the paper's value is ours + 1 (so paper-only changes are visible).
TABLE2 = {("novum_resnet50", "iid"): (79.5, (74.0, 85.0)), ("novum_resnet50", "synthetic"): (67.5, (61.0, 73.5)),
          ("compnets", "iid"): (62.5, (56.25, 68.75)), ("compnets", "synthetic"): (60.0, (53.75, 66.25))}
#: Figure 2's cells: a FLOP count and a wall-clock (timing) column.
FIGURE2 = {("compnets", "loss_gflops"): (0.68, None), ("compnets", "sec_step"): (0.11, None)}
TIMED = {"sec_step"}


def _table_frame(table: str, cells: dict, columns: list[str], paper_shift: float = 1.0) -> pd.DataFrame:
    """A long table CSV: an ours and a paper row per cell, intervals on ours only (where the format has them)."""
    records = []
    for (row, col), (value, interval) in cells.items():
        for source in ("ours", "paper"):
            ours = source == "ours"
            low, high = interval if ours and interval else (None, None)
            records.append({"table": table, "row": row, "row_label": row.replace("_", " ").title(), "column": col,
                            "column_label": col.upper(), "source": source,
                            "value": value if ours else (None if value is None else value + paper_shift),
                            "n": 240 if ours else None, "note": "" if value is not None else "not run",
                            "timing": col in TIMED, "sd": None, "seeds": None, "percent": col not in FIGURE2,
                            "chance": 10.0 if ours else None, "ci_low": low, "ci_high": high})
    return pd.DataFrame.from_records(records, columns=columns)


def _claim(claim_id: str, verdict: str, interval: tuple[float, float] | None, timing: bool = False) -> dict:
    low, high = interval or (None, None)
    return {"claim_id": claim_id, "claim": f"the claim {claim_id}", "evidence": "table2[compnets, iid]",
            "test": "greater", "holds": verdict == "holds", "ours_left": 62.5, "ours_right": 79.5,
            "ours_statistic": -17.0, "threshold": None, "paper_left": 86.5, "paper_right": 85.7,
            "paper_statistic": 0.8, "paper_holds": True, "paper_evidence": "table2[compnets, iid]", "note": "",
            "timing": timing, "verdict": verdict, "ci_low": low, "ci_high": high, "n_samples": 240}


BASE_CLAIMS = {"iid_cls_vs_novum": ("holds", (1.0, 9.0), False), "loss_gflops_n32": ("holds", None, False),
               "train_time_7x": ("fails", None, True)}


def make_run(root: Path, table2: dict | None = None, figure2: dict | None = None, claims: dict | None = None,
             columns: list[str] = LONG_COLUMNS, paper_shift: float = 1.0) -> Path:
    """A results folder with two tables, the claims, and a chance CSV (which compare must skip)."""
    tables = root / "tables"
    tables.mkdir(parents=True)
    _table_frame("table2", table2 or TABLE2, columns, paper_shift).to_csv(tables / "compnets_table2.csv", index=False)
    _table_frame("figure2", figure2 or FIGURE2, columns, paper_shift).to_csv(tables / "compnets_figure2.csv",
                                                                             index=False)
    rows = [_claim(cid, *fields) for cid, fields in (claims or BASE_CLAIMS).items()]
    claims_columns = CLAIM_COLUMNS if columns is not OLD_COLUMNS else \
        [c for c in CLAIM_COLUMNS if c not in ("ci_low", "ci_high", "n_samples")]  # an older claims CSV
    pd.DataFrame.from_records(rows, columns=claims_columns).to_csv(tables / "compnets_claims.csv", index=False)
    pd.DataFrame({"model": ["m"], "split": ["test"], "value": [50.0 + paper_shift], "verdict": ["above chance"]}) \
        .to_csv(tables / "compnets_chance.csv", index=False)
    (tables / "compnets_table2.md").write_text("| a |\n")  # Markdown is not compared
    return root


def _with(cells: dict, key: tuple[str, str], value: float | None, interval=None) -> dict:
    return {**cells, key: (value, interval if interval is not None else cells.get(key, (None, None))[1])}


def _moved_rows(markdown: str) -> list[str]:
    section = markdown.split("## Numbers that moved", 1)[1].split("## Claims", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| compnets")]


def _claim_rows(markdown: str) -> list[str]:
    return [line for line in markdown.split("## Claims that changed verdict", 1)[1].splitlines()
            if line.startswith("| compnets")]


@pytest.fixture
def run_a(tmp_path: Path) -> Path:
    return make_run(tmp_path / "a")


def test_one_moved_number_and_one_flipped_claim_and_nothing_else(tmp_path: Path, run_a: Path) -> None:
    claims = {**BASE_CLAIMS, "iid_cls_vs_novum": ("fails", (-9.0, -1.0), False)}
    run_b = make_run(tmp_path / "b", table2=_with(TABLE2, ("compnets", "iid"), 65.0, (58.75, 71.25)), claims=claims,
                     paper_shift=3.0)  # every paper number differs too: not reported
    report = compare_runs(run_a, run_b)
    assert report.cells == 6 and report.claims == 3
    assert len(report.cell_changes) == 1
    change = report.cell_changes[0]
    assert (change.paper, change.table, change.row, change.column, change.kind) == \
        ("compnets", "table2", "compnets", "iid", "moved")
    assert change.change == pytest.approx(2.5) and change.beyond_a_interval is False
    assert [(c.claim_id, c.a_verdict, c.b_verdict) for c in report.verdict_changes] == \
        [("iid_cls_vs_novum", "holds", "fails")]
    assert report.not_compared == ["compnets_chance.csv"] and not report.only_in_a and not report.only_in_b

    text = render_markdown(report)
    assert f"- A: `{run_a}`" in text and f"- B: `{run_b}`" in text
    assert "6 cells compared, 1 moved, 0 appeared, 0 disappeared; 3 claims compared, 1 changed verdict." in text
    assert _moved_rows(text) == ["| compnets | table2 | Compnets | IID | 62.5 | 65 | +2.5 | "
                                 "A [56.25, 68.75] → B [58.75, 71.25] | no |"]
    assert _claim_rows(text) == ["| compnets | `iid_cls_vs_novum` | the claim iid_cls_vs_novum | holds → fails | "
                                 "[1, 9] | [-9, -1] |"]


def test_a_move_beyond_a_interval_says_yes_and_moves_sort_by_size(tmp_path: Path, run_a: Path) -> None:
    table2 = _with(_with(TABLE2, ("compnets", "iid"), 72.5), ("novum_resnet50", "synthetic"), 66.5)
    report = compare_runs(run_a, make_run(tmp_path / "b", table2=table2))
    assert [(c.row, c.column, c.change, c.beyond_a_interval) for c in report.cell_changes] == \
        [("compnets", "iid", pytest.approx(10.0), True), ("novum_resnet50", "synthetic", pytest.approx(-1.0), False)]
    rows = _moved_rows(render_markdown(report))
    assert "| +10 |" in rows[0] and rows[0].endswith("| yes |") and "| -1 |" in rows[1]


def test_an_identical_run_moves_nothing(tmp_path: Path, run_a: Path) -> None:
    text = render_markdown(compare_runs(run_a, make_run(tmp_path / "b")))
    assert "No numbers moved." in text and "No claim changed verdict." in text
    assert "6 cells compared, 0 moved" in text and _moved_rows(text) == [] and _claim_rows(text) == []


def test_tolerance_hides_small_changes(tmp_path: Path, run_a: Path) -> None:
    run_b = make_run(tmp_path / "b", table2=_with(TABLE2, ("compnets", "iid"), 62.5 + 1e-12))
    assert compare_runs(run_a, run_b).cell_changes == []
    run_c = make_run(tmp_path / "c", table2=_with(TABLE2, ("compnets", "iid"), 65.0))
    assert len(compare_runs(run_a, run_c).cell_changes) == 1
    assert compare_runs(run_a, run_c, tolerance=2.5).cell_changes == []
    with pytest.raises(InputError, match="tolerance"):
        compare_runs(run_a, run_c, tolerance=-1.0)


def test_old_csvs_without_the_new_columns(tmp_path: Path) -> None:
    run_a = make_run(tmp_path / "a", columns=OLD_COLUMNS)
    run_b = make_run(tmp_path / "b", table2=_with(TABLE2, ("compnets", "iid"), 65.0), columns=OLD_COLUMNS)
    header = (run_a / "tables" / "compnets_table2.csv").read_text().splitlines()[0]
    assert header == ",".join(OLD_COLUMNS)
    report = compare_runs(run_a, run_b)
    (change,) = report.cell_changes
    assert change.a_interval is None and change.beyond_a_interval is None
    assert _moved_rows(render_markdown(report)) == ["| compnets | table2 | Compnets | IID | 62.5 | 65 | +2.5 | — | — |"]
    # an old run against a new one: the B side's interval shows, A's is "—"
    mixed = compare_runs(run_a, make_run(tmp_path / "c", table2=_with(TABLE2, ("compnets", "iid"), 65.0)))
    assert _moved_rows(render_markdown(mixed))[0].endswith("| A — → B [56.25, 68.75] | — |")


def test_appeared_and_disappeared_cells(tmp_path: Path, run_a: Path) -> None:
    table2 = _with(TABLE2, ("compnets", "synthetic"), None)  # a number in A, empty in B
    table2[("resnet50", "iid")] = (76.5, None)  # a row B has and A lacks
    report = compare_runs(run_a, make_run(tmp_path / "b", table2=table2))
    assert [(c.row, c.column, c.kind, c.a, c.b) for c in report.cell_changes] == \
        [("resnet50", "iid", "appeared", None, 76.5), ("compnets", "synthetic", "disappeared", 60.0, None)]
    assert report.count("moved") == 0 and report.cells == 7
    rows = _moved_rows(render_markdown(report))
    assert rows[0] == "| compnets | table2 | Resnet50 | IID | — | 76.5 | appeared | — | — |"
    assert rows[1].startswith("| compnets | table2 | Compnets | SYNTHETIC | 60 | — | disappeared |")


def test_ignore_timing_drops_timed_cells_and_claims(tmp_path: Path, run_a: Path) -> None:
    claims = {**BASE_CLAIMS, "train_time_7x": ("holds", None, True)}
    run_b = make_run(tmp_path / "b", figure2=_with(FIGURE2, ("compnets", "sec_step"), 0.25), claims=claims)
    plain = compare_runs(run_a, run_b)
    assert [c.column for c in plain.cell_changes] == ["sec_step"]
    assert [c.claim_id for c in plain.verdict_changes] == ["train_time_7x"]
    timed = compare_runs(run_a, run_b, ignore_timing=True)
    assert timed.cell_changes == [] and timed.verdict_changes == []
    assert (timed.cells, timed.timed_cells_skipped, timed.claims, timed.timed_claims_skipped) == (5, 1, 2, 1)
    assert "Skipped as timing (--ignore-timing): 1 cells, 1 claims." in render_markdown(timed)


def test_files_in_one_run_only_are_listed(tmp_path: Path, run_a: Path) -> None:
    run_b = make_run(tmp_path / "b")
    (run_b / "tables" / "compnets_figure2.csv").rename(run_b / "tables" / "compnets_figure3.csv")
    report = compare_runs(run_a, run_b)
    assert (report.only_in_a, report.only_in_b, report.cells) == (["compnets_figure2.csv"], ["compnets_figure3.csv"], 4)
    text = render_markdown(report)
    assert "- Only in A (not compared): `compnets_figure2.csv`" in text
    assert "- Only in B (not compared): `compnets_figure3.csv`" in text


def test_a_value_that_is_not_a_number_is_bad_input(tmp_path: Path, run_a: Path) -> None:
    run_b = make_run(tmp_path / "b")
    path = run_b / "tables" / "compnets_table2.csv"
    path.write_text(path.read_text().replace("62.5", "sixty", 1))
    with pytest.raises(InputError, match=r"compnets_table2\.csv: row \d+ \(table2\[compnets, iid\]\) value"):
        compare_runs(run_a, run_b)


# ---------------------------------------------------------------------------------------------- the CLI
def test_cli_prints_the_report_and_exits_0(tmp_path: Path, run_a: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_b = make_run(tmp_path / "b", table2=_with(TABLE2, ("compnets", "iid"), 65.0))
    assert main(["compare", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Comparing two runs") and len(_moved_rows(out)) == 1 and "| +2.5 |" in out


def test_cli_out_writes_the_file_and_tolerance(tmp_path: Path, run_a: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_b = make_run(tmp_path / "b", table2=_with(TABLE2, ("compnets", "iid"), 65.0))
    out = tmp_path / "reports" / "a_vs_b.md"
    assert main(["compare", str(run_a), str(run_b), "--out", str(out)]) == 0
    assert out.read_text() == render_markdown(compare_runs(run_a, run_b))
    assert capsys.readouterr().out.strip().endswith(f"-> {out}")
    assert [p.name for p in out.parent.iterdir()] == ["a_vs_b.md"]  # no temporary file left behind
    assert main(["compare", str(run_a), str(run_b), "--tolerance", "3"]) == 0
    assert "No numbers moved." in capsys.readouterr().out


def test_cli_ignore_timing(tmp_path: Path, run_a: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_b = make_run(tmp_path / "b", figure2=_with(FIGURE2, ("compnets", "sec_step"), 0.25))
    assert main(["compare", str(run_a), str(run_b)]) == 0
    assert len(_moved_rows(capsys.readouterr().out)) == 1
    assert main(["compare", str(run_a), str(run_b), "--ignore-timing"]) == 0
    assert "No numbers moved." in capsys.readouterr().out


def test_cli_a_folder_without_tables_exits_2(tmp_path: Path, run_a: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["compare", str(run_a), str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"{empty}: no tables/ folder" in err and err.count("\n") == 1
    assert main(["compare", str(tmp_path / "absent"), str(run_a)]) == 2
    assert "absent: no such folder" in capsys.readouterr().err
