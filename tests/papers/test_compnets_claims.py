"""3D-CompNets' claims with the paper's thresholds, on hand-made outputs: each claim holds and fails as our numbers
move, its threshold is the paper's own number (read from reference.yaml), the training-time claim reads CPU time to
convergence (a run stopped by its cap is a lower bound), and the occlusion-drop claims need accuracies above chance.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_compnets_tables import claim, metric_values, sources_for, tables_config

from robust3d.papers import compnets
from robust3d.papers.compnets.claims import paper_claims
from robust3d.tables.reference import load_reference
from robust3d.tables.render import markdown
from robust3d.tables.sources import Sources
from robust3d.tables.spec import Row, TrainTimeColumn

NOVUM, N32, N64 = "novum_resnet50", "compnets_resnet50_n32", "compnets_resnet50_n64"
TEST_CLASSES = ("car", "bus", "chair", "boat")  # balanced on the hand-made test split: class chance 25%
N_TEST = 40


@pytest.fixture(scope="module")
def config() -> dict:
    return tables_config()


def build(tmp_path: Path, config: dict, **kwargs):
    return compnets.build(sources_for(tmp_path, config, **kwargs), config)


def by_id(config: dict) -> dict:
    return {c.id: c for c in compnets.claims(config)}


# ------------------------------------------------------------------------------------------------ thresholds

def test_gflops_thresholds_are_the_papers_table1_ratios(tmp_path, config):
    ref = load_reference(compnets.REFERENCE)
    assert (ref.value("table1", N32, "loss_gflops"), ref.value("table1", N64, "loss_gflops"),
            ref.value("table1", NOVUM, "loss_gflops")) == (2.71, 4.31, 61.2)  # the printed Table 1
    claims = by_id(config)
    ratio32 = ref.value("table1", N32, "loss_gflops") / ref.value("table1", NOVUM, "loss_gflops")
    ratio64 = ref.value("table1", N64, "loss_gflops") / ref.value("table1", NOVUM, "loss_gflops")
    assert claims["loss_gflops_n32"].threshold == ratio32 and claims["loss_gflops_n64"].threshold == ratio64
    assert "2.71/61.2 = 4.43%" in claims["loss_gflops_n32"].text and "-96%" in claims["loss_gflops_n32"].text
    assert "4.31/61.2 = 7.04%" in claims["loss_gflops_n64"].text
    assert claims["loss_gflops_at_16"].threshold == ratio32

    # NOVUM 10 GFLOPs: N = 32 at 0.44 is 4.40% (holds), at 0.45 4.50% (fails: the paper's 4.43% is the bar,
    # not its rounded "96%"); N = 64 at 0.70 holds, at 0.71 fails
    for n32, n64, holds in ((0.44, 0.70, "true"), (0.45, 0.71, "false")):
        extra = {N32: {"loss_gflops_per_step": n32}, N64: {"loss_gflops_per_step": n64}}
        frame = build(tmp_path, config, train_extra=extra)[1]
        for cid in ("loss_gflops_n32", "loss_gflops_n64"):
            row = claim(frame, cid)
            assert (row["holds"], row["verdict"], row["paper_holds"]) == (holds, holds.replace("true", "holds")
                                                                          .replace("false", "fails"), "true")
            assert row["threshold"] == claims[cid].threshold


def test_thresholds_follow_the_reference_file_not_the_code(tmp_path):
    """Change the transcribed numbers and the thresholds move with them: nothing is typed into the claims."""
    data = yaml.safe_load(Path(compnets.REFERENCE).read_text())
    data["tables"]["table1"]["rows"][N32]["values"]["loss_gflops"] = 3.06
    data["stated"]["train_speedup"]["value"] = 5
    data["stated"]["omega_nonzero_share"]["value"] = 0.25
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(data))
    claims = {c.id: c for c in paper_claims(reference=load_reference(path))}
    assert claims["loss_gflops_n32"].threshold == pytest.approx(0.05) and "3.06/61.2 = 5.00%" in claims[
        "loss_gflops_n32"].text
    assert claims["train_time_7x"].threshold == 5.0
    assert claims[f"omega_sparse_{N32}"].threshold == 25.0
    del data["stated"]["train_speedup"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match="train_speedup"):
        paper_claims(reference=load_reference(path))


# ------------------------------------------------------------------------------------------------ training time

def run(cpu: float, wall: float, converged: bool | None, epochs: int = 4, max_epochs: int = 10,
        epoch_cpu: tuple[float, ...] | None = None) -> dict:
    """The newer train.json keys of one run: CPU and wall seconds, the stop, a history of per-epoch times."""
    epoch_cpu = epoch_cpu or tuple(0.9 * cpu / epochs for _ in range(epochs))
    keys = {"train_cpu_seconds": cpu, "train_seconds": wall, "epochs": epochs, "max_epochs": max_epochs,
            "history": [{"epoch": e, "loss": 1.0, "seconds": wall / epochs, "cpu_seconds": c}
                        for e, c in enumerate(epoch_cpu)]}
    if converged is not None:
        keys.update(converged=converged, stop_reason="converged: gain < 0.5 points" if converged
                    else f"epoch cap ({max_epochs})")
    return keys


def test_train_time_claim_compares_cpu_time_to_convergence(tmp_path, config):
    # CPU time says NOVUM took 8x as long; wall time (other jobs on the cores) would say 1.1x
    fast = {NOVUM: run(8000.0, 1100.0, True), N32: run(1000.0, 1000.0, True)}
    tables, frame = build(tmp_path, config, train_extra=fast)
    t1 = {t.spec.name: t for t in tables}["table1"]
    assert t1.cell("ours", NOVUM, "train_hours").value == pytest.approx(8000 / 3600)
    assert t1.cell("ours", NOVUM, "train_hours").note == "" and t1.cell("ours", NOVUM, "train_hours").bound is None
    row = claim(frame, "train_time_7x")
    assert row["holds"] == "true" and row["ours_statistic"] == pytest.approx(8.0)
    assert row["threshold"] == 7.0 and row["paper_holds"] == "true"  # 66.8 h / 9.3 h = 7.2
    assert row["paper_statistic"] == pytest.approx(66.8 / 9.3)
    assert row["verdict"] == "holds" and row["ci_low"] > 7.0  # epochs' CPU times are steady: a tight interval

    slow = {NOVUM: run(4000.0, 9000.0, True), N32: run(1000.0, 1000.0, True)}  # 4x in CPU time, 9x in wall
    assert claim(build(tmp_path, config, train_extra=slow)[1], "train_time_7x")["holds"] == "false"


@pytest.mark.parametrize(("novum", "n32", "holds", "note"), [
    (run(8000.0, 1.0, False), run(1000.0, 1.0, True), "true", "settled although"),  # NOVUM >= 8x: holds anyway
    (run(4000.0, 1.0, False), run(1000.0, 1.0, True), "untestable", "not settled"),  # >= 4x: could be either
    (run(4000.0, 1.0, True), run(1000.0, 1.0, False), "false", "settled although"),  # <= 4x: fails anyway
    (run(8000.0, 1.0, True), run(1000.0, 1.0, False), "untestable", "not settled"),  # <= 8x: could be either
    (run(8000.0, 1.0, False), run(1000.0, 1.0, False), "untestable", "not settled"),  # both bounds
])
def test_a_run_stopped_by_its_cap_is_a_lower_bound(tmp_path, config, novum, n32, holds, note):
    tables, frame = build(tmp_path, config, train_extra={NOVUM: novum, N32: n32})
    row = claim(frame, "train_time_7x")
    assert row["holds"] == holds and note in row["note"]
    assert (row["verdict"] == "untestable") == (holds == "untestable")
    t1 = {t.spec.name: t for t in tables}["table1"]
    capped = NOVUM if not novum["converged"] else N32
    cell = t1.cell("ours", capped, "train_hours")
    assert cell.bound == "lower" and "did not converge (stop: epoch cap (10); 4 of 10 epochs)" in cell.note
    assert f"≥ {cell.value:.3g} †" in markdown(t1)


def test_old_train_json_falls_back_to_wall_time_with_a_note(tmp_path, config):
    tables, frame = build(tmp_path, config)  # the fixture's files have train_seconds only
    cell = {t.spec.name: t for t in tables}["table1"].cell("ours", NOVUM, "train_hours")
    assert cell.value == pytest.approx(800 / 3600) and cell.bound is None
    assert "wall-clock train_seconds" in cell.note and "no convergence record" in cell.note
    assert claim(frame, "train_time_7x")["holds"] == "true"


def test_time_replicates_resample_cpu_seconds_up_to_the_stop_epoch():
    column = TrainTimeColumn("hours", "h", scale=1 / 3600, timing=True)
    stopped = {"model": "m", "train_cpu_seconds": 3600.0 + 2000.0 + 4000.0, "train_seconds": 1.0, "epochs": 2,
               "converged": True,
               "history": [{"epoch": 0, "cpu_seconds": 2000.0, "seconds": 1.0},
                           {"epoch": 1, "cpu_seconds": 4000.0, "seconds": 1.0},
                           {"epoch": 2, "cpu_seconds": 99999.0, "seconds": 1.0}]}  # past the stop: not counted
    reps = column.replicates(Row("m", "m", "M"), Sources(train={"m": stopped}), 500)
    # setup 1 h + 2 epochs resampled from (2000, 4000) s: 2 x 2000, 2000 + 4000 or 2 x 4000 seconds
    assert set(np.round(reps, 6)) == set(np.round([1 + 4000 / 3600, 1 + 6000 / 3600, 1 + 8000 / 3600], 6))
    wall_only = {"model": "m", "train_seconds": 3600.0 + 30.0, "epochs": 2,
                 "history": [{"epoch": 0, "seconds": 10.0}, {"epoch": 1, "seconds": 20.0}]}
    reps = column.replicates(Row("m", "m", "M"), Sources(train={"m": wall_only}), 500)
    assert reps.min() >= (3600 + 20) / 3600 - 1e-9 and reps.max() <= (3600 + 40) / 3600 + 1e-9
    missing_epoch = copy.deepcopy(stopped)
    del missing_epoch["history"][1]["cpu_seconds"]
    assert column.replicates(Row("m", "m", "M"), Sources(train={"m": missing_epoch})) is None


# ------------------------------------------------------------------------------------------------ occlusion drop

def write_test_predictions(folder: Path, model: str, iid: int, occluded: int) -> list[Path]:
    """``model``'s predictions on a balanced 4-class test split of N_TEST images: ``iid`` right on clean images,
    ``occluded`` right at each occlusion level."""
    paths = []
    for variant, level, right in (("clean", "0", iid), *(("occlusion", lv, occluded) for lv in ("L1", "L2", "L3"))):
        rows = [{"sample_id": f"test_{i:03d}", "class": TEST_CLASSES[i % 4],
                 "pred_class": TEST_CLASSES[i % 4] if i < right else TEST_CLASSES[(i + 1) % 4],
                 "azimuth": 0.15 * i, "elevation": 0.2, "theta": 0.0, "pred_azimuth": 0.15 * i, "pred_elevation": 0.2,
                 "pred_theta": 0.0, "pose_class": TEST_CLASSES[i % 4], "seconds": 0.1, "model": model,
                 "split": "test", "variant": variant, "level": level} for i in range(N_TEST)]
        path = folder / f"{model}_test_{variant}_{level}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        paths.append(path)
    return paths


def occlusion_case(tmp_path: Path, correct: dict[str, tuple[int, int]]) -> tuple[dict, list[Path]]:
    """Metrics and predictions that agree: per model (IID right, occluded right) out of N_TEST."""
    values, paths = metric_values(), []
    for model, (iid, occ) in correct.items():
        paths += write_test_predictions(tmp_path, model, iid, occ)
        values[(model, "test", "clean", "0", "class_accuracy")] = 100.0 * iid / N_TEST
        for lv in ("L1", "L2", "L3"):
            values[(model, "test", "occlusion", lv, "class_accuracy")] = 100.0 * occ / N_TEST
    return values, paths


def test_occlusion_drop_compares_the_same_backbone_above_chance(tmp_path, config):
    claims = by_id(config)
    vit, res = claims["occlusion_drop_vit_vs_dinov2"], claims["occlusion_drop_resnet_vs_resnet50"]
    assert {r.row for r in vit.left + vit.right} == {"class:compnets_vitb14", "class:dinov2_vitb14"}
    assert {r.row for r in res.left + res.right} == {f"class:{N32}", "class:resnet50"}
    assert vit.above_chance == (vit.left[0], vit.right[0]) and res.above_chance == (res.left[0], res.right[0])

    # both well above the 25% chance: compared (ViT drops 15 points, DINOv2 35; N = 32 drops 40, ResNet50 10)
    values, paths = occlusion_case(tmp_path, {"compnets_vitb14": (36, 30), "dinov2_vitb14": (34, 20),
                                              N32: (36, 20), "resnet50": (34, 30)})
    frame = build(tmp_path, config, values=values, predictions=paths)[1]
    row = claim(frame, "occlusion_drop_vit_vs_dinov2")
    assert row["holds"] == "true" and row["ours_left"] == pytest.approx(15.0) and row["verdict"] != "untestable"
    assert row["paper_holds"] == "true"  # 93.5 - 43.7 < 92.4 - 41.7
    row = claim(frame, "occlusion_drop_resnet_vs_resnet50")
    assert row["holds"] == "false" and row["ours_left"] == pytest.approx(40.0)
    assert row["paper_holds"] == "untestable" and "no 3D-CompNets (ResNet50) row" in row["paper_evidence"]

    # DINOv2 at chance on IID (10 of 40 = 25%): the same drops are no longer compared
    values, paths = occlusion_case(tmp_path, {"compnets_vitb14": (36, 30), "dinov2_vitb14": (10, 0)})
    row = claim(build(tmp_path, config, values=values, predictions=paths)[1], "occlusion_drop_vit_vs_dinov2")
    assert (row["holds"], row["verdict"]) == ("untestable", "untestable")
    assert "table4[class:dinov2_vitb14, iid] is not above chance" in row["note"] and "25.0" in row["note"]
    assert row["ours_left"] == pytest.approx(15.0)  # the numbers stay visible


def test_the_ours_only_table4_row_reads_only_the_claims_columns(tmp_path, config):
    t4 = {t.spec.name: t for t in build(tmp_path, config)[0]}["table4"]
    assert t4.cell("ours", f"class:{N32}", "occ_avg").value is not None
    fog = t4.cell("ours", f"class:{N32}", "fog")
    assert fog.missing and "not evaluated for this row" in fog.note
    assert t4.cell("paper", f"class:{N32}", "iid").note == "not a row of the paper's table"


# ------------------------------------------------------------------------------------------------ new claims

def test_n64_beats_novum_and_resnet_beats_its_dual_head_on_synthetic(tmp_path, config):
    values = metric_values()
    synth = {m: (m, "style", "cartoon", "0", "class_accuracy") for m in (N32, "resnet50")}
    iid = {m: (m, "test", "clean", "0", "class_accuracy") for m in (N64, NOVUM)}
    values[synth[N32]], values[synth["resnet50"]] = 61.0, 52.0
    frame = build(tmp_path, config, values=values)[1]
    assert claim(frame, "iid_cls_n64_vs_novum")["holds"] == "true"  # fixture: N = 64 ahead of NOVUM
    row = claim(frame, "synthetic_cls_vs_resnet50")
    assert (row["holds"], row["ours_left"], row["ours_right"]) == ("true", 61.0, 52.0)
    assert row["paper_holds"] == "true" and (row["paper_left"], row["paper_right"]) == (69.3, 58.2)
    assert claim(frame, "iid_cls_n64_vs_novum")["paper_holds"] == "true"  # 86.3 > 85.7

    flipped = dict(values)
    flipped[synth[N32]], flipped[synth["resnet50"]] = 52.0, 61.0
    flipped[iid[N64]], flipped[iid[NOVUM]] = values[iid[NOVUM]], values[iid[N64]]
    frame = build(tmp_path, config, values=flipped)[1]
    assert claim(frame, "synthetic_cls_vs_resnet50")["holds"] == "false"
    assert claim(frame, "iid_cls_n64_vs_novum")["holds"] == "false"


def omega(nonzero_pairs: int, classes: int = 4) -> list[list[float]]:
    """A classes x classes omega with a unit diagonal and the first ``nonzero_pairs`` off-diagonal pairs at 0.2."""
    matrix = np.eye(classes)
    off = [(i, j) for i in range(classes) for j in range(classes) if i != j]
    for i, j in off[:nonzero_pairs]:
        matrix[i, j] = 0.2
    return matrix.tolist()


@pytest.mark.parametrize(("pairs", "holds"), [(3, "true"), (5, "true"), (6, "false"), (8, "false")])
def test_omega_ends_sparse(tmp_path, config, pairs, holds):
    """12 cross-class pairs: the paper's 'majority zero' needs fewer than 6 nonzero (half is not a majority)."""
    history = [{"epoch": 0, "omega_nonzero": 11 / 12}, {"epoch": 1}, {"epoch": 2, "omega_nonzero": pairs / 12}]
    extra = {m: {"loss": "compnets", "omega": omega(pairs), "omega_nonzero": pairs / 12, "history": history}
             for m in (N32, N64, "compnets_vitb14")}
    tables, frame = build(tmp_path, config, train_extra=extra)
    fig4 = {t.spec.name: t for t in tables}["figure4"]
    cell = fig4.cell("ours", N32, "omega_nonzero")
    assert cell.value == pytest.approx(100 * pairs / 12) and cell.n == 12
    assert fig4.cell("ours", N32, "omega_nonzero_first").value == pytest.approx(100 * 11 / 12)
    row = claim(frame, f"omega_sparse_{N32}")
    assert (row["holds"], row["verdict"], row["threshold"]) == (holds, {"true": "holds", "false": "fails"}[holds],
                                                                 50.0)
    assert row["paper_holds"] == "true" and "majority" in row["paper_evidence"]


def test_omega_from_an_older_file_and_none_for_novum(tmp_path, config):
    extra = {N32: {"loss": "compnets", "omega_nonzero": 0.25}, NOVUM: {"loss": "novum", "omega_nonzero": 1.0}}
    tables, frame = build(tmp_path, config, train_extra=extra)
    fig4 = {t.spec.name: t for t in tables}["figure4"]
    assert fig4.cell("ours", N32, "omega_nonzero").value == pytest.approx(25.0)
    assert fig4.cell("ours", N32, "omega_nonzero_first").missing  # no calibration records
    assert claim(frame, f"omega_sparse_{N32}")["holds"] == "true"
    assert NOVUM not in {r.key for r in fig4.spec.rows}


# ------------------------------------------------------------------------------------------------ Figure 2

def test_scaling_steps_are_timed_in_wall_and_cpu_seconds():
    """A step that waits (sleeps) costs wall time but no CPU time: the CPU column is what scheduling cannot move."""
    import time

    from robust3d.papers.compnets.scaling import timed_steps

    wall, cpu = timed_steps(lambda: time.sleep(0.05), 3)
    assert len(wall) == len(cpu) == 3 and min(wall) >= 0.05 and max(cpu) < 0.02
    wall, cpu = timed_steps(lambda: sum(i * i for i in range(200_000)), 2)
    assert min(cpu) > 0


def test_figure2_has_cpu_step_times_and_says_what_its_slope_measures(tmp_path, config):
    rows = []
    for y in (4, 8, 16):
        for name, k, n, wall, cpu in (("novum", 64, None, 1e-4 * y * y, 2e-4 * y * y),
                                      ("novum", 32, None, 1e-4 * y * y, 2e-4 * y * y),
                                      ("compnets", 64, 32, 1e-3 * y, 2e-3 * y)):
            rows.append({"model": name, "n_classes": y, "vertices_per_class": k, "cross_samples": n,
                         "step_seconds": wall, "loss_gflops": 0.01 * y, "step_seconds_repeats": f"{wall} {wall}",
                         "step_cpu_seconds": cpu, "step_cpu_seconds_repeats": f"{cpu} {1.1 * cpu} {cpu}"})
    fig2 = {t.spec.name: t for t in compnets.build(Sources(extra={"scaling": pd.DataFrame(rows)}), config)[0]
            }["figure2"]
    assert fig2.cell("ours", "3D-CompNets", "sec_cpu_8").value == pytest.approx(0.016)
    assert fig2.cell("ours", "3D-CompNets", "slope_cpu").value == pytest.approx(1.0)
    assert fig2.cell("ours", "NOVUM-64", "slope_cpu").value == pytest.approx(2.0)
    column = fig2.spec.column("slope_cpu")
    assert column.replicates(fig2.spec.row("3D-CompNets"), Sources(extra={"scaling": pd.DataFrame(rows)}),
                             100).shape == (100,)
    note = " ".join(fig2.spec.notes)
    assert "not the time to convergence" in note and "time.process_time" in note
    old = pd.DataFrame(rows).drop(columns=["step_cpu_seconds", "step_cpu_seconds_repeats"])
    fig2 = {t.spec.name: t for t in compnets.build(Sources(extra={"scaling": old}), config)[0]}["figure2"]
    assert "no step_cpu_seconds column" in fig2.cell("ours", "3D-CompNets", "sec_cpu_8").note
    assert fig2.cell("ours", "3D-CompNets", "slope").value == pytest.approx(1.0)  # the wall columns stay
