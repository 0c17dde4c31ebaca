"""NTDM's deformable mesh (Sec. 3.1, Eq. 1-2): a per-class MLP deforms a template sphere into the class's CAD shapes.

Eq. 1: ``Gamma(z) = { s * (v + Psi(v, z)) : v in Upsilon }``, ``Upsilon`` a unit icosphere at the origin (level 4 =
the paper's 2562 vertices; level 3 on the embedded default), ``s`` the class's per-axis scale, ``z`` a latent: while
the mesh is fitted, the one-hot of CAD model ``k``. Psi follows NeRS's ``TemplateUV`` (the paper's [44]): a harmonic
embedding of ``v`` (L = 10, omega0 = 0.1, sin and cos), concatenated with ``z``, into a 3-layer MLP with LayerNorm +
LeakyReLU whose last layer starts near zero (xavier gain 1e-3, zero bias), so that ``Gamma`` starts as the ellipsoid
``s * sphere``. At inference an instance scale ``s'`` multiplies ``s`` (the paper does not give the composition; this
one keeps ``s`` the class average).

Eq. 2: ``d(Gamma, Lambda) = sum_{v in Gamma} min_f d(v, f) + sum_{v in Lambda} min_f d(v, f)``, the two point-to-face
terms. Deviations, so that the fit works on low-poly CADs and numbers compare across mesh sizes:

- means, not sums, over each side's points (meshes of any resolution weigh the same);
- squared distances, as PyTorch3D's ``point_face_distance`` returns them;
- the CAD side's points are sampled area-uniformly on ``Lambda`` (``sample_points_from_meshes``) instead of being its
  vertices: a low-poly CAD's few vertices sit on the corners of large faces and leave the faces' interiors unfitted.

The distances are exact, but two things stand between them and a plain ``point_face_distance`` call:

- PyTorch3D's kernel is wrong for small triangles: below ``min_triangle_area`` (default 5e-3) a face counts as its
  three edges only, and above it the ``1e-8`` regulariser of its barycentric solve makes points beyond a vertex of a
  triangle with ~0.01-long edges "inside" (distance 0 instead of the distance to the vertex). The synthetic CADs are
  scaled to unit size, so most of their faces are that small. Each (point, face) pair is therefore evaluated in the
  face's own frame, shifted to a corner and scaled so its longest edge is 1 (distances scale back by the square).
- The kernel compares every point with every face of its mesh (~60 ns a pair on a CPU: 200 steps on 4 CADs would take
  minutes). Only faces that may be the nearest are evaluated: with ``c`` a face's centroid and ``r`` its largest
  centroid-vertex distance, ``|p - c| - r <= d(p, face)``, and the exact distance ``u`` to any one face bounds the
  nearest from above, so faces with ``|p - c| - r > u`` are dropped (``u``: the face of the nearest centroid, or in a
  fit loop the previous step's nearest face). The nearest face is then picked without autograd and only it is
  evaluated again with autograd. Tests check the result against an unpruned brute force.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

Cad = tuple[torch.Tensor, torch.Tensor]  # verts (V, 3) float, faces (F, 3) long
FORMAT = "robust3d-ntdm-deform-v1"
_MIN_AREA = 1e-3  # of a face scaled to longest edge 1: slivers thinner than 2e-3 count as their edges (d^2 off < 4e-6)
_PAIR_CHUNK = 1 << 22  # point-centroid distances computed at once while pruning (16 MB of float32)


# ------------------------------------------------------------------------------------------------- Psi (Eq. 1)

class HarmonicEmbedding(nn.Module):
    """``(..., 3) -> (..., 6 L)``: ``sin`` then ``cos`` of ``x_i omega0 2^j`` for ``j < L`` (NeRF's positional
    encoding with NeRS's base frequency: with omega0 = 0.1 the lowest band is nearly linear over the unit sphere)."""

    def __init__(self, n_harmonics: int = 10, omega0: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("frequencies", omega0 * 2.0 ** torch.arange(n_harmonics, dtype=torch.float32),
                             persistent=False)

    @property
    def out_dim(self) -> int:
        return 6 * len(self.frequencies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[..., None] * self.frequencies).flatten(-2)
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class DeformNet(nn.Module):
    """Psi of one class and its per-axis scale ``s = exp(log_scale)`` (a log, so it stays positive); buffers
    ``template (V, 3)`` (unit icosphere) and ``faces (F, 3)`` long (outward).
    ``forward(z (B, k), s' (B, 3)) -> (B, V, 3)`` = ``s' * s * (v + Psi(v, z))``, one batched MLP pass."""

    def __init__(self, n_latent: int, template_level: int = 3, width: int = 128, layers: int = 3,
                 harmonics: int = 10, omega0: float = 0.1, init_scale: Sequence[float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        from robust3d.geometry import icosphere_mesh

        if n_latent < 1 or layers < 1:
            raise ValueError(f"DeformNet needs n_latent >= 1 and layers >= 1, got {n_latent}, {layers}")
        init_scale = [float(x) for x in init_scale]
        if len(init_scale) != 3 or min(init_scale) <= 0:
            raise ValueError(f"init_scale must be 3 positive numbers, got {init_scale}")
        self.config = {"n_latent": int(n_latent), "template_level": int(template_level), "width": int(width),
                       "layers": int(layers), "harmonics": int(harmonics), "omega0": float(omega0),
                       "init_scale": init_scale}
        verts, faces = icosphere_mesh(template_level)
        self.register_buffer("template", torch.as_tensor(verts, dtype=torch.float32))
        self.register_buffer("faces", torch.as_tensor(faces, dtype=torch.long))
        self.embedding = HarmonicEmbedding(harmonics, omega0)
        dims = [self.embedding.out_dim + n_latent] + [width] * (layers - 1)
        blocks: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(d_in, d_out), nn.LayerNorm(d_out), nn.LeakyReLU()]
        last = nn.Linear(dims[-1], 3)
        nn.init.xavier_uniform_(last.weight, gain=1e-3)  # NeRS: the mesh starts as the template
        nn.init.zeros_(last.bias)
        self.mlp = nn.Sequential(*blocks, last)
        self.log_scale = nn.Parameter(torch.tensor(init_scale).log())

    @property
    def n_latent(self) -> int:
        return self.config["n_latent"]

    @property
    def scale(self) -> torch.Tensor:
        """The class's per-axis scale ``s (3,)``."""
        return self.log_scale.exp()

    def displacement(self, z: torch.Tensor) -> torch.Tensor:
        """``Psi(v, z)``: ``(B, V, 3)`` template-space offsets for latents ``z (B, k)``."""
        if z.dim() != 2 or z.shape[1] != self.n_latent:
            raise ValueError(f"expected latents (B, {self.n_latent}), got {tuple(z.shape)}")
        emb = self.embedding(self.template)  # (V, 6L)
        b, v = z.shape[0], emb.shape[0]
        x = torch.cat([emb.expand(b, -1, -1), z.to(emb.dtype)[:, None].expand(-1, v, -1)], dim=-1)
        return self.mlp(x)

    def forward(self, z: torch.Tensor, instance_scale: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 1 (with the instance scale ``s'`` of inference, default 1): vertices ``(B, V, 3)``."""
        verts = (self.template + self.displacement(z)) * self.scale
        return verts if instance_scale is None else verts * instance_scale[:, None, :]

    def sphere(self) -> torch.Tensor:
        """``s * v``: the learned-scale template without displacement ``(V, 3)`` (the baseline of the fit)."""
        return self.template * self.scale


def deform_state(net: DeformNet) -> dict:
    """Plain content (dicts, tensors, numbers, strings) that ``torch.load(weights_only=True)`` reads back."""
    return {"format": FORMAT, "config": dict(net.config, init_scale=list(net.config["init_scale"])),
            "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}


def deform_from_state(state: dict) -> DeformNet:
    """The :class:`DeformNet` stored by :func:`deform_state` (same outputs)."""
    if state.get("format") != FORMAT:
        raise ValueError(f"not a deformable mesh state ({FORMAT}): format {state.get('format')!r}")
    net = DeformNet(**state["config"])
    net.load_state_dict(state["state_dict"])
    return net


# ------------------------------------------------------------------------------------------- distances (Eq. 2)

def point_to_triangle_sq_brute(points: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """Squared distance of each point ``(P, 3)`` to each triangle ``(T, 3, 3)``: ``(P, T)``, in float64.

    The reference for :func:`point_to_face_sq`: the closest point by Voronoi region of the triangle (3 vertices,
    3 edges, interior; Ericson, Real-Time Collision Detection, 5.1.5), every pair evaluated. For non-degenerate
    triangles.
    """
    p = points.double()[:, None]  # (P, 1, 3)
    a, b, c = (tri.double()[None, :, i] for i in range(3))  # (1, T, 3)
    ab, ac = b - a, c - a

    def dot(x, y):
        return (x * y).sum(-1, keepdim=True)

    def ratio(num, den):
        return num / torch.where(den == 0, torch.ones_like(den), den)

    ap, bp, cp = p - a, p - b, p - c
    d1, d2, d3, d4, d5, d6 = dot(ab, ap), dot(ac, ap), dot(ab, bp), dot(ac, bp), dot(ab, cp), dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    total = va + vb + vc
    closest = a + ab * ratio(vb, total) + ac * ratio(vc, total)  # interior
    # Regions from the lowest priority to the highest (Ericson tests them in the opposite order and returns first).
    regions = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), b + (c - b) * ratio(d4 - d3, (d4 - d3) + (d5 - d6))),  # BC
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), a + ac * ratio(d2, d2 - d6)),  # edge AC
        ((d6 >= 0) & (d5 <= d6), c.expand_as(closest)),  # vertex C
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), a + ab * ratio(d1, d1 - d3)),  # edge AB
        ((d3 >= 0) & (d4 <= d3), b.expand_as(closest)),  # vertex B
        ((d1 <= 0) & (d2 <= 0), a.expand_as(closest)),  # vertex A
    ]
    for mask, point in regions:
        closest = torch.where(mask, point, closest)
    return (p - closest).square().sum(-1)


def _frames(tri: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each face's frame: ``origin (N, 3)`` (its first corner), ``inv (N,)`` = 1 / longest edge (a constant: no
    gradient) and the face in that frame ``(N, 3, 3)``."""
    origin = tri[:, 0]
    inv = 1.0 / (tri - tri.roll(1, dims=1)).norm(dim=-1).amax(1).detach().clamp_min(1e-12)
    return origin, inv, (tri - origin[:, None]) * inv[:, None, None]


def _pair_sq(points: torch.Tensor, tri: torch.Tensor) -> torch.Tensor:
    """``(N,)`` squared distances of ``points[i] (N, 3)`` to ``tri[i] (N, 3, 3)``: PyTorch3D's kernel, one example per
    pair, in the face's frame (see the module doc). As ``d(p, T) = d(a p, a T) / a^2`` for any constant ``a``, the
    gradient is exact."""
    from pytorch3d.loss.point_mesh_distance import point_face_distance

    origin, inv, local = _frames(tri)
    first = torch.arange(len(points), device=points.device)
    return point_face_distance((points - origin) * inv[:, None], first, local, first, 1, _MIN_AREA) / inv.square()


@torch.no_grad()
def _candidate_pairs(points: torch.Tensor, tris: torch.Tensor,
                     guess: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(point, face)`` index pairs, sorted by point, that hold each point's nearest face (the bounds of the module
    doc). The upper bound is the exact distance to the face ``guess (P,)`` (default: the face of the nearest
    centroid). The test ``|p - c| - r <= u`` is ``|p - c|^2 <= (u + r)^2`` (both sides >= 0), a bilinear form in
    ``(p, u)`` and ``(c, r)``: one matrix product a chunk, with a margin far above its float32 rounding."""
    centroid = tris.mean(1)
    reach = (tris - centroid[:, None]).norm(dim=-1).amax(1) * (1 + 1e-4)
    c_sq = centroid.square().sum(-1)
    # (p, u, 1, |p|^2 - u^2) . (-2 c, -2 r, |c|^2 - r^2, 1) = |p - c|^2 - (u + r)^2
    cols_side = torch.cat([-2 * centroid, -2 * reach[:, None], (c_sq - reach.square())[:, None],
                           torch.ones_like(reach)[:, None]], dim=1).T
    rows, cols = [], []
    step = max(1, _PAIR_CHUNK // len(tris))
    for start in range(0, len(points), step):
        p = points[start : start + step]
        p_sq = p.square().sum(-1)
        near = torch.addmm(c_sq, p, centroid.T, alpha=-2).argmin(1) if guess is None else guess[start : start + step]
        upper = _pair_sq(p, tris[near]).sqrt() * (1 + 1e-4)
        rows_side = torch.cat([p, upper[:, None], torch.ones_like(upper)[:, None], (p_sq - upper.square())[:, None]],
                              dim=1)
        margin = 1e-5 * float(p_sq.max() + c_sq.max()) + 1e-12
        r, c = (rows_side @ cols_side <= margin).nonzero(as_tuple=True)
        rows.append(r + start)
        cols.append(c)
    return torch.cat(rows), torch.cat(cols)


class NearestFace:
    """``(points (P, 3), verts (V, 3), faces (F, 3)) -> (P,)``: exact squared distances to the nearest face,
    differentiable in points and vertices, for a loop whose meshes move a little per call (a fit): the nearest faces
    of the previous call (same point count, same faces) give the upper bound of the pruning, so no search for the
    nearest centroid is needed. Any guess keeps the result exact; a good one keeps the candidate pairs few."""

    def __init__(self) -> None:
        self._faces: torch.Tensor | None = None
        self._nearest: torch.Tensor | None = None

    def __call__(self, points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        same = (self._faces is not None and self._faces.shape == faces.shape and torch.equal(self._faces, faces)
                and self._nearest is not None and len(self._nearest) == len(points))
        guess = self._nearest if same else None
        dist, self._nearest = _nearest_sq(points, verts, faces, lambda p, t: _candidate_pairs(p, t, guess))
        if not same:
            self._faces = faces.detach().clone()
        return dist


def _nearest_sq(points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor,
                pairs: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(squared distance (P,), nearest face (P,))``. The nearest face among ``pairs(points, tris) -> (rows, cols)``
    is found without autograd, then only the ``P`` winning pairs are evaluated with it (PyTorch3D's backward pass
    would otherwise run over every candidate pair for a gradient that is zero on all but the nearest)."""
    from pytorch3d.loss.point_mesh_distance import point_face_distance

    if len(faces) == 0:
        raise ValueError("point_to_face_sq needs a mesh with at least one face")
    points, verts, faces = points.float(), verts.float(), faces.long()
    tris = verts[faces]  # (F, 3, 3)
    with torch.no_grad():
        p, t = points.detach(), tris.detach()
        rows, cols = pairs(p, t)
        origin, inv, local = _frames(t)  # per face once, then gathered per pair
        first = torch.arange(len(rows), device=p.device)
        pair = point_face_distance((p[rows] - origin[cols]) * inv[cols, None], first, local[cols], first, 1,
                                   _MIN_AREA) / inv[cols].square()
        best = torch.full((len(p),), math.inf, device=p.device).scatter_reduce(0, rows, pair, "amin")
        wins = pair <= best[rows]
        # Ties: the lowest face id, so the choice (and the gradient) is deterministic.
        nearest = torch.full((len(p),), len(t), dtype=torch.long, device=p.device).scatter_reduce(
            0, rows[wins], cols[wins], "amin")
    return _pair_sq(points, tris[nearest]), nearest


def point_to_face_sq(points: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor, *,
                     prune: bool = True) -> torch.Tensor:
    """Squared distance ``(P,)`` of each point ``(P, 3)`` to its nearest face of the mesh ``verts (V, 3)``,
    ``faces (F, 3)``, differentiable in points and vertices: PyTorch3D's ``point_face_distance`` per (point, face)
    pair in the face's own frame, over the faces that may be the nearest (``prune=False``: every face; see the module
    doc)."""
    if prune:
        return NearestFace()(points, verts, faces)

    def every(p: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.arange(len(p), device=p.device).repeat_interleave(len(t)),
                torch.arange(len(t), device=p.device).repeat(len(p)))

    return _nearest_sq(points, verts, faces, every)[0]


def two_sided_distance(mesh_verts: torch.Tensor, mesh_faces: torch.Tensor, cad_points: torch.Tensor,
                       cad_verts: torch.Tensor, cad_faces: torch.Tensor, mesh_points: torch.Tensor | None = None, *,
                       nearest: tuple[NearestFace, NearestFace] | None = None) -> torch.Tensor:
    """Eq. 2, scalar: mean squared distance of the deformed mesh's vertices ``(V, 3)`` (or ``mesh_points``) to the
    CAD's faces + mean squared distance of points sampled on the CAD ``(P, 3)`` to the deformed mesh's faces.

    The paper sums over vertices; means keep meshes of different resolution comparable. Passing points sampled on
    both meshes makes the distance symmetric in its two meshes. ``nearest``: the (to CAD, to mesh) distance
    functions of a fit loop (:class:`NearestFace`, which reuse the previous call's nearest faces).
    """
    to_cad, to_mesh = nearest if nearest is not None else (NearestFace(), NearestFace())
    src = mesh_verts if mesh_points is None else mesh_points
    return to_cad(src, cad_verts, cad_faces).mean() + to_mesh(cad_points, mesh_verts, mesh_faces).mean()


def sample_surface(verts: torch.Tensor, faces: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 3)`` points area-uniform on a mesh (PyTorch3D's ``sample_points_from_meshes``), deterministic in
    ``seed`` and without touching the global random state (PyTorch3D's sampler takes no generator)."""
    from pytorch3d.ops import sample_points_from_meshes
    from pytorch3d.structures import Meshes

    devices = [verts.device] if verts.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        mesh = Meshes(verts=[verts.detach().float()], faces=[faces.long()])
        return sample_points_from_meshes(mesh, n)[0]


@torch.no_grad()
def distance_to_cad(mesh_verts: torch.Tensor, mesh_faces: torch.Tensor, cad: Cad, points: int = 2000,
                    seed: int = 0) -> float:
    """Eq. 2 of one mesh and one CAD, with ``points`` CAD points drawn with ``seed`` (for evaluation)."""
    verts, faces = cad
    return float(two_sided_distance(mesh_verts, mesh_faces, sample_surface(verts, faces, points, seed), verts,
                                    faces))


# -------------------------------------------------------------------------------------------------- fitting

@dataclass
class MeshFitRecord:
    """One CAD of a class fit: Eq. 2 of the learned-scale sphere ``s * v`` and of ``Gamma(z_k)``; the class's
    steps and seconds (all CADs are fitted together, so the time is the class's)."""

    cad: int  # position in the class's CAD list (0-based)
    sphere: float
    fitted: float
    steps: int
    seconds: float

    @classmethod
    def rows(cls, summary: dict) -> list[MeshFitRecord]:
        """Per-CAD records of a :func:`fit_class` summary."""
        return [cls(k, s, f, summary["steps"], summary["seconds"])
                for k, (s, f) in enumerate(zip(summary["sphere"], summary["fitted"], strict=True))]


def _as_cad(cad: Cad, device: torch.device | None = None) -> Cad:
    verts, faces = cad
    verts, faces = torch.as_tensor(verts).float(), torch.as_tensor(faces).long()
    return (verts, faces) if device is None else (verts.to(device), faces.to(device))


def _regulariser(net: DeformNet, batch: int):
    """``verts (B, V, 3) -> (normal consistency, uniform Laplacian)`` of PyTorch3D for deformed meshes; the
    topology (edges, Laplacian) is built once and reused through ``Meshes.update_padded``."""
    from pytorch3d.loss import mesh_laplacian_smoothing, mesh_normal_consistency
    from pytorch3d.structures import Meshes

    base = Meshes(verts=net.template.detach().expand(batch, -1, -1), faces=net.faces.expand(batch, -1, -1))
    with warnings.catch_warnings():  # PyTorch3D builds its Laplacian with torch's unchecked sparse constructor
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        base.edges_packed(), base.laplacian_packed()

    def terms(verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        meshes = base.update_padded(verts)
        return mesh_normal_consistency(meshes), mesh_laplacian_smoothing(meshes, method="uniform")

    return terms


def fit_class(cads: Sequence[Cad], *, template_level: int = 3, width: int = 128, layers: int = 3,
              harmonics: int = 10, omega0: float = 0.1, steps: int = 100, lr: float = 3e-3, points: int = 1000,
              normal_weight: float = 0.01, laplacian_weight: float = 0.1, seed: int = 0,
              progress: bool = False) -> tuple[DeformNet, dict]:
    """Fit Psi and ``s`` of one class to its CADs ``[(verts (V_k, 3), faces (F_k, 3)), ...]`` (Sec. 3.1).

    ``z_k`` = one-hot of CAD ``k`` (its position in ``cads``); ``s`` starts at the pooled CADs' per-axis half-extent
    ``max |x|`` (the CADs are centred; Eq. 1 has no translation). Loss per step, all CADs at once:
    ``sum_k d(Gamma(z_k), Lambda_k) + normal_weight * normal consistency + laplacian_weight * Laplacian``, Adam on
    Psi and ``log s``; ``points`` CAD points sampled once (seed ``seed + k``). Deterministic in ``seed``. Returns the
    net (eval mode) and ``{"sphere": [...], "fitted": [...], "steps", "seconds"}``: Eq. 2 per CAD of the learned-scale
    sphere and of ``Gamma(z_k)``, measured on other points (seed ``seed + 1000 + k``).

    Defaults (the paper gives none): 100 steps at lr 3e-3 with 1000 points fit every class of the synthetic benchmark
    (the fit tests' criteria) in ~4 s a class on 2 CPU cores; 60 steps at 5e-3 start to miss them.
    """
    from tqdm import tqdm

    if not cads:
        raise ValueError("fit_class needs at least one CAD model")
    started = time.perf_counter()
    cads = [_as_cad(c) for c in cads]
    device = cads[0][0].device
    init_scale = torch.cat([v for v, _ in cads]).abs().amax(0).clamp_min(1e-6).tolist()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        net = DeformNet(len(cads), template_level, width, layers, harmonics, omega0, init_scale).to(device)
    targets = [sample_surface(v, f, points, seed + k) for k, (v, f) in enumerate(cads)]
    nearest = [(NearestFace(), NearestFace()) for _ in cads]
    z = torch.eye(len(cads), device=device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    regulariser = _regulariser(net, len(cads))
    net.train()
    for _ in tqdm(range(steps), desc="mesh fit", unit="step", disable=not progress):
        verts = net(z)
        loss = sum(two_sided_distance(verts[k], net.faces, targets[k], *cads[k], nearest=nearest[k])
                   for k in range(len(cads)))
        normal, laplacian = regulariser(verts)
        loss = loss + normal_weight * normal + laplacian_weight * laplacian
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        verts, sphere = net(z), net.sphere()
        evals = [(cad, seed + 1000 + k) for k, cad in enumerate(cads)]
        summary = {"sphere": [distance_to_cad(sphere, net.faces, cad, points, s) for cad, s in evals],
                   "fitted": [distance_to_cad(verts[k], net.faces, cad, points, s) for k, (cad, s) in enumerate(evals)],
                   "steps": int(steps), "seconds": time.perf_counter() - started}
    return net, summary


def fit_latent(net: DeformNet, cad: Cad, steps: int = 100, lr: float = 0.05, points: int = 2000,
               seed: int = 0) -> torch.Tensor:
    """A free latent ``z (k,)`` fitting a held-out CAD by Eq. 2, Psi and ``s`` frozen; starts at the average
    ``1/k`` and returns the lowest-loss iterate (the loss is not monotone under Adam)."""
    verts, faces = _as_cad(cad, net.template.device)
    target = sample_surface(verts, faces, points, seed)
    z = torch.full((1, net.n_latent), 1.0 / net.n_latent, device=net.template.device, requires_grad=True)
    opt = torch.optim.Adam([z], lr=lr)
    nearest = (NearestFace(), NearestFace())
    flags = [p.requires_grad for p in net.parameters()]
    best, best_z = math.inf, z.detach()[0].clone()
    try:
        net.requires_grad_(False)
        for step in range(steps + 1):
            loss = two_sided_distance(net(z)[0], net.faces, target, verts, faces, nearest=nearest)
            if float(loss.detach()) < best:
                best, best_z = float(loss.detach()), z.detach()[0].clone()
            if step == steps:
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    finally:
        for p, flag in zip(net.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    return best_z


def save_obj(path: str | Path, verts: torch.Tensor, faces: torch.Tensor) -> None:
    """Write a mesh ``(V, 3)``, ``(F, 3)`` as Wavefront OBJ (PyTorch3D's writer), atomically."""
    from pytorch3d.io import save_obj as _save_obj

    from robust3d.data.io import atomic_path

    with atomic_path(path) as tmp:
        _save_obj(tmp, verts.detach().float().cpu(), faces.detach().long().cpu())
