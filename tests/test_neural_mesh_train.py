"""Neural mesh training on a tiny rendered benchmark: vertex projection and visibility, background cells, a
2-epoch training run that writes the model and metrics, improves its loss and resumes exactly from a checkpoint."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from robust3d.data.format import load_annotation
from robust3d.data.io import read_mask
from robust3d.models.data import ManifestDataset, camera_batch, manifest_classes
from robust3d.models.neural_mesh.flops import real_batch
from robust3d.models.neural_mesh.mesh import (
    NeuralMeshModel,
    background_cells,
    class_cuboid,
    find_cad_root,
    project_vertices,
)
from robust3d.models.neural_mesh.options import MeshOptions
from robust3d.models.registry import model_spec
from robust3d.synth.dataset import build_cad

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config() -> dict:
    from robust3d.papers import validate_config

    cfg = validate_config(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()))
    c = cfg["compnets"]
    c["feature_dim"] = 16
    c["backbones"]["resnet50"] = {"kind": "resnetext", "arch": "resnet18", "weights": None}
    c["backbones"]["vitb14"] = {"kind": "vit", "arch": "vit_small_patch14_dinov2", "weights": None, "depth": 1,
                                "embed_dim": 48, "num_heads": 2}
    c["train"].update(epochs=2, novum_epochs=1, batch_size=4, checkpoint_every=1, num_threads=1, lr=1e-3)
    c["mesh"].update(vertices_per_class=64, background_features=64, background_per_image=2, confusion_every=1)
    cfg["device"] = "cpu"
    return cfg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, config) -> Path:
    """CAD models plus the train and calibration splits of the smoke config (3 classes, 64x64), rendered once."""
    from robust3d.data.format import merge_manifests
    from robust3d.synth.dataset import build_cad, render_chunk
    from robust3d.synth.plan import n_chunks

    root = tmp_path_factory.mktemp("synthetic")
    build_cad(config, root / "cad")
    for split in ("train", "calibration"):
        chunks = [root / split / f"chunk{i:03d}" for i in range(n_chunks(config, split))]
        for i, chunk in enumerate(chunks):
            render_chunk(config, split, i, root / "cad", chunk)
        merge_manifests(chunks, root / split / "manifest.csv")
    return root


def _inside_fraction(manifest: Path, stride: int, theta_offset: float = 0.0) -> list[float]:
    """Per sample: share of visible vertices whose cell lies in the amodal mask dilated by one cell."""
    classes = manifest_classes(manifest)
    ds = ManifestDataset(manifest, classes)
    root = find_cad_root(manifest)
    out = []
    for row in ds.rows:
        verts, faces = (torch.from_numpy(a) for a in class_cuboid(root, row["class"], 64))
        ann = load_annotation(ds.root / row["annotation"])
        ann["theta"] = float(ann["theta"]) + theta_offset
        mask = torch.from_numpy(read_mask(ds.root / row["mask_amodal"])).float()
        proj = project_vertices(verts, faces, camera_batch([ann]), tuple(mask.shape), stride)
        gh, gw = proj.grid
        padded = torch.zeros(gh * stride, gw * stride)
        padded[: mask.shape[0], : mask.shape[1]] = mask
        cells = torch.nn.functional.max_pool2d(padded[None, None], stride)
        dilated = torch.nn.functional.max_pool2d(cells, 3, 1, 1)[0, 0].reshape(-1) > 0
        vis = proj.visible[0]
        assert vis.sum() > 10
        out.append(float(dilated[proj.cell[0][vis]].float().mean()))
    return out


@pytest.mark.parametrize("stride", [8, 14])
def test_visible_vertices_land_in_the_amodal_mask(dataset, stride):
    manifest = dataset / "train" / "manifest.csv"
    right = _inside_fraction(manifest, stride)
    assert np.mean(right) > 0.9 and min(right) > 0.7
    if stride == 8:  # (the 5 x 5 grid of stride 14 is nearly all object once dilated: no contrast there)
        wrong = _inside_fraction(manifest, stride, theta_offset=math.pi / 2)  # a camera rolled by 90 degrees
        assert np.mean(wrong) < np.mean(right) - 0.15


def test_visible_vertices_face_the_camera_and_background_cells_avoid_the_object(dataset):
    manifest = dataset / "train" / "manifest.csv"
    ds = ManifestDataset(manifest, manifest_classes(manifest))
    root = find_cad_root(manifest)
    for row in ds.rows:
        verts, faces = (torch.from_numpy(a) for a in class_cuboid(root, row["class"], 64))
        ann = load_annotation(ds.root / row["annotation"])
        mask = torch.from_numpy(read_mask(ds.root / row["mask_amodal"]))
        proj = project_vertices(verts, faces, camera_batch([ann]), tuple(mask.shape), 8)
        from robust3d.geometry import project_points

        _, depth = project_points(verts.double(), *(float(ann[k]) for k in ("azimuth", "elevation", "theta",
                                                                             "distance")))
        vis = proj.visible[0]
        assert depth[vis].mean() < depth[~vis].mean()  # the front faces are the near ones
        free = background_cells(proj.uv, tuple(mask.shape), 8, [mask])[0]
        mask_cells = torch.nn.functional.max_pool2d(mask.float()[None, None], 8)[0, 0].reshape(-1) > 0
        assert free.any() and not (free & mask_cells).any()
        assert not free[proj.cell[0][vis]].any()  # no background draw where a visible vertex sits


def _train(config, dataset, out: Path, model: str = "compnets_resnet50_n32", **kwargs):
    from robust3d.models.neural_mesh.family import train

    spec = model_spec(config["compnets"], model)
    inputs = {"train": dataset / "train" / "manifest.csv", "calibration": dataset / "calibration" / "manifest.csv"}
    return train(config["compnets"], spec, inputs, out / "model.pt", out / "train.json", seed=config["seed"],
                 device=config["device"], progress=False, **kwargs)


def test_train_writes_model_and_metrics_improves_and_resumes_exactly(config, dataset, tmp_path):
    full = _train(config, dataset, tmp_path / "full")
    metrics = json.loads((tmp_path / "full" / "train.json").read_text())
    for key in ("model", "family", "backbone", "loss", "cross_samples", "classes", "epochs", "steps",
                "train_seconds", "seconds_per_epoch", "loss_gflops_per_step", "final_loss", "resumed_from"):
        assert key in metrics, key
    assert metrics["classes"] == ["aeroplane", "car", "chair"] and metrics["epochs"] == 2 and metrics["steps"] == 6
    assert metrics["resumed_from"] == 0 and metrics["loss_gflops_per_step"] > 0
    history = metrics["history"]
    assert history[1]["loss"] < history[0]["loss"]  # training lowers the contrastive loss
    assert "omega_nonzero" in history[0]  # confusion_every = 1: omega was calibrated after epoch 1
    assert not (tmp_path / "full" / "model.pt.ckpt").exists()
    # The loss's GFLOPs per epoch (its first batch, its omega: 1 in epoch 0, calibrated after) and the final omega.
    assert torch.tensor(metrics["omega"]).shape == (3, 3)
    per_epoch = metrics["loss_gflops_per_epoch"]
    assert len(per_epoch) == 2 and per_epoch == [h["loss_gflops"] for h in history] and per_epoch[0] >= per_epoch[-1]
    assert metrics["loss_gflops_mean"] == pytest.approx(np.mean(per_epoch))
    assert metrics["loss_gflops_per_step"] <= per_epoch[0]  # the same batch as epoch 0's, with the final omega

    model = NeuralMeshModel.load(tmp_path / "full" / "model.pt")
    assert model.classes == metrics["classes"] and model.stride == 8 and model.feature_dim == 16
    assert model.features.shape == (3, int(model.n_vertices.max()), 16)
    torch.testing.assert_close(model.features.norm(dim=-1)[model.features.norm(dim=-1) > 0],
                               torch.ones(int(model.n_vertices.sum())))
    net = model.build_backbone()
    assert not net.training and net(torch.rand(1, 3, 64, 64)).shape == (1, 16, 8, 8)

    # Killed after epoch 1: the checkpoint is there, the model is not; the rerun resumes and ends identical.
    stopped = _train(config, dataset, tmp_path / "resumed", stop_after=1)
    assert stopped["stopped"] and (tmp_path / "resumed" / "model.pt.ckpt").exists()
    assert not (tmp_path / "resumed" / "model.pt").exists()
    resumed = _train(config, dataset, tmp_path / "resumed")
    assert resumed["resumed_from"] == 1
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in history], rel=1e-5)
    again = NeuralMeshModel.load(tmp_path / "resumed" / "model.pt")
    torch.testing.assert_close(again.features, model.features, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(again.background, model.background, rtol=1e-5, atol=1e-6)
    for key in ("loss_gflops_per_step", "loss_gflops_per_epoch", "loss_gflops_mean", "omega"):
        assert resumed[key] == full[key], key


def test_training_to_convergence_keeps_the_best_epoch_and_resumes_to_it(config, dataset, tmp_path):
    """A min_gain no score reaches stops after patience + 1 epochs; the written model is the best calibration
    epoch's (checkpointed with the run, so a killed and resumed run writes the same one)."""
    cfg = copy.deepcopy(config)
    cfg["compnets"]["train"].update(epochs=5, convergence={"patience": 1, "min_gain": 101.0})
    full = _train(cfg, dataset, tmp_path / "full")
    scores = [h["calibration_score"] for h in full["history"]]
    assert full["epochs"] == 2 and full["max_epochs"] == 5 and full["converged"] is True
    assert full["best_epoch"] == int(np.argmax(scores)) and all(h["cpu_seconds"] > 0 for h in full["history"])
    assert full["train_cpu_seconds"] > 0
    stopped = _train(cfg, dataset, tmp_path / "resumed", stop_after=1)
    assert stopped["stopped"]
    resumed = _train(cfg, dataset, tmp_path / "resumed")
    assert resumed["resumed_from"] == 1 and resumed["best_epoch"] == full["best_epoch"]
    torch.testing.assert_close(NeuralMeshModel.load(tmp_path / "resumed" / "model.pt").features,
                               NeuralMeshModel.load(tmp_path / "full" / "model.pt").features, rtol=1e-5, atol=1e-6)
    fixed = _train(config, dataset, tmp_path / "fixed")  # no convergence: the paper's fixed schedule
    assert fixed["converged"] is None and fixed["best_epoch"] is None
    assert fixed["stop_reason"] == "fixed schedule (2 epochs)"


def test_a_checkpoint_of_another_configuration_is_refused(config, dataset, tmp_path):
    _train(config, dataset, tmp_path, stop_after=1)
    other = copy.deepcopy(config)
    other["compnets"]["mesh"]["momentum"] = 0.5
    with pytest.raises(ValueError, match="another configuration"):
        _train(other, dataset, tmp_path)


def test_novum_and_a_vit_backbone_train_and_novum_counts_more_loss_flops(config, dataset, tmp_path):
    novum = _train(config, dataset, tmp_path / "novum", model="novum_resnet50")
    cfg = copy.deepcopy(config)
    cfg["compnets"]["train"]["epochs"] = 1
    vit = _train(cfg, dataset, tmp_path / "vit", model="compnets_vitb14")
    assert NeuralMeshModel.load(tmp_path / "vit" / "model.pt").stride == 14
    assert novum["epochs"] == 1 and novum["loss"] == "novum" and vit["cross_samples"] == 32
    assert math.isfinite(vit["final_loss"]) and math.isfinite(novum["final_loss"])
    # Same first batch (visibility does not depend on the backbone): NOVUM contrasts every vertex of every class.
    assert novum["loss_gflops_per_step"] > vit["loss_gflops_per_step"]
    assert novum["omega"] == [[1.0] * 3] * 3 and novum["loss_gflops_per_epoch"] == [novum["loss_gflops_per_step"]]
    # ... and the count on real geometry without training gives Table 1's number (NOVUM's does not depend on omega).
    k = MeshOptions.of(model_spec(config["compnets"], "novum_resnet50"), config["compnets"]).n_vertices
    assert real_batch(config["compnets"], dataset / "train" / "manifest.csv", k, config["seed"]).gflops("novum") == \
        novum["loss_gflops_per_step"]


def test_cli_trains_through_the_registry_and_measures_scaling(dataset, tmp_path):
    import pandas as pd

    from robust3d.cli import main

    smoke = str(REPO / "configs" / "smoke.yaml")
    scratch = tmp_path / "scratch.yaml"  # smoke's models from scratch (its ssl: starts need the pretraining stage)
    backbones = {name: {**entry, "weights": None}
                 for name, entry in yaml.safe_load(Path(smoke).read_text())["compnets"]["backbones"].items()}
    scratch.write_text(yaml.safe_dump({"extends": smoke, "compnets": {"backbones": backbones}}))
    out = tmp_path / "m" / "model.pt"
    assert main(["train-model", "--config", str(scratch), "--model", "compnets_resnet50_n32",
                 "--train", str(dataset / "train" / "manifest.csv"),
                 "--calibration", str(dataset / "calibration" / "manifest.csv"),
                 "--out", str(out), "--metrics", str(tmp_path / "m" / "train.json")]) == 0
    assert NeuralMeshModel.load(out).meta["model"] == "compnets_resnet50_n32"
    assert json.loads((tmp_path / "m" / "train.json").read_text())["family"] == "neural_mesh"

    cfg = yaml.safe_load(Path(smoke).read_text())
    cfg["compnets"]["scaling"].update(classes=[4, 8], novum_vertices=[128, 96], steps=1)  # K = 96 > N = 32
    cfg["compnets"]["mesh"]["background_features"] = 64
    (tmp_path / "scaling.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["compnets-scaling", "--config", str(tmp_path / "scaling.yaml"), "--out",
                 str(tmp_path / "scaling.csv")]) == 0
    table = pd.read_csv(tmp_path / "scaling.csv", dtype={"step_seconds_repeats": str,
                                                         "step_cpu_seconds_repeats": str})
    assert list(table.columns) == ["model", "n_classes", "vertices_per_class", "cross_samples", "step_seconds",
                                   "loss_gflops", "step_seconds_repeats", "step_cpu_seconds",
                                   "step_cpu_seconds_repeats"]
    assert (table["step_cpu_seconds"] > 0).all()
    repeats = [[float(t) for t in r.split()] for r in table["step_seconds_repeats"]]  # every timed step, its median
    assert all(len(r) == cfg["compnets"]["scaling"]["steps"] and sorted(r)[len(r) // 2] == pytest.approx(s, rel=1e-5)
               for r, s in zip(repeats, table["step_seconds"], strict=True))
    assert sorted(set(table["model"])) == ["3D-CompNets", "NOVUM-128", "NOVUM-96"]
    assert (table["step_seconds"] > 0).all() and set(table["cross_samples"].dropna()) == {32}
    flops = table.pivot(index="n_classes", columns="model", values="loss_gflops")
    assert (flops["NOVUM-128"] > flops["NOVUM-96"]).all() and (flops["NOVUM-96"] > flops["3D-CompNets"]).all()
    # Per visible vertex NOVUM pays Y K + N_b products, 3D-CompNets K + N_b + (Y - 1) N: it grows more slowly.
    # NOVUM's regulariser adds B T background features against the Y K bank (the batch: 2 images x K / 2 visible).
    growth = flops.loc[8] / flops.loc[4]
    visible, clutter = 2 * 96 // 2, 2 * 5
    assert growth["NOVUM-96"] == pytest.approx((visible * (8 * 96 + 64) + clutter * 8 * 96)
                                               / (visible * (4 * 96 + 64) + clutter * 4 * 96), rel=1e-6)
    assert growth["3D-CompNets"] == pytest.approx((96 + 64 + 7 * 32) / (96 + 64 + 3 * 32), rel=1e-6)


def test_training_settings_make_the_gather_backward_deterministic_and_restore_the_state():
    """The vertex-feature gather's backward (index_put_ with accumulate) must sum in a fixed order while training."""
    from robust3d.models.runtime import training_settings

    torch.manual_seed(0)
    fmap = torch.randn(2, 16, 32 * 32, requires_grad=True)
    image, cell = torch.randint(0, 2, (20000,)), torch.randint(0, 8, (20000,))  # many repeats of few cells
    weights = torch.randn(20000, 16)

    def grad() -> torch.Tensor:
        fmap.grad = None
        (fmap[image, :, cell] * weights).sum().backward()
        return fmap.grad.clone()

    threads, before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with training_settings(2):
        assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == 2
        first = grad()
        assert all(torch.equal(first, grad()) for _ in range(5))
    assert torch.are_deterministic_algorithms_enabled() == before and torch.get_num_threads() == threads


def test_class_cuboid_pools_training_instances_only(tmp_path, config):
    """Rescaling a held-out (ood_shape) CAD model x10 leaves the cuboid unchanged; rescaling a training one does not."""
    from robust3d.data.cad import Mesh, cad_path, read_off, write_off
    from robust3d.synth.plan import cad_indices

    build_cad(config, tmp_path / "cad")
    cls = config["synthetic"]["categories"][0]
    held, kept = cad_indices(config["synthetic"], "ood_shape"), cad_indices(config["synthetic"], "train")
    assert held and kept
    before = class_cuboid(tmp_path / "cad", cls, 64)[0]

    def scale(index: int) -> None:
        mesh = read_off(cad_path(tmp_path / "cad", cls, index))
        write_off(cad_path(tmp_path / "cad", cls, index), Mesh(mesh.verts * 10, mesh.faces))

    scale(held[0])
    assert np.array_equal(class_cuboid(tmp_path / "cad", cls, 64)[0], before)
    scale(kept[0])
    assert not np.array_equal(class_cuboid(tmp_path / "cad", cls, 64)[0], before)


def test_nemo_trains_without_omega_and_predicts_poses_with_the_ground_truth_class(config, dataset, tmp_path):
    """The NTDM paper's NeMo baseline: loss nemo (in-class contrast only) trains train.epochs epochs, never
    calibrates omega (recorded as the identity: no class pair contrasted), and predicts with pose_from: gt (the
    ground-truth class's mesh gives the pose) and classify: false (no class predicted)."""
    import pandas as pd

    from robust3d.evaluate.predictions import read_predictions
    from robust3d.models.neural_mesh.family import predict, train
    from robust3d.models.spec import ModelSpec

    cfg = copy.deepcopy(config)
    cfg["compnets"]["train"]["epochs"] = 1
    section = cfg["compnets"]
    spec = ModelSpec(name="nemo_resnet50", family="neural_mesh", backbone="resnet50",
                     options={"loss": "nemo", "classify": False, "pose_from": "gt"})
    inputs = {"train": dataset / "train" / "manifest.csv", "calibration": dataset / "calibration" / "manifest.csv"}
    nemo = train(section, spec, inputs, tmp_path / "model.pt", tmp_path / "train.json", seed=cfg["seed"],
                 progress=False)
    assert nemo["loss"] == "nemo" and nemo["epochs"] == 1 and nemo["cross_samples"] is None
    assert math.isfinite(nemo["final_loss"]) and nemo["omega"] == torch.eye(3).tolist() and nemo["omega_nonzero"] == 0
    assert all("omega_nonzero" not in h for h in nemo["history"])  # never calibrated
    k = MeshOptions.of(spec, section).n_vertices  # the loss ignores omega: the count without training agrees
    assert real_batch(section, inputs["train"], k, cfg["seed"]).gflops("nemo") == nemo["loss_gflops_per_step"] > 0

    out = tmp_path / "pred.csv"
    predict(section, spec, tmp_path / "model.pt", inputs["calibration"], out, progress=False)
    df = read_predictions(out)
    truth = pd.read_csv(inputs["calibration"])
    assert len(df) == len(truth) and list(df["class"]) == list(truth["class"])
    assert (df["pose_class"] == df["class"]).all() and (df["pred_class"].fillna("") == "").all()
    assert df[["pred_azimuth", "pred_elevation", "pred_theta"]].notna().all().all()
    # With classification on, pred_class is Eq. 7's while the pose still comes from the true class.
    both = ModelSpec(name="nemo_cls", family="neural_mesh", backbone="resnet50",
                     options={"loss": "nemo", "pose_from": "gt"})
    predict(section, both, tmp_path / "model.pt", inputs["calibration"], out, progress=False)
    df = read_predictions(out)
    assert (df["pose_class"] == df["class"]).all() and set(df["pred_class"]) <= set(nemo["classes"])
