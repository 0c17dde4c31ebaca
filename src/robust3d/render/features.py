"""Rendering per-vertex feature vectors into a feature map: the "render" half of render-and-compare.

Neural mesh models compare a backbone's feature map with the vertex features of a cuboid seen at a pose. We
rasterise the mesh directly at feature-map resolution (cell ``(r, c)`` covers pixels ``[c s, (c+1) s) x
[r s, (r+1) s)`` for stride ``s``, so the camera is the image camera with focal length and principal point
divided by ``s``), keep the nearest face per cell (no blur, as NeMo/NOVUM) and interpolate the vertex features
with the barycentric coordinates of the cell centre (``interpolate_face_attributes``).

Which face covers a cell comes from PyTorch3D's ``MeshRasterizer`` with the camera of
:func:`robust3d.geometry.pascal_to_pytorch3d` (the project's one PASCAL3D+ -> PyTorch3D conversion). Two
things keep it fast enough to run inside a pose optimiser on a CPU, where PyTorch3D's rasteriser pays a few
microseconds per face and its backward pass a few per covered pixel, whatever the image size:

- faces that cannot be seen are dropped before rasterising: back faces (hidden on a closed mesh with outward
  normals, as ``geometry.cuboid_mesh`` makes) and faces whose projected bounding box holds no cell centre (at
  feature-map resolution most faces of a K = 200 cuboid are smaller than a cell);
- rasterisation runs without autograd, and the barycentric coordinates of the covered cells are recomputed
  in torch from :func:`robust3d.geometry.project_points` (perspective-correct, as PyTorch3D does), so the
  render is differentiable in azimuth, elevation and theta through the projected vertex positions (the
  gradient PyTorch3D's own backward pass would give for ``blur_radius = 0``). A test checks that both the
  faces and the weights equal plain PyTorch3D rasterisation of the whole mesh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from robust3d.geometry import camera_center, pascal_to_pytorch3d, project_points

TensorOrList = torch.Tensor | Sequence[torch.Tensor]
_EPS = 1e-4  # cells: margin of the "bounding box holds a cell centre" test, so it never drops a hit face


def _as_list(x: TensorOrList, batch: int) -> list[torch.Tensor]:
    """A per-mesh list from ``(V, C)`` (shared by the batch), ``(B, V, C)`` or a list of ``(V_b, C)``."""
    if isinstance(x, torch.Tensor):
        if x.dim() == 2:
            return [x] * batch
        if x.shape[0] != batch:
            raise ValueError(f"expected a batch of {batch}, got shape {tuple(x.shape)}")
        return list(x.unbind(0))
    if len(x) != batch:
        raise ValueError(f"expected {batch} meshes, got {len(x)}")
    return list(x)


def _pad(tensors: list[torch.Tensor], value: float) -> torch.Tensor:
    if all(t is tensors[0] for t in tensors):  # one shared mesh: no copy
        return tensors[0].unsqueeze(0).expand(len(tensors), *tensors[0].shape)
    return torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=value)


@dataclass
class MeshBatch:
    """``B`` meshes in padded form, with what culling needs (object-space face normals). Build once, reuse."""

    verts: torch.Tensor  # (B, Vmax, 3) float, zero padding
    faces: torch.Tensor  # (B, Fmax, 3) long, per-mesh vertex ids, zero padding
    face_valid: torch.Tensor  # (B, Fmax) bool
    normals: torch.Tensor  # (B, Fmax, 3) unnormalised, outward for outward-wound faces
    vert_offset: torch.Tensor  # (B,) long, first vertex of mesh b among the packed vertices
    face_offset: torch.Tensor  # (B,) long, first face of mesh b among the packed faces
    shared: bool = False  # all B meshes are the same mesh

    @classmethod
    def build(cls, verts: TensorOrList, faces: TensorOrList, batch: int) -> MeshBatch:
        vlist, flist = _as_list(verts, batch), _as_list(faces, batch)
        shared = all(v is vlist[0] for v in vlist[1:]) and all(f is flist[0] for f in flist[1:])
        vlist = [vlist[0].float()] * batch if shared else [v.float() for v in vlist]
        flist = [flist[0].long()] * batch if shared else [f.long() for f in flist]
        nv = torch.tensor([len(v) for v in vlist], device=vlist[0].device)
        nf = torch.tensor([len(f) for f in flist], device=vlist[0].device)
        v, f = _pad(vlist, 0.0), _pad(flist, 0)
        valid = torch.arange(f.shape[1], device=f.device)[None] < nf[:, None]
        tri = torch.gather(v, 1, f.reshape(batch, -1, 1).expand(-1, -1, 3)).reshape(batch, -1, 3, 3)
        normals = torch.linalg.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
        return cls(v, f, valid, normals, torch.cumsum(nv, 0) - nv, torch.cumsum(nf, 0) - nf, shared)

    def __len__(self) -> int:
        return self.verts.shape[0]

    def faces_packed(self) -> torch.Tensor:
        """``(F_packed, 3)`` packed vertex ids of all valid faces, mesh by mesh (PyTorch3D's packing)."""
        return (self.faces + self.vert_offset[:, None, None])[self.face_valid]


@dataclass
class VertexFragments:
    """Per cell: the nearest face, its 3 (packed) vertices and the cell centre's barycentric weights."""

    pix_to_face: torch.Tensor  # (B, h, w) long, index into MeshBatch.faces_packed(), -1 where not foreground
    vertex_index: torch.Tensor  # (B, h, w, 3) long, index into the packed vertices; 0 where not foreground
    bary: torch.Tensor  # (B, h, w, 3) perspective-correct weights, zero where not foreground; differentiable
    foreground: torch.Tensor  # (B, h, w) bool


def _visible_faces(mesh: MeshBatch, uv: torch.Tensor, depth: torch.Tensor, centre: torch.Tensor,
                   size_hw: tuple[int, int]) -> torch.Tensor:
    """``(B, Fmax)`` faces that may cover a cell centre: front-facing, in front of the camera, centre in bbox."""
    b, fmax = mesh.face_valid.shape
    idx = mesh.faces.reshape(b, -1)
    fuv = torch.gather(uv, 1, idx[..., None].expand(-1, -1, 2)).reshape(b, fmax, 3, 2)
    fdepth = torch.gather(depth, 1, idx).reshape(b, fmax, 3)
    p0 = mesh.verts.gather(1, mesh.faces[..., 0:1].expand(-1, -1, 3))
    front = ((centre[:, None] - p0) * mesh.normals).sum(-1) > 0
    lo, hi = fuv.amin(2), fuv.amax(2)
    size = torch.tensor([size_hw[1], size_hw[0]], device=uv.device)
    first = torch.ceil(lo - 0.5 - _EPS).clamp(min=0)
    last = torch.minimum(torch.floor(hi - 0.5 + _EPS), size - 1)
    holds_centre = (first <= last).all(-1)
    # Small faces (bbox over at most 2 x 2 centres, most faces here): test those centres exactly.
    small = (last - first <= 1).all(-1)
    offsets = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], device=uv.device, dtype=uv.dtype)
    cand = first[:, :, None] + offsets  # (B, F, 4, 2) cell indices
    in_box = (cand <= last[:, :, None]).all(-1)
    screen = _barycentrics(cand + 0.5, fuv[:, :, None])
    inside = (screen >= -1e-3).all(-1) & in_box
    holds_centre = holds_centre & (~small | inside.any(-1))
    return mesh.face_valid & front & holds_centre & (fdepth > 0).all(-1)


def _rasterize_faces(mesh: MeshBatch, keep: torch.Tensor, azimuth, elevation, theta, distance, focal_px,
                     principal_px, size_hw: tuple[int, int]) -> torch.Tensor:
    """PyTorch3D rasterisation of the kept faces; returns ``(B, h, w)`` per-mesh face ids (-1: none)."""
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    b = len(mesh)
    count = keep.sum(1)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, : max(int(count.max()), 1)]
    faces = torch.gather(mesh.faces, 1, order[..., None].expand(-1, -1, 3))
    slot_valid = torch.arange(order.shape[1], device=keep.device)[None] < count[:, None]
    faces = torch.where(slot_valid[..., None], faces, torch.full_like(faces, -1))
    cpu = [torch.as_tensor(x).detach().cpu() for x in (azimuth, elevation, theta, distance, focal_px)]
    principal = torch.as_tensor(principal_px, dtype=torch.float32).detach().cpu()
    cams = pascal_to_pytorch3d(*cpu, 1.0, principal, image_size=tuple(size_hw), device=mesh.verts.device)
    settings = RasterizationSettings(image_size=tuple(size_hw), blur_radius=0.0, faces_per_pixel=1, bin_size=0)
    frags = MeshRasterizer(cameras=cams, raster_settings=settings)(Meshes(mesh.verts, faces))
    packed = frags.pix_to_face[..., 0]
    first = (torch.cumsum(count, 0) - count).reshape(b, 1, 1)
    slot = (packed - first).clamp(min=0).reshape(b, -1)
    local = torch.gather(order, 1, slot).reshape(packed.shape)
    return torch.where(packed >= 0, local, torch.full_like(local, -1))


def rasterize_vertices(mesh: MeshBatch, azimuth: torch.Tensor, elevation: torch.Tensor, theta: torch.Tensor,
                       distance: torch.Tensor | float, focal_px: torch.Tensor | float,
                       principal_px: torch.Tensor | tuple[float, float], size_hw: tuple[int, int]) -> VertexFragments:
    """Which face and vertex weights cover each cell of ``size_hw`` (see the module docstring).

    Arguments as :func:`render_vertex_features` (angles ``(B,)``, lengths in feature-map cells). The weights
    carry gradients to the angles; the face choice does not (it is piecewise constant).
    """
    b = len(mesh)
    h, w = size_hw
    device = mesh.verts.device
    principal = torch.as_tensor(principal_px, dtype=mesh.verts.dtype, device=device)
    uv, depth = project_points(mesh.verts, azimuth, elevation, theta, distance, focal_px, 1.0, principal)
    with torch.no_grad():
        centre = camera_center(azimuth.detach(), torch.as_tensor(elevation).detach(),
                               torch.as_tensor(distance).detach()).to(mesh.verts).reshape(-1, 3).expand(b, 3)
        keep = _visible_faces(mesh, uv.detach(), depth.detach(), centre, size_hw)
        local = _rasterize_faces(mesh, keep, azimuth, elevation, theta, distance, focal_px, principal_px, size_hw)
    foreground = local >= 0
    face_local = local.clamp(min=0).reshape(b, -1)
    vids = torch.gather(mesh.faces, 1, face_local[..., None].expand(-1, -1, 3))  # (B, h*w, 3) per-mesh ids
    tri_uv = torch.gather(uv, 1, vids.reshape(b, -1, 1).expand(-1, -1, 2)).reshape(b, h * w, 3, 2)
    tri_z = torch.gather(depth, 1, vids.reshape(b, -1)).reshape(b, h * w, 3)
    rows, cols = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    p = torch.stack([cols, rows], -1).reshape(1, h * w, 2).to(uv) + 0.5
    bary = _perspective_barycentrics(p, tri_uv, tri_z, foreground.reshape(b, -1))
    fg3 = foreground[..., None]
    return VertexFragments(
        pix_to_face=torch.where(foreground, local + mesh.face_offset.reshape(b, 1, 1), -1),
        vertex_index=torch.where(fg3, (vids + mesh.vert_offset.reshape(b, 1, 1)).reshape(b, h, w, 3), 0),
        bary=bary.reshape(b, h, w, 3), foreground=foreground)


def _barycentrics(p: torch.Tensor, tri: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Screen-space barycentric weights ``(..., 3)`` of points ``p`` (``(..., 2)``) in triangles ``(..., 3, 2)``.

    Degenerate triangles and entries outside ``mask`` get a safe denominator (finite values and gradients).
    """
    d0, d1, dp = tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :], p - tri[..., 0, :]
    det = d0[..., 0] * d1[..., 1] - d1[..., 0] * d0[..., 1]
    ok = det.abs() > 1e-12
    det = torch.where(ok if mask is None else ok & mask, det, torch.ones_like(det))
    l1 = (dp[..., 0] * d1[..., 1] - d1[..., 0] * dp[..., 1]) / det
    l2 = (d0[..., 0] * dp[..., 1] - dp[..., 0] * d0[..., 1]) / det
    out = torch.stack([1 - l1 - l2, l1, l2], -1)
    return torch.where(ok[..., None], out, torch.full_like(out, -1.0))


def _perspective_barycentrics(p: torch.Tensor, tri: torch.Tensor, z: torch.Tensor, mask: torch.Tensor
                              ) -> torch.Tensor:
    """Weights of point ``p`` in screen triangles ``tri`` (``(..., 3, 2)``), corrected by depths ``z``.

    Screen-space weights ``l_k`` become ``(l_k / z_k) / sum_j (l_j / z_j)``, the weights of the surface point
    seen through ``p``. Entries outside ``mask`` are zero (and get no NaN gradient).
    """
    screen = _barycentrics(p, tri, mask)
    z = torch.where(mask[..., None], z, torch.ones_like(z))
    corrected = screen / z
    total = corrected.sum(-1, keepdim=True)
    total = torch.where(mask[..., None] & (total.abs() > 1e-12), total, torch.ones_like(total))
    return torch.where(mask[..., None], corrected / total, torch.zeros_like(corrected))


def render_vertex_features(
    verts: TensorOrList | MeshBatch,
    faces: TensorOrList | None,
    vertex_features: TensorOrList,
    azimuth: torch.Tensor,
    elevation: torch.Tensor,
    theta: torch.Tensor,
    distance: torch.Tensor | float,
    focal_px: torch.Tensor | float,
    principal_px: torch.Tensor | tuple[float, float],
    size_hw: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render ``B`` meshes' vertex features at feature-map resolution.

    Args:
        verts, faces, vertex_features: one mesh shared by the batch (``(V, 3)``, ``(F, 3)``, ``(V, D)``), a
            batch of equal-size meshes (``(B, V, 3)`` ...), or lists of per-mesh tensors (meshes may differ);
            or a prebuilt :class:`MeshBatch` as ``verts`` with ``faces=None``.
        azimuth, elevation, theta: ``(B,)`` radians (PASCAL3D+ convention); gradients flow to them.
        distance: camera distance, scalar or ``(B,)``.
        focal_px: focal length in feature-map cells (``viewport * focal / stride``), scalar or ``(B,)``.
        principal_px: principal point in feature-map cells (``principal / stride``), ``(2,)`` or ``(B, 2)``.
        size_hw: ``(h, w)`` of the feature map.

    Returns:
        ``rendered (B, D, h, w)`` (zero where no face is hit) and ``foreground (B, h, w)`` bool.
    """
    from pytorch3d.ops import interpolate_face_attributes

    azimuth = torch.as_tensor(azimuth).reshape(-1)
    batch = azimuth.shape[0]
    mesh = verts if isinstance(verts, MeshBatch) else MeshBatch.build(verts, faces, batch)
    featlist = _as_list(vertex_features, batch)
    frags = rasterize_vertices(mesh, azimuth, elevation, theta, distance, focal_px, principal_px, size_hw)
    if mesh.shared and all(f is featlist[0] for f in featlist[1:]):
        # One mesh seen B times: index its own face table instead of B copies of it.
        pix_to_face = torch.where(frags.foreground, frags.pix_to_face - mesh.face_offset.reshape(-1, 1, 1), -1)
        face_feats = featlist[0].to(mesh.verts.device)[mesh.faces[0][mesh.face_valid[0]]]
    else:
        pix_to_face = frags.pix_to_face
        face_feats = torch.cat(featlist, 0).to(mesh.verts.device)[mesh.faces_packed()]  # (F_packed, 3, D)
    rendered = interpolate_face_attributes(pix_to_face[..., None], frags.bary[..., None, :].to(face_feats.dtype),
                                           face_feats)
    return rendered[..., 0, :].permute(0, 3, 1, 2), frags.foreground
