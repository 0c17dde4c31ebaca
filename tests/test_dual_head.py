"""Dual-head baselines: angle bins, resumable training with best-calibration selection, predictions CSV."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from robust3d.data.io import write_image, write_npz
from robust3d.evaluate.predictions import PREDICTION_COLUMNS
from robust3d.models import dual_head
from robust3d.models.registry import model_spec

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("bus", "car", "cup")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine two spinning threads are far slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cfg() -> dict:
    """The default config's compnets section, shrunk to seconds on a CPU."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config = {"seed": 0, "device": "cpu", "compnets": copy.deepcopy(config["compnets"])}
    c = config["compnets"]
    c["feature_dim"] = 16
    c["backbones"]["vitb14"].update(depth=1, embed_dim=48, num_heads=2)
    for entry in c["backbones"].values():  # from scratch, in float32: these tests are about the training loop
        entry.update(weights=None, amp=False)
    c["train"].update(epochs=2, batch_size=4, checkpoint_every=1, num_threads=1)
    c["dual_head"] = {"azimuth_bins": 8, "elevation_bins": 4, "theta_bins": 4}
    return config


def _split(root: Path, split: str, classes: tuple[str, ...], per_class: int, seed: int) -> Path:
    """A split in the sample format: class-coloured squares on noise, poses drawn at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for ci, cls in enumerate(classes):
        for k in range(per_class):
            sid = f"{split}_{cls}_{k}"
            img = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
            img[16:48, 16:48, ci % 3] = 230
            write_image(root / split / "images" / f"{sid}.png", img)
            write_npz(root / split / "annotations" / f"{sid}.npz", azimuth=np.float64(rng.uniform(0, 2 * math.pi)),
                      elevation=np.float64(rng.uniform(-0.2, 0.7)), theta=np.float64(rng.uniform(-0.3, 0.3)),
                      distance=np.float64(5.0), focal=np.float64(1.0), viewport=np.float64(250.0),
                      principal=np.array([32.0, 32.0]), cad_index=np.int64(1),
                      bbox=np.array([16, 16, 48, 48], np.float32), **{"class": np.str_(cls)})
            rows.append({"sample_id": sid, "class": cls, "image": f"images/{sid}.png",
                         "annotation": f"annotations/{sid}.npz", "mask_visible": "", "mask_amodal": "", "depth": "",
                         "occluder_mask": "", "variant": "", "level": ""})
    path = root / split / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dual_head_data")
    return {"train": _split(root, "train", CLASSES, 4, 0), "calibration": _split(root, "calibration", CLASSES, 2, 1),
            "unseen": _split(root, "unseen", ("kettle",), 3, 2)}


@pytest.mark.parametrize("name", ["azimuth", "elevation", "theta"])
def test_bins_round_trip(name):
    bins = dual_head.angle_bins({"azimuth": 24, "elevation": 12, "theta": 12})[name]
    idx = torch.arange(bins.n)
    assert torch.equal(bins.encode(bins.decode(idx)), idx)  # every centre falls in its own bin
    angles = torch.empty(2000, dtype=torch.float64).uniform_(bins.low - 3, bins.low + bins.span + 3)
    if not bins.periodic:
        angles = angles.clamp(bins.low, bins.low + bins.span)
    diff = bins.decode(bins.encode(angles)) - angles
    if bins.periodic:
        diff = torch.remainder(diff + math.pi, 2 * math.pi) - math.pi
    assert diff.abs().max() <= bins.width / 2 + 1e-9  # the centre is never more than half a bin away


def test_bin_edges():
    b = dual_head.angle_bins({"azimuth": 24, "elevation": 12, "theta": 12})
    az, el, th = b["azimuth"], b["elevation"], b["theta"]
    assert az.encode(torch.tensor([0.0, 2 * math.pi - 1e-6, -1e-6, math.pi])).tolist() == [0, 0, 0, 12]
    assert th.encode(torch.tensor([-math.pi, math.pi, 0.0])).tolist() == [0, 0, 6]
    assert th.decode(torch.tensor([6])).item() == pytest.approx(0.0)  # theta = 0 is a bin centre
    assert el.encode(torch.tensor([-math.pi / 2, math.pi / 2, 0.0, -1e-6, 2.0])).tolist() == [0, 11, 6, 5, 11]
    assert el.decode(torch.tensor([0, 11])).tolist() == pytest.approx([-math.pi / 2 + math.pi / 24,
                                                                       math.pi / 2 - math.pi / 24])


def test_loss_is_class_plus_angle_cross_entropies():
    logits = torch.tensor([[2.0, 0.0]])
    pose = {a: torch.tensor([[0.0, 1.0, 0.0]]) for a in dual_head.ANGLES}
    got = dual_head.dual_head_loss(logits, pose, torch.tensor([1]), {a: torch.tensor([1]) for a in dual_head.ANGLES})
    ce_class = -math.log(math.exp(0) / (math.exp(2) + 1))
    ce_angle = -math.log(math.e / (math.e + 2))
    assert float(got) == pytest.approx(ce_class + 3 * ce_angle)


def test_vit_dual_head_shapes(cfg):
    c = cfg["compnets"]
    net = dual_head.DualHeadNet(c["backbones"]["vitb14"], c["feature_dim"], 5, dual_head.bin_counts(cfg["compnets"]))
    logits, pose = net(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 5)
    assert {a: p.shape for a, p in pose.items()} == {"azimuth": (2, 8), "elevation": (2, 4), "theta": (2, 4)}


def split_inputs(data: dict) -> dict:
    return {"train": data["train"], "calibration": data["calibration"]}


def test_train_resume_and_predict(cfg, data, tmp_path):
    spec = model_spec(cfg["compnets"], "resnet50")
    a_out, a_json = tmp_path / "a" / "model.pt", tmp_path / "a" / "train.json"
    dual_head.train(cfg["compnets"], spec, split_inputs(data), a_out, a_json, progress=False)
    assert a_out.is_file() and not a_out.with_name("model.pt.ckpt").exists()
    a_stats = json.loads(a_json.read_text())

    # killed after epoch 1, then rerun: resumes from the checkpoint and ends where the uninterrupted run did
    b_out, b_json = tmp_path / "b" / "model.pt", tmp_path / "b" / "train.json"
    dual_head.train(cfg["compnets"], spec, split_inputs(data), b_out, b_json, progress=False,
                    stop_after_epochs=1)
    assert b_out.with_name("model.pt.ckpt").is_file() and not b_out.exists() and not b_json.exists()
    other = copy.deepcopy(cfg)  # a changed configuration refuses the checkpoint
    other["compnets"]["train"]["lr"] = 0.5
    with pytest.raises(ValueError, match="another configuration"):
        dual_head.train(other["compnets"], spec, split_inputs(data), b_out, b_json, progress=False)
    dual_head.train(cfg["compnets"], spec, split_inputs(data), b_out, b_json, progress=False)
    b_stats = json.loads(b_json.read_text())
    assert b_stats["resumed_from"] == 1 and a_stats["resumed_from"] == 0
    a_blob, b_blob = torch.load(a_out, weights_only=True), torch.load(b_out, weights_only=True)
    for k, v in a_blob["state_dict"].items():
        assert torch.allclose(v.float(), b_blob["state_dict"][k].float(), atol=1e-5), k
    assert a_stats["final_loss"] == pytest.approx(b_stats["final_loss"], rel=1e-4)

    contract = {"model", "family", "backbone", "loss", "cross_samples", "classes", "epochs", "steps", "train_seconds",
                "seconds_per_epoch", "loss_gflops_per_step", "final_loss", "resumed_from"}
    assert contract <= set(a_stats)
    assert a_stats["classes"] == list(CLASSES) and a_stats["family"] == "dual_head"
    assert a_stats["loss_gflops_per_step"] is None and a_stats["epochs"] == 2 and a_stats["steps"] == 2 * 3
    scores = [h["score"] for h in a_stats["calibration"]]
    assert len(scores) == 2 and a_stats["best_epoch"] == int(np.argmax(scores)) == a_blob["best_epoch"]

    # predictions: the contract's columns, one row per sample, poses at bin centres
    preds = tmp_path / "preds.csv"
    dual_head.predict(cfg["compnets"], spec, a_out, data["calibration"], preds, progress=False)
    df = pd.read_csv(preds, keep_default_na=False)
    assert tuple(df.columns) == PREDICTION_COLUMNS and len(df) == 6
    assert set(df["pred_class"]) <= set(CLASSES) and (df["pose_class"] == df["pred_class"]).all()
    assert set(df["split"]) == {"calibration"} and set(df["variant"]) == {"clean"} and set(df["level"]) == {0}
    assert (df["model"] == "resnet50").all() and (df["seconds"] > 0).all()
    bins = dual_head.angle_bins(dual_head.bin_counts(cfg["compnets"]))
    for a in dual_head.ANGLES:
        pred = torch.tensor(df[f"pred_{a}"].to_numpy())
        assert torch.allclose(bins[a].decode(bins[a].encode(pred)), pred)
    truth = pd.read_csv(data["calibration"]).merge(df, on="sample_id")
    assert len(truth) == 6

    # unseen classes: refused without the flag, the pose head answers with it
    with pytest.raises(ValueError, match="outside the model"):
        dual_head.predict(cfg["compnets"], spec, a_out, data["unseen"], tmp_path / "u.csv", progress=False)
    dual_head.predict(cfg["compnets"], spec, a_out, data["unseen"], tmp_path / "u.csv", unseen=True, progress=False)
    u = pd.read_csv(tmp_path / "u.csv")
    assert len(u) == 3 and set(u["split"]) == {"unseen"} and (u["class"] == "kettle").all()
    assert set(u["pred_class"]) <= set(CLASSES)


def test_training_learns_a_fixed_batch(cfg):
    """A few Adam steps on one batch lower the joint loss: the heads and targets are wired to each other."""
    torch.manual_seed(0)
    c = cfg["compnets"]
    counts = dual_head.bin_counts(cfg["compnets"])
    net = dual_head.DualHeadNet(c["backbones"]["resnet50"], c["feature_dim"], 3, counts)
    bins = dual_head.angle_bins(counts)
    images = torch.rand(6, 3, 64, 64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    angles = {"azimuth": torch.rand(6) * 6, "elevation": torch.rand(6) - 0.5, "theta": torch.rand(6) - 0.5}
    targets = {a: bins[a].encode(v) for a, v in angles.items()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = dual_head.dual_head_loss(*net(images), labels, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # near chance at the start (the heads read the pooled 512-D final stage: larger random logits than a
    # 128-D map gave, so within 20%)
    assert losses[0] == pytest.approx(math.log(3 * 8 * 4 * 4), rel=0.2)
    assert losses[-1] < 0.4 * losses[0]


def test_dual_head_stops_at_convergence_and_records_cpu_time(cfg, data, tmp_path):
    """A min_gain no score can reach stops training after patience + 1 evaluations, well before the cap."""
    c = copy.deepcopy(cfg["compnets"])
    c["train"].update(epochs=6, convergence={"patience": 1, "min_gain": 101.0})
    spec = model_spec(c, "resnet50")
    out, metrics = tmp_path / "model.pt", tmp_path / "train.json"
    dual_head.train(c, spec, split_inputs(data), out, metrics, progress=False)
    stats = json.loads(metrics.read_text())
    assert stats["epochs"] == 2 and stats["max_epochs"] == 6 and stats["converged"] is True
    assert stats["steps"] == 2 * 3 and "converged" in stats["stop_reason"]
    assert stats["train_cpu_seconds"] > 0 and all(h["cpu_seconds"] > 0 for h in stats["history"])
    assert [h["calibration_score"] for h in stats["history"]] == [h["score"] for h in stats["history"]]

    c["train"]["convergence"] = None  # the fixed epochs: the cap is the run
    dual_head.train(c, spec, split_inputs(data), tmp_path / "b.pt", tmp_path / "b.json", progress=False)
    fixed = json.loads((tmp_path / "b.json").read_text())
    assert fixed["epochs"] == 6 and fixed["converged"] is None and fixed["stop_reason"] == "fixed schedule (6 epochs)"
