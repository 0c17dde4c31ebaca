"""The PASCAL3D+ camera model: the single definition of what an angle means in robust3d.

Every annotation (synthetic or real) stores ``azimuth, elevation, theta`` in radians plus
``distance, focal, viewport, principal``; projecting a CAD vertex with :func:`project_points`
must land on the object in the image. The formulas follow the PASCAL3D+ toolkit's ``project_3d``
and NeMo's preprocessing (appendix of shared/research/neural-mesh-models.md):

    C  = [d cos(e) sin(a), -d cos(e) cos(a), d sin(e)]     camera centre, object coordinates
    R  = Rz(theta) @ Rx(e - pi/2) @ Rz(-a)                   object -> camera (in-plane rotation included)
    Xc = R @ (X - C);  x = M f Xc0 / -Xc2;  y = M f Xc1 / -Xc2;  u = x + px;  v = -y + py

Object coordinates: +z up, a camera at azimuth 0 sits on the -y axis. Pixel ``(u, v)`` is
(column, row) in continuous coordinates where pixel ``(r, c)`` covers ``[c, c+1) x [r, r+1)``, so the
principal point ``(W/2, H/2)`` is the exact image centre.

All functions are batched: angle arguments broadcast against each other (shape ``B`` or scalar).
"""

from __future__ import annotations

import math

import torch

Tensorish = torch.Tensor | float


def _as_tensor(x: Tensorish, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x if like is None else x.to(dtype=like.dtype, device=like.device)
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    device = like.device if like is not None else None
    return torch.as_tensor(x, dtype=dtype, device=device)


def rot_x(t: torch.Tensor) -> torch.Tensor:
    """Rotation about +x by angle ``t`` (right-handed), shape ``t.shape + (3, 3)``."""
    c, s = torch.cos(t), torch.sin(t)
    o, z = torch.ones_like(t), torch.zeros_like(t)
    return torch.stack([o, z, z, z, c, -s, z, s, c], dim=-1).reshape(*t.shape, 3, 3)


def rot_z(t: torch.Tensor) -> torch.Tensor:
    """Rotation about +z by angle ``t`` (right-handed), shape ``t.shape + (3, 3)``."""
    c, s = torch.cos(t), torch.sin(t)
    o, z = torch.ones_like(t), torch.zeros_like(t)
    return torch.stack([c, -s, z, s, c, z, z, z, o], dim=-1).reshape(*t.shape, 3, 3)


def _broadcast_angles(*angles: Tensorish) -> list[torch.Tensor]:
    ref = next((a for a in angles if isinstance(a, torch.Tensor)), None)
    if ref is not None and not ref.is_floating_point():
        ref = ref.to(torch.get_default_dtype())
    tensors = [_as_tensor(a, ref) for a in angles]
    return list(torch.broadcast_tensors(*tensors))


def pose_to_rotation(azimuth: Tensorish, elevation: Tensorish, theta: Tensorish) -> torch.Tensor:
    """``R(theta, e, a) = Rz(theta) Rx(e - pi/2) Rz(-a)``: object -> camera rotation, ``(..., 3, 3)``.

    This is the matrix NeMo's evaluation compares, so the pose error of two annotations is the
    geodesic distance between their rotations.
    """
    a, e, t = _broadcast_angles(azimuth, elevation, theta)
    return rot_z(t) @ rot_x(e - math.pi / 2) @ rot_z(-a)


def rotation_to_pose(rotation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pose_to_rotation`: returns ``(azimuth, elevation, theta)``.

    Azimuth and theta are wrapped to ``[0, 2pi)`` and ``[-pi, pi)``, elevation lies in ``[-pi/2, pi/2]``.
    With ``e' = e - pi/2`` in ``[-pi, 0]`` and ``s = sin e' <= 0``: row 2 of R is
    ``[-s sin a, s cos a, cos e']`` and column 2 is ``[s sin t, -s cos t, cos e']`` (ZXZ Euler angles).
    """
    r = rotation
    e_prime = -torch.acos(r[..., 2, 2].clamp(-1.0, 1.0))
    a = torch.atan2(r[..., 2, 0], -r[..., 2, 1])
    t = torch.atan2(-r[..., 0, 2], r[..., 1, 2])
    # Camera at a pole (s = 0): azimuth and theta are coupled; set theta = 0, then R[0, :2] = (cos a, sin a).
    degenerate = torch.sin(e_prime).abs() < 1e-6
    a = torch.where(degenerate, torch.atan2(r[..., 0, 1], r[..., 0, 0]), a)
    t = torch.where(degenerate, torch.zeros_like(t), t)
    azimuth = torch.remainder(a, 2 * math.pi)
    elevation = e_prime + math.pi / 2
    theta = torch.remainder(t + math.pi, 2 * math.pi) - math.pi
    return azimuth, elevation, theta


def camera_center(azimuth: Tensorish, elevation: Tensorish, distance: Tensorish) -> torch.Tensor:
    """Camera centre in object coordinates, ``(..., 3)``."""
    a, e, d = _broadcast_angles(azimuth, elevation, distance)
    return torch.stack(
        [d * torch.cos(e) * torch.sin(a), -d * torch.cos(e) * torch.cos(a), d * torch.sin(e)], dim=-1
    )


def world_to_camera(
    points: torch.Tensor, azimuth: Tensorish, elevation: Tensorish, theta: Tensorish, distance: Tensorish
) -> torch.Tensor:
    """``Xc = R (X - C)`` for points ``(..., N, 3)``; the camera looks down its -z axis."""
    rot = pose_to_rotation(azimuth, elevation, theta).to(points)
    centre = camera_center(azimuth, elevation, distance).to(points)
    return (points - centre.unsqueeze(-2)) @ rot.transpose(-1, -2)


def project_points(
    points: torch.Tensor,
    azimuth: Tensorish,
    elevation: Tensorish,
    theta: Tensorish,
    distance: Tensorish,
    focal: Tensorish = 1.0,
    viewport: Tensorish = 3000.0,
    principal: torch.Tensor | tuple[float, float] = (0.0, 0.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project object-space points to pixels with the PASCAL3D+ camera.

    Args:
        points: ``(..., N, 3)`` CAD vertices in object coordinates.
        azimuth, elevation, theta: radians, shape ``(...)`` or scalars.
        distance, focal, viewport: PASCAL3D+ camera parameters (``viewport * focal`` = focal length in px).
        principal: ``(..., 2)`` principal point ``(px, py)`` in pixels.

    Returns:
        ``uv`` ``(..., N, 2)`` pixel coordinates (column, row) and ``depth`` ``(..., N)``, the distance
        along the viewing axis (positive in front of the camera).
    """
    xc = world_to_camera(points, azimuth, elevation, theta, distance)
    depth = -xc[..., 2]
    scale = _as_tensor(viewport, xc) * _as_tensor(focal, xc)
    scale = scale.unsqueeze(-1) if scale.dim() > 0 else scale
    principal = _as_tensor(principal, xc) if not isinstance(principal, torch.Tensor) else principal.to(xc)
    # In-plane rotation is already inside R (Rz(theta) leaves z alone), so this is the toolkit's chain.
    x = scale * xc[..., 0] / depth
    y = scale * xc[..., 1] / depth
    uv = torch.stack([x + principal[..., 0:1], -y + principal[..., 1:2]], dim=-1)
    return uv, depth


def opencv_extrinsics(
    azimuth: Tensorish, elevation: Tensorish, theta: Tensorish, distance: Tensorish
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same camera in OpenCV form (x right, y down, z forward): ``X_cv = R_cv X + t_cv``.

    The PASCAL camera looks down -z with y up, so ``R_cv = diag(1, -1, -1) R``.
    """
    rot = pose_to_rotation(azimuth, elevation, theta)
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=rot.dtype, device=rot.device))
    r_cv = flip @ rot
    centre = camera_center(azimuth, elevation, distance)
    t_cv = -(r_cv @ centre.unsqueeze(-1)).squeeze(-1)
    return r_cv, t_cv
