"""The one backdrop depth: how far the 2D background behind a rendered object is taken to be.

Synthetic depth maps are 0 where no surface was rendered. The 3D corruptions (fog, defocus, motion parallax) and
the pseudo-depth network both need a depth there; every reader takes it from here, so that all of them see the
same scene: the background is a wall :data:`BACKDROP_DEPTH_FACTOR` times farther than the farthest object point
(a room behind the object), so the object is not fogged or defocused as if it were the far end of the scene.
"""

from __future__ import annotations

import math

import numpy as np

BACKDROP_DEPTH_FACTOR = 4.0
"""Backdrop depth as a multiple of the largest rendered (valid) depth of the image."""


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Boolean mask of rendered pixels: finite and positive depth."""
    depth = np.asarray(depth)
    return np.isfinite(depth) & (depth > 0)


def backdrop_depth(depth: np.ndarray) -> float | None:
    """The backdrop's depth for one depth map: the factor times its largest valid depth; None without any."""
    depth = np.asarray(depth, dtype=np.float64)
    valid = valid_depth(depth)
    return BACKDROP_DEPTH_FACTOR * float(depth[valid].max()) if valid.any() else None


def fill_backdrop(depth: np.ndarray, backdrop: float | None = None) -> np.ndarray:
    """``(H, W)`` depth with the unrendered pixels at ``backdrop`` (default :func:`backdrop_depth`); a depth map
    without any rendered pixel becomes flat (1), since only ratios of depth matter to its readers."""
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map, got shape {depth.shape}")
    valid = valid_depth(depth)
    if backdrop is None:
        if not valid.any():
            return np.ones_like(depth)
        backdrop = backdrop_depth(depth)
    elif not (math.isfinite(backdrop) and backdrop > 0):
        raise ValueError(f"backdrop depth must be positive and finite, got {backdrop!r}")
    return np.where(valid, depth, backdrop)
