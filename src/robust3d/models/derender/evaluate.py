"""What a trained de-renderer (or a baseline) is worth: its features' clustering and the shape it recovered.

Features: the four bottlenecks of a de-renderer (depth, albedo, light, view), grouped into the paper's set
(``depth_albedo``, §2.1 "we only utilize geometry and albedo features") and the authors' code's (``all4``); the
VQ-VAE's quantised map; raw pixels. Clustering: per-track means for faces, one feature per image for cars, Ward
with the number of true labels (:mod:`robust3d.evaluate.clustering`). Shape: Unsup3D's synface protocol on the
faces' true depth: the scale-invariant depth error (SIDE) and the mean angle between normals, inside the object
mask eroded by one pixel, against a flat depth (a constant, the baseline a de-renderer must beat).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from robust3d.models.derender.renderer import DerenderCamera, depth_to_normals

FEATURE_SETS = {"depth_albedo": ("depth", "albedo"), "all4": ("depth", "albedo", "light", "view")}


@torch.no_grad()
def group_features(model: torch.nn.Module | None, family: str, images: torch.Tensor, batch_size: int = 64
                   ) -> dict[str, np.ndarray]:
    """Per-image features by group name: a de-renderer's four bottlenecks (trained or random-init), the VQ-VAE's
    ``vqvae`` map, or raw ``pixels`` (``model`` None). ``images`` (N, 3, S, S) in [0, 1]."""
    if family == "pixels":
        return {"pixels": images.flatten(1).numpy().astype(np.float64)}
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size] * 2 - 1
        feats = {"vqvae": model.features(x)} if family == "vqvae" else model.features(x)
        for key, value in feats.items():
            parts.setdefault(key, []).append(value.flatten(1).numpy().astype(np.float64))
    return {k: np.concatenate(v) for k, v in parts.items()}


def feature_sets(groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feature sets the tables report: for a de-renderer ``depth_albedo`` and ``all4``; for a single-group
    baseline (VQ-VAE, pixels) that group under both names, so every row fills both columns."""
    if set(FEATURE_SETS["all4"]) <= set(groups):
        return {name: np.concatenate([groups[g] for g in members], axis=1) for name, members in FEATURE_SETS.items()}
    (only,) = groups.values()
    return dict.fromkeys(FEATURE_SETS, only)


def _erode(mask: torch.Tensor) -> torch.Tensor:
    """One-pixel erosion of (N, H, W) bool masks."""
    return -F.max_pool2d(-mask[:, None].float(), 3, stride=1, padding=1)[:, 0] > 0.5


def scale_invariant_error(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image SIDE: sqrt(mean((log p - log t - mean(log p - log t))^2)) over the mask. (N,) from (N, H, W)."""
    diff = (pred.clamp_min(1e-6).log() - true.clamp_min(1e-6).log()) * mask
    count = mask.flatten(1).sum(1).clamp_min(1)
    mean = diff.flatten(1).sum(1) / count
    return ((((diff - mean[:, None, None]) ** 2) * mask).flatten(1).sum(1) / count).sqrt()


def normal_angle(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean angle (degrees) between normal maps (N, H, W, 3) over the mask."""
    cos = (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1).clamp(-1, 1)
    angle = torch.rad2deg(torch.arccos(cos)) * mask
    return angle.flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1)


def true_camera(size: int, focal_px_at_64: float, native: int = 64) -> DerenderCamera:
    """The data renderer's camera as a :class:`DerenderCamera` of the same field of view (for the true normals)."""
    f = focal_px_at_64 * size / native
    return DerenderCamera(size, math.degrees(2 * math.atan((size - 1) / 2 / f)))


@torch.no_grad()
def shape_errors(model: torch.nn.Module, images: torch.Tensor, depth: torch.Tensor, mask: torch.Tensor,
                 camera: DerenderCamera, batch_size: int = 64) -> dict[str, float]:
    """SIDE and normal angle of the de-renderer's depth at the predicted view (``recon_depth``, as Unsup3D's
    synface test) and of a flat depth, over the eroded object masks; means over images."""
    mask = _erode(mask)
    true_normals = depth_to_normals(depth, camera)
    side, angle = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size] * 2 - 1
        out = model.reconstruct(x)
        recon = out["recon_depth"][:len(x)]
        sl = slice(start, start + len(x))
        side.append(scale_invariant_error(recon, depth[sl], mask[sl]))
        angle.append(normal_angle(depth_to_normals(recon, model.warp.camera), true_normals[sl], mask[sl]))
    flat = torch.ones_like(depth)
    flat_normals = depth_to_normals(flat, camera)
    return {"side": float(torch.cat(side).mean()), "normal_deg": float(torch.cat(angle).mean()),
            "flat_side": float(scale_invariant_error(flat, depth, mask).mean()),
            "flat_normal_deg": float(normal_angle(flat_normals, true_normals, mask).mean()), "n": len(images)}
