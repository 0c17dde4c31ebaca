"""Unsup3D's renderer (robust3d.models.derender.renderer) against identity, geometry, symmetry and a slow reference.

Build notes §4, unit tests 1-4 plus the gradients of the renderer; the per-network gradients of a training step are
tested with the model. Both rasterisers (the CPU scan-line one and PyTorch3D's ``MeshRasterizer``) are checked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robust3d.models.derender.renderer import (
    BACKGROUND_DEPTH,
    DepthWarp,
    DerenderCamera,
    depth_to_normals,
    face_depth,
    grid_faces,
    pix_to_face_pytorch3d,
    pix_to_face_torch,
    shade,
    view_transform,
)

RASTERIZERS = ["torch", "pytorch3d"]


def smooth_depth(batch: int, size: int, seed: int = 0, lo: float = 0.92, hi: float = 1.08) -> torch.Tensor:
    """A low-frequency random depth map: a sum of 4 Gaussian bumps per image, rescaled into [lo, hi]."""
    g = torch.Generator().manual_seed(seed)
    r = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(r, r, indexing="ij")
    centres = torch.rand(batch, 4, 2, generator=g) * 1.6 - 0.8
    amp = torch.randn(batch, 4, 1, 1, generator=g)
    sq = (x - centres[..., 0, None, None]) ** 2 + (y - centres[..., 1, None, None]) ** 2
    bumps = (amp * torch.exp(-sq / (2 * 0.35**2))).sum(1)
    lo_b, hi_b = bumps.amin((1, 2), keepdim=True), bumps.amax((1, 2), keepdim=True)
    return lo + (bumps - lo_b) / (hi_b - lo_b) * (hi - lo)


def smooth_image(batch: int, size: int, seed: int = 1) -> torch.Tensor:
    """A smooth random texture in [-1, 1] (bilinear upsampling of 6 x 6 noise)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 6, 6, generator=g) * 2 - 1
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)


def view_of(rx=0.0, ry=0.0, rz=0.0, tx=0.0, ty=0.0, tz=0.0, batch: int = 1) -> torch.Tensor:
    return torch.tensor([[rx, ry, rz, tx, ty, tz]], dtype=torch.float32).repeat(batch, 1)


def plane_depth(camera: DerenderCamera, normal: torch.Tensor, centre_depth: float = 1.0) -> torch.Tensor:
    """(1, S, S) depth of the plane through (0, 0, centre_depth) with ``normal``: ray-plane intersection."""
    xy = (camera.pixel_grid() - camera.center) / camera.focal
    ray = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)
    return (normal[2] * centre_depth / (ray * normal).sum(-1))[None]


# ------------------------------------------------------------------------------------------------ 1. identity
@pytest.mark.parametrize("rasterizer", RASTERIZERS)
def test_identity_view_reproduces_canonical_depth_and_image(rasterizer):
    cam = DerenderCamera(32)
    depth, image = smooth_depth(2, 32), smooth_image(2, 32)
    recon, recon_depth, mask = DepthWarp(cam, rasterizer=rasterizer).render(depth, image, view_of(batch=2))
    inner = (slice(None), slice(1, -1), slice(1, -1))
    assert (recon_depth - depth)[inner].abs().max() < 1e-3
    assert (recon - image)[:, :, 1:-1, 1:-1].abs().max() < 1e-3
    assert mask.min() == 1.0  # view = 0 covers every pixel centre, borders included (no cracks)


# ------------------------------------------------------------------------------------------------ 2. geometry
def axis_rotation(axis: str, angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    if axis == "yaw":
        return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def ramps(camera: DerenderCamera) -> torch.Tensor:
    """(1, 3, S, S) texture: channel 0 = u, channel 1 = v, scaled to [-1, 1] (bilinear sampling reads them exactly)."""
    uv = camera.pixel_grid().permute(2, 0, 1) / (camera.size - 1) * 2 - 1
    return torch.cat([uv, torch.zeros_like(uv[:1])])[None]


@pytest.mark.parametrize("rasterizer", RASTERIZERS)
@pytest.mark.parametrize(("axis", "angle"), [("yaw", 0.3), ("yaw", -0.5), ("pitch", 0.4)])
def test_rotated_plane_renders_the_analytic_depth_and_texture(rasterizer, axis, angle):
    """The plane z = 1 rotated about (0, 0, 1): depth by ray-plane intersection, and each pixel shows the canonical
    pixel where its ray meets the plane, taken back by R^T (a u/v ramp texture reads that position off)."""
    cam = DerenderCamera(32)
    rot = axis_rotation(axis, angle)
    view = view_of(rx=angle) if axis == "pitch" else view_of(ry=angle)
    recon, recon_depth, mask = DepthWarp(cam, rasterizer=rasterizer).render(torch.ones(1, 32, 32), ramps(cam), view)
    expected = plane_depth(cam, rot[:, 2])  # the rotated normal R (0, 0, 1)
    inside = mask.bool()
    assert 0.8 < inside.float().mean() < 1.0  # the rotated plane no longer fills the image
    assert (recon_depth - expected)[inside].abs().max() < 1e-3
    assert (recon_depth[~inside] == 1.1 + 0.1).all()  # empty pixels: background clamped to max + m
    xy = (cam.pixel_grid() - cam.center) / cam.focal
    points = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1) * expected[0, ..., None]
    centre = torch.tensor([0.0, 0.0, 1.0])
    canonical = (points - centre) @ rot + centre  # R^T (p - c) + c, row vectors
    assert (canonical[..., 2] - 1).abs().max() < 1e-5  # back on the canonical plane
    uv = canonical[..., :2] / canonical[..., 2:] * cam.focal + cam.center
    seen = inside[0] & (uv >= 0).all(-1) & (uv <= 31).all(-1)
    assert ((recon[0, :2].permute(1, 2, 0) + 1) / 2 * 31 - uv)[seen].abs().max() < 1e-2  # pixels


@pytest.mark.parametrize("rasterizer", RASTERIZERS)
def test_translation_shifts_the_image_by_f_t_over_depth(rasterizer):
    cam = DerenderCamera(32)
    flat, image = torch.ones(1, 32, 32), smooth_image(1, 32)
    warp = DepthWarp(cam, rasterizer=rasterizer)
    recon, recon_depth, mask = warp.render(flat, image, view_of(tx=3 / cam.focal))  # 3 px to the right
    assert (mask[0, :, :3] == 0).all() and (mask[0, :, 3:] == 1).all()
    assert (recon[..., 3:] - image[..., :-3]).abs().max() < 1e-3
    assert (recon_depth[0, :, 3:] - 1).abs().max() < 1e-5
    recon, _, mask = warp.render(flat, image, view_of(ty=2 / cam.focal))  # y points down: 2 px down
    assert (mask[0, :2] == 0).all() and (mask[0, 2:] == 1).all()
    assert (recon[:, :, 2:] - image[:, :, :-2]).abs().max() < 1e-3
    depth = 1.05  # the shift scales with 1/depth: a plane at 1.05 moves f t / 1.05 pixels
    recon, _, _ = warp.render(torch.full((1, 32, 32), depth), image, view_of(tx=3 * depth / cam.focal))
    assert (recon[..., 4:] - image[..., 1:-3]).abs().max() < 1e-3


# ------------------------------------------------------------------------------------------------ 3. symmetry
@pytest.mark.parametrize("rasterizer", RASTERIZERS)
def test_symmetric_object_mirrors_under_opposite_yaw(rasterizer):
    cam = DerenderCamera(32)
    depth = smooth_depth(1, 32, seed=3)
    depth = (depth + depth.flip(2)) / 2
    image = smooth_image(1, 32, seed=4)
    image = (image + image.flip(3)) / 2
    warp = DepthWarp(cam, rasterizer=rasterizer)
    plus, d_plus, m_plus = warp.render(depth, image, view_of(ry=0.4))
    minus, d_minus, m_minus = warp.render(depth, image, view_of(ry=-0.4))
    both = m_plus.bool() & m_minus.flip(2).bool()
    assert both.float().mean() > 0.8 and (m_plus != m_minus.flip(2)).float().mean() < 0.02
    assert (d_plus - d_minus.flip(2))[both].abs().max() < 1e-3
    assert (plus - minus.flip(3)).permute(1, 0, 2, 3)[:, both].abs().max() < 2e-2
    assert (plus - minus.flip(3)).permute(1, 0, 2, 3)[:, both].abs().mean() < 2e-3


def test_flip_convention_mirrors_the_general_view():
    """render(flip(d), flip(a), mirrored view) == flip(render(d, a, view)); mirrored = (rx, -ry, -rz, -tx, ty, tz)."""
    cam = DerenderCamera(32)
    depth, image = smooth_depth(1, 32, seed=5), smooth_image(1, 32, seed=6)
    warp = DepthWarp(cam)
    view = view_of(0.2, -0.3, 0.1, 0.02, -0.03, 0.01)
    mirrored = view * torch.tensor([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
    recon, d, m = warp.render(depth, image, view)
    recon_f, d_f, m_f = warp.render(depth.flip(2), image.flip(3), mirrored)
    both = m.bool() & m_f.flip(2).bool()
    assert (m != m_f.flip(2)).float().mean() < 0.02
    assert (d - d_f.flip(2))[both].abs().max() < 1e-3
    assert (recon - recon_f.flip(3)).permute(1, 0, 2, 3)[:, both].abs().mean() < 2e-3


# ------------------------------------------------------------------------------------------------ 4. shading
# Unsup3D normalises by |n| + 1e-7 with |n| ~ (2 d / f)^2 (1.3e-4 at 32 px), so its unit normals are a little short:
# 1 - 8e-4 at 32 px (1 - 3.4e-3 at 64 px). Kept; the tolerances below allow for it.
SHORT = 2e-3


def test_flat_depth_frontal_light_gives_unit_diffuse():
    cam = DerenderCamera(32)
    normals = depth_to_normals(torch.ones(2, 32, 32), cam)
    assert torch.allclose(normals, torch.tensor([0.0, 0.0, 1.0]).expand_as(normals), atol=SHORT)
    assert (normals[..., :2] == 0).all()
    albedo = smooth_image(2, 32)
    canon, shading = shade(albedo, normals, torch.zeros(2), torch.ones(2), torch.tensor([[0.0, 0.0, 1.0]] * 2))
    assert torch.allclose(shading, torch.ones_like(shading), atol=SHORT)
    assert torch.allclose(canon, albedo, atol=2 * SHORT)  # (a/2 + 1/2) * 1 * 2 - 1 = a


@pytest.mark.parametrize("axis", ["yaw", "pitch"])
def test_tilted_plane_normal_angle(axis):
    cam = DerenderCamera(32)
    alpha = math.radians(25.0)
    m = (torch.tensor([math.sin(alpha), 0.0, math.cos(alpha)]) if axis == "yaw"
         else torch.tensor([0.0, -math.sin(alpha), math.cos(alpha)]))  # Ry(alpha) or Rx(alpha) applied to +z
    normals = depth_to_normals(plane_depth(cam, m), cam)
    inner = F.normalize(normals[0, 1:-1, 1:-1], dim=-1)
    to_z = torch.rad2deg(torch.acos(inner[..., 2].clamp(-1, 1)))
    assert (to_z - 25.0).abs().max() < 0.5
    to_m = torch.rad2deg(torch.acos((inner * m).sum(-1).clamp(-1, 1)))
    assert to_m.max() < 0.5  # the sign convention too: the normal of a plane facing the camera has +z
    border = torch.ones(32, 32, dtype=torch.bool)
    border[1:-1, 1:-1] = False
    assert torch.allclose(normals[0][border], torch.tensor([0.0, 0.0, 1.0]).expand(int(border.sum()), 3), atol=1e-6)
    _, shading = shade(torch.zeros(1, 3, 32, 32), normals, torch.zeros(1), torch.ones(1), m[None])
    assert (shading[0, 0, 1:-1, 1:-1] - 1).abs().max() < SHORT  # light along the normal: full diffuse


def test_shade_does_not_renormalise_the_light():
    """LOOCC adds noise to the unit direction without renormalising (and may push ambient below 0): kept as is."""
    normals = depth_to_normals(torch.ones(1, 8, 8), DerenderCamera(8))
    canon, shading = shade(torch.zeros(1, 3, 8, 8), normals, torch.tensor([-0.2]), torch.tensor([1.3]),
                           torch.tensor([[0.1, 0.0, 1.5]]))
    assert torch.allclose(shading, torch.full_like(shading, -0.2 + 1.3 * 1.5), atol=SHORT)
    assert torch.isfinite(canon).all()


def test_view_transform_is_rz_ry_rx():
    rot, trans = view_transform(view_of(0.1, 0.2, 0.3, 1.0, 2.0, 3.0))
    cx, sx, cy, sy, cz, sz = (f(a) for a in (0.1, 0.2, 0.3) for f in (math.cos, math.sin))
    r_x = torch.tensor([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    r_y = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_z = torch.tensor([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    assert torch.allclose(rot[0], r_z @ r_y @ r_x, atol=1e-6)
    assert torch.equal(trans, torch.tensor([[1.0, 2.0, 3.0]]))


# ------------------------------------------------------------------------------------------------ 5. gradients
def test_gradients_reach_depth_image_and_view():
    cam = DerenderCamera(24)
    depth = smooth_depth(2, 24).requires_grad_()
    image = smooth_image(2, 24).requires_grad_()
    view = view_of(0.1, -0.2, 0.05, 0.02, -0.01, 0.01, batch=2).requires_grad_()
    recon, _, _ = DepthWarp(cam).render(depth, image, view)
    recon.sum().backward()
    for grad in (depth.grad, image.grad, view.grad):
        assert torch.isfinite(grad).all()
    assert depth.grad.abs().sum() > 0 and image.grad.abs().sum() > 0
    assert (view.grad.abs() > 0).all()  # every one of the six view parameters


def test_face_depth_matches_pytorch3d_zbuf_and_its_gradient():
    """The differentiable ray-plane depth equals PyTorch3D's perspective-correct zbuf, value and vertex gradient."""
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    from robust3d.models.derender.renderer import CRACK_EPS_PX, _pytorch3d_cameras, _to_pytorch3d

    cam = DerenderCamera(16)
    warp = DepthWarp(cam)
    verts = warp.warp_points(smooth_depth(1, 16), view_of(0.15, -0.3, 0.1, 0.01, 0.02, 0.0)).detach()
    faces = grid_faces(16, 16)
    v1, v2 = verts.clone().requires_grad_(), verts.clone().requires_grad_()
    settings = RasterizationSettings(image_size=16, blur_radius=(2 * CRACK_EPS_PX / 16) ** 2, faces_per_pixel=1,
                                     bin_size=0, perspective_correct=True, clip_barycentric_coords=False)
    frags = MeshRasterizer(cameras=_pytorch3d_cameras(cam, 1, verts.device), raster_settings=settings)(
        Meshes(verts=_to_pytorch3d(v1), faces=faces[None]))
    covered = frags.pix_to_face[..., 0] >= 0
    ours = face_depth(v2, faces, frags.pix_to_face[..., 0], cam)
    assert (ours - frags.zbuf[..., 0])[covered].abs().max() < 1e-5
    weight = torch.rand(16, 16, generator=torch.Generator().manual_seed(0))
    (frags.zbuf[..., 0] * weight * covered).sum().backward()
    (ours * weight * covered).sum().backward()
    assert torch.allclose(v1.grad, v2.grad, atol=1e-4 * float(v1.grad.abs().max()))


# ------------------------------------------------------------------------------------------------ rasterisers
def naive_depth(verts: np.ndarray, faces: np.ndarray, camera: DerenderCamera) -> np.ndarray:
    """Slow reference: for every pixel, the nearest intersection of its ray with any triangle (Moller-Trumbore, both
    sides), :data:`BACKGROUND_DEPTH` where none; the ray direction has z = 1, so the ray parameter is the depth."""
    s = camera.size
    tri = verts[faces].astype(np.float64)  # (F, 3, 3)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    out = np.full((s, s), BACKGROUND_DEPTH)
    for v in range(s):
        for u in range(s):
            d = np.array([(u - camera.center) / camera.focal, (v - camera.center) / camera.focal, 1.0])
            p = np.cross(d, e2)
            det = (e1 * p).sum(-1)
            ok = np.abs(det) > 1e-12
            inv = np.where(ok, 1 / np.where(ok, det, 1), 0)
            t_vec = -tri[:, 0]
            a = (t_vec * p).sum(-1) * inv
            q = np.cross(t_vec, e1)
            b = (q @ d) * inv
            t = (e2 * q).sum(-1) * inv
            hit = ok & (a >= -1e-6) & (b >= -1e-6) & (a + b <= 1 + 1e-6) & (t > 0)
            if hit.any():
                out[v, u] = t[hit].min()
    return out


@pytest.mark.parametrize("rasterizer", RASTERIZERS)
def test_warp_canon_depth_matches_a_naive_ray_triangle_loop(rasterizer):
    cam = DerenderCamera(16)
    warp = DepthWarp(cam, rasterizer=rasterizer)
    depth = smooth_depth(2, 16, seed=7, lo=0.9, hi=1.1)
    view = torch.tensor([[0.25, -0.45, 0.1, 0.03, -0.02, 0.05], [-0.3, 0.6, -0.2, -0.04, 0.03, -0.02]])
    ours = warp.warp_canon_depth(depth, view)
    verts = warp.warp_points(depth, view).numpy()
    for i in range(2):
        ref = np.clip(naive_depth(verts[i], grid_faces(16, 16).numpy(), cam), 0.8, 1.2)
        assert np.abs(ours[i].numpy() - ref).max() < 1e-4


def test_scanline_rasterizer_agrees_with_pytorch3d_and_chunks():
    cam = DerenderCamera(32)
    warp = DepthWarp(cam)
    depth = smooth_depth(3, 32, seed=8, lo=0.9, hi=1.1)
    view = torch.tensor([[0.3, -0.5, 0.2, 0.05, 0.0, 0.0], [0.0, 0.9, 0.0, 0.0, 0.0, 0.0],
                         [-0.6, 0.2, -0.4, 0.0, 0.1, 0.1]])
    verts, faces = warp.warp_points(depth, view), grid_faces(32, 32)
    ours, ref = pix_to_face_torch(verts, faces, cam), pix_to_face_pytorch3d(verts, faces, cam)
    assert ((ours >= 0) != (ref >= 0)).float().mean() < 1e-3  # coverage: at most a few silhouette pixels
    both = (ours >= 0) & (ref >= 0)
    d_ours, d_ref = face_depth(verts, faces, ours, cam), face_depth(verts, faces, ref, cam)
    assert (d_ours - d_ref)[both].abs().max() < 1e-4  # different faces only at ties (shared edges)
    assert torch.equal(pix_to_face_torch(verts, faces, cam, max_pairs=100), ours)


def test_shapes_are_checked():
    warp = DepthWarp(DerenderCamera(16))
    with pytest.raises(ValueError, match="expected depth"):
        warp.warp_canon_depth(torch.ones(1, 15, 16), view_of())
    with pytest.raises(ValueError, match="expected view"):
        warp.warp_canon_depth(torch.ones(1, 16, 16), torch.zeros(1, 5))
    with pytest.raises(ValueError, match="rasterizer"):
        DepthWarp(DerenderCamera(16), rasterizer="naive")
