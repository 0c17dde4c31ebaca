"""The neural mesh model: one cuboid per class with a unit feature per vertex, a background bank, a backbone.

Geometry comes from ``robust3d.geometry`` only: each class's cuboid is NeMo's single cuboid (99% per-axis
coverage pooled over the class's CAD models, ``cuboid_mesh`` with K vertices), and vertices are placed in the
image with the PASCAL3D+ camera of the annotation (``project_points``). A vertex is visible when its cuboid side
faces the camera (a convex body never hides its own front faces: ``render.scene.convex_visibility``) and it
projects inside the image; its feature-map cell is ``floor(pixel / stride)`` (see ``models.backbones``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import torch

from robust3d.data.format import load_annotation
from robust3d.data.io import read_json, read_mask
from robust3d.models.data import ManifestDataset, camera_batch, manifest_classes
from robust3d.models.model_file import BackboneModelFile

FORMAT = "robust3d.neural_mesh/1"


@dataclass
class NeuralMeshModel(BackboneModelFile):
    """Everything inference needs; ``features`` rows ``>= n_vertices[y]`` are zero padding."""

    FORMAT: ClassVar[str] = FORMAT
    WHAT: ClassVar[str] = "neural mesh model"
    TRAIN_HINT: ClassVar[str] = "robust3d train-model"

    classes: list[str]
    vertices: list[torch.Tensor]  # per class (K_y, 3) cuboid vertices, object (PASCAL3D+) coordinates
    faces: list[torch.Tensor]  # per class (F_y, 3) long
    features: torch.Tensor  # (Y, Kmax, D) unit vectors
    n_vertices: torch.Tensor  # (Y,) long
    background: torch.Tensor  # (N_b, D) unit vectors
    backbone_entry: dict
    feature_dim: int
    stride: int
    temperature: float
    backbone_state: dict = field(repr=False)
    meta: dict = field(default_factory=dict)  # training provenance (model id, loss, epochs, ...)


# ---------------------------------------------------------------------------------------------- cuboids

def find_cad_root(manifest: str | Path) -> Path:
    """The folder holding ``CAD/`` for a split: the nearest ancestor of the manifest with ``CAD/`` (converted real
    datasets) or ``cad/CAD/`` (the synthetic benchmark keeps its CAD step's output in ``<root>/cad``)."""
    start = Path(manifest).resolve().parent
    for folder in (start, *start.parents):
        for cand in (folder, folder / "cad"):
            if (cand / "CAD").is_dir():
                return cand
    raise FileNotFoundError(f"no CAD/ or cad/CAD/ folder above {manifest}; the dataset root must hold "
                            "CAD/<class>/<NN>.off")


def training_cad_indices(cad_root: str | Path, cls: str) -> list[int] | None:
    """The CAD instances of ``cls`` a cuboid may pool, from ``<cad_root>/meta.json`` (``cuboids.<cls>.cad_indices``,
    written by the synthetic benchmark, which holds instances out for ``ood_shape``); ``None``: all of them."""
    meta = Path(cad_root) / "meta.json"
    if not meta.is_file():
        return None
    entry = read_json(meta).get("cuboids", {}).get(cls, {})
    return entry.get("cad_indices")


def class_cuboid(cad_root: str | Path, cls: str, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """NeMo's single cuboid of ``cls``: bounds pooled over the training CAD models ``CAD/<cls>/<NN>.off`` (every
    model unless ``meta.json`` names the training ones), about ``n_vertices`` vertices."""
    from robust3d.data.cad import read_off
    from robust3d.geometry import cuboid_bounds, cuboid_mesh

    files = sorted(p for p in (Path(cad_root) / "CAD" / cls).glob("*.off") if p.stem.isdigit())
    allowed = training_cad_indices(cad_root, cls)
    if allowed is not None:
        files = [p for p in files if int(p.stem) in set(allowed)]
    if not files:
        raise FileNotFoundError(f"no CAD models {Path(cad_root) / 'CAD' / cls}/<NN>.off for class '{cls}'")
    return cuboid_mesh(cuboid_bounds([read_off(p).verts for p in files]), n_vertices)


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> np.ndarray:
    """Outward normals of cuboid vertices (each lies on one side of the box)."""
    from robust3d.data.cad import Mesh
    from robust3d.data.cad import vertex_normals as _normals

    return _normals(Mesh(verts.cpu().numpy(), faces.cpu().numpy()))


def near_threshold(mesh: Mapping[str, Any], image_width: int) -> float:
    """NOVUM's near-vertex distance in px for images ``image_width`` wide: ``mesh.remove_near_px`` (the release's
    ``distance_thr`` 48) is given at the release's crop width ``mesh.remove_near_width`` (800 px, crops 640x800)
    and scales with the width, so the same share of the object is removed at any image size."""
    return float(mesh["remove_near_px"]) * float(image_width) / float(mesh["remove_near_width"])


def near_in_image(uv: torch.Tensor, visible: torch.Tensor, threshold: float) -> torch.Tensor:
    """NOVUM's near-vertex mask (its release's ``mask_remove_near``): ``(V, Kmax)`` bool, one row per visible
    vertex in the order of ``visible.nonzero()`` (the loss's rows), True at the vertices of the same image whose
    projections lie at most ``threshold`` px away; the vertex itself stays.

    ``uv (B, Kmax, 2)`` are the projected positions of every vertex of each image's cuboid, visible or not (the
    release measures all of them), NaN on padding (never near: NaN compares False).
    """
    img, vertex = visible.nonzero(as_tuple=True)
    # The exact difference norm, not the matrix-product form: a padding NaN stays in its own pairs.
    dist = torch.cdist(uv.float(), uv.float(), compute_mode="donot_use_mm_for_euclid_dist")
    near = dist <= threshold
    eye = torch.arange(uv.shape[1], device=uv.device)
    near[:, eye, eye] = False
    return near[img, vertex]


# ---------------------------------------------------------------------------------------------- projection

@dataclass
class VertexProjection:
    """Per image and vertex: pixel ``uv`` (column, row), feature cell (flat ``row * w + col``), visibility."""

    uv: torch.Tensor  # (B, K, 2) float
    cell: torch.Tensor  # (B, K) long, clamped into the grid (meaningful only where visible)
    visible: torch.Tensor  # (B, K) bool
    grid: tuple[int, int]  # (h, w) feature cells


def feature_grid(image_hw: tuple[int, int], stride: int) -> tuple[int, int]:
    return math.ceil(image_hw[0] / stride), math.ceil(image_hw[1] / stride)


def project_vertices(verts: torch.Tensor, faces: torch.Tensor, camera: dict[str, torch.Tensor],
                     image_hw: tuple[int, int], stride: int) -> VertexProjection:
    """Project a class's cuboid into each image of a batch (``camera`` as batched by ``models.data.collate``)."""
    from robust3d.geometry import camera_center, project_points
    from robust3d.render.scene import convex_visibility

    h, w = image_hw
    uv, depth = project_points(verts.double(), camera["azimuth"], camera["elevation"], camera["theta"],
                               camera["distance"], camera["focal"], camera["viewport"], camera["principal"])
    centres = camera_center(camera["azimuth"], camera["elevation"], camera["distance"]).numpy()
    normals = vertex_normals(verts, faces)
    points = verts.double().numpy()
    visible = np.stack([convex_visibility(points, normals, uv[b].numpy(), centres[b], max(h, w))
                        for b in range(uv.shape[0])])
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h) & (depth > 0)
    gh, gw = feature_grid(image_hw, stride)
    col = torch.div(uv[..., 0], stride, rounding_mode="floor").long().clamp(0, gw - 1)
    row = torch.div(uv[..., 1], stride, rounding_mode="floor").long().clamp(0, gh - 1)
    return VertexProjection(uv=uv.float(), cell=row * gw + col, visible=torch.from_numpy(visible) & inside,
                            grid=(gh, gw))


def background_cells(uv: torch.Tensor, image_hw: tuple[int, int], stride: int,
                     masks: list[torch.Tensor | None] | None = None) -> torch.Tensor:
    """``(B, h*w)`` bool: cells untouched by the object, where background features may be sampled.

    A cell is taken by the object when any of its pixels lies in the convex hull of the projected cuboid (the
    area a rendered cuboid covers) or in the amodal mask (where one exists).
    """
    h, w = image_hw
    gh, gw = feature_grid(image_hw, stride)
    out = []
    for b in range(uv.shape[0]):
        cover = np.zeros((gh * stride, gw * stride), np.uint8)
        hull = cv2.convexHull(np.floor(uv[b].numpy()).astype(np.int32))  # the pixels holding the vertices
        cv2.fillConvexPoly(cover, hull, 1)
        covered = torch.from_numpy(cover[:h, :w] > 0)
        if masks is not None and masks[b] is not None:
            covered |= masks[b].bool()
        pad = torch.zeros(gh * stride, gw * stride, dtype=torch.float32)
        pad[:h, :w] = covered.float()
        taken = torch.nn.functional.max_pool2d(pad[None, None], stride)[0, 0] > 0
        out.append(~taken.reshape(-1))
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------- training geometry

@dataclass
class SampleGeometry:
    """Per training sample: cell (flat), pixel position and visibility of every vertex of its class, and
    background-eligible cells."""

    cell: torch.Tensor  # (N, Kmax) long
    visible: torch.Tensor  # (N, Kmax) bool, False on padding
    background: torch.Tensor  # (N, h*w) bool
    grid: tuple[int, int]
    uv: torch.Tensor  # (N, Kmax, 2) float px (column, row) clamped into the image, as NOVUM's release; NaN on padding
    image_hw: tuple[int, int]

    def near(self, indices: torch.Tensor | Sequence[int], mesh: Mapping[str, Any],
             device: torch.device | str | None = None) -> torch.Tensor:
        """NOVUM's near-vertex mask (:func:`near_in_image`) of the visible vertices of samples ``indices`` (rows in
        the order of ``visible[indices].nonzero()``), at :func:`near_threshold` of the config's ``mesh`` block;
        computed on ``device`` (a batch's ``B Kmax^2`` distances: 38M at the paper's batch of 38 and 1000 vertices)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        return near_in_image(self.uv[idx].to(device), self.visible[idx].to(device),
                             near_threshold(mesh, self.image_hw[1]))


@dataclass
class ClassMeshes:
    """Each class's cuboid (NeMo's, about the model's K vertices)."""

    classes: list[str]
    vertices: list[torch.Tensor]  # per class (K_y, 3)
    faces: list[torch.Tensor]  # per class (F_y, 3) long


def class_meshes(train_manifest: Path, n_vertices: int) -> ClassMeshes:
    """The cuboids of the classes of ``train_manifest`` (from the CAD models above it): what a model trains on."""
    classes = manifest_classes(train_manifest)
    cad_root = find_cad_root(train_manifest)
    meshes = [class_cuboid(cad_root, cls, n_vertices) for cls in classes]
    vertices = [torch.from_numpy(v).float() for v, _ in meshes]
    faces = [torch.from_numpy(f).long() for _, f in meshes]
    return ClassMeshes(classes, vertices, faces)


def sample_geometry(ds: ManifestDataset, vertices: list[torch.Tensor], faces: list[torch.Tensor],
                    image_hw: tuple[int, int], stride: int, indices: Sequence[int] | None = None) -> SampleGeometry:
    """Project each sample's class cuboid with its annotated camera (grouped by class: one batched call each).

    ``indices`` restricts it to those samples (row i of the result is sample ``indices[i]``), e.g. one batch.
    """
    picked = np.arange(len(ds)) if indices is None else np.asarray(indices, dtype=np.int64)
    kmax = max(len(v) for v in vertices)
    n = len(picked)
    grid = feature_grid(image_hw, stride)
    cell = torch.zeros(n, kmax, dtype=torch.long)
    visible = torch.zeros(n, kmax, dtype=torch.bool)
    uv = torch.full((n, kmax, 2), float("nan"))
    allowed = torch.zeros(n, grid[0] * grid[1], dtype=torch.bool)
    cls_of = np.asarray(ds.class_index)[picked]
    for y in sorted(set(cls_of.tolist()) - {-1}):
        idx = np.flatnonzero(cls_of == y)
        rows = [ds.rows[i] for i in picked[idx]]
        anns = [load_annotation(ds.root / row["annotation"]) for row in rows]
        masks = [read_mask(ds.root / row["mask_amodal"]) if row.get("mask_amodal") else None for row in rows]
        proj = project_vertices(vertices[y], faces[y], camera_batch(anns), image_hw, stride)
        k = len(vertices[y])
        cell[idx, :k] = proj.cell
        visible[idx, :k] = proj.visible
        # NOVUM's release clamps every keypoint into the crop before measuring distances (so do we).
        uv[idx, :k, 0] = proj.uv[..., 0].clamp(0, image_hw[1] - 1)
        uv[idx, :k, 1] = proj.uv[..., 1].clamp(0, image_hw[0] - 1)
        allowed[idx] = background_cells(proj.uv, image_hw, stride,
                                        [torch.from_numpy(m) if m is not None else None for m in masks])
    return SampleGeometry(cell, visible, allowed, grid, uv, (int(image_hw[0]), int(image_hw[1])))
