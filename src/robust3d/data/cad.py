"""CAD models on disk: the triangle :class:`Mesh`, OFF I/O, and the CAD layout every dataset shares.

``<root>/CAD/<class>/<cad_index:02d>.off`` (1-based, as ImageNet3D) and NeMo's single cuboid per class,
``<root>/CAD_single/<class>/01.off``. Pure numpy, so meshes load in data-loader workers without torch. Faces are
counter-clockwise seen from outside (outward normals).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CUBOID_VERTICES = 1000  # NeMo's default K


def cad_path(root: Path, category: str, cad_index: int, create: bool = False) -> Path:
    path = Path(root) / "CAD" / category / f"{cad_index:02d}.off"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def cuboid_path(root: Path, category: str, create: bool = False) -> Path:
    """NeMo keeps the single cuboid of a category as CAD_single/<class>/01.off; so do we."""
    path = Path(root) / "CAD_single" / category / "01.off"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Mesh:
    """Triangle mesh: float32 vertices (V, 3) and int64 faces (F, 3), CCW seen from outside."""

    verts: np.ndarray
    faces: np.ndarray

    def __post_init__(self) -> None:
        self.verts = np.ascontiguousarray(self.verts, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)

    @property
    def num_verts(self) -> int:
        return int(self.verts.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (min corner, max corner)."""
        return self.verts.min(0), self.verts.max(0)

    def extent(self) -> np.ndarray:
        """Bounding-box side lengths (3,)."""
        lo, hi = self.bounds()
        return hi - lo

    def signed_volume(self) -> float:
        """Divergence-theorem volume; positive iff a closed surface has outward-facing triangles."""
        tri = self.verts.astype(np.float64)[self.faces]
        return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)

    def copy(self) -> Mesh:
        return Mesh(self.verts.copy(), self.faces.copy())


def vertex_normals(mesh: Mesh) -> np.ndarray:
    """Area-weighted vertex normals (on NeMo's cuboids each vertex lies on one side: the side's normal)."""
    tri = mesh.verts[mesh.faces].astype(np.float64)
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros((len(mesh.verts), 3))
    for k in range(3):
        np.add.at(normals, mesh.faces[:, k], face_n)
    return normals / np.linalg.norm(normals, axis=1, keepdims=True).clip(1e-12)


def write_off(path: str | os.PathLike, mesh: Mesh) -> None:
    """Write an OFF file atomically (temp file in the same folder, then os.replace): no half-written files."""
    path = os.fspath(path)
    lines = ["OFF", f"{mesh.num_verts} {mesh.num_faces} 0"]
    lines += [f"{x:.9g} {y:.9g} {z:.9g}" for x, y, z in mesh.verts.tolist()]
    lines += [f"3 {a} {b} {c}" for a, b, c in mesh.faces.tolist()]
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp_", suffix=".off")
    try:
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_off(path: str | os.PathLike) -> Mesh:
    """Read an OFF file; tolerates 'OFFV F E' headers (PASCAL3D+/ModelNet), comments and n-gon faces."""
    with open(path) as f:
        lines = [ln.split("#", 1)[0].strip() for ln in f]
    lines = [ln for ln in lines if ln]
    head = re.match(r"^([A-Za-z]*OFF)\s*(.*)$", lines[0]) if lines else None
    if head is None:
        raise ValueError(f"{path}: not an OFF file (missing 'OFF' header)")
    rest, body = (head.group(2), lines[1:]) if head.group(2) else (lines[1], lines[2:])
    nv, nf = (int(t) for t in rest.split()[:2])
    if len(body) < nv + nf:
        raise ValueError(f"{path}: expected {nv} vertices and {nf} faces, file is truncated")
    verts = np.array([ln.split()[:3] for ln in body[:nv]], dtype=np.float64).reshape(-1, 3)
    faces = []
    for ln in body[nv : nv + nf]:
        tok = ln.split()
        idx = [int(t) for t in tok[1 : 1 + int(tok[0])]]
        faces += [(idx[0], idx[k], idx[k + 1]) for k in range(1, len(idx) - 1)]
    faces_arr = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if faces_arr.size and (faces_arr.min() < 0 or faces_arr.max() >= nv):
        raise ValueError(f"{path}: face index out of range for {nv} vertices")
    return Mesh(verts, faces_arr)
