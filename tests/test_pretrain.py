"""The pretraining stage: multi-crop views, sanity evaluations, collapse monitors, the stage's weights in a backbone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from robust3d.models.pretrain import augment, sanity
from robust3d.models.pretrain.train import DINOStudent, monitor, pretrain

TINY_VIT = {"kind": "vit", "arch": "vit_small_patch14_dinov2", "depth": 1, "embed_dim": 32, "num_heads": 2}
TINY_RECIPE = {"epochs": 2, "batch_size": 8, "out_dim": 32, "hidden_dim": 32, "bottleneck_dim": 16, "n_local": 2,
               "global_size": 28, "local_size": 14, "checkpoint_every": 2, "log_every": 1, "num_threads": 1,
               "layer_scale_init": 1.0, "momentum": 0.9, "lr": 0.01}


def _blobs(n: int = 16, size: int = 32, seed: int = 0) -> torch.Tensor:
    """uint8 images of coloured discs on a grey ground (enough structure for a few DINO steps)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = torch.full((n, 3, size, size), 0.5)
    for i in range(n):
        cx, cy, r = (torch.rand(3, generator=g) * torch.tensor([size, size, size / 3])).tolist()
        disc = ((xx - cx) ** 2 + (yy - cy) ** 2) < (r + 3) ** 2
        out[i][:, disc] = torch.rand(3, 1, generator=g)
    return (out * 255).round().to(torch.uint8)


# ------------------------------------------------------------------------------------------------ multi-crop


def test_views_are_deterministic_per_generator_and_shaped_crop_major():
    x = _blobs(4).float() / 255
    crops = augment.MultiCrop(28, 14, n_local=3)
    g1, l1 = crops(x, torch.Generator().manual_seed(5))
    g2, l2 = crops(x, torch.Generator().manual_seed(5))
    g3, _ = crops(x, torch.Generator().manual_seed(6))
    assert g1.shape == (8, 3, 28, 28) and l1.shape == (12, 3, 14, 14)
    assert torch.equal(g1, g2) and torch.equal(l1, l2) and not torch.equal(g1, g3)
    assert float(g1.min()) >= 0 and float(g1.max()) <= 1


def test_full_crop_without_flip_is_a_resize():
    """Area 1 and aspect 1 (both ranges degenerate) must sample the whole image: a plain bilinear resize."""
    x = torch.rand(2, 3, 16, 16)
    old = augment._LOG_RATIO
    augment._LOG_RATIO = (0.0, 0.0)
    try:
        y = augment.random_resized_crop(x, 16, (1.0, 1.0), torch.Generator().manual_seed(0), flip=False)
    finally:
        augment._LOG_RATIO = old
    assert torch.allclose(y, x, atol=1e-5)


def test_batched_blur_matches_torchvision_image_by_image():
    """The grouped-convolution blur (one sigma per image) against torchvision's per-image reference."""
    x = torch.rand(3, 3, 20, 20)
    sigma = torch.tensor([0.5, 1.0, 1.7])
    fast = augment.gaussian_blur(x, sigma)
    radius = math.ceil(3 * 1.7)
    for i in range(3):
        slow = TF.gaussian_blur(x[i:i + 1], [2 * radius + 1] * 2, [float(sigma[i])] * 2)
        assert torch.allclose(fast[i:i + 1], slow, atol=1e-5)


# ------------------------------------------------------------------------------------------------ sanity numbers


def test_knn_votes_by_weighted_cosine_neighbours():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = np.array([0, 0, 1, 1])
    queries = torch.tensor([[5.0, 0.2], [0.2, 3.0], [1.0, 1.1]])  # lengths do not matter: cosine
    assert sanity.knn_top1(bank, labels, queries, np.array([0, 1, 1]), k=2) == pytest.approx(100.0)
    assert sanity.knn_top1(bank, labels, queries, np.array([1, 0, 0]), k=2) == pytest.approx(0.0)


def test_linear_probe_learns_a_linear_rule_and_not_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20))
    y = np.argmax(x @ rng.normal(size=(20, 4)), axis=1)  # a linear rule of 4 classes
    assert sanity.linear_probe(x[:200], y[:200], x[200:], y[200:])["top1"] > 80
    noise = rng.integers(0, 4, 300)
    assert sanity.linear_probe(x[:200], noise[:200], x[200:], noise[200:])["top1"] < 45


def test_colour_histogram_and_azimuth_bins():
    images = torch.zeros(2, 3, 4, 4)
    images[1, 0] = 1.0  # all red
    hist = sanity.colour_histogram(images, bins=4)
    assert torch.allclose(hist.sum(1), torch.ones(2))
    assert hist[0, 0] == 1 and hist[1, (3 * 4 + 0) * 4 + 0] == 1
    az = np.radians([0, 14.9, 15.1, 359, 180, -30])
    assert sanity.azimuth_bins(az, 12).tolist() == [0, 0, 1, 0, 6, 11]


# ------------------------------------------------------------------------------------------------ collapse monitors


def test_monitors_flag_both_collapse_modes():
    """A teacher whose features are the same for every image has uniform centred output (entropy log K) and no
    spread; a healthy random one is in between."""
    from robust3d.models.pretrain.dino import DINOLoss
    from robust3d.models.pretrain.train import DEFAULT_RECIPE, _build

    recipe = {**DEFAULT_RECIPE, **TINY_RECIPE}
    teacher = _build(TINY_VIT, recipe, 0).eval()
    loss = DINOLoss(recipe["out_dim"])
    images = _blobs(8).float() / 255
    k = math.log(recipe["out_dim"])
    teacher.encoder.forward = lambda x: torch.ones(x.shape[0], teacher.encoder.dim)  # every image, one point
    loss.center.copy_(teacher.head(torch.ones(1, teacher.encoder.dim)))
    collapsed = monitor(teacher, loss, images, 0.04, k, 28)
    assert collapsed["entropy_fraction"] == pytest.approx(1.0, abs=1e-4)
    assert collapsed["feature_std"] == pytest.approx(0.0, abs=1e-6)


def test_training_does_not_collapse_and_records_both_curves(tmp_path):
    _, record = pretrain(_blobs(16), TINY_VIT, TINY_RECIPE, tmp_path / "w.pt", progress=False)
    curves = record["monitor"]
    assert [c["step"] for c in curves] == list(range(record["total_steps"] + 1))
    assert len(record["loss"]) == record["total_steps"] == 4
    low, high = record["entropy_fraction_range"]
    assert low >= 0.05 and high <= 0.95, record["entropy_fraction_range"]
    assert record["feature_std_ratio_min"] >= 0.2


def test_student_sees_every_view_and_teacher_only_globals(tmp_path):
    """DINOStudent concatenates the logits of every view batch in order (globals first)."""
    from robust3d.models.pretrain.train import DEFAULT_RECIPE, _build

    student = _build(TINY_VIT, {**DEFAULT_RECIPE, **TINY_RECIPE}, 0).eval()
    glob, loc = torch.rand(4, 3, 28, 28), torch.rand(6, 3, 14, 14)
    both = student(glob, loc)
    assert both.shape == (10, TINY_RECIPE["out_dim"])
    assert torch.allclose(both[:4], student(glob), atol=1e-5)
    assert isinstance(student, DINOStudent)


def test_interrupted_run_resumes_bit_identically(tmp_path):
    images = _blobs(16)
    ref_enc, ref = pretrain(images, TINY_VIT, TINY_RECIPE, tmp_path / "ref.pt", progress=False)
    _, stopped = pretrain(images, TINY_VIT, TINY_RECIPE, tmp_path / "cut.pt", progress=False, stop_after=2)
    assert stopped["stopped"] and (tmp_path / "cut.pt.ckpt").exists()
    enc, resumed = pretrain(images, TINY_VIT, TINY_RECIPE, tmp_path / "cut.pt", progress=False)
    assert resumed["resumed_from"] == 2
    assert resumed["loss"] == ref["loss"] and resumed["monitor"] == ref["monitor"]
    a, b = enc.body.state_dict(), ref_enc.body.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    images = _blobs(16)
    pretrain(images, TINY_VIT, TINY_RECIPE, tmp_path / "w.pt", progress=False, stop_after=2)
    with pytest.raises(ValueError, match="another configuration"):
        pretrain(images, TINY_VIT, {**TINY_RECIPE, "lr": 0.02}, tmp_path / "w.pt", progress=False)


# ------------------------------------------------------------------------------------------------ the stage


def test_stage_weights_load_exactly_into_a_backbone_with_ssl_weights(tmp_path, smoke_dataset):
    """`weights: ssl:<name>` builds the paper's backbone holding the stage's teacher exactly."""
    import json

    from robust3d.models.backbones import build_backbone
    from robust3d.models.pretrain.stage import run_stage
    from robust3d.models.ssl_weights import ssl_weights_path

    out = ssl_weights_path(tmp_path, "tiny")
    train = smoke_dataset / "train" / "manifest.csv"
    record = run_stage("tiny", TINY_VIT, {**TINY_RECIPE, "epochs": 1}, [train], train,
                       smoke_dataset / "ood_pose" / "manifest.csv", out, progress=False)
    json.dumps(record)  # train.json must be plain JSON
    assert set(record["sanity"]) == {"pretrained", "random_init", "raw_pixels", "colour_histogram", "chance"}
    assert set(record["gates"]["margins"]) == {"knn_vs_random_init", "knn_vs_colour_histogram",
                                               "azimuth_probe_vs_random_init"}
    saved = torch.load(out, weights_only=True)["state_dict"]
    net = build_backbone({**TINY_VIT, "weights": "ssl:tiny"}, 8, ssl_root=tmp_path)
    held = net.vit.state_dict()
    assert set(held) == set(saved) and all(torch.equal(held[k], saved[k]) for k in saved)
    fresh = build_backbone({**TINY_VIT, "weights": None}, 8).vit.state_dict()
    assert not all(torch.equal(fresh[k], saved[k]) for k in saved)  # the comparison can fail


@pytest.mark.parametrize("arch", ["vit_small_patch14_dinov2", "vit_small_patch16_224"])
def test_layer_scale_init_keeps_the_architecture_a_paper_loads(arch):
    """DINOv2 ViTs have LayerScale (its gammas start at the recipe's value); DINO's ViT-S/16 has none and gets none,
    so `ssl:vit_s16` loads strictly into the plain ViT the template matcher builds."""
    from robust3d.models.backbones import build_backbone
    from robust3d.models.pretrain.encoder import SSLEncoder

    sizes = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    encoder = SSLEncoder("vit", arch, sizes, layer_scale_init=1.0)
    plain = build_backbone({"kind": "vit", "arch": arch, **sizes, "weights": None}, 8).vit
    assert set(encoder.body.state_dict()) == set(plain.state_dict())
    gammas = [p for n, p in encoder.body.named_parameters() if n.endswith("ls1.gamma")]
    assert all(torch.all(g == 1.0) for g in gammas) and bool(gammas) == ("dinov2" in arch)


def test_pool_refuses_test_splits(tmp_path, smoke_dataset):
    from robust3d.models.pretrain.stage import run_stage

    pose = smoke_dataset / "ood_pose" / "manifest.csv"
    with pytest.raises(ValueError, match="not allowed"):
        run_stage("tiny", TINY_VIT, TINY_RECIPE, [pose], pose, pose, tmp_path / "w.pt", progress=False)


def _pretrain_cli(config, pool, scored, out):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "robust3d", "pretrain", "--config", str(config), "--name", "tiny", "--pool",
           str(pool), "--memory-bank", str(pool), "--scored", str(scored), "--out", str(out), "--record",
           str(out.with_name("train.json"))]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    return subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_sigkill_then_rerun_gives_bit_identical_weights(tmp_path, smoke_config, smoke_dataset):
    import json
    import signal
    import time

    import yaml

    cfg = json.loads(json.dumps(smoke_config))
    cfg["pretrain"] = {"splits": ["train"], "backbones": {**cfg["pretrain"]["backbones"],  # (smoke's: its compnets
                                                          "tiny": {k: v for k, v in TINY_VIT.items()}},  # start there)
                       "recipe": {**TINY_RECIPE, "epochs": 10, "batch_size": 4, "checkpoint_every": 1}}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    pool, scored = smoke_dataset / "train" / "manifest.csv", smoke_dataset / "ood_pose" / "manifest.csv"

    reference = tmp_path / "reference" / "backbone.pt"
    reference.parent.mkdir()
    proc = _pretrain_cli(config, pool, scored, reference)
    assert proc.wait(timeout=600) == 0, proc.stdout.read()

    killed = tmp_path / "killed" / "backbone.pt"
    killed.parent.mkdir()
    ckpt = killed.with_name(killed.name + ".ckpt")
    proc = _pretrain_cli(config, pool, scored, killed)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "pretraining finished before a checkpoint could be interrupted"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not killed.exists()

    proc = _pretrain_cli(config, pool, scored, killed)
    assert proc.wait(timeout=600) == 0, proc.stdout.read()
    resumed = json.loads(killed.with_name("train.json").read_text())
    expected = json.loads(reference.with_name("train.json").read_text())
    assert resumed["resumed_from"] > 0, "the rerun restarted instead of resuming"
    assert resumed["loss"] == expected["loss"]
    a = torch.load(killed, weights_only=True)["state_dict"]
    b = torch.load(reference, weights_only=True)["state_dict"]
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["sanity"] == expected["sanity"]
    assert not ckpt.exists()
