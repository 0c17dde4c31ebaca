"""NeMo's cuboid meshes: one box per category that the neural mesh models put features on.

Following NeMo's ``tools/CreateCuboidMesh.py``: along each axis keep the tightest interval that contains
99% of the vertices of all CAD models of the category (pooled: "single cuboid" mode), then grid each of
the six faces with an edge length ``sqrt(total_area / K)`` so the box carries about K vertices (at most
K plus the duplicated edges: NeMo floors the segment count). Each face
has its own grid, so vertices on the box edges are duplicated, as in NeMo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def tightest_interval(values: np.ndarray, coverage: float = 0.99) -> tuple[float, float]:
    """Shortest interval ``[lo, hi]`` containing ``int(coverage * n) + 1`` of ``values``.

    NeMo's count: it takes ``s = int(0.99 n)`` and spans ``v[i] .. v[i + s]``, i.e. ``s + 1`` sorted values
    (capped at ``n`` here, where NeMo would fail on ``s == n``).
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise ValueError("tightest_interval needs at least one value")
    k = min(v.size, int(coverage * v.size) + 1)
    widths = v[k - 1 :] - v[: v.size - k + 1]
    i = int(np.argmin(widths))
    return float(v[i]), float(v[i + k - 1])


def cuboid_bounds(vertex_sets: Sequence[np.ndarray], coverage: float = 0.99) -> np.ndarray:
    """``(2, 3)`` array of per-axis ``[min, max]`` pooled over all CAD models of a category."""
    pooled = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1, 3) for v in vertex_sets])
    return np.array([tightest_interval(pooled[:, ax], coverage) for ax in range(3)]).T


def _grid_face(origin, u_vec, v_vec, nu: int, nv: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid of (nu+1) x (nv+1) vertices on the parallelogram origin + s u + t v, triangles u x v facing."""
    s, t = np.meshgrid(np.linspace(0, 1, nu + 1), np.linspace(0, 1, nv + 1), indexing="ij")
    verts = origin + s[..., None] * u_vec + t[..., None] * v_vec
    idx = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return verts.reshape(-1, 3), faces


def cuboid_mesh(bounds: np.ndarray, n_vertices: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Gridded box inside ``bounds`` (``(2, 3)``) with about ``n_vertices`` vertices, outward faces.

    Returns ``(verts (V, 3) float32, faces (F, 3) int64)``.
    """
    lo, hi = np.asarray(bounds, dtype=np.float64)
    size = hi - lo
    if np.any(size <= 0):
        raise ValueError(f"degenerate cuboid bounds {bounds.tolist()}")
    area = 2 * (size[0] * size[1] + size[1] * size[2] + size[0] * size[2])
    edge = math.sqrt(area / n_vertices)
    # NeMo samples ``int(s / edge + 1)`` points per side, i.e. floor(s / edge) segments; at least one here,
    # where NeMo would leave a single sample and a face with no triangles.
    n = [max(1, int(s / edge + 1) - 1) for s in size]
    ex, ey, ez = np.diag(size)
    # (origin, u, v, nu, nv) with u x v pointing out of the box.
    face_specs = [
        (lo, ey, ex, n[1], n[0]),  # z = lo, normal -z
        (lo + ez, ex, ey, n[0], n[1]),  # z = hi, normal +z
        (lo, ex, ez, n[0], n[2]),  # y = lo, normal -y
        (lo + ey, ez, ex, n[2], n[0]),  # y = hi, normal +y
        (lo, ez, ey, n[2], n[1]),  # x = lo, normal -x
        (lo + ex, ey, ez, n[1], n[2]),  # x = hi, normal +x
    ]
    verts, faces, offset = [], [], 0
    for origin, u_vec, v_vec, nu, nv in face_specs:
        fv, ff = _grid_face(origin, u_vec, v_vec, nu, nv)
        verts.append(fv)
        faces.append(ff + offset)
        offset += len(fv)
    return np.concatenate(verts).astype(np.float32), np.concatenate(faces).astype(np.int64)
