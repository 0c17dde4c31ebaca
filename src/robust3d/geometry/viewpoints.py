"""Viewpoints on a sphere (template rendering) and their PASCAL3D+ angles.

Template matching renders each object from the vertices of a subdivided icosahedron on the upper hemisphere
(template-pose / TraM3D use levels 2 and 3); a viewpoint is the unit vector from the object to the camera,
which under the PASCAL3D+ convention is ``C / d = (cos e sin a, -cos e cos a, sin e)``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

ACC15_DEG = 15.0
"""Template matching's accuracy threshold (Acc15): a match within 15 degrees of the query's viewpoint."""


def icosphere(level: int) -> np.ndarray:
    """Unit vertices of an icosahedron subdivided ``level`` times (12, 42, 162, 642, ... points)."""
    return _icosphere(level)[0]


def icosphere_mesh(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vertices ``(V, 3)`` float64 (in :func:`icosphere`'s order) and outward-wound faces ``(F, 3)`` int64 of an
    icosahedron subdivided ``level`` times: ``V = 10 4^level + 2``, ``F = 20 4^level`` (level 4: NTDM's 2562-vertex
    template sphere)."""
    return _icosphere(level)


def _icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """The one builder behind :func:`icosphere` and :func:`icosphere_mesh`; each split turns a face into four (three
    corner triangles and the middle one, keeping the winding), midpoints numbered in order of first use."""
    if level < 0:
        raise ValueError(f"icosphere level must be >= 0, got {level}")
    t = (1 + math.sqrt(5)) / 2
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
             (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
             (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11),
             (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    points = [np.array(v, float) / np.linalg.norm(v) for v in verts]
    for _ in range(level):
        midpoints: dict[tuple[int, int], int] = {}
        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = (_midpoint(points, midpoints, i, j) for i, j in ((a, b), (b, c), (c, a)))
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    return np.stack(points), np.asarray(faces, dtype=np.int64).reshape(-1, 3)


def _midpoint(points: list[np.ndarray], cache: dict[tuple[int, int], int], i: int, j: int) -> int:
    """Index of the normalised midpoint of edge (i, j), created once per edge."""
    key = (min(i, j), max(i, j))
    if key not in cache:
        m = points[i] + points[j]
        points.append(m / np.linalg.norm(m))
        cache[key] = len(points) - 1
    return cache[key]


def upper_hemisphere(level: int) -> np.ndarray:
    """Icosphere viewpoints with the camera on or above the object's horizon (z >= 0), ``(N, 3)``."""
    v = icosphere(level)
    return v[v[:, 2] >= -1e-9]


def viewpoint_to_angles(directions):
    """``(azimuth, elevation)`` in radians (torch tensors) of unit object-to-camera directions ``(N, 3)``."""
    import torch

    d = torch.as_tensor(directions, dtype=torch.float64)
    azimuth = torch.remainder(torch.atan2(d[:, 0], -d[:, 1]), 2 * math.pi)
    elevation = torch.asin(d[:, 2].clamp(-1, 1))
    return azimuth, elevation


def viewpoint_error(azimuth1, elevation1, azimuth2, elevation2):
    """Angle between two viewing directions (radians, a tensor): the template-matching error, blind to in-plane
    rotation."""
    import torch

    from .pascal import camera_center

    c1 = camera_center(azimuth1, elevation1, 1.0)
    c2 = camera_center(azimuth2, elevation2, 1.0)
    return torch.acos((c1 * c2).sum(-1).clamp(-1.0, 1.0))


def hemisphere_probes(n: int = 20_000, equator: int = 3_600) -> np.ndarray:
    """Near-uniform unit directions on the upper hemisphere, ``(n + equator, 3)``: a Fibonacci spiral (z in (0, 1])
    plus points on the equator, where the hemisphere's templates are sparsest."""
    k = np.arange(n) + 0.5
    z = 1.0 - k / n
    phi = k * math.pi * (3.0 - math.sqrt(5.0))
    r = np.sqrt(1.0 - z**2)
    spiral = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    t = np.linspace(0.0, 2 * math.pi, equator, endpoint=False)
    return np.concatenate([spiral, np.stack([np.cos(t), np.sin(t), np.zeros_like(t)], axis=1)])


@cache
def covering_radius_deg(level: int) -> float:
    """The largest angle (degrees) between an upper-hemisphere direction and its nearest template of
    :func:`upper_hemisphere` at ``level``: a perfect nearest-template matcher stays within it, so Acc15 can reach 100%
    only when it is under :data:`ACC15_DEG` (levels 0-3: about 37.4, 20.9, 10.8, 5.5 degrees)."""
    cos = np.clip(hemisphere_probes() @ upper_hemisphere(level).T, -1.0, 1.0)
    return float(np.degrees(np.arccos(cos.max(axis=1)).max()))
