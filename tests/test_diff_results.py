"""scripts/diff_results.py: results folders (tables, claims, metrics) and dry-run DAGs compared across a layout."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from robust3d.evaluate.metrics import METRIC_COLUMNS
from robust3d.tables.claims import CLAIM_COLUMNS
from robust3d.tables.render import LONG_COLUMNS

REPO = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("diff_results", REPO / "scripts" / "diff_results.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


dr = _load_script()


# ---------------------------------------------------------------------------------------------- results fixtures
def _cells(table: str, cells: dict[tuple[str, str], float]) -> pd.DataFrame:
    """A long table CSV (render.LONG_COLUMNS) with ours and paper rows per cell."""
    records = [{"table": table, "row": row, "row_label": row.upper(), "column": col, "column_label": col.title(),
                "source": source, "value": value if source == "ours" else value + 1.0,
                "n": 10 if source == "ours" else pd.NA, "note": ""}
               for source in ("ours", "paper") for (row, col), value in cells.items()]
    df = pd.DataFrame.from_records(records, columns=LONG_COLUMNS)
    df["n"] = df["n"].astype("Int64")
    return df


def _write_table(tables: Path, name: str, cells: dict[tuple[str, str], float]) -> None:
    df = _cells(name, cells)
    df.to_csv(tables / f"compnets_{name}.csv", index=False)
    lines = [f"## {name}", "", "| Model | source | value |", "|---|---|---|"]
    lines += [f"| {r.row} | {r.source} | {r.value:.3g} |" for r in df.itertuples()]
    (tables / f"compnets_{name}.md").write_text("\n".join(lines) + "\n")


def _claim(claim_id: str, statistic: float, holds: str = "true") -> dict:
    return {"claim_id": claim_id, "claim": f"the claim {claim_id}", "evidence": "table1[a, b]", "test": "greater",
            "holds": holds, "ours_left": 2.0, "ours_right": 1.0, "ours_statistic": statistic, "threshold": None,
            "paper_left": 3.0, "paper_right": 1.0, "paper_statistic": 2.0, "paper_holds": "true",
            "paper_evidence": "table1[a, b]", "note": ""}


def make_results(root: Path) -> Path:
    """A small results folder in the formats of render.py, claims.py and evaluate/metrics.py."""
    tables = root / "tables"
    tables.mkdir(parents=True)
    _write_table(tables, "table1", {("novum_resnet50", "loss_gflops"): 12.5, ("novum_resnet50", "train_hours"): 3.25,
                                    ("compnets_resnet50_n32", "loss_gflops"): 0.4,
                                    ("compnets_resnet50_n32", "train_hours"): 0.31})
    _write_table(tables, "table2", {("resnet50", "iid"): 81.25, ("resnet50", "synthetic"): 40.5})
    _write_table(tables, "figure2", {("NOVUM-128", "sec_8"): 0.02, ("NOVUM-128", "slope"): 1.9,
                                     ("NOVUM-128", "gflops_8"): 3.5, ("NOVUM-128", "gflops_slope"): 2.0})
    claims = [_claim("train_time_7x", 10.5), _claim("time_slope_vs_novum128", -0.8),
              _claim("loss_gflops_n32_7pct", 0.032)]
    pd.DataFrame.from_records(claims, columns=CLAIM_COLUMNS).to_csv(tables / "compnets_claims.csv", index=False)
    (root / "synthetic").mkdir()
    metrics = [("synthetic", "compnets", "resnet50", "test", "clean", "0", "class_accuracy", 81.25, 40),
               ("synthetic", "compnets", "resnet50", "test", "occlusion", "L1", "pose_acc_pi6", 55.0, 40)]
    pd.DataFrame(metrics, columns=list(METRIC_COLUMNS)).to_csv(root / "synthetic" / "metrics.csv", index=False)
    return root


@pytest.fixture
def pair(tmp_path) -> tuple[Path, Path]:
    old = make_results(tmp_path / "old" / "results")
    new = tmp_path / "new" / "results"
    shutil.copytree(old, new)
    return old, new


def _edit_csv(path: Path, match: dict[str, str], column: str, value) -> None:
    """Set ``column`` to ``value`` in the rows matching every (column, text) of ``match``."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = pd.Series(True, index=df.index)
    for key, text in match.items():
        rows &= df[key] == text
    assert rows.any(), f"no row {match} in {path}"
    df.loc[rows, column] = str(value)
    df.to_csv(path, index=False)


def _run(capsys, *args: str) -> tuple[int, str]:
    rc = dr.main([str(a) for a in args])
    return rc, capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- results tests
def test_identical_results_exit_0(pair, capsys):
    old, new = pair
    rc, out = _run(capsys, "results", old, new)
    assert rc == 0, out
    report = dr.diff_results(old, new)
    assert report.differences == []
    assert report.files == 8  # 3 tables (CSV + Markdown), the claims and the metrics
    assert report.cells > 0 and "differences: 0" in out


def test_changed_value_is_reported_with_its_key(pair, capsys):
    old, new = pair
    _edit_csv(new / "tables" / "compnets_table2.csv", {"row": "resnet50", "column": "iid", "source": "ours"},
              "value", 81.5)
    rc, out = _run(capsys, "results", old, new, "--ignore-timing")
    assert rc == 1
    assert "tables/compnets_table2.csv: [table=table2 row=resnet50 column=iid source=ours] value" in out
    assert "'81.25' != NEW '81.5'" in out
    assert "differences: 1" in out


def test_numbers_equal_within_relative_tolerance(pair):
    old, new = pair
    key = {"row": "resnet50", "column": "iid", "source": "ours"}
    _edit_csv(new / "tables" / "compnets_table2.csv", key, "value", 81.25 * (1 + 1e-14))
    assert dr.diff_results(old, new).differences == []
    _edit_csv(new / "tables" / "compnets_table2.csv", key, "value", 81.25 * (1 + 1e-9))
    assert len(dr.diff_results(old, new).differences) == 1


@pytest.mark.parametrize(("table", "row", "column"), [("table1", "novum_resnet50", "train_hours"),
                                                      ("figure2", "NOVUM-128", "sec_8"),
                                                      ("figure2", "NOVUM-128", "slope")])
def test_timing_value_ignored_only_with_flag(pair, capsys, table, row, column):
    old, new = pair
    _edit_csv(new / "tables" / f"compnets_{table}.csv", {"row": row, "column": column, "source": "ours"},
              "value", 99.0)
    md = new / "tables" / f"compnets_{table}.md"
    md.write_text(md.read_text().replace("| ours |", "| ours (timed) |", 1))
    rc, out = _run(capsys, "results", old, new)
    assert rc == 1 and f"column={column}" in out and f"compnets_{table}.md" in out
    rc, out = _run(capsys, "results", old, new, "--ignore-timing")
    assert rc == 0, out
    assert f"tables/compnets_{table}.md" in out  # named as skipped in the summary


@pytest.mark.parametrize("column", ["gflops_8", "gflops_slope"])
def test_flop_counts_are_not_timing(pair, column):
    old, new = pair
    _edit_csv(new / "tables" / "compnets_figure2.csv", {"column": column, "source": "ours"}, "value", 7.0)
    differences = dr.diff_results(old, new, ignore_timing=True).differences
    assert len(differences) == 1 and f"column={column}" in differences[0]


def test_markdown_of_untimed_table_compared_with_flag(pair):
    old, new = pair
    md = new / "tables" / "compnets_table2.md"
    md.write_text(md.read_text().replace("81.2", "81.3"))
    differences = dr.diff_results(old, new, ignore_timing=True).differences
    assert len(differences) == 1 and "compnets_table2.md" in differences[0] and "+ | resnet50" in differences[0]


@pytest.mark.parametrize("missing", ["tables/compnets_table2.md", "tables/compnets_claims.csv",
                                     "synthetic/metrics.csv"])
@pytest.mark.parametrize("side", ["old", "new"])
def test_missing_file_exit_1(pair, capsys, missing, side):
    old, new = pair
    ((old if side == "old" else new) / missing).unlink()
    rc, out = _run(capsys, "results", old, new, "--ignore-timing")
    assert rc == 1
    assert f"{missing}: missing in {side.upper()}" in out


def test_claims_timing_rows_ignored_with_flag(pair, capsys):
    old, new = pair
    claims = new / "tables" / "compnets_claims.csv"
    _edit_csv(claims, {"claim_id": "train_time_7x"}, "ours_statistic", 6.5)
    _edit_csv(claims, {"claim_id": "train_time_7x"}, "holds", "false")
    _edit_csv(claims, {"claim_id": "time_slope_vs_novum128"}, "ours_statistic", 0.1)
    rc, out = _run(capsys, "results", old, new)
    assert rc == 1 and "[claim_id=train_time_7x] holds" in out and "[claim_id=time_slope_vs_novum128]" in out
    assert _run(capsys, "results", old, new, "--ignore-timing")[0] == 0
    _edit_csv(claims, {"claim_id": "loss_gflops_n32_7pct"}, "ours_statistic", 0.05)
    rc, out = _run(capsys, "results", old, new, "--ignore-timing")
    assert rc == 1 and "[claim_id=loss_gflops_n32_7pct] ours_statistic" in out


def test_claims_column_on_one_side_and_missing_claim(pair):
    old, new = pair
    claims = new / "tables" / "compnets_claims.csv"
    df = pd.read_csv(claims, dtype=str, keep_default_na=False)
    df["seed_spread"] = "0.5"
    df[df["claim_id"] != "loss_gflops_n32_7pct"].to_csv(claims, index=False)
    differences = dr.diff_results(old, new, ignore_timing=True).differences
    assert "tables/compnets_claims.csv: columns only in NEW: seed_spread" in differences
    assert "tables/compnets_claims.csv: row only in OLD: [claim_id=loss_gflops_n32_7pct]" in differences
    assert len(differences) == 2


def test_metrics_value_and_row_differences(pair):
    old, new = pair
    path = new / "synthetic" / "metrics.csv"
    _edit_csv(path, {"metric": "pose_acc_pi6"}, "value", 55.5)
    _edit_csv(path, {"metric": "class_accuracy"}, "level", "1")
    differences = dr.diff_results(old, new).differences
    assert any("variant=occlusion level=L1 metric=pose_acc_pi6] value" in d for d in differences)
    assert any("row only in OLD: [benchmark=synthetic" in d and "level=0" in d for d in differences)
    assert any("row only in NEW: [benchmark=synthetic" in d and "level=1" in d for d in differences)
    assert len(differences) == 3


def test_results_through_a_map(pair, tmp_path):
    """With --map, OLD's files are looked up where the map sends them in NEW."""
    old, new = pair
    (new / "compnets").mkdir()
    (new / "tables").rename(new / "compnets" / "tables")
    layout_file = tmp_path / "map.yaml"
    layout_file.write_text("vars: {results: results}\n"
                           "paths:\n  - ['^{results}/tables/', '{results}/compnets/tables/']\n")
    assert dr.diff_results(old, new, layout=dr.load_layout_map(layout_file)).differences == []
    (new / "compnets" / "tables" / "compnets_table1.csv").rename(new / "compnets" / "tables" / "table1.csv")
    layout_file.write_text(layout_file.read_text() + "  - ['/compnets_table1[.]csv$', '/table1.csv']\n")
    _edit_csv(new / "compnets" / "tables" / "table1.csv", {"column": "train_hours", "source": "ours",
                                                           "row": "novum_resnet50"}, "value", 99.0)
    layout = dr.load_layout_map(layout_file)
    assert len(dr.diff_results(old, new, layout=layout).differences) == 1
    assert dr.diff_results(old, new, ignore_timing=True, layout=layout).differences == []  # old name's rules
    assert any("missing in NEW" in d for d in dr.diff_results(old, new).differences)


# ---------------------------------------------------------------------------------------------- dag fixtures
HEADER = """Using workflow specific profile profiles/default for setting default command line arguments.
Assuming unrestricted shared filesystem usage.

SNAKEMAKE
=========
  Snakemake version: 9.27.1

Building DAG of jobs...
"""


def _stats(counts: dict[str, int]) -> str:
    width = max(len(r) for r in [*counts, "total"]) + 2
    lines = ["Job stats:", f"{'job':<{width}}count", "-" * width + "-------"]
    lines += [f"{rule:<{width}}{n:>5}" for rule, n in [*counts.items(), ("total", sum(counts.values()))]]
    return "\n".join(lines) + "\n"


def _block(rule: str, jobid: int, output: list[str], local: bool = False, wildcards: str = "") -> str:
    lines = ["[Wed Dec  2 07:33:22 2026]", f"{'localrule' if local else 'rule'} {rule}:",
             "    input: results/.config/compnets-4eac5b06dcd8.yaml"]
    if output:
        lines.append(f"    output: {', '.join(output)}")
    lines += [f"    log: logs/{rule}/{jobid}.log", f"    jobid: {jobid}", f"    benchmark: benchmarks/{rule}.tsv",
              f"    reason: Missing output files: {output[0] if output else '-'}"]
    if wildcards:
        lines.append(f"    wildcards: {wildcards}")
    lines.append("    resources: tmpdir=/tmp, runtime=30, mem_mb=3000, mem=3 GB, mem_mib=2862")
    return "\n".join(lines) + "\n"


def dry_run(train: str, predict: str, models: str, predictions: str, config_hash: str, models_list=("a", "b"),
            ) -> str:
    """A dry run in snakemake 9's format: two training jobs, their predictions, the tables job and `all`."""
    blocks = [_block(train, 10 + i, [f"{models}/{m}/model.pt", f"{models}/{m}/train.json"], wildcards=f"model={m}")
              for i, m in enumerate(models_list)]
    blocks += [_block(predict, 20 + i, [f"{predictions}/{m}/test/clean/0.csv"],
                      wildcards=f"model={m}, split=test, variant=clean, level=0") for i, m in enumerate(models_list)]
    blocks.append(_block("train_depth_local", 30, ["results/models/depth_local/model.pt"]))
    blocks.append(_block("compnets_tables", 31, [f"results/.config/compnets-tables-{config_hash}.yaml",
                                                "results/tables/compnets_table1.csv"]))
    blocks.append(_block("all", 0, [], local=True))
    counts = {train: len(models_list), predict: len(models_list), "train_depth_local": 1, "compnets_tables": 1,
              "all": 1}
    footer = ("Reasons:\n    (check individual jobs above for details)\n    output files have to be generated:\n"
              f"        {train}, {predict}\n"
              "This was a dry-run (flag -n). The order of jobs does not reflect the order of execution.\n")
    return HEADER + _stats(counts) + "\n\n" + "".join(blocks) + _stats(counts) + "\n" + footer


OLD_DAG = dry_run("train_model", "predict", "results/models", "results/predictions", "947e749e8624")
NEW_DAG = dry_run("compnets_train", "compnets_predict", "results/compnets/models",
                  "results/compnets/predictions/synthetic", "0123456789ab")


@pytest.fixture
def dag_files(tmp_path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(OLD_DAG)
    new.write_text(NEW_DAG)
    return old, new


LAYOUT_MAP = REPO / "scripts" / "layout_map.yaml"


# ---------------------------------------------------------------------------------------------- dag tests
def test_parse_dry_run_blocks_and_fields():
    jobs = dr.parse_dry_run(OLD_DAG)
    assert [j.rule for j in jobs] == ["train_model"] * 2 + ["predict"] * 2 + ["train_depth_local", "compnets_tables",
                                                                            "all"]
    assert jobs[0].outputs == ["results/models/a/model.pt", "results/models/a/train.json"]
    assert jobs[0].fields["jobid"] == "10" and jobs[0].fields["wildcards"] == "model=a"
    assert jobs[-1].outputs == [] and jobs[-1].fields["jobid"] == "0"
    assert dr.job_stats(OLD_DAG) == {"train_model": 2, "predict": 2, "train_depth_local": 1, "compnets_tables": 1,
                                     "all": 1}


def test_dag_renamed_rules_and_rewritten_paths_equal(dag_files, capsys):
    old, new = dag_files
    rc, out = _run(capsys, "dag", old, new, "--map", LAYOUT_MAP)
    assert rc == 0, out
    assert "compnets_train (was train_model)" in out and "differences: 0" in out


def test_dag_without_map_differs(dag_files, capsys):
    old, new = dag_files
    rc, out = _run(capsys, "dag", old, new)
    assert rc == 1
    assert "rule train_model: 2 jobs in OLD, 0 in NEW" in out


def test_dag_missing_job_exit_1(dag_files, capsys):
    old, new = dag_files
    new.write_text(dry_run("compnets_train", "compnets_predict", "results/compnets/models",
                           "results/compnets/predictions/synthetic", "0123456789ab", models_list=("a",)))
    rc, out = _run(capsys, "dag", old, new, "--map", LAYOUT_MAP)
    assert rc == 1
    assert "rule compnets_train: 2 jobs in OLD, 1 in NEW" in out
    assert "rule compnets_train: output only in OLD: results/compnets/models/b/model.pt" in out
    assert "rule compnets_predict: output only in OLD: results/compnets/predictions/synthetic/b/test/clean/0.csv" in out


def test_dag_wrong_benchmark_is_a_difference(dag_files, capsys):
    old, new = dag_files
    rc, out = _run(capsys, "dag", old, new, "--map", LAYOUT_MAP, "--set", "benchmark=imagenet3d")
    assert rc == 1
    assert "output only in OLD: results/compnets/predictions/imagenet3d/a/test/clean/0.csv" in out


def test_dag_job_stats_disagreeing_with_blocks_is_reported(dag_files, capsys):
    old, new = dag_files
    new.write_text(re.sub(r"^(compnets_train +)2$", r"\g<1>3", NEW_DAG, count=1, flags=re.MULTILINE))
    assert new.read_text() != NEW_DAG
    rc, out = _run(capsys, "dag", old, new, "--map", LAYOUT_MAP)
    assert rc == 1 and "NEW: the job blocks disagree with its Job stats table: compnets_train 2 parsed / 3" in out


def test_dag_dump_prints_rewritten_outputs(dag_files, capsys):
    old, new = dag_files
    rc, out = _run(capsys, "dag", old, new, "--map", LAYOUT_MAP, "--dump")
    assert rc == 0
    assert "[OLD] compnets_train (was train_model) jobid=10" in out
    assert "results/compnets/models/a/model.pt  (was results/models/a/model.pt)" in out
    assert "results/.config/compnets-tables-<hash>.yaml" in out


def test_layout_map_rewrites(tmp_path):
    layout = dr.load_layout_map(LAYOUT_MAP)
    assert layout.rule("train_model") == "compnets_train" and layout.rule("synth_render") == "synth_render"
    assert layout.path("results/models/x/model.pt") == "results/compnets/models/x/model.pt"
    assert layout.path("results/models/depth_local/model.pt") == "results/models/depth_local/model.pt"
    assert layout.path("results/predictions/x/test/0.csv") == "results/compnets/predictions/synthetic/x/test/0.csv"
    smoke = dr.load_layout_map(LAYOUT_MAP, {"results": "results/smoke", "benchmark": "imagenet3d"})
    assert smoke.path("results/smoke/predictions/x/0.csv") == "results/smoke/compnets/predictions/imagenet3d/x/0.csv"
    assert smoke.path("results/models/x/model.pt") == "results/models/x/model.pt"
    bad = tmp_path / "bad.yaml"
    bad.write_text("paths:\n  - ['^{nowhere}/x', 'y']\n")
    with pytest.raises(ValueError, match="unknown variable"):
        dr.load_layout_map(bad)


def test_config_hash_normalised():
    norm = dr.normalise_config_hash
    assert norm("results/.config/compnets-4eac5b06dcd8.yaml") == "results/.config/compnets-<hash>.yaml"
    assert norm("results/smoke/.config/a-b-0123456789ab.yaml") == "results/smoke/.config/a-b-<hash>.yaml"
    assert dr.normalise_config_hash("results/models/4eac5b06dcd8.pt") == "results/models/4eac5b06dcd8.pt"
