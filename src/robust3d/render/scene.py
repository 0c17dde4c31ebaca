"""Rendering a batch of textured objects with PyTorch3D under the PASCAL3D+ camera model.

One rasterisation per object gives, per pixel, the face under it and its barycentric coordinates; from
those we interpolate the object-space surface point (to evaluate solid textures), take the face normal
(flat shading suits low-poly CAD) and read metric depth from the z-buffer. Shading is done here in a few
tensor ops rather than through PyTorch3D's shaders, which would need UV maps for the same textures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from robust3d.geometry import pascal_to_pytorch3d, pose_to_rotation, project_points


class Albedo(Protocol):
    """Anything that colours object-space surface points (a synthetic texture, a face identity, ...); the cartoon
    style also reads ``color_a``, a texture's main colour."""

    def shade(self, points: torch.Tensor) -> torch.Tensor: ...


@dataclass
class SceneSpec:
    """One object in front of a background, seen by a PASCAL3D+ camera."""

    verts: torch.Tensor  # (V, 3) object coordinates
    faces: torch.Tensor  # (F, 3)
    texture: Albedo  # colours surface points; a Texture, or e.g. a face identity
    azimuth: float
    elevation: float
    theta: float
    distance: float
    background: np.ndarray  # (H, W, 3) float in [0, 1]
    light_dir: tuple[float, float, float] = (0.3, 0.5, 1.0)  # camera coordinates (x right, y up, +z to viewer)
    ambient: float = 0.45
    diffuse: float = 0.6
    style: str = "photo"  # "photo" (textured, lit) or "cartoon" (flat colours, posterised, outlines)
    extra: dict = field(default_factory=dict)


@dataclass
class RenderOutput:
    rgb: np.ndarray  # (B, H, W, 3) uint8
    mask: np.ndarray  # (B, H, W) bool, object pixels (amodal = visible: nothing occludes the object)
    depth: np.ndarray  # (B, H, W) float32, distance along the viewing axis; 0 on the background


@dataclass
class ObjectFragments:
    """Per-pixel rasterisation of one mesh at full image size."""

    face: torch.Tensor  # (H, W) face index into the mesh's faces, -1 on background
    bary: torch.Tensor  # (H, W, 3) barycentric coordinates of the pixel centre in that face
    zbuf: torch.Tensor  # (H, W) distance along the viewing axis, -1 on background


def rasterize_object(verts: torch.Tensor, faces: torch.Tensor, pose: tuple[float, float, float, float],
                     focal: float, viewport: float, image_size: tuple[int, int],
                     principal: tuple[float, float] | None = None) -> ObjectFragments:
    """Rasterise one mesh seen at ``pose`` = (azimuth, elevation, theta, distance) with the PASCAL3D+ camera.

    PyTorch3D's CPU rasteriser tests every face against every pixel, so we rasterise only the window that
    the projected vertices cover (about 2x faster for objects filling a third of the image) and paste it
    into the full image; the camera's principal point moves with the window, so pixels are unchanged.
    """
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    h, w = image_size
    px, py = principal if principal is not None else (w / 2.0, h / 2.0)
    uv, depth = project_points(verts.double(), *pose, focal, viewport, (px, py))
    face = torch.full((h, w), -1, dtype=torch.long)
    bary = torch.zeros(h, w, 3, dtype=torch.float32)
    zbuf = torch.full((h, w), -1.0, dtype=torch.float32)
    if (depth <= 0).any():
        raise ValueError("the camera is inside or behind the object; increase the distance")
    x0, y0 = (int(max(0, min(math.floor(float(uv[:, k].min())), n))) for k, n in ((0, w), (1, h)))
    x1, y1 = (int(max(0, min(math.ceil(float(uv[:, k].max())) + 1, n))) for k, n in ((0, w), (1, h)))
    if x1 <= x0 or y1 <= y0:
        return ObjectFragments(face, bary, zbuf)
    win = (y1 - y0, x1 - x0)
    cams = pascal_to_pytorch3d(*(torch.tensor([v], dtype=torch.float32) for v in pose), focal, viewport,
                               torch.tensor([px - x0, py - y0], dtype=torch.float32), image_size=win)
    settings = RasterizationSettings(image_size=win, blur_radius=0.0, faces_per_pixel=1, bin_size=0)
    frags = MeshRasterizer(cameras=cams, raster_settings=settings)(Meshes([verts.float()], [faces.long()]))
    face[y0:y1, x0:x1] = frags.pix_to_face[0, ..., 0]
    bary[y0:y1, x0:x1] = frags.bary_coords[0, ..., 0, :]
    zbuf[y0:y1, x0:x1] = frags.zbuf[0, ..., 0]
    return ObjectFragments(face, bary, zbuf)


def render_scenes(scenes: list[SceneSpec], focal: float, viewport: float, image_size: int) -> RenderOutput:
    """Render ``scenes`` (one object each) into RGB, mask and depth arrays."""
    size = (image_size, image_size)
    n = len(scenes)
    rgb = np.empty((n, *size, 3), np.uint8)
    masks = np.zeros((n, *size), bool)
    depths = np.zeros((n, *size), np.float32)
    for b, scene in enumerate(scenes):
        verts, faces = scene.verts.float(), scene.faces.long()
        pose = (scene.azimuth, scene.elevation, scene.theta, scene.distance)
        frags = rasterize_object(verts, faces, pose, focal, viewport, size)
        m = frags.face >= 0
        f = frags.face[m]
        tri = verts[faces[f]]  # (P, 3, 3) the faces under the object's pixels
        points = (tri * frags.bary[m][..., None]).sum(1)
        normals = torch.nn.functional.normalize(torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1),
                                                dim=-1)
        rotation = pose_to_rotation(*pose[:3]).float()  # object -> camera
        light = torch.nn.functional.normalize(torch.tensor(scene.light_dir, dtype=torch.float32), dim=0)
        lambert = ((normals @ rotation.T) @ light).clamp(min=0)
        img = torch.from_numpy(scene.background.astype(np.float32)).clone()
        if scene.style == "cartoon":
            albedo = _flat_colour(scene.texture).expand(len(f), 3)
            img[m] = albedo * (0.55 + 0.45 * torch.round(lambert * 2) / 2)[:, None]
            img = _outline(img, m)
        else:
            albedo = scene.texture.shade(points)
            img[m] = albedo * (scene.ambient + scene.diffuse * lambert)[:, None]
        rgb[b] = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        masks[b] = m.numpy()
        depths[b] = torch.where(m, frags.zbuf, torch.zeros_like(frags.zbuf)).numpy()
    return RenderOutput(rgb=rgb, mask=masks, depth=depths)


def _flat_colour(albedo: Albedo) -> torch.Tensor:
    """The cartoon style's single colour: a texture's main colour (``color_a``)."""
    colour = getattr(albedo, "color_a", None)
    if colour is not None:
        return torch.tensor(colour, dtype=torch.float32)
    raise ValueError(f"the cartoon style needs a Texture, got {type(albedo).__name__}")


def _outline(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Black lines on the silhouette: object pixels with a background pixel among their 8 neighbours."""
    m = mask.float()[None, None]
    eroded = -torch.nn.functional.max_pool2d(-m, 3, stride=1, padding=1)
    img[(m - eroded)[0, 0] > 0] = 0.05
    return img


def convex_visibility(points: np.ndarray, normals: np.ndarray, uv: np.ndarray, camera_centre: np.ndarray,
                      image_size: int) -> np.ndarray:
    """Visibility of points on a convex surface (NeMo's cuboids): front-facing and inside the image.

    A convex body never hides its own front-facing surface, so this equals a z-buffer test (NeMo's
    CalculateOcc) without rasterising the cuboid.
    """
    facing = ((camera_centre[None] - points) * normals).sum(-1) > 0
    inside = (uv >= 0).all(-1) & (uv < image_size).all(-1)
    return facing & inside
