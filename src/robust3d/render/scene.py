"""Rendering a batch of textured objects with PyTorch3D under the PASCAL3D+ camera model.

One rasterisation per batch gives, per pixel, the face under it and its barycentric coordinates; from
those we interpolate the object-space surface point (to evaluate solid textures), take the face normal
(flat shading suits low-poly CAD) and read metric depth from the z-buffer. Shading is done here in a few
tensor ops rather than through PyTorch3D's shaders, which would need UV maps for the same textures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from robust3d.geometry import pascal_to_pytorch3d, pose_to_rotation
from robust3d.synth.textures import Texture, shade_texture


@dataclass
class SceneSpec:
    """One object in front of a background, seen by a PASCAL3D+ camera."""

    verts: torch.Tensor  # (V, 3) object coordinates
    faces: torch.Tensor  # (F, 3)
    texture: Texture
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


def rasterize(verts: list[torch.Tensor], faces: list[torch.Tensor], poses: torch.Tensor, focal: float,
              viewport: float, image_size: tuple[int, int], bin_size: int | None = 0):
    """PyTorch3D fragments for meshes seen at ``poses`` ``(B, 4)`` = (azimuth, elevation, theta, distance)."""
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    h, w = image_size
    principal = torch.tensor([w / 2.0, h / 2.0])
    cams = pascal_to_pytorch3d(poses[:, 0], poses[:, 1], poses[:, 2], poses[:, 3], focal, viewport, principal,
                               image_size=image_size)
    meshes = Meshes(verts=[v.float() for v in verts], faces=[f.long() for f in faces])
    settings = RasterizationSettings(image_size=image_size, blur_radius=0.0, faces_per_pixel=1, bin_size=bin_size)
    return MeshRasterizer(cameras=cams, raster_settings=settings)(meshes), meshes


def render_scenes(scenes: list[SceneSpec], focal: float, viewport: float, image_size: int) -> RenderOutput:
    """Render ``scenes`` (one object each) into RGB, mask and depth arrays."""
    from pytorch3d.ops import interpolate_face_attributes

    size = (image_size, image_size)
    poses = torch.tensor([[s.azimuth, s.elevation, s.theta, s.distance] for s in scenes], dtype=torch.float32)
    frags, meshes = rasterize([s.verts for s in scenes], [s.faces for s in scenes], poses, focal, viewport, size)
    p2f = frags.pix_to_face[..., 0]  # (B, H, W) packed face index, -1 on background
    mask = p2f >= 0
    face_verts = meshes.verts_packed()[meshes.faces_packed()]  # (F, 3, 3)
    points = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, face_verts)[..., 0, :]
    normals = meshes.faces_normals_packed()[p2f.clamp(min=0)]  # (B, H, W, 3) object coordinates
    rotations = pose_to_rotation(poses[:, 0], poses[:, 1], poses[:, 2]).float()  # object -> camera
    face_offsets = meshes.mesh_to_faces_packed_first_idx()
    rgb = np.empty((len(scenes), *size, 3), np.uint8)
    for b, scene in enumerate(scenes):
        m = mask[b]
        img = torch.from_numpy(scene.background.astype(np.float32)).clone()
        light = torch.nn.functional.normalize(torch.tensor(scene.light_dir, dtype=torch.float32), dim=0)
        n_cam = normals[b][m] @ rotations[b].T
        lambert = (n_cam @ light).clamp(min=0)
        if scene.style == "cartoon":
            albedo = torch.tensor(scene.texture.color_a).float().expand(int(m.sum()), 3)
            shade = 0.55 + 0.45 * torch.round(lambert * 2) / 2
            img[m] = albedo * shade[:, None]
            img = _outline(img, p2f[b] - face_offsets[b], m)
        else:
            albedo = shade_texture(scene.texture, points[b][m])
            img[m] = albedo * (scene.ambient + scene.diffuse * lambert)[:, None]
        rgb[b] = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    depth = torch.where(mask, frags.zbuf[..., 0], torch.zeros_like(frags.zbuf[..., 0]))
    return RenderOutput(rgb=rgb, mask=mask.numpy(), depth=depth.numpy().astype(np.float32))


def _outline(img: torch.Tensor, face_id: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Black lines on silhouette edges: pixels whose 4-neighbourhood leaves the mask."""
    m = mask.float()[None, None]
    eroded = -torch.nn.functional.max_pool2d(-m, 3, stride=1, padding=1)
    edge = (m - eroded)[0, 0] > 0
    img[edge] = 0.05
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
