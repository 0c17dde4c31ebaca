"""Image-space style shifts for the robustness sets: sketch, and renditions (cartoon, posterised, painted).

These mimic ImageNet-Sketch / ImageNet-R style test sets on any image: a line drawing from the image's
edges, a cartoon (edge-preserving smoothing, few colours, dark outlines), a posterised copy (few grey
levels per channel) and an edge-preserving "painted" stylisation. Shape survives; texture does not.
"""

from __future__ import annotations

import cv2
import numpy as np

STYLES = ("sketch", "cartoon", "posterize", "painted")


def sketch(image: np.ndarray) -> np.ndarray:
    """Dark lines on white from an extended difference of Gaussians (XDoG) of the luminance."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    scale = max(image.shape[:2]) / 128.0
    g1 = cv2.GaussianBlur(grey, (0, 0), 0.8 * scale)
    g2 = cv2.GaussianBlur(grey, (0, 0), 1.6 * scale)
    dog = g1 - 0.98 * g2
    lines = np.where(dog >= 0.01, 1.0, 1.0 + np.tanh(40.0 * (dog - 0.01)))
    out = (np.clip(lines, 0, 1) * 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def posterize(image: np.ndarray, levels: int = 4) -> np.ndarray:
    """``levels`` values per channel."""
    step = 256 // levels
    return ((image // step) * step + step // 2).astype(np.uint8)


def cartoon(image: np.ndarray) -> np.ndarray:
    """Bilateral smoothing, a small palette and dark outlines."""
    smooth = image
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 5, 50, 5)
    flat = posterize(smooth, 5)
    grey = cv2.medianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 3)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 7, 4) == 0
    flat[edges] = (flat[edges] * 0.25).astype(np.uint8)
    return flat


def painted(image: np.ndarray) -> np.ndarray:
    """OpenCV's edge-preserving stylisation, with brush-like smudging of fine texture."""
    out = cv2.stylization(image, sigma_s=20, sigma_r=0.5)
    return cv2.medianBlur(out, 3)


def apply_style(image: np.ndarray, name: str) -> np.ndarray:
    """Apply style ``name`` to an RGB uint8 image; the result has the same shape and dtype."""
    fns = {"sketch": sketch, "cartoon": cartoon, "posterize": posterize, "painted": painted}
    if name not in fns:
        raise ValueError(f"unknown style '{name}' (known: {', '.join(STYLES)})")
    out = fns[name](np.ascontiguousarray(image))
    return out.astype(np.uint8).reshape(image.shape)
