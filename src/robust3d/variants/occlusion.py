"""Occlusion following OccludedPASCAL3D+: paste occluders until object and background coverage hit targets.

A level is a target share of the object (foreground) and of the background to cover, with a tolerance
(OccludedPASCAL3D+: targets {0.3, 0.5, 0.7} x {0.1, 0.3, 0.5}, +-0.1; 3D-CompNets' L1-L3 are about
(10%, 30%), (30%, 50%), (50%, 70%) of (object, background)). Occluders are pasted greedily where the
larger deficit is (object or background), several attempts are made, and the attempt closest to the target
box is kept, as CreateOccludedDataset.py keeps the closest of its 40 attempts.

Occluders on synthetic data are renders of out-of-interest objects (procedural categories the benchmark does
not use) and textured patches; on real data, the OccludedPASCAL3D+ occluder library.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from robust3d.synth.backgrounds import render_background


@dataclass(frozen=True)
class OcclusionLevel:
    name: str
    object: float  # target share of the object covered
    background: float  # target share of the background covered
    tolerance: float = 0.1

    def contains(self, fg: float, bg: float) -> bool:
        return abs(fg - self.object) <= self.tolerance and abs(bg - self.background) <= self.tolerance

    def distance(self, fg: float, bg: float) -> float:
        """How far (fg, bg) lies outside the target box (0 inside)."""
        dx = max(0.0, abs(fg - self.object) - self.tolerance)
        dy = max(0.0, abs(bg - self.background) - self.tolerance)
        return float(np.hypot(dx, dy))


@dataclass(frozen=True)
class Occluder:
    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) bool

    @property
    def area(self) -> int:
        return int(self.alpha.sum())


def synthetic_occluders(n: int, seed: int, size: int = 96) -> list[Occluder]:
    """Out-of-interest objects (procedural categories 900+, never in the benchmark) and textured patches."""
    from robust3d.render.scene import SceneSpec, render_scenes
    from robust3d.synth.categories import build_instances
    from robust3d.synth.textures import FAMILIES, sample_texture

    rng = np.random.default_rng(seed)
    occluders: list[Occluder] = []
    n_objects = (n + 1) // 2
    scenes = []
    for i in range(n_objects):
        mesh = build_instances(f"proc{900 + i % 100:03d}", 1, seed=int(rng.integers(2**31)))[0]
        texture = sample_texture(str(rng.choice(FAMILIES)), float(rng.uniform()), rng)
        scenes.append(SceneSpec(
            verts=torch.from_numpy(mesh.verts), faces=torch.from_numpy(mesh.faces), texture=texture,
            azimuth=float(rng.uniform(0, 2 * np.pi)), elevation=float(rng.uniform(-0.3, 1.0)),
            theta=float(rng.uniform(-0.5, 0.5)), distance=5.0, background=np.zeros((size, size, 3), np.float32),
        ))
    out = render_scenes(scenes, 1.0, size * 4.0, size)
    for b in range(n_objects):
        ys, xs = np.nonzero(out.mask[b])
        if len(xs) < 16:
            continue
        crop = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        occluders.append(Occluder(out.rgb[b][crop].copy(), out.mask[b][crop].copy()))
    while len(occluders) < n:
        occluders.append(_patch(size, rng))
    return occluders


def _patch(size: int, rng: np.random.Generator) -> Occluder:
    """A textured convex-ish polygon or ellipse."""
    alpha = np.zeros((size, size), np.uint8)
    c = size / 2
    if rng.random() < 0.5:
        axes = (int(size * rng.uniform(0.25, 0.5)), int(size * rng.uniform(0.15, 0.45)))
        cv2.ellipse(alpha, (int(c), int(c)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        k = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = size * rng.uniform(0.25, 0.5, k)
        pts = np.stack([c + r * np.cos(angles), c + r * np.sin(angles)], -1).astype(np.int32)
        cv2.fillPoly(alpha, [pts], 1)
    ys, xs = np.nonzero(alpha)
    crop = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    rgb = (render_background(str(rng.choice(["shapes", "lines", "blobs"])), size, rng) * 255).astype(np.uint8)
    return Occluder(rgb[crop], alpha[crop].astype(bool))


def _place(canvas: np.ndarray, occ_mask: np.ndarray, occluder: Occluder, centre: tuple[int, int],
           area: float) -> None:
    """Paste ``occluder`` scaled to about ``area`` pixels, centred at ``centre`` (x, y), in place."""
    scale = float(np.sqrt(max(area, 4.0) / max(occluder.area, 1)))
    h, w = occluder.alpha.shape
    nh, nw = max(2, round(h * scale)), max(2, round(w * scale))
    rgb = cv2.resize(occluder.rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    alpha = cv2.resize(occluder.alpha.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST).astype(bool)
    H, W = occ_mask.shape
    x0, y0 = centre[0] - nw // 2, centre[1] - nh // 2
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    dx1, dy1 = min(W, x0 + nw), min(H, y0 + nh)
    if dx1 <= dx0 or dy1 <= dy0:
        return
    region = np.s_[dy0:dy1, dx0:dx1]
    sub = np.s_[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
    a = alpha[sub]
    canvas[region][a] = rgb[sub][a]
    occ_mask[region] |= a


def occlude_to_level(image: np.ndarray, object_mask: np.ndarray, level: OcclusionLevel,
                     occluders: list[Occluder], rng: np.random.Generator, attempts: int = 12,
                     max_occluders: int = 16) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Occlude ``image`` towards ``level``; returns (image, occluder mask, object share, background share)."""
    obj = object_mask.astype(bool)
    n_obj, n_bg = int(obj.sum()), int((~obj).sum())
    if n_obj == 0:
        raise ValueError("cannot occlude an image whose object mask is empty")
    best = None
    for _ in range(attempts):
        canvas, occ = image.copy(), np.zeros_like(obj)
        fg = bg = 0.0
        for k in range(max_occluders):
            need_fg = level.object - fg
            need_bg = level.background - bg if n_bg else 0.0
            if level.contains(fg, bg) and abs(need_fg) < level.tolerance / 2 and abs(need_bg) < level.tolerance / 2:
                break
            if need_fg <= 0 and need_bg <= 0:
                break
            on_object = k == 0 or need_fg * n_obj >= need_bg * n_bg  # the first one always sits on the object
            pool = np.flatnonzero((obj if on_object else ~obj) & ~occ)
            if len(pool) == 0:
                break
            y, x = np.unravel_index(int(rng.choice(pool)), obj.shape)
            area = (need_fg * n_obj if on_object else need_bg * n_bg) * rng.uniform(0.6, 1.1)
            _place(canvas, occ, occluders[int(rng.integers(len(occluders)))], (int(x), int(y)), area)
            fg, bg = (occ & obj).sum() / n_obj, ((occ & ~obj).sum() / n_bg if n_bg else 0.0)
        d = level.distance(fg, bg)
        if best is None or d < best[0]:
            best = (d, canvas, occ, float(fg), float(bg))
        if d == 0.0:
            break
    _, canvas, occ, fg, bg = best
    return canvas, occ, fg, bg
