"""Bring your own model: a model file outside the package plus one ``byom:`` entry puts its rows into the tables
its outputs fill, through the same predictions, metrics and tables as the paper's models; what it returns is
checked against what its entry provides."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from robust3d.byom import entry_name, model_id
from robust3d.byom.interface import ByomError, check_prediction, load_model
from robust3d.cli import main
from robust3d.errors import ConfigError
from robust3d.papers import validate_config
from robust3d.papers.compnets.plan import CompnetsPlan
from robust3d.papers.compnets.tables import table_specs

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, raw: dict, byom: dict | None) -> dict:
    cfg = copy.deepcopy(raw)
    cfg["results"] = str(tmp_path / "results")
    cfg["synthetic"]["root"] = str(tmp_path / "synthetic")
    cfg["compnets"]["data"] = {"source": "synthetic"}  # no held-out class: `unseen` is the procedural split
    cfg.pop("byom", None)
    if byom is not None:
        cfg["byom"] = byom
    return cfg


def _render(config: dict, splits: tuple[str, ...]) -> Path:
    from robust3d.data.format import merge_manifests
    from robust3d.synth.dataset import build_cad, render_chunk
    from robust3d.synth.plan import n_chunks

    root = Path(config["synthetic"]["root"])
    build_cad(config, root / "cad")
    for split in splits:
        chunks = [root / split / f"chunk{i:03d}" for i in range(n_chunks(config, split))]
        for i, chunk in enumerate(chunks):
            render_chunk(config, split, i, root / "cad", chunk)
        merge_manifests(chunks, root / split / "manifest.csv")
    return root


def _half_right_model(path: Path, truth: dict[str, str], right: set[str], pose: tuple[float, ...]) -> Path:
    """A model file that names the true class of the samples in ``right`` (a wrong class for the others) and
    answers one fixed ``pose`` (azimuth, elevation, theta) for every image."""
    path.write_text(f'''
import torch

TRUTH = {truth!r}
RIGHT = {sorted(right)!r}
POSE = {pose!r}


class Model:
    def __init__(self, classes, options):
        self.classes = classes

    def predict(self, batch):
        names = []
        for sid in batch["sample_ids"]:
            true = TRUTH[sid]
            wrong = next(c for c in self.classes if c != true)
            names.append(true if sid in RIGHT and true in self.classes else wrong)
        n = len(names)
        return {{"class": names, "azimuth": torch.full((n,), POSE[0]), "elevation": torch.full((n,), POSE[1]),
                 "theta": torch.full((n,), POSE[2])}}
''')
    return path


def _annotations(manifest: Path) -> list[dict]:
    from robust3d.data.format import load_annotation, read_manifest

    return [load_annotation(manifest.parent / a) for a in read_manifest(manifest)["annotation"]]


def _fixed_pose_accuracy(manifest: Path, pose: tuple[float, ...]) -> float:
    """Percent of a split's samples within pi/6 of ``pose`` (the PASCAL3D+ rotation error)."""
    from robust3d.geometry.pose_metrics import ACC_PI_6, pose_error

    anns = _annotations(manifest)
    true = [torch.tensor([float(np.asarray(a[k]).reshape(-1)[0]) for a in anns], dtype=torch.float64)
            for k in ("azimuth", "elevation", "theta")]
    pred = [torch.full_like(true[0], v) for v in pose]
    return 100.0 * float((pose_error(pred, true) < ACC_PI_6).double().mean())


def _cell(tables: Path, table: str, row: str, column: str) -> float:
    df = pd.read_csv(tables / f"compnets_{table}.csv")
    hit = df[(df["row"] == row) & (df["column"] == column) & (df["source"] == "ours")]
    assert len(hit) == 1, (table, row, column)
    return float(hit["value"].iloc[0])


def test_a_half_right_fixed_pose_model_reads_exactly_its_accuracies(tmp_path, raw_smoke_config, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a model file outside the package, a relative path as a user would write it
    base = validate_config(_config(tmp_path, raw_smoke_config, None))
    root = _render(base, ("train", "test", "unseen"))
    test, unseen = (pd.read_csv(root / s / "manifest.csv") for s in ("test", "unseen"))
    ids = sorted(test["sample_id"])
    assert len(ids) % 2 == 0 and len(set(test["class"])) > 1
    truth = dict(zip(test["sample_id"], test["class"], strict=True)) | dict(
        zip(unseen["sample_id"], unseen["class"], strict=True))
    first = _annotations(root / "test" / "manifest.csv")[0]  # a pose some test images are near, so pose != 0
    pose = tuple(float(np.asarray(first[k]).reshape(-1)[0]) for k in ("azimuth", "elevation", "theta"))
    _half_right_model(tmp_path / "half_right.py", truth, set(ids[::2]), pose)

    # Only the byom: entry is added to the config.
    cfg = _config(tmp_path, raw_smoke_config, {"half": {"file": "half_right.py", "provides": ["class", "pose"]}})
    config = validate_config(cfg)
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    plan = CompnetsPlan(config, "unused")
    mine = [e for e in plan.evaluations() if entry_name(e[0])]
    assert {e[0] for e in mine} == {"byom-half"} and ("byom-half", "test", "clean", "0") in mine
    outs = []
    for model, split, variant, level in mine:
        if variant != "clean":
            continue  # the variants are not rendered here; their cells stay empty with the reason
        out = plan.prediction(model, split, variant, level)
        assert main(["byom-predict", "--config", str(config_path), "--name", "half", "--train",
                     plan.manifest("train"), "--manifest", plan.route.predict_input(split, variant, level),
                     "--out", out, "--no-progress", *(["--unseen"] if split.startswith("unseen") else [])]) == 0
        outs.append(out)
    metrics = tmp_path / "metrics.csv"
    assert main(["evaluate", "--predictions", *outs, "--benchmark", plan.benchmark, "--out", str(metrics)]) == 0
    tables = tmp_path / "tables"
    assert main(["tables", "--paper", "compnets", "--config", str(config_path), "--metrics", str(metrics),
                 "--benchmark", plan.benchmark, "--predictions", *outs, "--out-dir", str(tables)]) == 0

    assert _cell(tables, "table2", "byom-half", "iid") == 50.0
    iid_pose = _fixed_pose_accuracy(root / "test" / "manifest.csv", pose)
    assert 0 < iid_pose < 100
    assert _cell(tables, "table4", "pose:byom-half", "iid") == pytest.approx(iid_pose, abs=1e-9)
    assert _cell(tables, "table4", "class:byom-half", "iid") == 50.0
    assert _cell(tables, "table3", "byom-half", "average") == pytest.approx(
        _fixed_pose_accuracy(root / "unseen" / "manifest.csv", pose), abs=1e-9)
    assert _cell(tables, "figure1", "byom-half", "iid_pose") == pytest.approx(iid_pose, abs=1e-9)
    # The brought model stands beside the claims on its own cells; the claims themselves are the paper models'.
    beside = pd.read_csv(tables / "compnets_claims_byom.csv")
    row = beside[beside["claim_id"] == "iid_cls_vs_novum"].iloc[0]
    assert row["model"] == "byom-half" and row["values"].startswith("value 50.0")
    claims = pd.read_csv(tables / "compnets_claims.csv")
    assert not claims["evidence"].str.contains("byom").any()


def test_outputs_decide_the_rows(tmp_path, raw_smoke_config):
    path = tmp_path / "m.py"
    path.write_text("class Model:\n    def __init__(self, classes, options):\n        pass\n")
    cfg = _config(tmp_path, raw_smoke_config, {
        "cls": {"file": str(path), "provides": ["class"]},
        "pose": {"file": str(path), "provides": ["pose"]},
        "feat": {"file": str(path), "provides": ["features"]}})
    specs = {s.name: s for s in table_specs(validate_config(cfg))}
    models = {name: {r.model for r in spec.rows} for name, spec in specs.items()}
    assert model_id("cls") in models["table2"] and model_id("pose") not in models["table2"]
    assert model_id("pose") in models["table3"] and model_id("cls") not in models["table3"]
    assert {r.key for r in specs["table4"].rows} >= {"class:byom-cls", "pose:byom-pose"}
    assert "pose:byom-cls" not in {r.key for r in specs["table4"].rows}
    assert all(model_id("feat") not in m for m in models.values())  # features fill no 3D-CompNets table
    for name in ("table1", "figure2", "figure4"):
        assert not any(entry_name(m) for m in models[name])
    radar = next(r for r in specs["figure1"].rows if r.model == "byom-cls")
    assert radar.columns and all(k.endswith("_cls") for k in radar.columns)
    assert "provides no pose_acc_pi6" in radar.absent


def test_config_names_the_missing_file_and_unknown_papers(tmp_path, raw_smoke_config):
    cfg = _config(tmp_path, raw_smoke_config, {"mine": {"file": str(tmp_path / "absent.py"), "provides": ["pose"]}})
    with pytest.raises(ConfigError, match="byom.mine.file"):
        validate_config(cfg)
    (tmp_path / "m.py").write_text("")
    cfg["byom"]["mine"] = {"file": str(tmp_path / "m.py"), "provides": ["pose"], "papers": ["prior3d"]}
    with pytest.raises(ConfigError, match="byom.mine.papers"):
        validate_config(cfg)
    cfg["byom"]["mine"] = {"file": str(tmp_path / "m.py"), "provides": ["depth"]}
    with pytest.raises(ConfigError, match="provides"):
        validate_config(cfg)


def test_model_files_that_break_the_interface_are_named(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(ByomError, match="no class 'Model'"):
        load_model("e", {"file": str(empty), "provides": ["class"]}, ["a"])
    nopredict = tmp_path / "nopredict.py"
    nopredict.write_text("class Model:\n    def __init__(self, classes, options):\n        pass\n")
    with pytest.raises(ByomError, match="no method predict"):
        load_model("n", {"file": str(nopredict), "provides": ["pose"]}, ["a"])
    with pytest.raises(ByomError, match="does not exist"):
        load_model("x", {"file": str(tmp_path / "nothing.py"), "provides": ["pose"]}, ["a"])


@pytest.mark.parametrize(("out", "message"), [
    ([], "must return a dict"),
    ({"class": ["a", "b"]}, "returned no azimuth"),
    ({"class": ["a"], "azimuth": [0.0], "elevation": [0.0], "theta": [0.0]}, "shape"),
    ({"class": ["a", "zebra"], "azimuth": [0, 0], "elevation": [0, 0], "theta": [0, 0]}, "not among"),
    ({"class": np.array([0, 7]), "azimuth": [0, 0], "elevation": [0, 0], "theta": [0, 0]}, "indices"),
    ({"class": ["a", "b"], "azimuth": [0, math.nan], "elevation": [0, 0], "theta": [0, 0]}, "not finite"),
])
def test_predictions_that_break_the_interface_are_refused(out, message):
    with pytest.raises(ByomError, match=message):
        check_prediction("m", out, ["class", "pose"], ["a", "b"], 2, (4, 4))


def test_class_indices_become_names_and_masks_booleans():
    out = check_prediction("m", {"class": torch.tensor([1, 0]), "amodal_mask": torch.ones(2, 4, 4)},
                           ["class", "amodal_mask"], ["a", "b"], 2, (4, 4))
    assert out["class"] == ["b", "a"] and out["amodal_mask"].dtype == bool and out["amodal_mask"].all()


def test_the_example_model_learns_from_the_train_split(tmp_path, smoke_config, smoke_dataset):
    """The shipped example (nearest thumbnail) predicts every training image's own class and pose, and writes
    features of the documented shape."""
    from robust3d.byom.run import extract_features, predict_split

    entry = {"file": str(REPO / "examples" / "byom" / "thumbnail_knn.py"), "provides": ["class", "pose", "features"],
             "options": {}, "batch_size": 4}
    train = smoke_dataset / "train" / "manifest.csv"
    classes = sorted(set(pd.read_csv(train)["class"]))
    out = predict_split("knn", entry, train, tmp_path / "p.csv", classes, train, progress=False)
    df = pd.read_csv(out)
    assert (df["pred_class"] == df["class"]).all() and np.allclose(df["pred_azimuth"], df["azimuth"])
    assert set(df["model"]) == {"byom-knn"} and set(df["split"]) == {"train"}
    feats = np.load(extract_features("knn", entry, train, tmp_path / "f.npz", classes, train, progress=False))
    assert feats["features"].shape == (len(df), 3 * 16 * 16) and list(feats["sample_id"]) == list(df["sample_id"])
