"""Unsup3D's differentiable renderer: normals and shading from a depth map, and the view warp of a canonical
depth map and image (Wu et al. CVPR'20, ``unsup3d/renderer``), with PyTorch3D in place of the Neural Mesh Renderer.

Frames and conventions (all decided against the reference code; the tests pin them):

- **Camera** (:class:`DerenderCamera`): at the origin looking along +z, image x right (columns ``u``), y down
  (rows ``v``); ``f = (S-1)/2 / tan(fov/2)``, principal point ``((S-1)/2, (S-1)/2)``; integer pixel coordinates
  are pixel *centres*. A point at depth ``d`` seen at pixel ``(u, v)`` is ``d·K⁻¹(u, v, 1)``.
- **Normals** (:func:`depth_to_normals`): ``tu × tv`` of central differences (``tu`` along the columns, ``tv``
  along the rows), as ``get_normal_from_depth``: a surface facing the camera has normal ``+z``, i.e. **away from
  the camera** (the negated outward normal). Border pixels get ``(0, 0, 1)``.
- **Light** (:func:`shade`): ``max(0, <n, l>)`` with the same sign, so ``l = (0, 0, 1)`` is the frontal light (from
  the camera) and Unsup3D's ``l = normalise(dx, dy, 1)`` is the negated direction towards the light.
- **View** (:func:`view_transform`): ``(rx, ry, rz)`` in radians, ``R = Rz·Ry·Rx`` about ``(0, 0,
  rot_center_depth)``, then the translation: ``p' = R(p - c) + c + t``.
- **Image sampling**: :meth:`DepthWarp.inverse_warp_grid` normalises pixel coordinates by ``S - 1``, so the grid is
  for ``grid_sample(..., align_corners=True)`` (Unsup3D's ``grid_sample`` predates ``align_corners`` and used the
  corner-aligned behaviour, which is what its ``/(W-1)`` normalisation assumes); outside the image: zeros.
- **Empty pixels** of the warped depth get :data:`BACKGROUND_DEPTH` = 10 (Unsup3D's ``renderer_max_depth``, the far
  plane NMR fills empty pixels with) before the clamp to ``[min - m, max + m]``, so they end at ``max + m`` and the
  mask ``recon_depth < max + m`` drops them.

Two deliberate differences from NMR (build notes §6 item 16):

- NMR's projection puts a vertex at Unsup3D pixel ``u`` on raster pixel ``u - 1/2`` (``2(u - S/2)/S`` in NDC against
  pixel centres at ``(2i + 1 - S)/S``), half a pixel off the ``grid_sample`` of the same code. Here raster pixel
  ``(i, j)`` samples exactly Unsup3D pixel ``(u, v) = (j, i)``, so view = 0 reproduces the canonical depth and image
  and a mirrored view renders the mirrored image.
- PyTorch3D's inside test is strict (every barycentric > 0) and at view = 0 every pixel centre lies exactly on a grid
  vertex: with ``blur_radius = 0`` about 3/4 of the pixels fall through the cracks between faces. Coverage therefore
  has a tolerance of :data:`CRACK_EPS_PX` = 1e-3 pixel (PyTorch3D: that blur radius, in squared NDC units, with
  unclipped barycentrics), which is NMR's inclusive edge test for all practical purposes.

How the depth is rendered: a rasteriser finds, per pixel, the nearest face covering the pixel centre (no gradient;
the face choice is piecewise constant), and :func:`face_depth` computes that face's depth along the pixel's ray
(ray-plane intersection) differentiably. That is the value of PyTorch3D's perspective-correct ``zbuf`` and its exact
in-face gradient, with none across silhouettes (``blur_radius = 0`` semantics). The rasteriser is PyTorch3D's
``MeshRasterizer`` (``PerspectiveCameras(in_ndc=False)``, ``bin_size=None``: coarse-to-fine) on CUDA, and on the CPU
:func:`pix_to_face_torch`, a vectorised bounding-box rasteriser: PyTorch3D has no coarse pass on the CPU
(``bin_size=None`` falls back to naive, every pixel against every face) and its CPU kernels index tensors element by
element in the face setup and the backward pass (measured: 0.2-0.26 s forward and ~90 ms backward per 64 px image;
the whole ``render`` with the scan-line rasteriser: ~5 ms forward + backward per 64 px image on one core, see
``scripts/bench_pdr.py``). Both give the same faces up to ties (tested); ``DepthWarp(rasterizer=...)`` picks one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-7  # Unsup3D's normal-normalisation epsilon
BACKGROUND_DEPTH = 10.0  # depth of empty pixels before the clamp (NMR's far plane in Unsup3D)
CRACK_EPS_PX = 1e-3  # coverage tolerance (pixels) that closes the cracks between faces, see the module docstring
AREA_EPS_PX2 = 1e-6  # faces of smaller doubled image area (pixels^2) are skipped, as PyTorch3D skips |area| <= 1e-8 NDC
RASTERIZERS = ("auto", "torch", "pytorch3d")


@dataclass(frozen=True)
class DerenderCamera:
    """Unsup3D's camera (NOT the PASCAL3D+ camera of robust3d.geometry): at the origin looking along +z, image x
    right, y down, fov 10 deg, f = (S-1)/2 / tan(fov/2), principal ((S-1)/2, (S-1)/2)."""

    size: int
    fov_deg: float = 10.0

    @property
    def focal(self) -> float:
        """Focal length in pixels (the same for x and y)."""
        return (self.size - 1) / 2 / math.tan(math.radians(self.fov_deg) / 2)

    @property
    def center(self) -> float:
        """Principal point coordinate (the same for x and y), in pixels; pixel centres are integers."""
        return (self.size - 1) / 2

    def intrinsics(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """(3, 3) K with ``K (x, y, z) ~ (u, v, 1)``."""
        f, c = self.focal, self.center
        return torch.tensor([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]], device=device, dtype=dtype)

    def pixel_grid(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """(S, S, 2) pixel coordinates ``(u, v)`` = (column, row) of every pixel centre."""
        r = torch.arange(self.size, device=device, dtype=dtype)
        v, u = torch.meshgrid(r, r, indexing="ij")
        return torch.stack([u, v], dim=-1)


def _check_depth(depth: Tensor, camera: DerenderCamera) -> None:
    """Depth maps are (B, S, S) at the camera's size: the intrinsics are only valid there."""
    if depth.dim() != 3 or depth.shape[1:] != (camera.size, camera.size):
        raise ValueError(f"expected depth (B, {camera.size}, {camera.size}), got {tuple(depth.shape)}")


def unproject(depth: Tensor, camera: DerenderCamera) -> Tensor:
    """Depth (B, H, W) -> camera-frame points (B, H, W, 3) = ``d·K⁻¹(u, v, 1)`` (K⁻¹ in closed form)."""
    _check_depth(depth, camera)
    uv = camera.pixel_grid(depth.device, depth.dtype)
    xy = (uv - camera.center) / camera.focal
    return torch.cat([xy.expand(*depth.shape, 2), torch.ones_like(depth)[..., None]], dim=-1) * depth[..., None]


def project(points: Tensor, camera: DerenderCamera) -> Tensor:
    """Camera-frame points (..., 3) -> pixel coordinates (..., 2) ``(u, v)``; no guard against z <= 0, as Unsup3D
    (depths here stay near 1)."""
    return points[..., :2] / points[..., 2:] * camera.focal + camera.center


def depth_to_normals(depth: Tensor, camera: DerenderCamera) -> Tensor:
    """Depth (B, H, W) -> unit normals (B, H, W, 3), Unsup3D's ``get_normal_from_depth``.

    ``tu × tv`` of the central differences of the unprojected grid (``tu`` between the right and left neighbours,
    ``tv`` between the lower and upper ones). Image x right, y down, z forward make ``x × y = +z``: a surface facing
    the camera has normal ``+z``, pointing away from the camera. Border pixels get ``(0, 0, 1)``. Normalised as
    Unsup3D, by ``|n| + 1e-7``: with ``|n| ~ (2d/f)^2`` (3e-5 at 64 px) the "unit" normals are 0.3% short at 64 px.
    """
    points = unproject(depth, camera)
    tu = points[:, 1:-1, 2:] - points[:, 1:-1, :-2]
    tv = points[:, 2:, 1:-1] - points[:, :-2, 1:-1]
    inner = torch.linalg.cross(tu, tv, dim=-1)
    normals = F.pad(inner.permute(0, 3, 1, 2), (1, 1, 1, 1)).permute(0, 2, 3, 1)
    border = torch.ones_like(depth, dtype=torch.bool)
    border[:, 1:-1, 1:-1] = False
    normals = torch.where(border[..., None], normals.new_tensor([0.0, 0.0, 1.0]), normals)
    return normals / (normals.pow(2).sum(-1, keepdim=True).sqrt() + EPS)


def shade(albedo: Tensor, normals: Tensor, ambient: Tensor, diffuse: Tensor,
          light_dir: Tensor) -> tuple[Tensor, Tensor]:
    """Lambertian shading of the canonical albedo, as Unsup3D's ``model.py``.

    Args:
        albedo: (B, 3, H, W) in [-1, 1].
        normals: (B, H, W, 3) from :func:`depth_to_normals` (+z = facing the camera).
        ambient, diffuse: (B,) intensities.
        light_dir: (B, 3), same sign convention as the normals ((0, 0, 1) = frontal). Not renormalised here: LOOCC
            perturbs the unit direction without renormalising, as the authors' code.

    Returns:
        canon_im (B, 3, H, W) = ``(albedo/2 + 0.5)·shading·2 - 1`` and shading (B, 1, H, W) =
        ``ambient + diffuse·max(0, <n, l>)``.
    """
    lambert = (normals * light_dir[:, None, None, :]).sum(-1).clamp(min=0)[:, None]
    shading = ambient.view(-1, 1, 1, 1) + diffuse.view(-1, 1, 1, 1) * lambert
    return (albedo / 2 + 0.5) * shading * 2 - 1, shading


def rotation_matrix(rx: Tensor, ry: Tensor, rz: Tensor) -> Tensor:
    """(B,) angles in radians -> (B, 3, 3) ``Rz·Ry·Rx`` (Unsup3D's ``get_rotation_matrix``)."""
    one, zero = torch.ones_like(rx), torch.zeros_like(rx)
    cx, sx, cy, sy, cz, sz = rx.cos(), rx.sin(), ry.cos(), ry.sin(), rz.cos(), rz.sin()
    m_x = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    m_y = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    m_z = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return m_z @ m_y @ m_x


def view_transform(view: Tensor) -> tuple[Tensor, Tensor]:
    """View (B, 6) = (rx, ry, rz in radians, tx, ty, tz in world units) -> (R (B, 3, 3) = Rz·Ry·Rx, t (B, 3)),
    as Unsup3D's ``get_transform_matrices``."""
    if view.dim() != 2 or view.shape[1] != 6:
        raise ValueError(f"expected view (B, 6), got {tuple(view.shape)}")
    return rotation_matrix(view[:, 0], view[:, 1], view[:, 2]), view[:, 3:]


def grid_faces(h: int, w: int, device: torch.device | str | None = None) -> Tensor:
    """(2(h-1)(w-1), 3) vertex indices of the grid mesh, Unsup3D's ``get_face_idx`` (vertex ``i·w + j`` is pixel
    (i, j)): per quad (tl, bl, tr) then (tr, bl, br), all first triangles before all second ones."""
    idx = torch.arange(h * w, device=device).reshape(h, w)
    first = torch.stack([idx[:-1, :-1], idx[1:, :-1], idx[:-1, 1:]], -1).reshape(-1, 3)
    second = torch.stack([idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]], -1).reshape(-1, 3)
    return torch.cat([first, second])


# ---------------------------------------------------------------------------------------------- rasterisation
def _to_pytorch3d(points: Tensor) -> Tensor:
    """The one place the frames meet: Unsup3D's camera frame (x right, y down, z forward) -> PyTorch3D's view frame
    (+X left, +Y up, +Z forward), a rotation by pi about z; depth (z) is unchanged."""
    return points * points.new_tensor([-1.0, -1.0, 1.0])


def _pytorch3d_cameras(camera: DerenderCamera, batch: int, device: torch.device):
    """Screen-space cameras (``in_ndc=False``, identity extrinsics) for points given by :func:`_to_pytorch3d`.

    Raster pixel (row i, column j) samples Unsup3D pixel ``(u, v) = (j, i)``: PyTorch3D's screen space puts pixel
    j's centre at ``j + 1/2`` where Unsup3D's K puts it at ``j``, hence the principal point ``c + 1/2``. (With the
    ``(-x, -y)`` flip, PyTorch3D's ``+X left`` NDC comes back as screen x increasing to the right.)
    """
    from pytorch3d.renderer import PerspectiveCameras

    focal = torch.full((batch, 2), camera.focal, device=device)
    principal = torch.full((batch, 2), camera.center + 0.5, device=device)
    image_size = torch.full((batch, 2), camera.size, device=device)
    return PerspectiveCameras(focal_length=focal, principal_point=principal, in_ndc=False, image_size=image_size,
                              device=device)


@torch.no_grad()
def pix_to_face_pytorch3d(verts: Tensor, faces: Tensor, camera: DerenderCamera) -> Tensor:
    """(B, S, S) index of the nearest face covering each pixel centre (-1: none), PyTorch3D's ``MeshRasterizer``.

    One face per pixel, ``bin_size=None`` (coarse-to-fine on CUDA; PyTorch3D has no CPU coarse pass and falls back
    to naive there), both sides of the faces, perspective-correct z, and the crack tolerance :data:`CRACK_EPS_PX`
    as the blur radius (squared NDC: the image spans 2 NDC units) with unclipped barycentrics.
    """
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    b, s = verts.shape[0], camera.size
    settings = RasterizationSettings(image_size=s, blur_radius=(2 * CRACK_EPS_PX / s) ** 2, faces_per_pixel=1,
                                     bin_size=None, perspective_correct=True, clip_barycentric_coords=False,
                                     cull_backfaces=False)
    meshes = Meshes(verts=_to_pytorch3d(verts.float()), faces=faces[None].expand(b, -1, -1))
    rasterizer = MeshRasterizer(cameras=_pytorch3d_cameras(camera, b, verts.device), raster_settings=settings)
    pix = rasterizer(meshes).pix_to_face[..., 0]
    offset = torch.arange(b, device=verts.device).view(b, 1, 1) * faces.shape[0]  # packed -> per-mesh index
    return torch.where(pix >= 0, pix - offset, pix)


def _edge(a: Tensor, b: Tensor, p: Tensor) -> Tensor:
    """Edge function: twice the signed area of (a, b, p); positive when p is left of a->b in (u, v)."""
    return (b[..., 0] - a[..., 0]) * (p[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (p[..., 0] - a[..., 0])


def _expand(count: Tensor) -> tuple[Tensor, Tensor]:
    """For ``count[i]`` copies of every item i: the item of each copy and its rank among the copies of that item."""
    owner = torch.repeat_interleave(torch.arange(count.numel(), device=count.device), count)
    rank = torch.arange(owner.numel(), device=count.device) - (torch.cumsum(count, 0) - count)[owner]
    return owner, rank


@torch.no_grad()
def pix_to_face_torch(verts: Tensor, faces: Tensor, camera: DerenderCamera, max_pairs: int = 1 << 22) -> Tensor:
    """The same face index as :func:`pix_to_face_pytorch3d`, by a vectorised scan-line rasteriser.

    Every face is cut into the pixel rows of its bounding box and each row into the pixel centres between its edges;
    a (face, pixel) pair counts when the centre is within :data:`CRACK_EPS_PX` of the inside of all three edges, with
    the perspective-correct depth ``1 / sum(w_i / z_i)``; per pixel the smallest depth wins (ties: the larger face
    index). Cost ~ faces + covered pixels, not pixels x faces; faces go in chunks of at most ``max_pairs``
    bounding-box pixels. Faces touching z <= 0 and faces of (near) zero image area are skipped, as PyTorch3D does.
    """
    b, s = verts.shape[0], camera.size
    uv = project(verts, camera)[:, faces].reshape(-1, 3, 2)  # (B*F, 3, 2)
    inv_z = 1.0 / verts[..., 2][:, faces].reshape(-1, 3)
    coef = _edge_coefficients(uv)
    keep = (coef.area > AREA_EPS_PX2) & (inv_z.amin(1) > 0) & torch.isfinite(coef.area)
    lo_y = torch.ceil(uv[..., 1].amin(1) - CRACK_EPS_PX).clamp(0, s).long()
    hi_y = torch.floor(uv[..., 1].amax(1) + CRACK_EPS_PX).clamp(-1, s - 1).long()
    rows = (hi_y - lo_y + 1).clamp(min=0) * keep
    width = (uv[..., 0].amax(1) - uv[..., 0].amin(1)).clamp(0, s) + 1
    # per face: alpha (3), beta (3), gamma (3), slack (3), inv_z (3), 1/area, first row
    table = torch.cat([coef.alpha, coef.beta, coef.gamma, coef.slack, inv_z, 1 / coef.area[:, None],
                       lo_y[:, None].to(uv.dtype)], dim=1)
    budget = torch.cumsum(rows * width, 0)
    best_z = verts.new_full((b * s * s,), math.inf)
    best_f = torch.full((b * s * s,), -1, dtype=torch.long, device=verts.device)
    start = 0
    while start < uv.shape[0]:
        base = budget[start - 1] if start else budget.new_zeros(())
        stop = max(int(torch.searchsorted(budget, base + max_pairs, right=True)), start + 1)
        ids = torch.arange(start, stop, device=verts.device)
        chunk_z, chunk_f = _rasterize_faces(ids, rows[start:stop], table, s, faces.shape[0], b)
        better = chunk_z < best_z
        best_z = torch.where(better, chunk_z, best_z)
        best_f = torch.where(better, chunk_f, best_f)
        start = stop
    return best_f.view(b, s, s)


@dataclass(frozen=True)
class _EdgeCoefficients:
    """Per face (N,): ``alpha x + beta y + gamma`` is the edge function of edge i (opposite vertex i) signed so that
    the inside is positive (N, 3 each); ``slack`` = CRACK_EPS_PX x edge length; ``area`` = |doubled area|."""

    alpha: Tensor
    beta: Tensor
    gamma: Tensor
    slack: Tensor
    area: Tensor


def _edge_coefficients(uv: Tensor) -> _EdgeCoefficients:
    """Edge functions of the triangles ``uv`` (N, 3, 2) in pixel coordinates."""
    a = torch.stack([uv[:, 1], uv[:, 2], uv[:, 0]], dim=1)  # edge i runs a_i -> b_i
    b = torch.stack([uv[:, 2], uv[:, 0], uv[:, 1]], dim=1)
    area = _edge(uv[:, 0], uv[:, 1], uv[:, 2])
    d = (b - a) * area.sign()[:, None, None]
    alpha, beta = -d[..., 1], d[..., 0]
    gamma = -(alpha * a[..., 0] + beta * a[..., 1])
    return _EdgeCoefficients(alpha, beta, gamma, CRACK_EPS_PX * d.norm(dim=-1), area.abs())


def _rasterize_faces(face_ids: Tensor, rows: Tensor, table: Tensor, s: int, n_faces: int,
                     b: int) -> tuple[Tensor, Tensor]:
    """Nearest depth and its face per pixel (inf, -1 where none) among ``face_ids`` (flat B*F indices): rows, then
    the conservative span of each row (edges moved out by twice the tolerance), then the exact test per pixel."""
    face_of_row, rank = _expand(rows)
    src = face_ids[face_of_row]
    t = table.index_select(0, src)
    alpha, beta, gamma, slack = t[:, 0:3], t[:, 3:6], t[:, 6:9], t[:, 9:12]
    y = t[:, 16] + rank.to(t.dtype)
    rhs = -(beta * y[:, None] + gamma + 2 * slack)  # need alpha x >= rhs
    flat = alpha.abs() <= 1e-12
    bound = rhs / torch.where(flat, torch.ones_like(alpha), alpha)
    left = torch.where(alpha > 1e-12, bound, -math.inf).amax(-1)
    right = torch.where(alpha < -1e-12, bound, math.inf).amin(-1)
    feasible = (~flat | (rhs <= 0)).all(-1)
    x0 = torch.ceil(left).clamp(0, s)
    x1 = torch.where(feasible, torch.floor(right).clamp(-1, s - 1), -1)
    row_of_px, rank = _expand((x1 - x0 + 1).clamp(min=0).long())
    src, x, y = src[row_of_px], x0[row_of_px] + rank.to(t.dtype), y[row_of_px]
    t = t.index_select(0, row_of_px)
    e = t[:, 0:3] * x[:, None] + t[:, 3:6] * y[:, None] + t[:, 6:9]
    inside = (e >= -t[:, 9:12]).all(-1)
    depth = 1.0 / ((e * t[:, 12:15]).sum(-1) * t[:, 15])
    ok = inside & (depth > 0) & torch.isfinite(depth)
    key = (src // n_faces * s + y.long()) * s + x.long()
    key, depth, face = key[ok], depth[ok], src[ok] % n_faces
    zmin = t.new_full((b * s * s,), math.inf).scatter_reduce(0, key, depth, "amin")
    win = depth <= zmin[key]
    face_min = torch.full((b * s * s,), -1, dtype=torch.long, device=t.device)
    return zmin, face_min.scatter_reduce(0, key[win], face[win], "amax")


def face_depth(verts: Tensor, faces: Tensor, pix_to_face: Tensor, camera: DerenderCamera) -> Tensor:
    """Differentiable depth (B, S, S) of the given faces along each pixel's ray, :data:`BACKGROUND_DEPTH` at -1.

    The ray ``K⁻¹(u, v, 1)`` meets the plane of the face's vertices ``p0, p1, p2`` at depth ``<n, p0> / <n, ray>``,
    ``n = (p1 - p0) × (p2 - p0)``: the value of PyTorch3D's perspective-correct ``zbuf`` for that face and pixel, and
    the same exact in-face gradient w.r.t. the vertices (the face choice is piecewise constant: no gradient across
    silhouettes, as with ``blur_radius = 0``).
    """
    b = verts.shape[0]
    valid = pix_to_face >= 0
    corner = faces[pix_to_face.clamp(min=0)]  # (B, S, S, 3) vertex indices
    tri = verts[torch.arange(b, device=verts.device).view(b, 1, 1, 1), corner]  # (B, S, S, 3, 3)
    normal = torch.linalg.cross(tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :], dim=-1)
    xy = (camera.pixel_grid(verts.device, verts.dtype) - camera.center) / camera.focal
    ray = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)
    denom = (normal * ray).sum(-1)
    denom = torch.where(valid, denom, torch.ones_like(denom))  # background rows may hold a degenerate face 0
    depth = (normal * tri[..., 0, :]).sum(-1) / denom
    return torch.where(valid, depth, torch.full_like(depth, BACKGROUND_DEPTH))


class DepthWarp:
    """Unsup3D's view warp: render the view-transformed canonical depth, then sample the canonical image there.

    ``rasterizer``: "auto" (PyTorch3D's ``MeshRasterizer`` on CUDA, :func:`pix_to_face_torch` on the CPU), "torch"
    or "pytorch3d" (also on the CPU, where it is naive and slow: a reference for the tests).
    """

    def __init__(self, camera: DerenderCamera, rot_center_depth: float = 1.0, min_depth: float = 0.9,
                 max_depth: float = 1.1, rasterizer: str = "auto") -> None:
        if rasterizer not in RASTERIZERS:
            raise ValueError(f"rasterizer must be one of {RASTERIZERS}, got {rasterizer!r}")
        self.camera = camera
        self.rot_center_depth = rot_center_depth
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.rasterizer = rasterizer

    @property
    def margin(self) -> float:
        """m = (max - min)/2: the warped depth is clamped to [min - m, max + m]."""
        return (self.max_depth - self.min_depth) / 2

    def _center(self, like: Tensor) -> Tensor:
        return like.new_tensor([0.0, 0.0, self.rot_center_depth])

    def warp_points(self, canon_depth: Tensor, view: Tensor) -> Tensor:
        """(B, H, W) canonical depth -> (B, H·W, 3) mesh vertices in the view: ``R(p - c) + c + t``."""
        rot, trans = view_transform(view)
        points = unproject(canon_depth, self.camera).flatten(1, 2)
        c = self._center(points)
        return (points - c) @ rot.transpose(1, 2) + c + trans[:, None]

    def pix_to_face(self, verts: Tensor, faces: Tensor) -> Tensor:
        """(B, V, 3) camera-frame vertices, (F, 3) faces -> (B, S, S) nearest covering face, -1 where none."""
        if self.rasterizer == "pytorch3d" or (self.rasterizer == "auto" and verts.is_cuda):
            return pix_to_face_pytorch3d(verts, faces, self.camera)
        return pix_to_face_torch(verts, faces, self.camera)

    def rasterize_depth(self, verts: Tensor, faces: Tensor) -> Tensor:
        """(B, V, 3) camera-frame vertices, (F, 3) faces -> (B, S, S) differentiable depth, :data:`BACKGROUND_DEPTH`
        where no face covers the pixel centre (not clamped)."""
        return face_depth(verts, faces, self.pix_to_face(verts.detach(), faces), self.camera)

    def warp_canon_depth(self, canon_depth: Tensor, view: Tensor) -> Tensor:
        """(B, H, W) canonical depth -> (B, H, W) depth of the view-transformed canonical grid mesh (2 triangles per
        pixel quad), empty pixels at :data:`BACKGROUND_DEPTH`, then clamped to [min - m, max + m]."""
        s = self.camera.size
        verts = self.warp_points(canon_depth, view)
        depth = self.rasterize_depth(verts, grid_faces(s, s, canon_depth.device))
        return depth.clamp(self.min_depth - self.margin, self.max_depth + self.margin)

    def inverse_warp_grid(self, recon_depth: Tensor, view: Tensor) -> Tensor:
        """(B, H, W) depth in the view -> (B, H, W, 2) sampling grid into the canonical image for
        ``F.grid_sample(canon_im, grid, mode="bilinear", align_corners=True)``: every output pixel unprojected with
        ``recon_depth``, taken back by the inverse view ``R^T(p - t - c) + c``, projected, normalised by S - 1."""
        rot, trans = view_transform(view)
        points = unproject(recon_depth, self.camera).flatten(1, 2)
        c = self._center(points)
        points = (points - trans[:, None] - c) @ rot + c
        uv = project(points, self.camera).view(*recon_depth.shape, 2)
        return uv / (self.camera.size - 1) * 2 - 1

    def render(self, canon_depth: Tensor, canon_im: Tensor, view: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruct the image in the view.

        Args: canon_depth (B, H, W), canon_im (B, C, H, W), view (B, 6) (see :func:`view_transform`).
        Returns: recon_im (B, C, H, W) (not masked: the model masks it with both halves' masks), recon_depth
        (B, H, W), mask (B, H, W) float = ``recon_depth < max + m`` (pixels the mesh covers), detached.
        """
        recon_depth = self.warp_canon_depth(canon_depth, view)
        grid = self.inverse_warp_grid(recon_depth, view)
        recon_im = F.grid_sample(canon_im, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        mask = (recon_depth < self.max_depth + self.margin).to(recon_depth.dtype).detach()
        return recon_im, recon_depth, mask
