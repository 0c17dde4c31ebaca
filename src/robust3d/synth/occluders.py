"""Partial occlusion for template-matching queries: textured shapes pasted over part of the object.

Like OccludedPASCAL3D+, a shape is placed over the object and re-drawn until the share of the object it
covers falls in the target range; the closest attempt is kept if none does.
"""

from __future__ import annotations

import cv2
import numpy as np

from robust3d.synth.backgrounds import render_background


def _random_shape(size: int, centre: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    if rng.random() < 0.5:
        axes = (max(1, int(scale * rng.uniform(0.5, 1.0))), max(1, int(scale * rng.uniform(0.3, 0.8))))
        cv2.ellipse(mask, tuple(int(c) for c in centre), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        n = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = scale * rng.uniform(0.5, 1.0, n)
        pts = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], -1)
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1)
    return mask.astype(bool)


def occlude(rgb: np.ndarray, object_mask: np.ndarray, rng: np.random.Generator,
            coverage: tuple[float, float] = (0.1, 0.4), attempts: int = 30) -> tuple[np.ndarray, np.ndarray, float]:
    """Paste one textured shape covering a share of ``object_mask`` within ``coverage``.

    Returns the occluded image, the occluder mask and the covered share of the object.
    """
    size = rgb.shape[0]
    area = object_mask.sum()
    if area == 0:
        return rgb, np.zeros_like(object_mask), 0.0
    ys, xs = np.nonzero(object_mask)
    target = float(np.mean(coverage))
    best, best_gap = None, np.inf
    for _ in range(attempts):
        i = int(rng.integers(len(xs)))
        centre = np.array([xs[i], ys[i]], float)
        scale = np.sqrt(area * rng.uniform(coverage[0], coverage[1]) * 2)
        shape = _random_shape(size, centre, scale, rng)
        share = float((shape & object_mask).sum() / area)
        gap = 0.0 if coverage[0] <= share <= coverage[1] else min(abs(share - coverage[0]), abs(share - coverage[1]))
        if gap < best_gap or (gap == best_gap == 0.0 and abs(share - target) < abs(best[1] - target)):
            best, best_gap = (shape, share), gap
        if gap == 0.0 and abs(share - target) < 0.05:
            break
    shape, share = best
    fill = (render_background(str(rng.choice(["shapes", "lines", "blobs"])), size, rng) * 255).astype(np.uint8)
    out = rgb.copy()
    out[shape] = fill[shape]
    return out, shape, share
