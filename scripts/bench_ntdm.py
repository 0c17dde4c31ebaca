"""Benchmark NTDM (paper 2): inference seconds per image by phase, batched + cached vs naive, training step, memory.

    python scripts/bench_ntdm.py [--classes 12] [--images 64] [--steps 10] [--size 16] [--naive-images 2]
                                 [--repeats 3] [--train-repeats 2] [--threads 2]

Everything is synthetic (no dataset, no trained model): a bank of ``--classes`` random deformable meshes
(``DeformNet``, icosphere level 3, k = 4 CAD latents, the embedded mesh MLP) with smooth random unit textures
(b = 7 bins, q = 32, d = 64) and 512 background features, and ``--images`` feature maps rendered from the bank itself
(random class, one-hot latent, instance scale and pose, background features elsewhere) seen by the embedded
camera at ``--size`` x ``--size`` cells (distance 5, focal 500 / 8, the principal point at the centre).

1. **Inference, seconds per image by phase** (a batch of ``--images``, as ``ntdm.predict`` runs with
   ``classify_top: 1``): the backbone (the ResNetExt ResNet-18, random weights, on 128 px images), start scoring
   (every class's cached starts, ``start_losses`` min), refinement (``fit_class`` of the ground-truth class,
   ``--steps`` Adam steps, one call per class present), classification (refining the best-start class where it is
   not the ground truth); the one-off start-cache renders are reported per class and amortised over the batch.
2. **Batched + cached vs naive**: naive fits one image at a time and renders all 144 x k starts of its class anew
   (a fresh ``StartCache`` per image); batched shares one cache and fits all images of a class at once. Seconds
   per image, the speed-up, and the largest difference between the two fits (the refinement is per-parameter Adam,
   so it should match one image at a time). Naive is timed on the first ``--naive-images`` images only (each
   renders 576 starts: ~2.7 s an image on 2 idle cores, 3 minutes for all 64).
3. **Training step**: NTDM (backbone forward/backward on 16 images, splat of features + alpha onto the texture
   plane, Eq. 8 with 128 positives / 256 negatives / 256 class negatives, texture momentum step) against a
   NeMo-like step on the same backbone (NeMo's within-class contrast, ``contrastive_loss("nemo")``, on 200
   visible vertices per image, vertex-bank momentum step); the overhead of NTDM's step.
4. **Memory** of the textures (embedded and paper sizes) and of the start cache.

Timings are medians of ``--repeats`` (training: ``--train-repeats``) runs after a warm-up; the slow inference phases
(refinement, classification, cache renders, naive) run once after a small warm-up call. Each figure comes with
this process's CPU seconds, which other jobs on a shared machine inflate far less than the wall time. The default
run takes about a minute on 2 idle cores (4-5 minutes when other jobs load them), most of it the 12 classes'
start-cache renders.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from robust3d.models.neural_mesh.inference import FeatureCamera, initial_pose_grid
from robust3d.models.ntdm.deform import DeformNet
from robust3d.models.ntdm.inference import (
    Fit,
    InferenceOptions,
    StartCache,
    TexturedMeshes,
    clutter_score,
    fit_class,
    render,
    start_losses,
)
from robust3d.models.ntdm.texture import texture_bytes
from robust3d.render.uv import bin_rotations

PAPER_SECONDS = 6.0  # NTDM paper: seconds per image of inference on one RTX Titan
GOAL_SECONDS = 0.5
GOAL_SPEEDUP = 5.0
GOAL_OVERHEAD = 30.0
K_LATENT = 4
BINS, TEX_SIZE, DIM = 7, 32, 64
N_BACKGROUND = 512
BACKBONE = {"kind": "resnetext", "arch": "resnet18", "weights": None}


@dataclass(frozen=True)
class Seconds:
    """Wall-clock seconds and this process's CPU seconds (all threads). On a shared machine the wall time grows
    with the other jobs' load while the CPU time stays near the work done (``cpu / threads`` is about the wall
    time of an idle machine when the threads keep busy)."""

    wall: float
    cpu: float

    def __add__(self, other: Seconds) -> Seconds:
        return Seconds(self.wall + other.wall, self.cpu + other.cpu)

    def __truediv__(self, n: float) -> Seconds:
        return Seconds(self.wall / n, self.cpu / n)

    def fmt(self, digits: int = 4) -> str:
        return f"{self.wall:.{digits}f} s (cpu {self.cpu:.{digits}f})"


ZERO = Seconds(0.0, 0.0)


def measure(fn: Callable[[], object]) -> tuple[object, Seconds]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, Seconds(time.perf_counter() - wall, time.process_time() - cpu)


def median(samples: list[Seconds]) -> Seconds:
    return Seconds(statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples))


def timed(fn: Callable[[], object], repeats: int, warmup: Callable[[], object] | None = None) -> Seconds:
    """Median of ``repeats`` calls of ``fn`` after one warm-up call (of ``warmup`` when given: a cheaper call
    that pays the same first-call costs)."""
    (warmup or fn)()
    return median([measure(fn)[1] for _ in range(repeats)])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def smooth_textures(n_classes: int, gen: torch.Generator) -> torch.Tensor:
    """Random unit textures ``(Y, b, d, q, q)``, blurred and alike across bins (as learned ones are), as in
    tests/test_ntdm_inference.py."""
    base = torch.randn(n_classes, 1, DIM, TEX_SIZE, TEX_SIZE, generator=gen)
    raw = (base + 0.3 * torch.randn(n_classes, BINS, DIM, TEX_SIZE, TEX_SIZE, generator=gen)).reshape(
        -1, DIM, TEX_SIZE, TEX_SIZE)
    kernel = torch.ones(DIM, 1, 5, 5) / 25.0
    padded = F.pad(F.pad(raw, (2, 2, 0, 0), mode="circular"), (0, 0, 2, 2), mode="replicate")
    smooth = F.conv2d(padded, kernel, groups=DIM)
    return F.normalize(smooth.reshape(n_classes, BINS, DIM, TEX_SIZE, TEX_SIZE), dim=2)


def synthetic_bank(n_classes: int, seed: int = 0) -> TexturedMeshes:
    """Embedded-size meshes (icosphere level 3, MLP 128 x 3, k = 4) of different proportions per class."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    meshes = []
    for c in range(n_classes):
        t = c / max(n_classes - 1, 1)
        net = DeformNet(K_LATENT, template_level=3, width=128, layers=3,
                        init_scale=(0.5 + 0.6 * t, 0.45 + 0.2 * math.sin(3 * c), 0.3 + 0.4 * (1 - t)))
        torch.nn.init.xavier_uniform_(net.mlp[-1].weight, gain=0.6)  # latents give visibly different shapes
        meshes.append(net.eval().requires_grad_(False))
    background = F.normalize(torch.randn(N_BACKGROUND, DIM, generator=gen), dim=1)
    return TexturedMeshes([f"class{c}" for c in range(n_classes)], meshes, smooth_textures(n_classes, gen),
                          background, bin_rotations(BINS, 60.0), 5.0)


def random_poses(n: int, gen: torch.Generator) -> torch.Tensor:
    """Azimuth in [0, 2 pi), elevation in [-10, 40] deg, theta in [-15, 15] deg: ``(n, 3)``."""
    deg = math.pi / 180
    return torch.stack([torch.rand(n, generator=gen) * 2 * math.pi, (torch.rand(n, generator=gen) * 50 - 10) * deg,
                        (torch.rand(n, generator=gen) * 30 - 15) * deg], 1)


def synthetic_images(bank: TexturedMeshes, n: int, camera: FeatureCamera, seed: int = 1):
    """``(feature maps (n, d, h, w) unit per cell, classes (n,), poses (n, 3))``: each map the bank's own render of
    its class (one-hot latent, instance scale in [0.9, 1.1]) over random background features."""
    gen = torch.Generator().manual_seed(seed)
    classes = torch.arange(n) % len(bank.classes)
    classes = classes[torch.randperm(n, generator=gen)]
    poses = random_poses(n, gen)
    latents = torch.eye(K_LATENT)[torch.randint(0, K_LATENT, (n,), generator=gen)]
    scales = 0.9 + 0.2 * torch.rand(n, 3, generator=gen)
    maps = torch.zeros(n, DIM, *camera.size)
    with torch.no_grad():
        for y in torch.unique(classes).tolist():
            rows = (classes == y).nonzero().squeeze(1)
            out = render(bank, y, latents[rows], scales[rows], poses[rows], camera)
            idx = torch.randint(0, len(bank.background), (len(rows), *camera.size), generator=gen)
            bg = bank.background[idx].permute(0, 3, 1, 2)
            maps[rows] = F.normalize(torch.where(out.covered[:, None], out.features, bg), dim=1)
    return maps, classes, poses


def fit_by_class(fmaps: torch.Tensor, target: torch.Tensor, bank: TexturedMeshes, camera: FeatureCamera,
                 cache: StartCache, opts: InferenceOptions, bg: torch.Tensor) -> Fit:
    """``fit_class`` of each image's ``target`` class, one call per class (as ``predict`` fits a batch)."""
    n = len(fmaps)
    out = Fit(torch.zeros(n, 3), torch.zeros(n, K_LATENT), torch.ones(n, 3), torch.zeros(n), torch.zeros(n))
    for y in torch.unique(target).tolist():
        rows = (target == y).nonzero().squeeze(1)
        fit = fit_class(fmaps[rows], y, bank, camera, cache, opts, bg[rows])
        out.pose[rows], out.latent[rows], out.scale[rows] = fit.pose, fit.latent, fit.scale
        out.loss[rows], out.start_loss[rows] = fit.loss, fit.start_loss
    return out


def inference(args: argparse.Namespace, bank: TexturedMeshes, camera: FeatureCamera) -> dict:
    from robust3d.geometry import pose_error
    from robust3d.models.backbones import build_backbone

    n = args.images
    opts = InferenceOptions(steps=args.steps, lr=0.05, classify_top=1)
    fmaps, classes, poses = synthetic_images(bank, n, camera)
    print(f"\n1. inference: {n} images (batch {n}), {args.classes} classes, {args.steps} refinement steps, "
          f"{args.size} x {args.size} feature maps, 144 poses x k = {K_LATENT} latents = "
          f"{144 * K_LATENT} starts per class")

    net = build_backbone(BACKBONE, DIM).eval()
    images = torch.rand(n, 3, 8 * args.size, 8 * args.size)
    with torch.no_grad():
        backbone_s = timed(lambda: net(images), args.repeats, lambda: net(images[:2]))

    cache = StartCache(initial_pose_grid())
    render(bank, 0, torch.eye(K_LATENT)[:2], torch.ones(2, 3), poses[:2], camera)  # warm-up
    per_class = [measure(lambda y=y: cache.get(bank, y, camera, opts.latent_init, opts.chunk))[1]
                 for y in range(args.classes)]

    bg = clutter_score(fmaps, bank, opts.clutter)

    def score_starts() -> torch.Tensor:  # as predict: beta once, then every class's cached starts
        beta = clutter_score(fmaps, bank, opts.clutter)
        cols = []
        for y in range(args.classes):
            renders, covered, _, _ = cache.get(bank, y, camera, opts.latent_init, opts.chunk)
            cols.append(start_losses(fmaps, beta, renders, covered, opts.background).amin(1))
        return torch.stack(cols, 1)

    scoring_s = timed(score_starts, args.repeats)
    best_start = score_starts().argmin(1)

    warm = InferenceOptions(steps=1, classify_top=1)
    fit_class(fmaps[:2], 0, bank, camera, cache, warm, bg[:2])  # warm-up: the autograd path
    batched, refine_s = measure(lambda: fit_by_class(fmaps, classes, bank, camera, cache, opts, bg))

    wrong = (best_start != classes).nonzero().squeeze(1)
    other, classify_s = measure(lambda: fit_by_class(fmaps[wrong], best_start[wrong], bank, camera, cache, opts,
                                                     bg[wrong]) if len(wrong) else None)
    pred = classes.clone()
    if other is not None:  # predict's rule: the lowest final loss of the refined candidates (GT and best start)
        pred[wrong] = torch.where(other.loss < batched.loss[wrong], best_start[wrong], classes[wrong])

    cache_s = sum(per_class, ZERO)
    phases = {"backbone": backbone_s / n, "start scoring": scoring_s / n, "refinement": refine_s / n,
              "classification": classify_s / n}
    total = sum(phases.values(), ZERO)
    for name, s in phases.items():
        extra = ""
        if name == "classification":
            extra = f"  ({len(wrong)} of {n} images' best start is not their class)"
        elif name == "refinement":
            extra = f"  ({len(torch.unique(classes))} fit_class calls, one per class present)"
        print(f"  {name:15s} {s.fmt()} /image{extra}")
    print(f"  {'total':15s} {total.fmt()} /image, warm start cache   [goal <= {GOAL_SECONDS} s/image]")
    print(f"  {'paper':15s} {PAPER_SECONDS:.1f} s/image: the NTDM paper's figure (one RTX Titan, its sizes), "
          "not measured here")
    print(f"  start-cache renders, once per (class, camera): {cache_s.fmt(2)} for {args.classes} classes "
          f"({(cache_s / args.classes).wall:.2f} s a class; {(cache_s / n).wall:.3f} s/image amortised over this "
          f"batch, total {(total + cache_s / n).wall:.4f} s/image with it)")
    print("    per class, wall s: " + " ".join(f"{s.wall:.2f}" for s in per_class))
    print("    per class, cpu s:  " + " ".join(f"{s.cpu:.2f}" for s in per_class))
    err = pose_error(tuple(batched.pose.T), tuple(poses.T))
    print(f"  sanity on these self-rendered maps: pose error median {float(err.median()) * 180 / math.pi:.1f} deg, "
          f"acc pi/6 {float((err < math.pi / 6).double().mean()):.2f}, class acc (best start) "
          f"{float((best_start == classes).double().mean()):.2f}, (after refinement) "
          f"{float((pred == classes).double().mean()):.2f}")
    return {"fmaps": fmaps, "classes": classes, "bg": bg, "cache": cache, "opts": opts, "batched": batched,
            "refine_s": refine_s, "cache_s": cache_s, "n": n}


def naive_vs_batched(args: argparse.Namespace, bank: TexturedMeshes, camera: FeatureCamera, inf: dict) -> None:
    fmaps, classes, bg, opts, batched = inf["fmaps"], inf["classes"], inf["bg"], inf["opts"], inf["batched"]
    m = min(args.naive_images, len(fmaps))
    print(f"\n2. batched + cached vs naive per image (refinement of the ground-truth class, {args.steps} steps)")
    naive, naive_s = measure(lambda: [fit_class(fmaps[i:i + 1], int(classes[i]), bank, camera,
                                                StartCache(initial_pose_grid()), opts, bg[i:i + 1]) for i in range(m)])
    naive_s = naive_s / m
    batched_s = inf["refine_s"] / inf["n"]
    amortised = batched_s + inf["cache_s"] / inf["n"]
    d_az = torch.stack([n.pose[0, 0] for n in naive]) - batched.pose[:m, 0]
    d_az = (torch.remainder(d_az + math.pi, 2 * math.pi) - math.pi).abs().max()
    diffs = {
        "pose": max(float(d_az), float((torch.cat([n.pose[:, 1:] for n in naive]) - batched.pose[:m, 1:]).abs().max())),
        "latent": float((torch.cat([n.latent for n in naive]) - batched.latent[:m]).abs().max()),
        "scale": float((torch.cat([n.scale for n in naive]) - batched.scale[:m]).abs().max()),
        "loss": float((torch.cat([n.loss for n in naive]) - batched.loss[:m]).abs().max()),
        "start loss": float((torch.cat([n.start_loss for n in naive]) - batched.start_loss[:m]).abs().max()),
    }
    print(f"  naive (fresh cache: {144 * K_LATENT} start renders per image, batch 1), timed on {m} images: "
          f"{naive_s.fmt(3)} /image")
    print(f"  batched + cached ({inf['n']} images, one cache): {batched_s.fmt()} /image warm cache; "
          f"{amortised.fmt()} /image with all {args.classes} classes' cache renders amortised over this batch")
    print(f"  speed-up, wall: {naive_s.wall / batched_s.wall:.1f}x warm, {naive_s.wall / amortised.wall:.1f}x "
          f"amortised; cpu: {naive_s.cpu / batched_s.cpu:.1f}x warm, {naive_s.cpu / amortised.cpu:.1f}x amortised "
          f"[goal >= {GOAL_SPEEDUP:.0f}x]")
    worst = max(diffs.values())
    print("  max |naive - batched| over those images: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
          + f"  [{'ok' if worst <= 1e-5 else 'ABOVE'} the 1e-5 bound]")


def training(args: argparse.Namespace, bank: TexturedMeshes, camera: FeatureCamera) -> None:
    from robust3d.models.backbones import build_backbone
    from robust3d.models.neural_mesh.bank import FeatureBank, sample_background_cells
    from robust3d.models.neural_mesh.losses import contrastive_loss
    from robust3d.models.ntdm.loss import ntdm_loss, sample_negatives
    from robust3d.models.ntdm.texture import NeuralTextures, texel_directions
    from robust3d.render.features import MeshBatch, rasterize_vertices
    from robust3d.render.uv import splat_to_texture, surface_geometry, view_coefficients

    batch, positives, negatives, class_negatives, vertices = 16, 128, 256, 256, 200
    gen = torch.Generator().manual_seed(2)
    classes = torch.randint(0, args.classes, (batch,), generator=gen)
    poses = random_poses(batch, gen)
    uv = torch.zeros(batch, *camera.size, 2)
    tp = torch.zeros(batch, *camera.size, 3)
    covered = torch.zeros(batch, *camera.size, dtype=torch.bool)
    alpha = torch.zeros(batch, BINS, *camera.size)
    with torch.no_grad():  # per sample once (train.sample_surfaces): not part of a step
        for i in range(batch):
            net = bank.meshes[int(classes[i])]
            mesh = MeshBatch.build(net(torch.eye(K_LATENT)[i % K_LATENT][None]), net.faces, 1)
            a, e, t = (poses[i:i + 1, j] for j in range(3))
            frags = rasterize_vertices(mesh, a, e, t, camera.distance, camera.focal, camera.principal, camera.size)
            geo = surface_geometry(mesh, frags, net.template, a, e, camera.distance)
            uv[i], tp[i], covered[i] = geo.uv[0], geo.template_point[0], geo.foreground[0]
            alpha[i] = view_coefficients(geo.normal, geo.to_camera, bank.rotations, bank.alpha_temperature)[0]
    textures = NeuralTextures(args.classes, BINS, DIM, TEX_SIZE, 0.9, generator=gen)
    background = FeatureBank([1], DIM, N_BACKGROUND, 0.0, generator=gen)
    vbank = FeatureBank([vertices] * args.classes, DIM, N_BACKGROUND, 0.9, generator=gen)
    texel_dirs = texel_directions(TEX_SIZE).reshape(-1, 3)
    torch.manual_seed(0)
    net = build_backbone(BACKBONE, DIM).train()
    images = torch.rand(batch, 3, 8 * args.size, 8 * args.size)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    allowed_bg = ~covered.flatten(1)
    seen_counts = []

    def ntdm_step() -> None:
        fmap = F.normalize(net(images), dim=1)
        splat, seen = splat_to_texture(torch.cat([fmap, alpha], 1), uv, tp, covered, TEX_SIZE, 1.0)
        seen_counts.append(float(seen.flatten(1).sum(1).float().mean()))
        img, texel = sample_background_cells(seen.flatten(1), positives, gen)
        flat = splat.flatten(2)
        f = F.normalize(flat[img, :DIM, texel], dim=-1)
        a = flat[img, DIM:, texel]
        a = a / a.sum(-1, keepdim=True).clamp_min(1e-8)
        neg, cneg = sample_negatives(args.classes, TEX_SIZE, negatives, class_negatives, gen)
        loss = ntdm_loss(f, a, classes[img], texel, textures.textures, background.background, texel_dirs,
                         temperature=0.07, tau=0.2, negatives=neg, class_negatives=cneg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        textures.update(splat[:, :DIM].detach(), splat[:, DIM:].detach(), seen, classes)
        b_img, b_cell = sample_background_cells(allowed_bg, 5, gen)
        background.push_background(fmap.detach().flatten(2)[b_img, :, b_cell])

    def nemo_step() -> None:
        fmap = F.normalize(net(images), dim=1)
        # every one of the class's K vertices visible once per image, each at a random covered cell
        cell = torch.multinomial(covered.flatten(1).float(), vertices, replacement=True, generator=gen).reshape(-1)
        img = torch.arange(batch).repeat_interleave(vertices)
        vertex = torch.rand(batch, vertices, generator=gen).argsort(1).reshape(-1)
        f = fmap.flatten(2)[img, :, cell]
        b_img, b_cell = sample_background_cells(allowed_bg, 5, gen)
        clutter = fmap.flatten(2)[b_img, :, b_cell]
        loss = contrastive_loss("nemo", f, classes[img], vertex, vbank.features, vbank.n_vertices,
                                vbank.background, 0.07, background_weight=0.005, clutter=clutter, regularizer=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        vbank.update_vertices(f.detach(), classes[img], vertex)
        vbank.push_background(clutter.detach())
        nemo_rows.append(len(img))

    def backbone_step() -> None:
        loss = F.normalize(net(images), dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    nemo_rows: list[int] = []
    steps = {"ntdm": ntdm_step, "nemo": nemo_step, "backbone": backbone_step}
    for fn in steps.values():  # warm-up
        fn()
    samples: dict[str, list[Seconds]] = {k: [] for k in steps}
    for _ in range(args.train_repeats):  # interleaved, so a change in the machine's load hits every kind alike
        for k, fn in steps.items():
            samples[k].append(measure(fn)[1])
    ntdm_s, nemo_s, plain_s = (median(samples[k]) for k in steps)
    print(f"\n3. training step, batch {batch} of {8 * args.size} px images, the same ResNetExt ResNet-18 (random "
          f"weights, float32), Adam")
    print(f"  backbone forward/backward alone (mean-feature loss): {plain_s.fmt(3)} /step")
    print(f"  NeMo-like (contrastive_loss 'nemo' on {nemo_rows[-1] / batch:.0f} vertices per image, K = {vertices} "
          f"per class, bank momentum step): {nemo_s.fmt(3)} /step")
    print(f"  NTDM (splat of d + b = {DIM + BINS} channels to {TEX_SIZE} x {TEX_SIZE}, {positives} positives / "
          f"{negatives} negatives / {class_negatives} class negatives, texture update): {ntdm_s.fmt(3)} /step; "
          f"{statistics.mean(seen_counts):.0f} texels seen per image")
    over_wall = 100 * (ntdm_s.wall - nemo_s.wall) / nemo_s.wall
    over_cpu = 100 * (ntdm_s.cpu - nemo_s.cpu) / nemo_s.cpu
    print(f"  NTDM overhead over NeMo-like: {over_wall:+.1f}% wall, {over_cpu:+.1f}% cpu [goal < {GOAL_OVERHEAD:.0f}%];"
          f" over the backbone alone (wall): NTDM {ntdm_s.wall - plain_s.wall:+.3f} s, NeMo-like "
          f"{nemo_s.wall - plain_s.wall:+.3f} s")
    print(f"    medians of {args.train_repeats} interleaved rounds; wall per round, ntdm / nemo / backbone: "
          + "; ".join(" / ".join(f"{samples[k][r].wall:.2f}" for k in steps) for r in range(args.train_repeats)))


def memory(args: argparse.Namespace, cache: StartCache | None) -> None:
    print("\n4. texture memory (float32)")
    for label, (bins, q, d) in (("embedded (b = 7, q = 32, d = 64)", (BINS, TEX_SIZE, DIM)),
                                ("paper (b = 7, q = 256, d = 128)", (7, 256, 128))):
        one, many = texture_bytes(1, bins, d, q), texture_bytes(args.classes, bins, d, q)
        print(f"  {label:34s} {one / 1e6:9.2f} MB a class, {many / 1e6:9.1f} MB for {args.classes} classes "
              f"({many / 1e9:.2f} GB)")
    print("  (paper: 7 x 256 x 256 x 128 x 4 B = 235 MB a class, 2.8 GB for 12)")
    if cache is not None:
        print(f"  start cache of this run ({len(cache._store)} classes x {144 * K_LATENT} starts, d x h x w "
              f"renders + coverage): {cache.nbytes / 1e6:.1f} MB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", type=int, default=12)
    p.add_argument("--images", type=int, default=64, help="the batch (ntdm.inference.batch_size)")
    p.add_argument("--steps", type=int, default=10, help="refinement steps (ntdm.inference.steps)")
    p.add_argument("--size", type=int, default=16, help="feature-map cells per side (128 px images at stride 8)")
    p.add_argument("--naive-images", type=int, default=2, help="images the naive per-image version is timed on")
    p.add_argument("--repeats", type=int, default=3, help="repeats of the fast inference timings (median)")
    p.add_argument("--train-repeats", type=int, default=2, help="repeats of each training step (median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--skip", nargs="*", default=[], choices=["inference", "training"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"({len(os.sched_getaffinity(0))} cores visible, load average {os.getloadavg()[0]:.2f}); synthetic inputs; "
          f"d = {DIM}, q = {TEX_SIZE}, b = {BINS}, icosphere level 3, k = {K_LATENT}")
    h = args.size
    camera = FeatureCamera(distance=5.0, focal=500.0 / 8, principal=(h / 2, h / 2), size=(h, h))
    bank = synthetic_bank(args.classes)
    cache = None
    if "inference" not in args.skip:
        inf = inference(args, bank, camera)
        cache = inf["cache"]
        if args.naive_images > 0:
            naive_vs_batched(args, bank, camera, inf)
    if "training" not in args.skip:
        training(args, bank, camera)
    memory(args, cache)
    print(f"\n{time.perf_counter() - started:.0f} s in all; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
