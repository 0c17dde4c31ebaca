"""Paper tables and claims on hand-made pipeline outputs: our numbers come only from them, the paper's only from
the reference, claims flip when our numbers flip, and the Markdown shows both sides with reasons for gaps."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from robust3d.cli import main
from robust3d.evaluate.stats import loglog_slope
from robust3d.papers import compnets, validate_config
from robust3d.papers.compnets.plan import CompnetsPlan, unavailable
from robust3d.tables.reference import load_reference
from robust3d.tables.render import long_frame, markdown
from robust3d.tables.sources import Sources

REPO = Path(__file__).resolve().parents[2]
MODELS = ("resnet50", "dinov2_vitb14", "novum_resnet50", "compnets_resnet50_n64", "compnets_resnet50_n32",
          "compnets_vitb14")
EVALS = [("test", "clean", "0"), ("style", "clean", "0"), ("unseen", "clean", "0"),
         *[("test", "occlusion", lv) for lv in ("L1", "L2", "L3")],
         *[("test", c, "4") for c in ("brightness", "frost", "snow", "fog")]]
CLASSES = ("aeroplane", "car", "chair")


@pytest.fixture(scope="module")
def config() -> dict:
    return tables_config()


def tables_config() -> dict:
    """Default config (every model, every variant of Table 4) with the smoke config's small benchmark."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    smoke = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["synthetic"] = smoke["synthetic"]
    cfg["compnets"]["data"] = {"source": "synthetic"}  # no held-out class: `unseen` is the procedural split
    cfg["results"] = "results/test-tables"
    cfg["compnets"]["scaling"] = {"classes": [4, 8, 16], "novum_vertices": [64, 32], "steps": 1}
    return validate_config(cfg)


def metric_values() -> dict[tuple[str, str, str, str, str], float]:
    """Distinct values with three decimals (the paper prints one), 3D-CompNets ahead of the baselines."""
    values = {}
    for i, model in enumerate(MODELS):
        for j, (split, variant, level) in enumerate(EVALS):
            for metric, offset in (("class_accuracy", 0.123), ("pose_acc_pi6", 0.456)):
                if split == "unseen" and metric == "class_accuracy":
                    continue
                drop = 0 if variant == "clean" else (5 + 2 * j) * (1 - 0.1 * i)
                values[(model, split, variant, level, metric)] = 30 + 5 * i - drop + offset
    return values


def write_metrics(path: Path, values: dict) -> Path:
    rows = [{"benchmark": "synthetic", "paper": "compnets", "model": m, "split": s, "variant": v, "level": lv,
             "metric": metric, "value": value, "n": 6} for (m, s, v, lv, metric), value in values.items()]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_train(folder: Path, seconds: dict[str, float] | None = None,
                extra: dict[str, dict] | None = None) -> list[Path]:
    """Hand-made train.json files; ``extra``: per model, keys to add or override (the newer contract's
    ``train_cpu_seconds``, ``converged``, ``history``, ``omega``; without them the files look like older ones)."""
    seconds = seconds or {"novum_resnet50": 800.0, "compnets_resnet50_n64": 150.0, "compnets_resnet50_n32": 100.0}
    gflops = {"novum_resnet50": 10.0, "compnets_resnet50_n64": 0.9, "compnets_resnet50_n32": 0.5,
              "compnets_vitb14": 0.4}
    paths = []
    for model in MODELS:
        dual = model in ("resnet50", "dinov2_vitb14")
        data = {"model": model, "family": "dual_head" if dual else "neural_mesh", "backbone": "resnet50",
                "loss": None, "cross_samples": None, "classes": list(CLASSES), "epochs": 1, "steps": 3,
                "train_seconds": seconds.get(model, 50.0), "seconds_per_epoch": 1.0,
                "loss_gflops_per_step": None if dual else gflops[model], "final_loss": 1.0, "resumed_from": None,
                **(extra or {}).get(model, {})}
        path = folder / f"{model}.json"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


def write_scaling(path: Path, swap: bool = False) -> Path:
    rows = []
    for y in (4, 8, 16):
        for k in (64, 32):  # NOVUM: quadratic in Y
            rows.append({"model": "novum", "n_classes": y, "vertices_per_class": k, "cross_samples": None,
                         "step_seconds": (1e-3 * y if swap else 1e-4 * y * y) * k / 32, "loss_gflops": 0.01 * y * y})
        rows.append({"model": "compnets", "n_classes": y, "vertices_per_class": 64, "cross_samples": 32,
                     "step_seconds": 1e-4 * y * y if swap else 1e-3 * y, "loss_gflops": 0.0004 * y})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_unseen_predictions(folder: Path, correct: dict[str, tuple[int, int]]) -> list[Path]:
    """Per model, proc000 has 4 samples and proc001 2; ``correct`` gives how many poses are right per class."""
    paths = []
    for model in ("resnet50", "dinov2_vitb14", "novum_resnet50", "compnets_vitb14"):
        rows = []
        for cls, (n, right) in {"proc000": (4, correct["proc000"]), "proc001": (2, correct["proc001"])}.items():
            for i in range(n):
                off = 0.0 if i < right else 1.5  # 1.5 rad azimuth error > pi/6
                rows.append({"sample_id": f"{cls}_{i}", "class": cls, "pred_class": "car", "azimuth": 1.0,
                             "elevation": 0.2, "theta": 0.0, "pred_azimuth": 1.0 + off, "pred_elevation": 0.2,
                             "pred_theta": 0.0, "pose_class": "car", "seconds": 0.1, "model": model,
                             "split": "unseen", "variant": "clean", "level": "0"})
        path = folder / f"{model}_unseen.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        paths.append(path)
    return paths


def sources_for(tmp_path: Path, config: dict | None, values: dict | None = None, swap_scaling: bool = False,
                correct=None, seconds=None, train_extra=None, predictions=()) -> Sources:
    extra = {}
    if config is not None:
        extra = {"models": list(config["compnets"]["models"]),
                 "availability": lambda s, v, lv: unavailable(config, s, v, lv)}
    return Sources.load(write_metrics(tmp_path / "metrics.csv", metric_values() if values is None else values),
                        write_train(tmp_path, seconds, train_extra),
                        {"scaling": write_scaling(tmp_path / "scaling.csv", swap_scaling)},
                        [*write_unseen_predictions(tmp_path, correct or {"proc000": 3, "proc001": 1}), *predictions],
                        **extra)


def by_name(tables) -> dict:
    return {t.spec.name: t for t in tables}


def paper_numbers() -> set[float]:
    ref = load_reference(compnets.REFERENCE)
    return {float(v) for table in ref.tables.values() for row in table["rows"].values() for v in row["values"].values()}


# ------------------------------------------------------------------------------------------------ reference

def test_reference_rows_and_columns_are_table_keys():
    ref = load_reference(compnets.REFERENCE)
    specs = {s.name: s for s in compnets.table_specs(None)}
    for name, table in ref.tables.items():
        spec = specs[name]
        ours_only = {r.key for r in spec.rows if "ours only" in r.label}  # rows the paper's table does not have
        assert set(table["rows"]) == {r.key for r in spec.rows} - ours_only, name
        assert all(spec.row(k).columns for k in ours_only), name  # such a row reads only what its claim needs
        for row in table["rows"].values():
            assert set(row["values"]) <= {c.key for c in spec.columns}, (name, row["label"])
    assert ref.value("table1", "compnets_resnet50_n32", "loss_gflops") == 2.71
    assert ref.value("table3", "compnets_vitb14", "average") == 45.5
    assert ref.value("table4", "pose:novum_resnet50", "corr_avg") == 44.5


# ------------------------------------------------------------------------------------------------ ours vs paper

def test_without_our_outputs_every_ours_cell_is_missing_and_the_paper_is_shown():
    tables, claims = compnets.build(Sources(), None)
    for table in tables:
        assert all(cell.missing and cell.note for cell in table.ours.values()), table.spec.name
    t2 = by_name(tables)["table2"]
    assert t2.cell("paper", "compnets_vitb14", "synthetic").value == 74.9
    assert (claims["holds"] == "untestable").all()
    assert (claims.set_index("claim_id").loc["iid_cls_vs_novum", "paper_holds"]) == "true"


def test_our_values_come_from_our_files_only(tmp_path, config):
    values = metric_values()
    tables = by_name(compnets.build(sources_for(tmp_path, config), config)[0])
    t2, t4, t1 = tables["table2"], tables["table4"], tables["table1"]
    assert t2.cell("ours", "compnets_resnet50_n32", "iid").value == values[("compnets_resnet50_n32", "test",
                                                                              "clean", "0", "class_accuracy")]
    occ = [values[("compnets_vitb14", "test", "occlusion", lv, "pose_acc_pi6")] for lv in ("L1", "L2", "L3")]
    assert t4.cell("ours", "pose:compnets_vitb14", "occ_avg").value == pytest.approx(sum(occ) / 3)
    assert t1.cell("ours", "novum_resnet50", "train_hours").value == pytest.approx(800 / 3600)
    assert t1.cell("ours", "compnets_resnet50_n32", "loss_gflops_reduction").value == pytest.approx(95.0)
    ours = {c.value for t in tables.values() for c in t.ours.values() if not c.missing}
    assert ours and not ours & paper_numbers()  # no printed number leaked into ours
    frame = compnets_long(tables)
    assert set(frame["source"]) == {"ours", "paper"}
    assert not set(frame.loc[frame["source"] == "ours", "value"].dropna()) & paper_numbers()


def compnets_long(tables) -> pd.DataFrame:
    return pd.concat([long_frame(t) for t in tables.values()], ignore_index=True)


def test_missing_cells_say_why(tmp_path, raw_smoke_config):
    """The smoke config builds occlusion L1, L3 and fog only: L2 and three corruptions are missing, with reasons,
    and the averages say which levels they cover."""
    cfg = validate_config(raw_smoke_config)
    values = {k: v for k, v in metric_values().items() if k[3] not in ("L2",) and k[2] not in ("brightness", "snow")}
    t4 = by_name(compnets.build(sources_for(tmp_path, cfg, values), cfg)[0])["table4"]
    l2 = t4.cell("ours", "class:resnet50", "occ_l2")
    assert l2.missing and "not built by this config" in l2.note and "occlusion/L2" in l2.note
    avg = t4.cell("ours", "class:resnet50", "occ_avg")
    assert "mean of occ_l1, occ_l3 only" in avg.note
    assert avg.value == pytest.approx((values[("resnet50", "test", "occlusion", "L1", "class_accuracy")]
                                       + values[("resnet50", "test", "occlusion", "L3", "class_accuracy")]) / 2)
    frost = t4.cell("ours", "class:resnet50", "frost")
    assert frost.missing and "not built by this config" in frost.note


# ------------------------------------------------------------------------------------------------ Table 3

def test_table3_per_class_pose_accuracy_from_predictions(tmp_path, config):
    t3 = by_name(compnets.build(sources_for(tmp_path, config, correct={"proc000": 3, "proc001": 1}), config)[0])[
        "table3"]
    assert [c.key for c in t3.spec.columns][:2] == ["proc000", "proc001"]
    assert t3.cell("ours", "compnets_vitb14", "proc000").value == pytest.approx(75.0)
    assert t3.cell("ours", "compnets_vitb14", "proc000").n == 4
    assert t3.cell("ours", "compnets_vitb14", "proc001").value == pytest.approx(50.0)
    assert t3.cell("ours", "compnets_vitb14", "teapot").missing  # the paper's class, not ours
    assert t3.cell("paper", "compnets_vitb14", "teapot").value == 44.0
    assert t3.cell("paper", "compnets_vitb14", "proc000").missing
    t3 = by_name(compnets.build(sources_for(tmp_path, config, correct={"proc000": 0, "proc001": 2}), config)[0])[
        "table3"]
    assert t3.cell("ours", "resnet50", "proc000").value == 0.0
    assert t3.cell("ours", "resnet50", "proc001").value == 100.0


# ------------------------------------------------------------------------------------------------ claims

def claim(claims: pd.DataFrame, claim_id: str) -> pd.Series:
    return claims.set_index("claim_id").loc[claim_id]


def test_claims_flip_with_our_numbers(tmp_path, config):
    values = metric_values()
    key_c, key_n = [(m, "test", "clean", "0", "class_accuracy") for m in ("compnets_resnet50_n32", "novum_resnet50")]
    claims = compnets.build(sources_for(tmp_path, config, values), config)[1]
    row = claim(claims, "iid_cls_vs_novum")
    assert row["holds"] == "true" and row["paper_holds"] == "true"
    assert (row["ours_left"], row["ours_right"]) == (values[key_c], values[key_n])
    assert (row["paper_left"], row["paper_right"]) == (86.5, 85.7)

    flipped = copy.deepcopy(values)
    flipped[key_c], flipped[key_n] = values[key_n], values[key_c]
    claims = compnets.build(sources_for(tmp_path, config, flipped), config)[1]
    assert claim(claims, "iid_cls_vs_novum")["holds"] == "false"
    assert claim(claims, "iid_cls_vs_novum")["paper_holds"] == "true"  # the paper's side never moves

    del flipped[key_n]
    claims = compnets.build(sources_for(tmp_path, config, flipped), config)[1]
    assert claim(claims, "iid_cls_vs_novum")["holds"] == "untestable"
    assert "novum_resnet50" in claim(claims, "iid_cls_vs_novum")["note"]


def test_efficiency_and_scaling_claims(tmp_path, config):
    claims = compnets.build(sources_for(tmp_path, config), config)[1]
    gflops = claim(claims, "loss_gflops_n32")
    assert gflops["holds"] == "false" and gflops["ours_statistic"] == pytest.approx(0.05)  # 5% > 2.71/61.2
    assert gflops["paper_statistic"] == pytest.approx(2.71 / 61.2) and gflops["paper_holds"] == "true"
    assert claim(claims, "loss_gflops_n64")["ours_statistic"] == pytest.approx(0.09)
    assert claim(claims, "train_time_7x")["holds"] == "true"  # 800 s / 100 s (old files: wall train_seconds)
    slope = claim(claims, "time_slope_vs_novum64")
    assert slope["holds"] == "true" and slope["paper_holds"] == "true"
    assert slope["ours_left"] == pytest.approx(1.0) and slope["ours_right"] == pytest.approx(2.0)
    assert slope["paper_evidence"].startswith("text: §5.1")
    at16 = claim(claims, "loss_gflops_at_16")
    assert at16["holds"] == "true" and at16["ours_statistic"] == pytest.approx(0.0064 / 2.56)
    assert at16["paper_statistic"] == pytest.approx(2.71 / 61.2)  # Table 1 stands in for the figure

    slow = compnets.build(sources_for(tmp_path, config, swap_scaling=True,
                                      seconds={"novum_resnet50": 300.0, "compnets_resnet50_n32": 100.0}), config)[1]
    assert claim(slow, "time_slope_vs_novum64")["holds"] == "false"
    assert claim(slow, "train_time_7x")["holds"] == "false"


def test_claims_cover_the_issue_examples():
    ids = {c.id for c in compnets.claims()}
    assert {"iid_cls_vs_novum", "occlusion_drop_vit_vs_dinov2", "occlusion_drop_resnet_vs_resnet50",
            "loss_gflops_n32", "loss_gflops_n64", "unseen_pose_vs_dinov2", "time_slope_vs_novum1000",
            "iid_cls_n64_vs_novum", "synthetic_cls_vs_resnet50", "omega_sparse_compnets_resnet50_n32"} <= ids


# ------------------------------------------------------------------------------------------------ rendering, CLI

def test_markdown_shows_ours_beside_the_paper(tmp_path, raw_smoke_config):
    cfg = validate_config(raw_smoke_config)
    tables = by_name(compnets.build(sources_for(tmp_path, cfg), cfg)[0])
    text = markdown(tables["table2"])
    ours_value = f"{metric_values()[('compnets_vitb14', 'test', 'clean', '0', 'class_accuracy')]:.1f}"
    line = next(x for x in text.splitlines() if x.startswith("| 3D-CompNets (vit-b-14) | ours |"))
    assert ours_value in line
    paper_line = text.splitlines()[text.splitlines().index(line) + 1]
    assert paper_line.startswith("|  | paper |") and "93.5" in paper_line and "74.9" in paper_line
    assert "ours: synthetic benchmark" in text and "paper: ImageNet3D" in text
    t4 = markdown(tables["table4"])
    assert "— [" in t4 and "ours: not built by this config (no variant occlusion/L2" in t4


def test_cli_writes_tables_claims_and_figures(tmp_path, config):
    inputs = tmp_path / "in"
    inputs.mkdir()
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    out, figs = tmp_path / "tables", tmp_path / "figures"
    args = ["tables", "--paper", "compnets", "--config", str(cfg_path),
            "--metrics", str(write_metrics(inputs / "metrics.csv", metric_values())),
            "--train-metrics", *map(str, write_train(inputs)), "--scaling", str(write_scaling(inputs / "s.csv")),
            "--predictions", *map(str, write_unseen_predictions(inputs, {"proc000": 3, "proc001": 1})),
            "--out-dir", str(out), "--figures-dir", str(figs)]
    assert main(args) == 0
    plan = CompnetsPlan(config, str(cfg_path))
    for name in ("table1", "table2", "table3", "table4", "figure1", "figure2"):
        df = pd.read_csv(out / f"compnets_{name}.csv")
        assert list(df.columns)[:9] == ["table", "row", "row_label", "column", "column_label", "source", "value",
                                        "n", "note"]
        assert (out / f"compnets_{name}.md").read_text().startswith("## ")
    claims = pd.read_csv(out / "compnets_claims.csv", dtype={"holds": str, "paper_holds": str})
    assert {"claim", "holds", "ours_left", "ours_right", "paper_left", "paper_right", "paper_holds"} <= set(claims)
    assert set(claims["holds"]) <= {"true", "false", "untestable"} and (claims["holds"] == "true").sum() >= 10
    for png in ("compnets_figure1.png", "compnets_figure2.png"):
        assert (figs / png).read_bytes()[:4] == b"\x89PNG" and (figs / png).stat().st_size > 10_000
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in plan.table_outputs()
                                                           + [plan.claims, plan.byom_claims, plan.chance])


# ------------------------------------------------------------------------------------------------ plan

def test_plan_predicts_exactly_what_the_tables_read(config, raw_smoke_config):
    plan = CompnetsPlan(config, "cfg.yaml")
    ev = plan.evaluations()
    assert ("compnets_resnet50_n64", "test", "clean", "0") in ev  # Table 1's accuracy
    assert not any(m == "compnets_resnet50_n64" and s not in ("test", "unseen") for m, s, *_ in ev)
    assert ("compnets_resnet50_n64", "unseen", "clean", "0") in ev  # the borrowed-class table (every mesh model)
    assert ("novum_resnet50", "unseen", "clean", "0") in ev  # Figure 1's unseen pose
    assert ("compnets_vitb14", "test", "fog", "4") in ev
    # Table 4's ours-only N = 32 row adds its occlusion levels only (the same-backbone occlusion-drop claim)
    assert {lv for m, s, v, lv in ev if m == "compnets_resnet50_n32" and v not in ("clean", "cartoon")} == {
        "L1", "L2", "L3"}
    assert len(ev) == len(set(ev)) == 4 * 10 + 2 + 1 + 3 + 2  # + N = 64 and N = 32 on unseen (borrowed)
    smoke = CompnetsPlan(validate_config(raw_smoke_config), "cfg.yaml")
    assert not any(lv == "L2" for *_, lv in smoke.evaluations())  # the smoke config builds L1 and L3 only
    assert smoke.calibration_manifest.endswith("/calibration/manifest.csv")
    raw_smoke_config["synthetic"]["splits"]["calibration"] = 0
    assert CompnetsPlan(validate_config(raw_smoke_config), "c").calibration_manifest.endswith("/train/manifest.csv")

    class W:
        split, variant, level = "test", "occlusion", "L1"

    assert plan.predict_input(W) == f"{config['synthetic']['root']}/variants/test/occlusion/L1"


def test_loglog_slope():
    assert loglog_slope([10, 20, 40], [3 * 10**2, 3 * 20**2, 3 * 40**2]) == pytest.approx(2.0)
    assert math.isnan(loglog_slope([10], [1.0]))


def test_snakemake_rule_builds_the_tables_from_existing_results(tmp_path, config):
    """The compnets_tables rule's command line, run by Snakemake in a work folder whose upstream results exist
    (hand-made), with every other rule disallowed."""
    import subprocess
    import sys

    cfg = copy.deepcopy(config)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    plan = CompnetsPlan(cfg, "unused")
    results = tmp_path / cfg["results"]
    (results / "synthetic").mkdir(parents=True)
    write_metrics(tmp_path / plan.metrics, metric_values())
    for path in write_train(tmp_path):
        dest = tmp_path / plan.train_metrics(path.stem)
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)
    (tmp_path / plan.scaling).parent.mkdir(parents=True, exist_ok=True)
    write_scaling(tmp_path / plan.scaling)
    for path in write_unseen_predictions(tmp_path, {"proc000": 3, "proc001": 1}):
        dest = tmp_path / plan.prediction(path.stem.removesuffix("_unseen"), "unseen", "clean", "0")
        dest.parent.mkdir(parents=True, exist_ok=True)
        path.rename(dest)
    for model, split, variant, level in plan.evaluations():  # the rest: what the claims' bootstrap resamples
        dest = tmp_path / plan.prediction(model, split, variant, level)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame([{"sample_id": f"{split}_{i}", "class": "car", "pred_class": "car" if i % 2 else "bus",
                           "azimuth": 1.0, "elevation": 0.2, "theta": 0.0, "pred_azimuth": 1.0 + i,
                           "pred_elevation": 0.2, "pred_theta": 0.0, "pose_class": "car", "seconds": 0.1,
                           "model": model, "split": split, "variant": variant, "level": level}
                          for i in range(4)]).to_csv(dest, index=False)
    proc = subprocess.run([sys.executable, "-m", "snakemake", plan.claims, "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "--cores", "1", "--allowed-rules", "compnets_tables"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for path in plan.outputs():
        assert (tmp_path / path).stat().st_size > 0, path
    claims = pd.read_csv(tmp_path / plan.claims, dtype={"holds": str}).set_index("claim_id")
    assert claims.loc["unseen_pose_vs_dinov2", "holds"] == "true"


def test_resolved_configs_rerun_only_the_jobs_a_change_concerns(tmp_path, config):
    base = CompnetsPlan.prepare(config, tmp_path)
    pose = copy.deepcopy(config)
    pose["compnets"]["pose"]["refine_steps"] += 1
    changed = CompnetsPlan.prepare(pose, tmp_path)
    assert changed.train_config_file == base.train_config_file  # no retraining for an inference setting ...
    assert changed.config_file != base.config_file  # ... but new predictions
    assert yaml.safe_load(Path(changed.train_config_file).read_text())["compnets"]["pose"]["refine_steps"] == \
        pose["compnets"]["pose"]["refine_steps"]  # the file holds the whole, current config
    variants = copy.deepcopy(config)
    variants["variants"]["styles"] = []
    other = CompnetsPlan.prepare(variants, tmp_path)
    assert (other.config_file, other.train_config_file) == (base.config_file, base.train_config_file)
    assert other.tables_config_file != base.tables_config_file
    epochs = copy.deepcopy(config)
    epochs["compnets"]["train"]["epochs"] += 1
    assert CompnetsPlan.prepare(epochs, tmp_path).train_config_file != base.train_config_file


def test_cli_without_a_figures_dir_writes_nothing_outside_its_out_dir(tmp_path, config):
    inputs, out = tmp_path / "in", tmp_path / "deep" / "tables"
    inputs.mkdir()
    args = ["tables", "--paper", "compnets", "--metrics", str(write_metrics(inputs / "metrics.csv", metric_values())),
            "--train-metrics", *map(str, write_train(inputs)), "--scaling", str(write_scaling(inputs / "s.csv")),
            "--out-dir", str(out)]
    assert main(args) == 0
    assert (out / "compnets_figure1.png").is_file() and (out / "compnets_table1.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["tables"]


def test_wall_clock_cells_and_the_claims_that_read_them_are_marked(tmp_path, config):
    from robust3d.tables.spec import TIMING_MARK

    tables, claims_df = compnets.build(sources_for(tmp_path, config), config)
    tables = by_name(tables)
    frame = long_frame(tables["table1"])
    assert set(frame.loc[frame["timing"], "column"]) == {"train_hours"}
    fig2 = long_frame(tables["figure2"])
    assert set(fig2.loc[fig2["timing"], "column"]) == {c for c in fig2["column"] if c.startswith("sec_")} | {
        "slope", "slope_cpu"}
    text = markdown(tables["table1"])
    assert f"CPU time to stop (h) {TIMING_MARK}" in text and f"- {TIMING_MARK} time measured" in text
    timed = set(claims_df.loc[claims_df["timing"], "claim_id"])
    assert timed and all(c.startswith(("train_time_", "time_slope_")) for c in timed), timed
    assert not claims_df.loc[~claims_df["timing"], "claim_id"].str.startswith("train_time_").any()
