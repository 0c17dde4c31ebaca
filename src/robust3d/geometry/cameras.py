"""Conversion of PASCAL3D+ annotations to PyTorch3D cameras (done here, and only here).

PyTorch3D uses row-vector points, a view space with +X left, +Y up, +Z forward, and NDC for
rasterisation. We express the PASCAL3D+ camera in OpenCV form (see
:func:`robust3d.geometry.pascal.opencv_extrinsics`) and let PyTorch3D's own
``cameras_from_opencv_projection`` do the axis flips, so one tested path exists from annotation to
rendered pixels.
"""

from __future__ import annotations

import torch

from .pascal import Tensorish, _broadcast_angles, opencv_extrinsics


def intrinsics_matrix(focal: Tensorish, viewport: Tensorish, principal: torch.Tensor) -> torch.Tensor:
    """OpenCV camera matrix ``K`` (``(B, 3, 3)``) with focal length ``viewport * focal`` pixels.

    The principal point is passed unchanged: PyTorch3D's screen space, like robust3d's pixel coordinates,
    has pixel c covering [c, c+1) (checked by rasterising in tests/test_geometry.py).
    """
    principal = torch.as_tensor(principal, dtype=torch.get_default_dtype()).reshape(-1, 2)
    f, m = _broadcast_angles(focal, viewport)
    fpx = (f * m).to(principal).reshape(-1).expand(principal.shape[0])
    k = torch.zeros(principal.shape[0], 3, 3, dtype=principal.dtype, device=principal.device)
    k[:, 0, 0] = fpx
    k[:, 1, 1] = fpx
    k[:, 0, 2] = principal[:, 0]
    k[:, 1, 2] = principal[:, 1]
    k[:, 2, 2] = 1.0
    return k


def pascal_to_pytorch3d(
    azimuth: Tensorish,
    elevation: Tensorish,
    theta: Tensorish,
    distance: Tensorish,
    focal: Tensorish,
    viewport: Tensorish,
    principal: torch.Tensor | tuple[float, float],
    image_size: tuple[int, int],
    device: torch.device | str | None = None,
):
    """A batch of ``pytorch3d.renderer.PerspectiveCameras`` equal to the PASCAL3D+ cameras.

    Args:
        azimuth, elevation, theta, distance, focal, viewport: as in the annotations (radians), ``(B,)``.
        principal: ``(B, 2)`` or ``(2,)`` principal point ``(px, py)`` in pixels.
        image_size: ``(H, W)`` of the image the annotation refers to.

    Rendering object-space meshes with these cameras puts every vertex where
    :func:`robust3d.geometry.pascal.project_points` says it is.
    """
    from pytorch3d.utils import cameras_from_opencv_projection

    a, e, t, d = (x.reshape(-1) for x in _broadcast_angles(azimuth, elevation, theta, distance))
    r_cv, t_cv = opencv_extrinsics(a, e, t, d)
    batch = r_cv.shape[0]
    principal = torch.as_tensor(principal, dtype=r_cv.dtype).reshape(-1, 2).expand(batch, 2)
    k = intrinsics_matrix(focal, viewport, principal).to(r_cv).expand(batch, 3, 3)
    size = torch.tensor([image_size], dtype=r_cv.dtype).expand(batch, 2)
    cams = cameras_from_opencv_projection(R=r_cv.float(), tvec=t_cv.float(), camera_matrix=k.float(),
                                          image_size=size.float())
    return cams.to(device) if device is not None else cams
