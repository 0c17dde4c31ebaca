"""Low-poly triangle-mesh primitives for the synthetic benchmark (the Mesh type and OFF I/O: :mod:`robust3d.data.cad`).

Pure numpy so meshes can be built in data-loader workers without torch. Faces are counter-clockwise seen
from outside (outward normals) because renderers rely on it for back-face culling and shading; every
primitive is a closed surface, so its signed volume is positive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from robust3d.data.cad import Mesh

Vec3 = Sequence[float] | np.ndarray

# Proper rotations (det +1, so winding survives) taking the canonical +z build axis onto the requested axis.
_AXIS_ROT = {
    "z": np.eye(3),
    "x": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),  # (x, y, z) -> (y, z, x)
    "y": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),  # (x, y, z) -> (z, x, y)
}


def merge(meshes: Iterable[Mesh]) -> Mesh:
    """Concatenate meshes into one (parts may interpenetrate; that is fine for rendering)."""
    meshes = list(meshes)
    if not meshes:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3)))
    offsets = np.cumsum([0] + [m.num_verts for m in meshes[:-1]])
    verts = np.concatenate([m.verts for m in meshes])
    faces = np.concatenate([m.faces + o for m, o in zip(meshes, offsets, strict=True)])
    return Mesh(verts, faces)


def rotation_matrix(axis: str | Vec3, angle: float) -> np.ndarray:
    """Right-handed rotation by `angle` radians about a named axis ('x', 'y', 'z') or a 3-vector."""
    if isinstance(axis, str):
        axis = np.eye(3)["xyz".index(axis)]
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * kx + (1.0 - np.cos(angle)) * kx @ kx


def align_z(direction: Vec3) -> np.ndarray:
    """Rotation taking +z onto `direction` (used to orient tubes between two points)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    axis = np.cross([0.0, 0.0, 1.0], d)
    s = np.linalg.norm(axis)
    if s < 1e-9:
        return np.eye(3) if d[2] > 0 else np.diag([1.0, -1.0, -1.0])
    return rotation_matrix(axis, float(np.arctan2(s, d[2])))


def transform(
    mesh: Mesh,
    scale: float | Vec3 = 1.0,
    rotation: np.ndarray | None = None,
    translation: Vec3 = (0.0, 0.0, 0.0),
) -> Mesh:
    """Apply v -> R (s * v) + t; mirroring scales flip the winding so normals stay outward."""
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (3,))
    r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    verts = (mesh.verts.astype(np.float64) * s) @ r.T + np.asarray(translation, dtype=np.float64)
    flip = np.prod(np.sign(s)) * np.linalg.det(r) < 0
    return Mesh(verts, mesh.faces[:, ::-1] if flip else mesh.faces)


def normalize(mesh: Mesh) -> Mesh:
    """Centre the bounding box at the origin and scale its largest side to exactly 1 (PASCAL3D+ style)."""
    v = mesh.verts.astype(np.float64)
    lo, hi = v.min(0), v.max(0)
    return Mesh((v - (lo + hi) / 2) / (hi - lo).max(), mesh.faces)


def subdivide(mesh: Mesh) -> Mesh:
    """Midpoint 1-to-4 split; keeps the shape, raises the face count of very simple meshes."""
    f = mesh.faces
    edges = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    uniq, inv = np.unique(edges, axis=0, return_inverse=True)
    mids = mesh.verts[uniq].mean(1)
    m = inv.reshape(-1, 3) + mesh.num_verts
    a, b, c = f.T
    ab, bc, ca = m.T
    faces = np.concatenate([np.stack(t, 1) for t in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return Mesh(np.concatenate([mesh.verts, mids]), faces)


def _stitch(rings: list[np.ndarray]) -> Mesh:
    """Close a sequence of rings into a watertight surface.

    Each ring is (S, 3) counter-clockwise about the direction of travel, or (1, 3) for a pole; open ends
    get a fan cap around their centroid. This one routine builds lathes, prisms and ellipsoids.
    """
    verts, faces, starts = [], [], []
    n = 0
    for ring in rings:
        starts.append(n)
        verts.append(ring)
        n += len(ring)
    seg = max(len(r) for r in rings)
    i = np.arange(seg)
    j = (i + 1) % seg
    for k in range(len(rings) - 1):
        a0, b0, na, nb = starts[k], starts[k + 1], len(rings[k]), len(rings[k + 1])
        if na > 1 and nb > 1:
            faces += [np.stack([a0 + i, a0 + j, b0 + j], 1), np.stack([a0 + i, b0 + j, b0 + i], 1)]
        elif na > 1:
            faces.append(np.stack([a0 + i, a0 + j, np.full(seg, b0)], 1))
        elif nb > 1:
            faces.append(np.stack([np.full(seg, a0), b0 + j, b0 + i], 1))
    if len(rings[0]) > 1:
        verts.append(rings[0].mean(0, keepdims=True))
        faces.append(np.stack([np.full(seg, n), j, i], 1))
        n += 1
    if len(rings[-1]) > 1:
        verts.append(rings[-1].mean(0, keepdims=True))
        s = starts[-1]
        faces.append(np.stack([np.full(seg, n), s + i, s + j], 1))
    return Mesh(np.concatenate(verts), np.concatenate(faces))


def lathe(profile: np.ndarray | Sequence[Sequence[float]], segments: int = 12, axis: str = "z") -> Mesh:
    """Surface of revolution of an (r, h) profile listed from bottom to top; r == 0 makes a pole."""
    prof = np.asarray(profile, dtype=np.float64)
    ang = 2 * np.pi * np.arange(segments) / segments
    circle = np.stack([np.cos(ang), np.sin(ang), np.zeros(segments)], 1)
    rings = []
    for r, h in prof:
        rings.append(np.array([[0.0, 0.0, h]]) if r <= 1e-12 else circle * r + [0.0, 0.0, h])
    return transform(_stitch(rings), rotation=_AXIS_ROT[axis])


def box(size: Vec3 = (1.0, 1.0, 1.0)) -> Mesh:
    """Axis-aligned box centred at the origin."""
    sx, sy, sz = (float(v) / 2 for v in size)
    return prism([(-sx, -sy), (sx, -sy), (sx, sy), (-sx, sy)], 2 * sz, axis="z")


def cylinder(radius: float = 0.5, height: float = 1.0, segments: int = 12, axis: str = "z") -> Mesh:
    """Capped cylinder centred at the origin along `axis` (4 * segments faces)."""
    return lathe([(radius, -height / 2), (radius, height / 2)], segments, axis)


def cone(
    radius_bottom: float = 0.5,
    radius_top: float = 0.0,
    height: float = 1.0,
    segments: int = 12,
    axis: str = "z",
) -> Mesh:
    """Cone (radius_top == 0) or capped frustum, centred, bottom at -height/2 along `axis`."""
    return lathe([(radius_bottom, -height / 2), (radius_top, height / 2)], segments, axis)


def ellipsoid(radii: Vec3 = (0.5, 0.5, 0.5), rings: int = 6, segments: int = 10) -> Mesh:
    """Low-res UV ellipsoid centred at the origin (2 * segments * (rings - 1) faces)."""
    lat = np.linspace(-np.pi / 2, np.pi / 2, rings + 1)
    prof = np.stack([np.cos(lat), np.sin(lat)], 1)
    prof[[0, -1], 0] = 0.0
    return transform(lathe(prof, segments), scale=radii)


def torus(
    major: float = 0.35, minor: float = 0.15, segments: int = 16, tube_segments: int = 6, axis: str = "z"
) -> Mesh:
    """Ring around `axis` (wheels, handles); 2 * segments * tube_segments faces."""
    u = 2 * np.pi * np.arange(segments)[:, None] / segments
    v = 2 * np.pi * np.arange(tube_segments)[None, :] / tube_segments
    rad = major + minor * np.cos(v)
    verts = np.stack(np.broadcast_arrays(rad * np.cos(u), rad * np.sin(u), minor * np.sin(v)), -1)
    i, j = np.meshgrid(np.arange(segments), np.arange(tube_segments), indexing="ij")
    a = i * tube_segments + j
    b = (i + 1) % segments * tube_segments + j
    c = (i + 1) % segments * tube_segments + (j + 1) % tube_segments
    d = i * tube_segments + (j + 1) % tube_segments
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return transform(Mesh(verts.reshape(-1, 3), faces), rotation=_AXIS_ROT[axis])


def prism(
    profile: np.ndarray | Sequence[Sequence[float]],
    depth: float = 1.0,
    axis: str = "z",
    top_profile: np.ndarray | Sequence[Sequence[float]] | None = None,
) -> Mesh:
    """Extrude a convex 2D polygon along `axis`, centred; `top_profile` (same vertex count) tapers it.

    Profile coordinates are the two remaining axes in cyclic order: axis 'z' -> (x, y), 'x' -> (y, z),
    'y' -> (z, x). So a side silhouette (y, z) extruded along 'x' gives car bodies, fins or sails.
    Either winding is accepted.
    """
    bot = np.asarray(profile, dtype=np.float64)
    top = bot if top_profile is None else np.asarray(top_profile, dtype=np.float64)
    x, y = bot.T
    if np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) < 0:  # clockwise -> make counter-clockwise
        bot, top = bot[::-1], top[::-1]
    rings = [np.column_stack([p, np.full(len(p), z)]) for p, z in ((bot, -depth / 2), (top, depth / 2))]
    return transform(_stitch(rings), rotation=_AXIS_ROT[axis])


def wedge(size: Vec3 = (1.0, 1.0, 1.0)) -> Mesh:
    """Right-triangle prism filling half of the box `size`: a ramp rising from -y to a vertical face at +y."""
    sx, sy, sz = (float(v) / 2 for v in size)
    return prism([(-sy, -sz), (sy, -sz), (sy, sz)], 2 * sx, axis="x")


def tube_between(p0: Vec3, p1: Vec3, radius: float, segments: int = 6) -> Mesh:
    """Capped cylinder whose axis runs from p0 to p1 (frame tubes, legs, masts)."""
    p0, p1 = np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64)
    d = p1 - p0
    cyl = cylinder(radius, float(np.linalg.norm(d)), segments)
    return transform(cyl, rotation=align_z(d), translation=(p0 + p1) / 2)


