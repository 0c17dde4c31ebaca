"""Procedural backgrounds with clutter, in families; one family is held out for the context OOD split."""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_FAMILIES = ("blobs", "shapes", "lines", "plain")
HELD_OUT_BACKGROUNDS = ("grid",)


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    small = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def render_background(family: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size, 3)`` float32 image in [0, 1]."""
    base = np.array(rng.uniform(0.2, 0.8, 3), np.float32)
    img = np.ones((size, size, 3), np.float32) * base
    if family == "plain":  # one colour, as template renders and Unsup3D's synthetic data use
        return img
    img = 0.6 * img + 0.4 * _smooth_noise(rng, size, int(rng.integers(2, 5)))
    thick = max(1, size // 64)
    if family == "blobs":
        img = 0.5 * img + 0.5 * _smooth_noise(rng, size, int(rng.integers(4, 9)))
    elif family == "shapes":
        for _ in range(int(rng.integers(6, 14))):
            color = tuple(float(c) for c in rng.uniform(0, 1, 3))
            c = tuple(int(v) for v in rng.integers(0, size, 2))
            r = int(rng.integers(size // 20, size // 5))
            if rng.random() < 0.5:
                cv2.circle(img, c, r, color, -1, lineType=cv2.LINE_AA)
            else:
                cv2.rectangle(img, c, (c[0] + r, c[1] + int(r * rng.uniform(0.5, 2))), color, -1)
    elif family == "lines":
        for _ in range(int(rng.integers(8, 20))):
            color = tuple(float(c) for c in rng.uniform(0, 1, 3))
            p1, p2 = (tuple(int(v) for v in rng.integers(-size // 4, size * 5 // 4, 2)) for _ in range(2))
            cv2.line(img, p1, p2, color, thick * int(rng.integers(1, 4)), lineType=cv2.LINE_AA)
    elif family == "grid":  # held out: a regular tiled floor/wall, unlike any training background
        step = int(rng.integers(size // 10, size // 5))
        color = np.array(rng.uniform(0, 1, 3), np.float32)
        yy, xx = np.mgrid[0:size, 0:size]
        tiles = ((yy // step + xx // step) % 2).astype(np.float32)[..., None]
        img = img * (1 - 0.6 * tiles) + 0.6 * tiles * color
    else:
        raise ValueError(f"unknown background family '{family}'")
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return img.clip(0, 1)
