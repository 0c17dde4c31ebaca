"""Weather on a rendered image, for the ``ood_weather`` split (the NTDM paper's OOD-CV weather nuisance).

Snow, fog and frost are ImageNet-C's corruptions (:func:`robust3d.variants.corruptions.corrupt_2d`). ImageNet-C has
no rain, so rain is drawn here: seeded streaks of a light, slightly blue grey, all slanted the same way (wind),
each a short line softened by a small blur, over a darker and less saturated scene (an overcast sky). Severity 1-5
scales the number of streaks, their length and the darkening. Every weather is a pure function of
(image, severity, seed). The renderer takes :func:`apply_weather` as an argument (``render_chunk(weather=...)``):
the synthetic benchmark does not import the variants package, which builds on it.
"""

from __future__ import annotations

import math

import numpy as np

from robust3d.synth.plan import WEATHERS  # the split's plan names them; this module draws them

# Per severity 1..5: streaks per 10,000 pixels, streak length (fraction of the image side), darkening.
_RAIN_DENSITY = (12, 20, 30, 40, 52)
_RAIN_LENGTH = (0.06, 0.08, 0.10, 0.12, 0.14)
_RAIN_DARKEN = (0.06, 0.10, 0.14, 0.18, 0.22)
_RAIN_COLOR = np.array([205.0, 210.0, 220.0])


def apply_weather(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """``image`` (uint8 ``(H, W, 3)``) under weather ``name`` at ``severity`` (1..5); same seed, same output."""
    if name not in WEATHERS:
        raise ValueError(f"unknown weather '{name}' (known: {', '.join(WEATHERS)})")
    if name == "rain":
        return add_rain(image, severity, seed)
    from robust3d.variants.corruptions import corrupt_2d

    return corrupt_2d(image, name, severity, seed)


def add_rain(image: np.ndarray, severity: int, seed: int) -> np.ndarray:
    """Rain streaks over an overcast version of ``image`` (uint8 ``(H, W, 3)``)."""
    import cv2

    if not 1 <= int(severity) <= 5:
        raise ValueError(f"severity must be 1..5, got {severity}")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
    k = int(severity) - 1
    rng = np.random.default_rng(int(seed))
    h, w = image.shape[:2]
    x = image.astype(np.float64)
    grey = x.mean(axis=2, keepdims=True)
    overcast = (0.75 * x + 0.25 * grey) * (1.0 - _RAIN_DARKEN[k])  # less saturated, darker
    slant = math.radians(float(rng.uniform(-20.0, 20.0)))  # one wind direction per image
    length = _RAIN_LENGTH[k] * min(h, w)
    dx, dy = length * math.sin(slant), length * math.cos(slant)
    streaks = np.zeros((h, w), np.float32)
    n = max(1, round(_RAIN_DENSITY[k] * h * w / 10_000))
    for x0, y0, alpha in zip(rng.uniform(-abs(dx), w + abs(dx), n), rng.uniform(-dy, h, n),
                             rng.uniform(0.35, 0.8, n), strict=True):
        cv2.line(streaks, (round(x0), round(y0)), (round(x0 + dx), round(y0 + dy)), float(alpha), 1, cv2.LINE_AA)
    streaks = np.clip(cv2.GaussianBlur(streaks, (3, 3), 0.6), 0.0, 1.0)[..., None]
    out = overcast * (1.0 - streaks) + _RAIN_COLOR * streaks
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
