"""Pose error and pose accuracies, as reported by NeMo, NOVUM, 3D-CompNets and NTDM.

The error is the geodesic distance ``||logm(R1^T R2)||_F / sqrt(2)``, which equals the rotation angle of
``R1^T R2``; it is computed from the trace (no matrix logarithm), clamped so rounding cannot produce NaN.
A prediction that is NaN or inf (a diverged optimiser) scores the worst possible error, pi, so that it
can never look better than a wrong answer (NeMo's first release used pi/2; the refactor uses pi).
"""

from __future__ import annotations

import math

import torch

from .pascal import Tensorish, pose_to_rotation

ACC_PI_6 = math.pi / 6
ACC_PI_18 = math.pi / 18


def rotation_error(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Angle of ``r1^T r2`` in radians, ``(...)``; NaN or inf inputs give pi."""
    rel = r1.transpose(-1, -2) @ r2
    trace = rel.diagonal(dim1=-2, dim2=-1).sum(-1)
    cos = ((trace - 1.0) / 2.0).clamp(-1.0, 1.0)
    # acos is ill-conditioned near 0; atan2 of (||skew||, cos) is accurate over the whole range.
    skew = torch.stack(
        [rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]],
        dim=-1,
    )
    sin = 0.5 * torch.linalg.vector_norm(skew, dim=-1)
    err = torch.atan2(sin, cos)
    bad = ~torch.isfinite(r1).all(-1).all(-1) | ~torch.isfinite(r2).all(-1).all(-1) | ~torch.isfinite(err)
    return torch.where(bad, torch.full_like(err, math.pi), err)


def pose_error(
    pred: tuple[Tensorish, Tensorish, Tensorish], gt: tuple[Tensorish, Tensorish, Tensorish]
) -> torch.Tensor:
    """Error between two poses given as ``(azimuth, elevation, theta)`` in radians."""
    return rotation_error(pose_to_rotation(*pred), pose_to_rotation(*gt))


def accuracy_at(errors: torch.Tensor, threshold: float) -> float:
    """Share of errors strictly below ``threshold`` (NeMo's ``err < pi/6``); NaN for no samples."""
    errors = torch.as_tensor(errors)
    if errors.numel() == 0:
        return float("nan")
    return float((errors < threshold).double().mean())


def median_error_degrees(errors: torch.Tensor) -> float:
    """Median error in degrees over all samples (the refactored NeMo's overall MedErr)."""
    errors = torch.as_tensor(errors, dtype=torch.float64)
    if errors.numel() == 0:
        return float("nan")
    return float(torch.quantile(errors, 0.5) * 180.0 / math.pi)
