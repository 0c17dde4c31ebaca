"""Render-and-compare inference of the neural mesh models (3D-CompNets Sec. 3.4): renderer, cache, pose, predict.

Feature maps with a known answer are built by rendering random unit vertex features of a cuboid at a known pose
(off the initial grid) over background-bank features elsewhere; the pose must come back.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from robust3d.geometry import pascal_to_pytorch3d, pose_error, project_points
from robust3d.models.neural_mesh.inference import (
    FeatureCamera,
    InitialPoseCache,
    background_score,
    estimate_pose,
    initial_losses,
    initial_pose_grid,
    lowest_loss_class,
    random_mesh_bank,
    reconstruction_loss,
    render_poses,
    synthetic_feature_maps,
)
from robust3d.render.features import MeshBatch, rasterize_vertices, render_vertex_features

STRIDE = 8
CAMERA = FeatureCamera(distance=5.0, focal=500.0 / STRIDE, principal=(8.0, 8.0), size=(16, 16))


@pytest.fixture(scope="module")
def bank():
    torch.manual_seed(0)
    return random_mesh_bank(3, n_vertices=200, dim=64, n_background=128, seed=3)


@pytest.fixture(scope="module")
def cache():
    return InitialPoseCache(initial_pose_grid())


def _random_poses(n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.rand(n, generator=gen) * 2 * math.pi, torch.rand(n, generator=gen) * 1.0 - 0.2,
                        torch.rand(n, generator=gen) * 0.6 - 0.3], 1)


def test_initial_pose_grid_is_nemos_144():
    grid = initial_pose_grid()
    assert grid.shape == (144, 3)
    assert torch.allclose(grid[:, 0].unique(), torch.arange(12) * (2 * math.pi / 12), atol=1e-6)
    assert torch.allclose(grid[:, 1].unique(), torch.linspace(-math.pi / 6, math.pi / 3, 4), atol=1e-6)
    assert torch.allclose(grid[:, 2].unique(), torch.tensor([-math.pi / 6, 0.0, math.pi / 6]), atol=1e-6)
    small = initial_pose_grid({"azimuth_bins": 4, "elevation_bins": 2, "theta_bins": 1})
    assert small.shape == (8, 3) and torch.all(small[:, 2] == -math.pi / 6)


@pytest.mark.parametrize("size,stride", [((16, 16), 8), ((10, 12), 14)])
def test_rendered_pixel_coordinates_equal_projection(bank, size, stride):
    """Rendering each vertex's projected (x, y) in cells returns the cell centre wherever the mesh is hit."""
    poses = torch.tensor([[1.0, 0.3, 0.1], [4.0, -0.2, -0.4], [2.5, 0.9, 0.2]])
    focal, principal = 500.0 / stride, (64.0 / stride, 64.0 / stride)
    verts, faces = bank.vertices[0], bank.faces[0]
    uv, _ = project_points(verts.double(), poses[:, 0].double(), poses[:, 1].double(), poses[:, 2].double(), 5.0,
                           focal, 1.0, torch.tensor(principal, dtype=torch.float64))
    rendered, fg = render_vertex_features(verts, faces, list(uv.float()), poses[:, 0], poses[:, 1], poses[:, 2],
                                          5.0, focal, principal, size)
    assert rendered.shape == (3, 2, *size) and fg.shape == (3, *size)
    rows, cols = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    centres = torch.stack([cols, rows]).float() + 0.5
    assert (fg.sum((1, 2)) > 20).all()
    err = (rendered - centres).abs().amax(1)[fg]
    assert float(err.max()) < 0.05
    assert (rendered[~fg[:, None].expand_as(rendered)] == 0).all()


def test_culled_rasterisation_equals_pytorch3d_on_whole_mesh(bank):
    """Dropping hidden/too-small faces and recomputing the weights changes nothing against plain PyTorch3D."""
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    poses = _random_poses(24, seed=1)
    classes = [i % 3 for i in range(24)]
    verts, faces = [bank.vertices[y] for y in classes], [bank.faces[y] for y in classes]
    frags = rasterize_vertices(MeshBatch.build(verts, faces, 24), *poses.T, CAMERA.distance, CAMERA.focal,
                               CAMERA.principal, CAMERA.size)
    cams = pascal_to_pytorch3d(*poses.T, CAMERA.distance, CAMERA.focal, 1.0, torch.tensor(CAMERA.principal),
                               image_size=CAMERA.size)
    settings = RasterizationSettings(image_size=CAMERA.size, blur_radius=0.0, faces_per_pixel=1, bin_size=0)
    ref = MeshRasterizer(cameras=cams, raster_settings=settings)(Meshes(verts, faces))
    assert torch.equal(frags.pix_to_face, ref.pix_to_face[..., 0])
    fg = frags.foreground
    assert torch.allclose(frags.bary[fg], ref.bary_coords[..., 0, :][fg], atol=1e-4)


def test_render_is_differentiable_in_the_angles(bank):
    """Autograd through the weights matches finite differences where the face under a cell does not change."""
    verts, faces = bank.vertices[1], bank.faces[1]
    mesh = MeshBatch.build(verts, faces, 1)
    pose = torch.tensor([1.0, 0.3, 0.1], dtype=torch.float32)
    eps = 1e-3
    for i in range(3):
        angles = [pose[j : j + 1].clone().requires_grad_(j == i) for j in range(3)]
        rendered, _ = render_vertex_features(mesh, None, verts, *angles, 5.0, CAMERA.focal, CAMERA.principal,
                                             CAMERA.size)
        faces_at = rasterize_vertices(mesh, *[a.detach() for a in angles], 5.0, CAMERA.focal, CAMERA.principal,
                                      CAMERA.size).pix_to_face
        shifted = []
        for sign in (1, -1):
            moved = [a.detach() + (sign * eps if j == i else 0.0) for j, a in enumerate(angles)]
            r, _ = render_vertex_features(mesh, None, verts, *moved, 5.0, CAMERA.focal, CAMERA.principal, CAMERA.size)
            f = rasterize_vertices(mesh, *moved, 5.0, CAMERA.focal, CAMERA.principal, CAMERA.size).pix_to_face
            shifted.append((r, f))
        stable = (faces_at == shifted[0][1]) & (faces_at == shifted[1][1]) & (faces_at >= 0)
        assert stable.sum() > 20
        weight = torch.randn_like(rendered) * stable[:, None]
        (grad,) = torch.autograd.grad((rendered * weight).sum(), angles[i])
        numeric = ((shifted[0][0] - shifted[1][0]) * weight).sum() / (2 * eps)
        assert abs(float(grad) - float(numeric)) < 0.02 * max(1.0, abs(float(numeric))), (i, grad, numeric)
        assert abs(float(grad)) > 1e-3


def test_cache_equals_rendering_each_initial_pose_afresh(bank, cache):
    """One matrix product over cached renders gives Eq. 8 of every initial pose, as rendering it anew does."""
    poses = torch.tensor([[1.0, 0.3, 0.1], [3.3, 0.05, -0.2]])
    fmap, _ = synthetic_feature_maps(bank, torch.tensor([2, 2]), poses, CAMERA, seed=4)
    grid = cache.poses
    losses = initial_losses(fmap, 2, bank, CAMERA, cache)
    assert losses.shape == (2, 144)
    fresh, fg = render_poses(bank, [2] * 144, grid, CAMERA, chunk=50)
    for b in range(2):
        direct = reconstruction_loss(fmap[b : b + 1].expand(144, -1, -1, -1), fresh, fg, bank.background)
        assert torch.allclose(losses[b], direct, atol=1e-5)
    assert len(cache) >= 1
    again = initial_losses(fmap, 2, bank, CAMERA, cache)
    assert torch.equal(again, losses)  # reused, not re-rendered differently


def test_bounded_cache_drops_the_least_recently_used_class_and_renders_it_again(bank):
    one = InitialPoseCache(initial_pose_grid())
    r0, fg0 = one.get(bank, 0, CAMERA)
    entry = r0.numel() * r0.element_size() + fg0.numel() * fg0.element_size()
    small = InitialPoseCache(initial_pose_grid(), max_bytes=2 * entry)  # room for two classes
    for y in (0, 1, 0, 2):  # 0 is used again before 2 arrives, so 1 is the one dropped
        small.get(bank, y, CAMERA)
    assert (len(small), small.renders, small.nbytes) == (2, 3, 2 * entry)
    r, fg = small.get(bank, 1, CAMERA)  # dropped: rendered again, the same renders
    assert small.renders == 4 and torch.equal(r, one.get(bank, 1, CAMERA)[0]) and torch.equal(fg, one.get(
        bank, 1, CAMERA)[1])
    small.get(bank, 2, CAMERA)
    assert small.renders == 4  # still cached


def test_reconstruction_loss_is_eq8(bank):
    """Foreground cells score f.C(alpha), the others their best background feature; per image, mean over cells."""
    fmap = torch.nn.functional.normalize(torch.randn(2, 64, 4, 5), dim=1)
    rendered = torch.randn(2, 64, 4, 5)
    fg = torch.rand(2, 4, 5) > 0.5
    loss = reconstruction_loss(fmap, rendered, fg, bank.background)
    for b in range(2):
        total = 0.0
        for i in range(4):
            for j in range(5):
                f = fmap[b, :, i, j]
                total += float(f @ rendered[b, :, i, j]) if fg[b, i, j] else float((bank.background @ f).max())
        assert float(loss[b]) == pytest.approx(-total / 20, abs=1e-5)
    assert torch.allclose(background_score(fmap, bank.background),
                          torch.einsum("bdhw,nd->bnhw", fmap, bank.background).amax(1))


def test_estimate_pose_recovers_an_off_grid_pose(bank, cache):
    gt = torch.tensor([[1.0, 0.3, 0.1], [4.4, -0.1, -0.25], [2.2, 0.7, 0.3]])
    classes = torch.tensor([0, 1, 2])
    fmap, _ = synthetic_feature_maps(bank, classes, gt, CAMERA, seed=5)
    start_loss = initial_losses(fmap, 0, bank, CAMERA, cache).amin(1)
    est = estimate_pose(fmap, classes, bank, CAMERA, cache, steps=30, lr=0.05)
    err = pose_error((est.azimuth, est.elevation, est.theta), tuple(gt.T))
    assert (err < math.pi / 18).all(), err
    init = cache.poses[initial_losses(fmap[:1], 0, bank, CAMERA, cache).argmin(1)]
    assert float(pose_error(tuple(init.T), tuple(gt[:1].T))) > float(err[0])  # refinement did the last mile
    assert float(est.loss[0]) <= float(start_loss[0])
    az, el, th, loss = est  # unpacks as the contract's (az, el, th, loss)
    assert loss.shape == (3,) and ((az >= 0) & (az < 2 * math.pi)).all()


def test_batched_pose_equals_one_image_at_a_time(bank, cache):
    """Adam is per parameter and the images' losses are independent: batching changes nothing."""
    gt = _random_poses(4, seed=6)
    classes = torch.tensor([0, 2, 1, 0])
    fmap, _ = synthetic_feature_maps(bank, classes, gt, CAMERA, seed=7)
    batched = estimate_pose(fmap, classes, bank, CAMERA, cache, steps=10)
    for b in range(4):
        single = estimate_pose(fmap[b : b + 1], classes[b : b + 1], bank, CAMERA, cache, steps=10)
        assert float(pose_error((single.azimuth, single.elevation, single.theta),
                                (batched.azimuth[b : b + 1], batched.elevation[b : b + 1],
                                 batched.theta[b : b + 1]))) < 1e-3


def test_classify_picks_the_rendered_class(bank):
    from robust3d.models.neural_mesh.classify import classify

    classes = torch.tensor([2, 0, 1])
    fmap, _ = synthetic_feature_maps(bank, classes, _random_poses(3, seed=8), CAMERA, seed=9)
    scores = classify(fmap, bank.features, bank.n_vertices, bank.background)
    assert torch.equal(scores.argmax(1), classes)


def test_unseen_mode_picks_the_class_whose_features_were_rendered(bank, cache):
    classes = torch.tensor([1, 2, 0, 2])
    fmap, _ = synthetic_feature_maps(bank, classes, _random_poses(4, seed=10), CAMERA, seed=11)
    chosen, loss = lowest_loss_class(fmap, bank, CAMERA, cache)
    assert torch.equal(chosen, classes)
    others = torch.stack([initial_losses(fmap, y, bank, CAMERA, cache).amin(1) for y in range(3)], 1)
    assert torch.allclose(loss, others.min(1).values)


# --- predict(): the whole pipeline with a stand-in backbone whose feature maps have a known answer ----------------


class _LookupBackbone(torch.nn.Module):
    """Returns a stored feature map per image; the image's first pixel says which (its red value / 255)."""

    stride = STRIDE

    def __init__(self, maps: torch.Tensor) -> None:
        super().__init__()
        self.maps = maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        idx = torch.round(images[:, 0, 0, 0] * 255).long()
        return self.maps[idx] * 3.0  # not normalised: predict must normalise


def _write_split(folder, names, classes, poses, variant="", level=""):
    from robust3d.data.io import write_image

    rows = []
    for i, (name, cls, pose) in enumerate(zip(names, classes, poses, strict=True)):
        img = np.zeros((128, 128, 3), np.uint8)
        img[0, 0, 0] = i
        write_image(folder / f"{name}.png", img)
        np.savez(folder / f"{name}.npz", azimuth=pose[0], elevation=pose[1], theta=pose[2], distance=5.0, focal=1.0,
                 viewport=500.0, principal=np.array([64.0, 64.0]), cad_index=1, bbox=np.zeros(4), **{"class": cls})
        rows.append({"sample_id": name, "class": cls, "image": f"{name}.png", "annotation": f"{name}.npz",
                     "mask_visible": "", "mask_amodal": "", "depth": "", "occluder_mask": "", "variant": variant,
                     "level": level})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, bank):
    from robust3d.models.neural_mesh.mesh import NeuralMeshModel

    path = tmp_path_factory.mktemp("model") / "model.pt"
    NeuralMeshModel(classes=["aeroplane", "car", "chair"], vertices=bank.vertices, faces=bank.faces,
                    features=bank.features, n_vertices=bank.n_vertices, background=bank.background,
                    backbone_entry={"kind": "resnetext", "arch": "resnet18", "weights": None}, feature_dim=64,
                    stride=STRIDE, temperature=0.07, backbone_state={}).save(path)
    return path


def _config(steps: int = 30) -> dict:
    return {"device": "cpu", "compnets": {"train": {"num_threads": 2}, "pose": {
        "azimuth_bins": 12, "elevation_bins": 4, "theta_bins": 3, "refine_steps": steps, "lr": 0.05}}}


@pytest.mark.parametrize("unseen", [False, True])
def test_predict_recovers_class_and_pose_and_writes_the_contract(tmp_path, monkeypatch, bank, checkpoint, unseen):
    from robust3d.evaluate.predictions import PREDICTION_COLUMNS, read_predictions
    from robust3d.models.neural_mesh import mesh
    from robust3d.models.neural_mesh.predict import predict
    from robust3d.models.registry import ModelSpec

    gt = torch.tensor([[1.0, 0.3, 0.1], [5.0, 0.1, -0.2], [2.4, 0.6, 0.2], [0.4, -0.1, 0.05]])
    classes = torch.tensor([1, 0, 2, 1])
    maps, _ = synthetic_feature_maps(bank, classes, gt, CAMERA, seed=12)
    monkeypatch.setattr(mesh.NeuralMeshModel, "build_backbone", lambda self: _LookupBackbone(maps))
    split = tmp_path / ("unseen" if unseen else "variants/test/fog/4")
    split.mkdir(parents=True)
    names = [f"s{i}" for i in range(4)]
    true_names = ["proc000"] * 4 if unseen else [["aeroplane", "car", "chair"][int(y)] for y in classes]
    manifest = _write_split(split, names, true_names, gt.numpy(), *(("", "") if unseen else ("fog", "4")))
    out = tmp_path / "pred.csv"
    spec = ModelSpec(name="compnets_test", family="neural_mesh", backbone="resnet50",
                     options={"loss": "compnets", "cross_samples": 32})
    predict(_config()["compnets"], spec, checkpoint, manifest, out, unseen=unseen, progress=False)

    df = read_predictions(out)
    assert list(df.columns[: len(PREDICTION_COLUMNS)]) == list(PREDICTION_COLUMNS)
    assert list(df["sample_id"]) == names and list(df["class"]) == true_names
    expected = [["aeroplane", "car", "chair"][int(y)] for y in classes]
    assert list(df["pose_class"]) == expected
    assert list(df["pred_class"]) == expected  # Eq. 7 (seen) or the argmin-loss class (unseen)
    pred = torch.tensor(df[["pred_azimuth", "pred_elevation", "pred_theta"]].to_numpy())
    truth = torch.tensor(df[["azimuth", "elevation", "theta"]].to_numpy())
    assert torch.allclose(truth, gt.double(), atol=1e-6)
    assert (pose_error(tuple(pred.T), tuple(truth.T)) < math.pi / 18).all()
    assert (df["seconds"] > 0).all() and (df["model"] == "compnets_test").all()
    if unseen:
        assert set(df["split"]) == {"unseen"} and set(df["variant"]) == {"clean"} and set(df["level"]) == {"0"}
    else:
        assert set(df["split"]) == {"test"} and set(df["variant"]) == {"fog"} and set(df["level"]) == {"4"}


@pytest.mark.parametrize("classify", [False, True])
def test_predict_with_the_ground_truth_class_poses_with_its_mesh(tmp_path, monkeypatch, bank, checkpoint, classify):
    """pose_from='gt' (NeMo's protocol): the pose comes from each image's true class, whatever Eq. 7 says;
    classify: false leaves pred_class empty; a class the model has no mesh of is an error."""
    from robust3d.evaluate.predictions import read_predictions
    from robust3d.models.neural_mesh import mesh
    from robust3d.models.neural_mesh.predict import predict
    from robust3d.models.registry import ModelSpec

    gt = torch.tensor([[1.0, 0.3, 0.1], [5.0, 0.1, -0.2], [2.4, 0.6, 0.2]])
    rendered = torch.tensor([1, 0, 2])
    maps, _ = synthetic_feature_maps(bank, rendered, gt, CAMERA, seed=13)
    monkeypatch.setattr(mesh.NeuralMeshModel, "build_backbone", lambda self: _LookupBackbone(maps))
    names = ["aeroplane", "car", "chair"]
    labels = ["car", "aeroplane", "aeroplane"]  # the last image is labelled with a class it does not show
    (tmp_path / "split").mkdir()
    manifest = _write_split(tmp_path / "split", ["a", "b", "c"], labels, gt.numpy(), "fog", "4")
    spec = ModelSpec(name="nemo_test", family="neural_mesh", backbone="resnet50",
                     options={"loss": "nemo", "classify": classify, "pose_from": "gt"})
    out = tmp_path / "pred.csv"
    predict(_config()["compnets"], spec, checkpoint, manifest, out, progress=False, pose_from="gt")
    df = read_predictions(out)
    assert list(df["pose_class"]) == labels
    expected = [names[int(y)] for y in rendered] if classify else [""] * 3
    assert list(df["pred_class"].fillna("")) == expected
    pred = torch.tensor(df[["pred_azimuth", "pred_elevation", "pred_theta"]].to_numpy())
    truth = torch.tensor(df[["azimuth", "elevation", "theta"]].to_numpy())
    assert (pose_error(tuple(pred[:2].T), tuple(truth[:2].T)) < math.pi / 18).all()  # the right meshes
    if classify:  # pose_from 'predicted' (the default) poses with Eq. 7's class instead
        quick = _config(steps=1)["compnets"]
        quick["pose"].update(azimuth_bins=2, elevation_bins=1, theta_bins=1)  # only pose_class is read here
        predict(quick, spec, checkpoint, manifest, out, progress=False)
        assert list(read_predictions(out)["pose_class"]) == expected
    else:
        with pytest.raises(ValueError, match="pose_from='gt'"):
            predict(_config()["compnets"], spec, checkpoint, manifest, out, progress=False)
    (tmp_path / "unseen").mkdir()
    unknown = _write_split(tmp_path / "unseen", ["u"], ["proc000"], gt[:1].numpy())
    with pytest.raises(ValueError, match="no mesh of"):
        predict(_config()["compnets"], spec, checkpoint, unknown, out, unseen=True, progress=False, pose_from="gt")
    with pytest.raises(ValueError, match="pose_from must be"):
        predict(_config()["compnets"], spec, checkpoint, manifest, out, progress=False, pose_from="oracle")
