"""UV rendering of a deformable template-sphere mesh (NTDM, WACV 2024): UV fragments, textures, viewing bins, splat.

NTDM deforms a unit template sphere into the object mesh (Eq. 1), so every surface point keeps the template point
it came from; its polar coordinates are the point's ``(u, v)`` in the neural textures (``b`` viewing bins of
``q x q`` texels). Everything here works per feature-map cell on the fragments of
:func:`robust3d.render.features.rasterize_vertices` (nearest face, perspective-correct barycentrics that are
differentiable in the vertex positions and the angles):

- :func:`surface_geometry`: per cell the interpolated template point, its UV (computed per cell from the
  re-normalised point, never per vertex: per-vertex UVs break on the seam and at the pole vertices), the unit
  normal of the covering face, the surface point and the unit surface -> camera direction;
- :func:`sample_texture`: bilinear texture look-up, circular in ``u`` (the seam), clamped in ``v`` (the poles);
- :func:`view_coefficients`: Eq. 5's bin weights ``alpha_b = softmax_b(T d . R_b n)``;
- :func:`splat_to_texture`: the image -> surface transformation of training, a rasterisation in UV space of the
  mesh whose vertices are the cell centres, differentiable in the features and in the UVs.

UV layout: ``u = atan2(y, x) / 2pi mod 1`` (columns, seam at the object's +x half-plane), ``v = acos(z) / pi``
(rows, 0 at the top = the +z pole), texel ``(i, j)`` centred at ``((j + 0.5) / q_u, (i + 0.5) / q_v)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from robust3d.geometry import camera_center
from robust3d.render.features import MeshBatch, VertexFragments, _barycentrics

_NORM_EPS = 1e-12  # normalising a zero vector (cells outside the foreground) gives zero, not NaN
_ACOS_EPS = 1e-6  # acos is clamped away from +-1 so its gradient stays finite at the poles
_INSIDE_EPS = 1e-6  # texel-units margin of the splat's inside test (texel centres exactly on an edge count)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=_NORM_EPS)


def _gather_vertices(frags: VertexFragments, attrs: torch.Tensor, mesh: MeshBatch | None = None) -> torch.Tensor:
    """``(B, h, w, 3, C)``: the attribute of each cell's 3 face vertices (arbitrary outside the foreground)."""
    b, h, w, _ = frags.vertex_index.shape
    if attrs.dim() == 2:  # packed (V_packed, C)
        if frags.foreground.any() and int(frags.vertex_index.max()) >= attrs.shape[0]:
            raise ValueError(f"packed attributes of {attrs.shape[0]} vertices do not cover the fragments' vertex ids"
                             " (one mesh shared by a batch: pass (B, V, C) or the packed B * V rows)")
        return attrs[frags.vertex_index]
    if attrs.dim() != 3 or attrs.shape[0] != b:
        raise ValueError(f"expected (V_packed, C) or ({b}, V, C) attributes, got shape {tuple(attrs.shape)}")
    n = attrs.shape[1]
    if mesh is not None:
        offsets = mesh.vert_offset.to(frags.vertex_index.device)
    else:
        offsets = torch.arange(b, device=frags.vertex_index.device) * n
    local = (frags.vertex_index - offsets.reshape(b, 1, 1, 1)).clamp(0, n - 1)
    out = torch.gather(attrs, 1, local.reshape(b, -1, 1).expand(-1, -1, attrs.shape[-1]))
    return out.reshape(b, h, w, 3, attrs.shape[-1])


def interpolate(frags: VertexFragments, attrs: torch.Tensor, mesh: MeshBatch | None = None) -> torch.Tensor:
    """Per-cell barycentric blend of a per-vertex attribute: ``(B, h, w, C)``, zero outside the foreground.

    ``attrs`` is packed ``(V_packed, C)`` (MeshBatch order: mesh by mesh from ``vert_offset``) or ``(B, V, C)``
    per mesh. For the latter, mesh ``b``'s vertices are assumed to start at packed id ``b * V`` (true for equal-size
    meshes, e.g. one shared mesh) unless ``mesh`` is given (its ``vert_offset`` is used; ``V`` may then be the
    padded ``Vmax``). Differentiable in ``attrs`` and in ``frags.bary``.
    """
    corners = _gather_vertices(frags, attrs, mesh)
    out = (frags.bary[..., None].to(corners.dtype) * corners).sum(-2)
    return torch.where(frags.foreground[..., None], out, torch.zeros_like(out))


def sphere_uv(points: torch.Tensor) -> torch.Tensor:
    """``(..., 2)`` polar UV of template points ``(..., 3)`` (re-normalised: interpolated points lie inside).

    ``u = atan2(y, x) / 2pi mod 1``, ``v = acos(z) / pi``: the pole axis is the object's +z (up). A zero point (a
    cell outside the foreground) gives ``(0, 0.5)`` and zero gradients (torch's ``atan2(0, 0)`` backward is 0).
    """
    p = _unit(points)
    u = torch.remainder(torch.atan2(p[..., 1], p[..., 0]) / (2 * math.pi), 1.0)
    v = torch.acos(p[..., 2].clamp(-1 + _ACOS_EPS, 1 - _ACOS_EPS)) / math.pi
    return torch.stack([u, v], -1)


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear look-up of ``texture (B, C, q_v, q_u)`` (batch 1 broadcasts) at ``uv (B, h, w, 2)``: ``(B, C, h, w)``.

    The texture is padded by one column circularly on each side, so ``u`` near 1 blends the last and the first
    column as ``u`` near 0 does (the seam is continuous); rows clamp (``padding_mode="border"``: the poles).
    ``grid_sample`` runs with ``align_corners=False`` (grid -1 / +1 = the outer edges of the outer texels), so
    texel ``j`` of the unpadded texture, centred at ``u = (j + 0.5) / q_u``, is column ``j + 1`` of the padded one:
    ``x = 2 (u q_u + 1) / (q_u + 2) - 1``; rows are unpadded: ``y = 2 v - 1``. Cells outside a foreground get
    whatever their UV (zero) samples; mask them.
    """
    b = uv.shape[0]
    if texture.shape[0] != b:
        if texture.shape[0] != 1:
            raise ValueError(f"texture batch {texture.shape[0]} does not match uv batch {b}")
        texture = texture.expand(b, *texture.shape[1:])
    q_u = texture.shape[-1]
    padded = torch.cat([texture[..., -1:], texture, texture[..., :1]], dim=-1)
    u = torch.remainder(uv[..., 0], 1.0)
    grid = torch.stack([2 * (u * q_u + 1) / (q_u + 2) - 1, 2 * uv[..., 1] - 1], -1).to(texture.dtype)
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _axis_angle(axis: torch.Tensor, angle: float) -> torch.Tensor:
    """Rotation by ``angle`` about the unit ``axis`` (Rodrigues)."""
    k = torch.tensor([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]],
                     dtype=torch.float64)
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def bin_rotations(bins: int = 7, angle_deg: float = 60.0) -> torch.Tensor:
    """``(bins, 3, 3)`` the viewing bins' rotations ``R_b`` of Eq. 5, in the object frame.

    ``bins = 7``: identity, then ``angle_deg`` about +x, -x, +y, -y, +z, -z (the paper's "rotation vectors with
    60-degree angular distance" do not define 7 rotations uniquely: build notes sec. 7 item 9); ``bins = 1``:
    the identity alone (Table 3's "single alpha_b": alpha == 1, one texture).
    """
    if bins == 1:
        return torch.eye(3).unsqueeze(0)
    if bins != 7:
        raise ValueError(f"viewing bins must be 1 or 7, got {bins}")
    angle = math.radians(angle_deg)
    axes = torch.eye(3, dtype=torch.float64)
    rots = [torch.eye(3, dtype=torch.float64)]
    for axis in axes:
        rots += [_axis_angle(axis, angle), _axis_angle(-axis, angle)]
    return torch.stack(rots).float()


def view_coefficients(normals: torch.Tensor, to_camera: torch.Tensor, rotations: torch.Tensor,
                      temperature: float) -> torch.Tensor:
    """Eq. 5: ``alpha (B, b, h, w) = softmax_b(T * d . (R_b n))``, summing to 1 over the ``b`` bins.

    ``normals`` and ``to_camera`` are ``(B, h, w, 3)`` in the object frame (normalised here). ``d`` is the
    surface -> camera direction: the paper's literal camera -> surface sign gives ``d . n < 0`` on visible
    surfaces, which would weight the identity (normal) bin *least* for head-on views (build notes sec. 7 item 9).
    Outside the foreground (zero normals) every logit is 0, so alpha is uniform ``1 / b`` there.
    """
    n, d = _unit(normals), _unit(to_camera)
    rotated = torch.einsum("kij,bhwj->bkhwi", rotations.to(n), n)  # (B, b, h, w, 3)
    logits = temperature * (rotated * d[:, None]).sum(-1)
    return torch.softmax(logits, dim=1)


@dataclass
class UVFragments:
    """Per cell: what the neural textures need (all zero outside the foreground)."""

    uv: torch.Tensor  # (B, h, w, 2) polar UV of the re-normalised template point
    template_point: torch.Tensor  # (B, h, w, 3) interpolated template point (inside the sphere: not normalised)
    normal: torch.Tensor  # (B, h, w, 3) unit outward normal of the covering face of the (deformed) mesh
    surface_point: torch.Tensor  # (B, h, w, 3) interpolated (deformed) surface point, object frame
    to_camera: torch.Tensor  # (B, h, w, 3) unit surface -> camera direction
    foreground: torch.Tensor  # (B, h, w) bool


def surface_geometry(mesh: MeshBatch, frags: VertexFragments, template: torch.Tensor, azimuth: torch.Tensor,
                     elevation: torch.Tensor, distance: torch.Tensor | float) -> UVFragments:
    """The UV fragment ``U = R(m, Gamma(z))`` of each cell (build notes sec. 2.4 item 2).

    ``template`` holds the template-sphere position of every vertex: ``(Vmax, 3)`` (the same for all meshes:
    NTDM's meshes are all deformations of one sphere), ``(B, Vmax, 3)`` padded as ``mesh.verts``, or packed
    ``(V_packed, 3)`` (any other 2-D row count). The normal is that of the covering face (its 3 vertices, in the
    face's winding, from ``mesh.verts``), so it and the surface point are differentiable in the vertex positions;
    the camera centre is :func:`robust3d.geometry.camera_center` (PASCAL3D+). Angles, distance: ``(B,)`` or scalars.
    """
    b, nmax = mesh.verts.shape[:2]
    fg = frags.foreground
    template = template.to(mesh.verts)
    if template.dim() == 2 and template.shape[0] == nmax:  # one template for all meshes (B = 1: also packed)
        template = template.unsqueeze(0).expand(b, -1, -1)
    template_point = interpolate(frags, template, mesh if template.dim() == 3 else None)
    corners = _gather_vertices(frags, mesh.verts, mesh)  # (B, h, w, 3, 3) the covering face's vertices
    normal = _unit(torch.linalg.cross(corners[..., 1, :] - corners[..., 0, :],
                                      corners[..., 2, :] - corners[..., 0, :], dim=-1))
    surface = (frags.bary[..., None].to(corners) * corners).sum(-2)
    centre = camera_center(torch.as_tensor(azimuth), torch.as_tensor(elevation), torch.as_tensor(distance))
    centre = centre.to(surface).reshape(-1, 1, 1, 3)
    zero = torch.zeros_like(surface)
    fg3 = fg[..., None]
    return UVFragments(
        uv=torch.where(fg3, sphere_uv(template_point), torch.zeros_like(template_point[..., :2])),
        template_point=template_point,
        normal=torch.where(fg3, normal, zero),
        surface_point=torch.where(fg3, surface, zero),
        to_camera=torch.where(fg3, _unit(centre - surface), zero),
        foreground=fg,
    )


def _cell_triangles(h: int, w: int, device: torch.device) -> torch.Tensor:
    """``(2 (h-1) (w-1), 3)`` cell ids (``r w + c``): two triangles per 2 x 2 block, split on the same diagonal."""
    r, c = torch.meshgrid(torch.arange(h - 1, device=device), torch.arange(w - 1, device=device), indexing="ij")
    a = (r * w + c).reshape(-1)
    return torch.cat([torch.stack([a, a + 1, a + w + 1], -1), torch.stack([a, a + w + 1, a + w], -1)])


def _wrap(du: torch.Tensor) -> torch.Tensor:
    """A ``u`` difference taken the short way round the circle, in ``[-0.5, 0.5)``."""
    return torch.remainder(du + 0.5, 1.0) - 0.5


def _pole_fans(tri_uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """UV triangles ``(6 P, 3, 2)`` and cell weights ``(6 P, 3, 3)`` covering ``P`` triangles that enclose a pole.

    Such a triangle has no triangular UV image (``u`` runs once round the circle), but the sphere around the pole
    maps to the texel rows next to ``v = 0`` (or 1) at every ``u``. Each edge ``A -> B`` becomes the quad ``A, B,
    B's column at the pole, A's column at the pole`` (two triangles); the pole's feature is the blend of the 3
    cells with the pole's barycentric weights in the gnomonic projection (tangent plane at the pole) of the
    triangle's sphere points. Everything is computed from the UVs, so it is differentiable in them.
    """
    u, v = tri_uv[..., 0], tri_uv[..., 1]
    sin_v = torch.sin(math.pi * v)
    points = torch.stack([sin_v * torch.cos(2 * math.pi * u), sin_v * torch.sin(2 * math.pi * u),
                          torch.cos(math.pi * v)], -1)  # (P, 3, 3)
    gnomonic = points[..., :2] / points[..., 2:3]  # the pole at the origin (for the south pole: mirrored, same weights)
    pole_w = _barycentrics(torch.zeros_like(gnomonic[:, 0]), gnomonic).clamp(min=0)
    pole_w = pole_w / pole_w.sum(-1, keepdim=True).clamp(min=_NORM_EPS)
    v_pole = (v.mean(-1) > 0.5).to(v.dtype)  # (P,) 0 = north (+z), 1 = south
    eye = torch.eye(3, dtype=tri_uv.dtype, device=tri_uv.device)
    tris, weights = [], []
    for a, b in ((0, 1), (1, 2), (2, 0)):
        ua, ub = u[:, a], u[:, a] + _wrap(u[:, b] - u[:, a])
        corner_a, corner_b = torch.stack([ua, v[:, a]], -1), torch.stack([ub, v[:, b]], -1)
        pole_a, pole_b = torch.stack([ua, v_pole], -1), torch.stack([ub, v_pole], -1)
        wa, wb = eye[a].expand_as(pole_w), eye[b].expand_as(pole_w)
        tris += [torch.stack([pole_a, corner_a, corner_b], 1), torch.stack([pole_a, corner_b, pole_b], 1)]
        weights += [torch.stack([pole_w, wa, wb], 1), torch.stack([pole_w, wb, pole_w], 1)]
    return torch.cat(tris), torch.cat(weights)


def splat_to_texture(features: torch.Tensor, uv: torch.Tensor, template_point: torch.Tensor,
                     foreground: torch.Tensor, size: int, max_angle: float = 0.3
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The image -> surface transformation (build notes sec. 2.4 item 3): cell features into a ``size``-square texture.

    A mesh in UV space whose vertices are the cell centres at their ``(u, v)``, two triangles per 2 x 2 block of
    cells (a triangle needs its 3 cells in the foreground), is rasterised at the texel centres; each covered texel
    gets the barycentric blend of its triangle's 3 cell features. Triangles spanning more than ``max_angle``
    radians between two of their (normalised) template points are dropped (a self-occlusion or depth
    discontinuity: neighbouring cells on different parts of the surface). Two departures from "drop what is hard",
    so that no texel is out of reach: triangles crossing the seam are unwrapped (``u`` differences taken the short
    way, texel columns wrapped modulo ``size``) instead of dropped, and a triangle enclosing a pole is replaced by
    a fan of quads down to the pole row (:func:`_pole_fans`); dropping them would leave the seam columns and the
    pole rows never updated (every view of a pole encloses it).

    The rasteriser is an exact vectorised one over all ``B`` maps at once (each triangle's texel bounding box is
    enumerated; overlaps, which only occur on shared edges, keep the most interior triangle). It runs without
    autograd; the barycentric weights of the chosen texels are then recomputed in torch, so the result is
    differentiable in ``features (B, C, h, w)`` and ``uv (B, h, w, 2)`` (``template_point (B, h, w, 3)`` and
    ``foreground (B, h, w)`` only select). Returns ``texture (B, C, size, size)`` (zero where not covered) and
    ``covered (B, size, size)`` bool (the visible region V).
    """
    b, c, h, w = features.shape
    q = size
    device = features.device
    tris = _cell_triangles(h, w, device)
    uv_flat = uv.reshape(b, h * w, 2)
    with torch.no_grad():
        keep = foreground.reshape(b, h * w)[:, tris].all(-1)  # (B, T)
        tp = _unit(template_point.reshape(b, h * w, 3).detach())[:, tris]  # (B, T, 3, 3)
        min_cos = math.cos(max_angle)
        for i, j in ((0, 1), (1, 2), (2, 0)):
            keep &= (tp[:, :, i] * tp[:, :, j]).sum(-1) >= min_cos
        u = uv_flat[..., 0].detach()[:, tris]  # (B, T, 3)
        winding = _wrap(u[..., 1] - u[..., 0]) + _wrap(u[..., 2] - u[..., 1]) + _wrap(u[..., 0] - u[..., 2])
        pole = keep & (winding.abs() >= 0.5)
        keep &= ~pole
    bi, ti = keep.nonzero(as_tuple=True)
    pole_b, pole_t = pole.nonzero(as_tuple=True)
    tri_uv = uv_flat[bi[:, None], tris[ti]]  # (K, 3, 2), differentiable in uv
    u0 = tri_uv[:, 0, 0]
    tri_uv = torch.stack([torch.stack([u0, u0 + _wrap(tri_uv[:, 1, 0] - u0), u0 + _wrap(tri_uv[:, 2, 0] - u0)], -1),
                          tri_uv[..., 1]], -1)
    fan_uv, fan_weights = _pole_fans(uv_flat[pole_b[:, None], tris[pole_t]])
    eye = torch.eye(3, dtype=tri_uv.dtype, device=device)
    tri_uv = torch.cat([tri_uv, fan_uv])  # (K', 3, 2)
    corner_weights = torch.cat([eye.expand(len(ti), 3, 3), fan_weights])  # (K', 3 corners, 3 cells)
    tri_batch, tri_cells = torch.cat([bi, pole_b.repeat(6)]), torch.cat([tris[ti], tris[pole_t].repeat(6, 1)])
    tri_xy = tri_uv * q - 0.5  # texel units: texel (i, j) centred at (j, i)
    with torch.no_grad():
        xy = tri_xy.detach()
        lo, hi = xy.amin(1), xy.amax(1)
        col0, col1 = torch.ceil(lo[:, 0] - _INSIDE_EPS).long(), torch.floor(hi[:, 0] + _INSIDE_EPS).long()
        row0 = torch.ceil(lo[:, 1] - _INSIDE_EPS).long().clamp(min=0)
        row1 = torch.floor(hi[:, 1] + _INSIDE_EPS).long().clamp(max=q - 1)
        nw, nh = (col1 - col0 + 1).clamp(min=0), (row1 - row0 + 1).clamp(min=0)
        count = nw * nh
        pair_tri = torch.repeat_interleave(torch.arange(len(count), device=device), count)
        k = torch.arange(len(pair_tri), device=device) - (torch.cumsum(count, 0) - count)[pair_tri]
        nw_p = nw[pair_tri].clamp(min=1)
        col = col0[pair_tri] + k % nw_p
        row = row0[pair_tri] + k // nw_p
        point = torch.stack([col, row], -1).to(xy)
        score = _barycentrics(point, xy[pair_tri]).amin(-1)
        inside = score >= -_INSIDE_EPS
        texel = tri_batch[pair_tri] * (q * q) + row * q + torch.remainder(col, q)
        pair_tri, texel, score, point = pair_tri[inside], texel[inside], score[inside], point[inside]
        best = torch.full((b * q * q,), -math.inf, dtype=score.dtype, device=device)
        best = best.scatter_reduce(0, texel, score, "amax")
        winner = score >= best[texel]
        index = torch.arange(len(texel), device=device)
        first = torch.full((b * q * q,), len(texel), dtype=torch.long, device=device)
        first = first.scatter_reduce(0, texel[winner], index[winner], "amin")
        covered_flat = first < len(texel)
        chosen = first[covered_flat]
    t = pair_tri[chosen]
    bary = _barycentrics(point[chosen], tri_xy[t])  # (P, 3), differentiable in uv
    cell_w = (bary[:, :, None] * corner_weights[t]).sum(1)  # (P, 3) weights of the 3 cells
    cell_feats = features.permute(0, 2, 3, 1).reshape(b, h * w, c)
    corner_feats = cell_feats[tri_batch[t][:, None], tri_cells[t]]  # (P, 3, C)
    values = (cell_w[..., None].to(corner_feats.dtype) * corner_feats).sum(1)
    out = features.new_zeros(b * q * q, c).index_put((texel[chosen],), values)
    return out.reshape(b, q, q, c).permute(0, 3, 1, 2), covered_flat.reshape(b, q, q)
