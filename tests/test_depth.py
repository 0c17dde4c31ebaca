"""Pseudo-depth: backend registry, ZoeDepth's offline failure, metrics, the local U-Net, extraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from robust3d.data.format import MANIFEST_COLUMNS, read_manifest
from robust3d.data.io import write_image, write_mask, write_npy
from robust3d.depth import (
    DepthBackend,
    DepthBackendUnavailable,
    DepthUNet,
    backends,
    depth_metrics,
    evaluate_depth,
    extract_depth,
    get_backend,
    load_local_depth,
    register_backend,
    train_local_depth,
)
from robust3d.depth.backends import ZOEDEPTH_REPO, ZOEDEPTH_WEIGHTS
from robust3d.depth.local import WEIGHTS_FORMAT, depth_loss, mask_loss, whole_image_depth
from robust3d.depth.metrics import per_image_background_abs_rel
from robust3d.geometry.backdrop import BACKDROP_DEPTH_FACTOR, backdrop_depth

# ---------------------------------------------------------------------------------------------------------------
# A tiny dataset with exact depth: shaded spheres at distance ~5 (radius 0.8) on a noisy background (depth 0).


def _sphere_sample(rng: np.random.Generator, size: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """RGB uint8 and z-depth of one Lambert-shaded sphere, by ray casting through each pixel centre."""
    centre = np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.4, 0.4), rng.uniform(4.6, 5.4)])
    radius = 0.8  # one size: the apparent size then tells the distance, so metric depth is well-posed
    v, u = np.mgrid[0:size, 0:size] + 0.5
    rays = np.stack([(u - size / 2) / focal, (v - size / 2) / focal, np.ones_like(u)], -1)  # z component 1: t = z
    a = (rays**2).sum(-1)
    b = -2 * rays @ centre
    c = centre @ centre - radius**2
    disc = b**2 - 4 * a * c
    hit = disc > 0
    t = np.where(hit, (-b - np.sqrt(np.where(hit, disc, 0))) / (2 * a), 0.0)
    normal = (rays * t[..., None] - centre) / radius
    light = np.array([-0.5, -0.6, -1.0]) / np.linalg.norm([-0.5, -0.6, -1.0])
    shade = np.clip(normal @ light, 0, 1) * 0.8 + 0.2
    albedo = rng.uniform(0.4, 1.0, 3)
    background = rng.uniform(0.0, 0.5, 3) + rng.normal(0, 0.05, (size, size, 3))
    rgb = np.where(hit[..., None], shade[..., None] * albedo, background)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8), np.where(hit, t, 0.0).astype(np.float32)


def make_sphere_split(root: Path, n: int = 48, size: int = 32, seed: int = 0) -> Path:
    """A split folder in the manifest format (image, visible/amodal masks, depth), returns its manifest."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rgb, depth = _sphere_sample(rng, size, focal=1.25 * size)
        sid = f"sphere_{i:03d}"
        write_image(root / "images" / f"{sid}.png", rgb)
        write_mask(root / "masks" / f"{sid}_visible.png", depth > 0)
        write_npy(root / "depth" / f"{sid}.npy", depth)
        rows.append({"sample_id": sid, "class": "sphere", "image": f"images/{sid}.png", "annotation": "",
                     "mask_visible": f"masks/{sid}_visible.png", "mask_amodal": f"masks/{sid}_visible.png",
                     "depth": f"depth/{sid}.npy", "occluder_mask": "", "variant": "clean", "level": ""})
    manifest = root / "manifest.csv"
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(manifest, index=False)
    return manifest


@pytest.fixture(scope="module")
def spheres(tmp_path_factory) -> Path:
    return make_sphere_split(tmp_path_factory.mktemp("spheres"), n=48, size=32)


# One thread: on a busy 2-core machine, two spinning OpenMP threads are several times slower than one.
TRAIN_KW = {"epochs": 8, "batch_size": 6, "lr": 3e-3, "image_size": 32, "seed": 0, "val_fraction": 0.25,
            "base_channels": 8, "checkpoint_every": 10, "progress": False, "num_threads": 1}


@pytest.fixture(scope="module")
def trained(spheres, tmp_path_factory) -> dict:
    """One training run, interrupted after 20 steps (as if killed) and then resumed to the end."""
    out = tmp_path_factory.mktemp("local") / "local_depth.pt"
    first = train_local_depth([spheres], out, stop_after=20, **TRAIN_KW)
    ckpt = out.with_name(out.name + ".ckpt")
    ckpt_exists = ckpt.exists()
    final_exists_after_kill = out.exists()
    second = train_local_depth([spheres], out, **TRAIN_KW)
    return {"first": first, "second": second, "out": out, "ckpt": ckpt, "ckpt_after_kill": ckpt_exists,
            "final_after_kill": final_exists_after_kill}


# ---------------------------------------------------------------------------------------------------------------
# Registry and backends


def test_unknown_backend_lists_known_names():
    with pytest.raises(ValueError, match="unknown depth backend 'nope'") as err:
        get_backend("nope")
    assert "local" in str(err.value) and "zoedepth" in str(err.value)


def test_register_backend_and_duplicate_name(monkeypatch):
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))  # leave the real registry untouched

    @register_backend("test_constant")
    class Constant(DepthBackend):
        def predict(self, images: torch.Tensor) -> torch.Tensor:
            return torch.full((images.shape[0], *images.shape[-2:]), 5.0)

    backend = get_backend("test_constant")
    assert backend.name == "test_constant"
    assert backend.predict(torch.rand(2, 3, 8, 8)).shape == (2, 8, 8)
    with pytest.raises(ValueError, match="already registered"):
        register_backend("test_constant")(type("Other", (Constant,), {}))


def test_zoedepth_offline_raises_with_instructions(monkeypatch):
    calls = []

    def offline(*args, **kwargs):
        calls.append((args, kwargs))
        raise RuntimeError("It looks like there is no internet connection")

    monkeypatch.setattr(torch.hub, "load", offline)
    with pytest.raises(DepthBackendUnavailable) as err:
        get_backend("zoedepth", model="ZoeD_NK")
    msg = str(err.value)
    assert calls[0][0][:2] == (ZOEDEPTH_REPO, "ZoeD_NK") and calls[0][1]["pretrained"] is True
    assert ZOEDEPTH_REPO in msg
    assert torch.hub.get_dir() in msg
    assert ZOEDEPTH_WEIGHTS["ZoeD_NK"] in msg
    assert "--backend local" in msg
    assert "no internet connection" in msg


def test_zoedepth_rejects_unknown_model():
    with pytest.raises(ValueError, match="ZoeD_NK"):
        get_backend("zoedepth", model="ZoeD_X")


def test_zoedepth_inference_path_with_a_stub_hub_model(monkeypatch):
    """The real code path up to the network: eval mode, infer() options, [B,1,H,W] -> [B,H,W]."""

    class Stub(torch.nn.Module):
        def infer(self, x, pad_input=True, with_flip_aug=True):
            self.seen = (self.training, pad_input, with_flip_aug, x.min() >= 0, x.max() <= 1)
            return 2.0 + x.mean(1, keepdim=True)

    stub = Stub()
    monkeypatch.setattr(torch.hub, "load", lambda *a, **k: stub)
    backend = get_backend("zoedepth", model="ZoeD_N", pad_input=False, with_flip_aug=False)
    depth = backend.predict(torch.rand(2, 3, 12, 16))
    assert depth.shape == (2, 12, 16) and depth.dtype == torch.float32
    assert stub.seen[:3] == (False, False, False) and all(stub.seen[3:])


def test_zoedepth_timm_break_at_first_inference(monkeypatch):
    class Broken(torch.nn.Module):
        def infer(self, x, **kwargs):
            raise AttributeError("'Block' object has no attribute 'drop_path'")

    monkeypatch.setattr(torch.hub, "load", lambda *a, **k: Broken())
    backend = get_backend("zoedepth")
    with pytest.raises(DepthBackendUnavailable, match="timm"):
        backend.predict(torch.rand(1, 3, 8, 8))


def test_local_backend_missing_weights_names_path(tmp_path):
    path = tmp_path / "nowhere" / "local_depth.pt"
    with pytest.raises(DepthBackendUnavailable, match=str(path)):
        get_backend("local", weights=path)


# ---------------------------------------------------------------------------------------------------------------
# Metrics


def test_metrics_of_a_scaled_prediction():
    gt = torch.tensor([[[2.0, 4.0], [5.0, 0.0]]])  # the 0 pixel has no surface: ignored
    m = depth_metrics(gt * 1.1, gt)
    assert m["abs_rel"] == pytest.approx(0.1)
    assert m["sq_rel"] == pytest.approx(np.mean([0.01 * 2, 0.01 * 4, 0.01 * 5]))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean([0.04, 0.16, 0.25])))
    assert m["rmse_log"] == pytest.approx(np.log(1.1))
    assert m["delta1"] == 1.0
    assert m["n_pixels"] == 3 and m["n_images"] == 1
    # relative depth: (1.1 g - median(1.1 g)) - (g - median(g)) = 0.1 (g - 4) = [-0.2, 0, 0.1]
    assert m["rel_rmse"] == pytest.approx(np.sqrt((0.04 + 0.01) / 3))


def test_metrics_delta_valid_mask_and_offset():
    gt = np.array([[1.0, 2.0], [4.0, 8.0]])
    pred = np.array([[1.0, 3.0], [4.0, 100.0]])
    m = depth_metrics(pred, gt)
    assert m["delta1"] == pytest.approx(0.5)  # 3/2 and 100/8 exceed 1.25
    m = depth_metrics(pred, gt, valid=np.array([[1, 0], [1, 0]]))
    assert m["abs_rel"] == 0 and m["rmse"] == 0 and m["n_pixels"] == 2
    shifted = depth_metrics(gt + 0.5, gt)  # a constant offset is pure scale error, no shape error
    assert shifted["rel_rmse"] == pytest.approx(0.0) and shifted["rmse"] == pytest.approx(0.5)


def test_metrics_average_per_image_and_baseline():
    gt = torch.stack([torch.full((4, 4), 5.0), torch.full((4, 4), 4.0)])
    pred = gt.clone()
    pred[0] *= 1.2
    m = depth_metrics(pred, gt, baseline_depth=5.0)
    assert m["abs_rel"] == pytest.approx(0.1)  # (0.2 + 0) / 2 images
    assert m["baseline_abs_rel"] == pytest.approx((0 + 0.25) / 2)
    assert m["baseline_rmse"] == pytest.approx(0.5)
    assert m["baseline_rel_rmse"] == pytest.approx(0.0)  # flat targets: a constant has the right shape
    empty = depth_metrics(torch.ones(1, 3, 3), torch.zeros(1, 3, 3))
    assert empty["n_images"] == 0 and np.isnan(empty["abs_rel"])


# ---------------------------------------------------------------------------------------------------------------
# Network, loss, training


def test_unet_shape_size_and_initial_constant():
    net = DepthUNet(base_channels=16, log_depth_offset=np.log(5.0))
    n_params = sum(p.numel() for p in net.parameters())
    assert 0.5e6 <= n_params <= 2e6
    log_depth, fg_logit = net(torch.rand(2, 3, 64, 48))
    assert log_depth.shape == fg_logit.shape == (2, 64, 48)
    assert torch.allclose(log_depth.exp(), torch.tensor(5.0))  # zero-initialized head: starts at the baseline
    assert torch.all(fg_logit == 0)  # and undecided between surface and backdrop


def _slow_whole_image_depth(log_depth: torch.Tensor, fg_logit: torch.Tensor) -> torch.Tensor:
    """Reference composite, one image and one pixel at a time."""
    out = torch.empty_like(log_depth)
    for b in range(len(log_depth)):
        fg = [(i, j) for i in range(log_depth.shape[1]) for j in range(log_depth.shape[2])
              if torch.sigmoid(fg_logit[b, i, j]) > 0.5]
        if not fg:
            flat = int(fg_logit[b].flatten().argmax())
            fg = [divmod(flat, log_depth.shape[2])]
        far = max(float(log_depth[b, i, j].exp()) for i, j in fg)
        for i in range(log_depth.shape[1]):
            for j in range(log_depth.shape[2]):
                out[b, i, j] = log_depth[b, i, j].exp() if (i, j) in fg else BACKDROP_DEPTH_FACTOR * far
    return out


def test_whole_image_depth_puts_the_backdrop_behind_the_farthest_predicted_surface():
    gen = torch.Generator().manual_seed(0)
    log_depth = torch.randn(3, 5, 4, generator=gen) * 0.2 + 1.5
    fg_logit = torch.randn(3, 5, 4, generator=gen)
    fg_logit[2] = -torch.rand(5, 4, generator=gen) - 0.1  # no pixel passes: the most surface-like one counts
    fast = whole_image_depth(log_depth, fg_logit)
    assert torch.allclose(fast, _slow_whole_image_depth(log_depth, fg_logit))
    assert torch.isfinite(fast).all() and (fast > 0).all()
    # a true map composited the same way is exactly fill_backdrop's scene: the renderer's backdrop
    depth = torch.tensor([[[0.0, 2.0], [3.0, 0.0]]])
    whole = whole_image_depth(depth.clamp_min(1e-3).log(), torch.where(depth > 0, 9.0, -9.0))
    assert whole[0, 0, 0] == pytest.approx(backdrop_depth(depth[0].numpy()))


def test_mask_loss_is_balanced_and_lowest_at_the_true_mask():
    depth = torch.zeros(1, 10, 10)
    depth[0, :2, :2] = 5.0  # 4 surface pixels, 96 background
    right = torch.where(depth > 0, 8.0, -8.0)
    assert float(mask_loss(right, depth)) < 0.01
    all_bg = torch.full_like(depth, -8.0)  # 96% pixel accuracy, yet as bad as calling everything surface
    all_fg = torch.full_like(depth, 8.0)
    assert float(mask_loss(all_bg, depth)) > 1.0
    assert float(mask_loss(all_bg, depth)) == pytest.approx(float(mask_loss(all_fg, depth)), rel=0.3)


def test_background_abs_rel_scores_against_the_backdrop():
    gt = torch.tensor([[[0.0, 2.0], [3.0, 0.0]]])
    backdrop = BACKDROP_DEPTH_FACTOR * 3.0
    exact = torch.tensor([[[backdrop, 2.0], [3.0, backdrop]]])
    assert float(per_image_background_abs_rel(exact, gt)["background_abs_rel"][0]) == pytest.approx(0.0)
    half = torch.tensor([[[backdrop / 2, 2.0], [3.0, backdrop]]])
    assert float(per_image_background_abs_rel(half, gt)["background_abs_rel"][0]) == pytest.approx(0.25)
    empty = per_image_background_abs_rel(torch.ones(1, 2, 2), torch.zeros(1, 2, 2))  # no surface: no backdrop
    assert torch.isnan(empty["background_abs_rel"]).all()


def test_loading_refuses_weights_without_a_foreground_head(tmp_path):
    old = tmp_path / "old.pt"
    torch.save({"format": "robust3d.local_depth/1", "state_dict": {}}, old)
    with pytest.raises(ValueError, match=f"{WEIGHTS_FORMAT}.*retrain"):
        load_local_depth(old)


def test_loss_ignores_invalid_pixels():
    depth = torch.tensor([[[5.0, 0.0], [5.0, 5.0]]])
    log_pred = torch.log(torch.tensor([[[5.0, 123.0], [5.0, 5.0]]]))
    assert float(depth_loss(log_pred, depth)) == pytest.approx(0.0, abs=1e-6)
    assert float(depth_loss(log_pred + 0.1, depth)) == pytest.approx(0.1, abs=1e-5)  # offsets: no gradient term


def test_training_learns_beats_constant_and_resumes(trained):
    first, second = trained["first"], trained["second"]
    assert first["stopped"] and first["step"] == 20
    assert trained["ckpt_after_kill"] and not trained["final_after_kill"]
    # the second call continued from the checkpoint at step 20: it did not restart
    assert second["resumed_from"] == 20
    assert not second["stopped"] and second["step"] == second["total_steps"] == 8 * 6
    assert not trained["ckpt"].exists() and trained["out"].exists()
    assert second["val_loss"] < 0.9 * second["val_loss_initial"]
    assert second["val_rel_rmse"] < second["val_baseline_rel_rmse"]
    assert second["n_train"] == 36 and second["n_val"] == 12
    # the whole-image map: the backdrop where no surface is (issue 15's must-show: within 10% AbsRel of it)
    assert second["val_background_abs_rel"] < 0.1
    assert second["val_mask_iou"] > 0.6  # from 0: the zero-initialized head calls no pixel a surface
    model, meta = load_local_depth(trained["out"])
    assert meta["image_size"] == 32 and meta["train_median_depth"] == pytest.approx(second["train_median_depth"])


def test_training_is_deterministic_and_resume_replays_the_same_steps(spheres, tmp_path):
    kw = dict(TRAIN_KW, epochs=1, checkpoint_every=2)
    a = train_local_depth([spheres], tmp_path / "a.pt", **kw)
    train_local_depth([spheres], tmp_path / "b.pt", stop_after=3, **kw)
    b = train_local_depth([spheres], tmp_path / "b.pt", **kw)
    assert b["resumed_from"] == 3
    sa = load_local_depth(tmp_path / "a.pt")[0].state_dict()
    sb = load_local_depth(tmp_path / "b.pt")[0].state_dict()
    assert all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-5) for k in sa)
    assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)


def test_resume_refuses_another_configuration(spheres, tmp_path):
    kw = dict(TRAIN_KW, epochs=1, checkpoint_every=2)
    train_local_depth([spheres], tmp_path / "c.pt", stop_after=2, **kw)
    with pytest.raises(ValueError, match="another configuration"):
        train_local_depth([spheres], tmp_path / "c.pt", **dict(kw, lr=1e-4))


# ---------------------------------------------------------------------------------------------------------------
# Extraction


def test_extract_depth_writes_a_resolving_manifest(spheres, trained, tmp_path):
    out_dir = tmp_path / "pseudo" / "spheres"
    df = extract_depth(spheres, "local", out_dir, batch_size=5, progress=False, weights=trained["out"])
    written = read_manifest(out_dir / "manifest.csv")
    assert list(written["sample_id"]) == list(df["sample_id"]) and len(written) == 48
    for col in ("image", "mask_visible", "mask_amodal", "depth", "pseudo_depth"):
        assert all((out_dir / p).is_file() for p in written[col]), col
    assert (written["annotation"] == "").all()
    depth = np.load(out_dir / written["pseudo_depth"].iloc[0])
    assert depth.dtype == np.float32 and depth.shape == (32, 32) and (depth > 0).all()
    assert not any(p.name.startswith(".") for p in out_dir.parent.iterdir())  # no temp folder left behind

    scores = evaluate_depth(out_dir / "manifest.csv", baseline_depth=trained["second"]["train_median_depth"])
    assert scores["n_images"] == 48
    # object pixels of the whole-image map (its shape figure, rel_rmse, pays for every pixel the foreground head
    # misses with the backdrop; the depth head alone beats the constant: test_training_learns_...)
    assert scores["abs_rel"] < 0.1
    assert scores["background_abs_rel"] < 0.1 and scores["background_n_pixels"] > 0
    # the constant backend is nowhere near the backdrop (5 against about 4 x 5.4): the figure can fail
    constant = extract_depth(spheres, _Constant(), tmp_path / "constant", progress=False)
    assert len(constant) == 48
    assert evaluate_depth(tmp_path / "constant" / "manifest.csv")["background_abs_rel"] > 0.5


class _Constant(DepthBackend):
    name = "constant"

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return torch.full((images.shape[0], *images.shape[-2:]), 5.0)


def test_extract_depth_refuses_to_replace_its_input(spheres):
    for out_dir in (spheres.parent, spheres.parent.parent):
        with pytest.raises(ValueError, match="would replace"):
            extract_depth(spheres, _Constant(), out_dir, progress=False)
    assert (spheres.parent / "manifest.csv").is_file()
