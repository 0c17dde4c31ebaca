"""What every real-dataset converter shares: NeMo's centre-and-resize crop, CAD/cuboid set-up, sample writing.

NeMo's preprocessing scales each image by ``rate = distance / target_distance`` (so every object looks as if
seen from the target distance), then cuts a fixed-size window centred on the scaled principal point, padding
with zeros. We do the scale, pad and crop as ONE affine warp in continuous pixel coordinates, so the principal
point lands exactly on the crop centre and one scale applies to both axes (cv2.resize's integer output size
would make them differ slightly). Scaling an image by ``rate`` equals scaling the focal length by ``rate``, so
the converted annotation keeps the true ``distance`` and multiplies ``viewport`` by ``rate``: the PASCAL3D+
projection of the CAD model then lands on the object in the crop exactly (not only in NeMo's weak-perspective
approximation, which instead sets ``distance = target_distance``; that value is kept as ``target_distance``).
``viewport * focal / distance`` is the same for every sample: the fixed object scale NeMo relies on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from robust3d.data.cad import CUBOID_VERTICES, Mesh, cad_path, cuboid_path, read_off, vertex_normals, write_off
from robust3d.data.format import MANIFEST_COLUMNS
from robust3d.data.io import atomic_dir, atomic_path, write_image, write_mask, write_npz
from robust3d.geometry import camera_center, cuboid_bounds, cuboid_mesh, project_points
from robust3d.render.scene import convex_visibility

from .registry import DatasetUnavailable

log = logging.getLogger(__name__)

DEFAULT_IMAGE_SIZE = (640, 800)  # (H, W): NOVUM / 3D-CompNets use one size for all classes
SKIPPED_COLUMNS = ("sample_id", "class", "file", "reason")


class ConversionError(RuntimeError):
    """Nothing at all could be converted (every sample was skipped)."""


class SampleSkipped(Exception):
    """One sample cannot be converted; ``file`` names the culprit, ``reason`` says why."""

    def __init__(self, file: str | Path, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = str(file), reason


@dataclass
class ObjectAnnotation:
    """One object in its ORIGINAL image: angles in radians, 2-D values in robust3d pixel coordinates.

    robust3d pixel coordinates are continuous with pixel (r, c) covering [c, c+1) x [r, r+1).
    """

    cls: str
    azimuth: float
    elevation: float
    theta: float
    distance: float
    focal: float
    viewport: float
    principal: tuple[float, float]
    cad_index: int
    bbox: np.ndarray  # (4,) x1, y1, x2, y2 (edges)
    extra: dict = field(default_factory=dict)  # dataset-specific scalars stored in the npz and the manifest


# ---------------------------------------------------------------------------------------------- the crop

def crop_affine(principal: tuple[float, float], rate: float, size: tuple[int, int]) -> np.ndarray:
    """2x3 map ``[u', v'] = rate * [u, v] + t`` taking the principal point to the centre of an ``(H, W)`` crop."""
    h, w = size
    px, py = principal
    return np.array([[rate, 0.0, w / 2.0 - rate * px], [0.0, rate, h / 2.0 - rate * py]])


def warp(image: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Apply a scale-and-shift ``affine`` (continuous coordinates) to an image; outside is zero.

    Shrinking first goes through cv2.resize with INTER_AREA (anti-aliasing); the remaining warp corrects the
    resize's rounded size, so the geometry stays exact. cv2 puts pixel centres at integers, hence the 0.5 terms.
    """
    h, w = size
    ax, ay = float(affine[0, 0]), float(affine[1, 1])
    if ax < 1.0:
        h0, w0 = image.shape[:2]
        nw, nh = max(1, round(w0 * ax)), max(1, round(h0 * ay))
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        ax, ay = ax * w0 / nw, ay * h0 / nh
    m = np.array([[ax, 0.0, affine[0, 2] + 0.5 * ax - 0.5], [0.0, ay, affine[1, 2] + 0.5 * ay - 0.5]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def warp_mask(mask: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return warp((np.asarray(mask) > 0).astype(np.uint8) * 255, affine, size) > 127


# ---------------------------------------------------------------------------------------------- CAD models

@dataclass
class ClassCad:
    """A class's CAD indices present on disk and its NeMo cuboid (with per-vertex normals for visibility)."""

    indices: set[int]
    cuboid: Mesh
    normals: np.ndarray


def prepare_cad(cad_dir: str | Path, out_root: str | Path, classes: Iterable[str],
                n_vertices: int = CUBOID_VERTICES) -> dict[str, ClassCad | str]:
    """Copy ``<cad_dir>/<class>/<NN>.off`` to ``<out_root>/CAD`` and build each class's single cuboid.

    Returns, per class, its :class:`ClassCad` or (for a class without readable CAD models) the reason, so that
    the converter can skip that class's samples and still convert the others.
    """
    cad_dir, out_root = Path(cad_dir), Path(out_root)
    if not cad_dir.is_dir():
        raise DatasetUnavailable(f"the CAD folder {cad_dir} does not exist; it ships with the raw dataset "
                                 "(PASCAL3D+_release1.1/CAD or imagenet3d/CAD): unpack the full archive there")
    result: dict[str, ClassCad | str] = {}
    for cls in classes:
        files = sorted(p for p in (cad_dir / cls).glob("*.off") if re.fullmatch(r"\d+\.off", p.name))
        try:
            meshes = {int(p.stem): read_off(p) for p in files}
        except (OSError, ValueError) as err:
            result[cls] = f"unreadable CAD model ({err})"
            continue
        if not meshes:
            result[cls] = f"no CAD models <NN>.off in {cad_dir / cls}"
            continue
        for index, mesh in meshes.items():
            write_off(cad_path(out_root, cls, index, create=True), mesh)
        cuboid = Mesh(*cuboid_mesh(cuboid_bounds([m.verts for m in meshes.values()]), n_vertices))
        write_off(cuboid_path(out_root, cls, create=True), cuboid)
        result[cls] = ClassCad(set(meshes), cuboid, vertex_normals(cuboid))
    return result


# ---------------------------------------------------------------------------------------------- reading inputs

def read_rgb(path: str | Path) -> np.ndarray:
    """RGB uint8 image, or :class:`SampleSkipped` naming the file when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise SampleSkipped(path, "missing image file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SampleSkipped(path, "corrupt or unreadable image file")
    return img[..., ::-1].copy()


def read_list(path: str | Path) -> list[str]:
    """Non-empty stripped lines of a list file."""
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def binary_mask(mask: np.ndarray, threshold: int = 10) -> np.ndarray:
    """Boolean mask from bool, 0/1 or 0-255 (JPEG-noisy) arrays; OccludedPASCAL3D+ thresholds its masks at 10."""
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m[..., 0]
    if m.dtype == bool:
        return m
    return m > (threshold if m.max() > 1 else 0)


# ---------------------------------------------------------------------------------------------- writing a split

class SplitWriter:
    """Writes one split folder: images, annotations, masks, ``manifest.csv`` and ``skipped.csv``.

    Use as a context manager: the split folder is written to a temporary folder and only replaces
    ``<out_root>/<split>`` when every sample was handled, so a killed job never leaves a complete-looking split.
    """

    def __init__(self, out_root: str | Path, split: str, cad: dict[str, ClassCad | str], *,
                 image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, target_distance: float = 5.0,
                 image_ext: str = ".jpg", dataset: str = ""):
        self.out_dir = Path(out_root) / split
        self.cad, self.size, self.target_distance = cad, tuple(image_size), float(target_distance)
        self.image_ext, self.dataset = image_ext, dataset
        self.rows: list[dict] = []
        self.skipped: list[dict] = []
        self._ids: set[str] = set()

    def __enter__(self) -> SplitWriter:
        self._ctx = atomic_dir(self.out_dir)
        self.tmp = self._ctx.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        if exc_type is None:
            try:
                self._finish()
            except BaseException as err:
                self._ctx.__exit__(type(err), err, err.__traceback__)  # discards the temporary folder
                raise
        return self._ctx.__exit__(exc_type, exc, tb)

    def skip(self, sample_id: str, cls: str, file: str | Path, reason: str) -> None:
        self.skipped.append({"sample_id": sample_id, "class": cls, "file": str(file), "reason": reason})

    def reject_reason(self, sample_id: str, ann: ObjectAnnotation) -> str | None:
        """Why an object cannot become a sample (before its image is even read), or None."""
        cad = self.cad.get(ann.cls, f"class {ann.cls} was not prepared")
        if sample_id in self._ids:
            return "duplicate sample id"
        if isinstance(cad, str):
            return cad
        if ann.cad_index not in cad.indices:
            return f"CAD model {ann.cad_index:02d}.off of class {ann.cls} does not exist"
        if not ann.distance > 0:
            return f"distance <= 0 (no fine viewpoint annotation; distance={ann.distance:g})"
        return None

    def convert(self, sample_id: str, ann: ObjectAnnotation, load: Callable[[], tuple[np.ndarray, dict]], *,
                source_file: str | Path, variant: str, level: str | int = "", columns: dict | None = None) -> bool:
        """Crop one object and write its files; returns False (recording why in skipped.csv) if it is skipped.

        ``load`` returns the original image and a dict of full-size masks (keys: manifest mask columns; the
        visible mask is derived from ``mask_amodal`` and ``occluder_mask`` when not given); it raises
        :class:`SampleSkipped` for missing or corrupt files, which skips this sample only.
        """
        reason = self.reject_reason(sample_id, ann)
        if reason is not None:
            self.skip(sample_id, ann.cls, source_file, reason)
            return False
        try:
            image, masks = load()
        except SampleSkipped as err:
            self.skip(sample_id, ann.cls, err.file, err.reason)
            return False
        cad = self.cad[ann.cls]
        assert isinstance(cad, ClassCad)
        self._ids.add(sample_id)
        rate = ann.distance / self.target_distance
        affine = crop_affine(ann.principal, rate, self.size)
        rel = {"image": f"images/{sample_id}{self.image_ext}", "annotation": f"annotations/{sample_id}.npz"}
        write_image(self.tmp / rel["image"], warp(image, affine, self.size))
        crops = {key: warp_mask(mask, affine, self.size) for key, mask in masks.items()}
        if {"mask_amodal", "occluder_mask"} <= crops.keys() and "mask_visible" not in crops:
            crops["mask_visible"] = crops["mask_amodal"] & ~crops["occluder_mask"]  # after warping: exact in the crop
        for key, mask in crops.items():
            rel[key] = f"masks/{sample_id}_{key.removeprefix('mask_').removesuffix('_mask')}.png"
            write_mask(self.tmp / rel[key], mask)
        write_npz(self.tmp / rel["annotation"], **self._annotation(ann, rate, affine, cad, image.shape[:2]))
        row = {c: "" for c in MANIFEST_COLUMNS}
        row.update(sample_id=sample_id, variant=variant, level=str(level), **rel)
        row["class"] = ann.cls
        row.update(cad_index=ann.cad_index, azimuth=ann.azimuth, elevation=ann.elevation, theta=ann.theta,
                   dataset=self.dataset, **ann.extra, **(columns or {}))
        self.rows.append(row)
        return True

    def _annotation(self, ann: ObjectAnnotation, rate: float, affine: np.ndarray, cad: ClassCad,
                    original_size: tuple[int, int]) -> dict:
        h, w = self.size
        viewport = ann.viewport * rate
        principal = np.array([w / 2.0, h / 2.0], np.float32)
        bbox = np.asarray(ann.bbox, np.float64).reshape(2, 2) * rate + affine[:, 2]
        bbox = np.clip(bbox, 0, [w, h]).reshape(4).astype(np.float32)
        uv, _ = project_points(torch.from_numpy(cad.cuboid.verts).double(), ann.azimuth, ann.elevation, ann.theta,
                               ann.distance, ann.focal, viewport, tuple(principal.tolist()))
        uv = uv.numpy().astype(np.float32)
        centre = camera_center(ann.azimuth, ann.elevation, ann.distance).double().numpy()
        inside = (uv >= 0).all(-1) & (uv[:, 0] < w) & (uv[:, 1] < h)
        visible = convex_visibility(cad.cuboid.verts, cad.normals, uv, centre, max(h, w)) & inside
        extra = {k: np.asarray(v) for k, v in ann.extra.items()}
        return dict(
            azimuth=np.float64(ann.azimuth), elevation=np.float64(ann.elevation), theta=np.float64(ann.theta),
            distance=np.float64(ann.distance), focal=np.float64(ann.focal), viewport=np.float64(viewport),
            principal=principal, cad_index=np.int64(ann.cad_index), bbox=bbox, height=np.int64(h), width=np.int64(w),
            cuboid_uv=uv, cuboid_visible=visible, resize_rate=np.float64(rate),
            target_distance=np.float64(self.target_distance), viewport_original=np.float64(ann.viewport),
            principal_original=np.asarray(ann.principal, np.float32),
            bbox_original=np.asarray(ann.bbox, np.float32), height_original=np.int64(original_size[0]),
            width_original=np.int64(original_size[1]), dataset=np.str_(self.dataset),
            **{"class": np.str_(ann.cls)}, **extra,
        )

    def _finish(self) -> None:
        skipped = pd.DataFrame(self.skipped, columns=list(SKIPPED_COLUMNS))
        with atomic_path(self.tmp / "skipped.csv") as f:
            skipped.to_csv(f, index=False)
        if not self.rows:
            reasons = skipped["reason"].value_counts().head(5).to_dict()
            raise ConversionError(f"nothing converted into {self.out_dir}: all {len(skipped)} samples were skipped "
                                  f"(most common reasons: {reasons})")
        df = pd.DataFrame(self.rows)
        df = df[list(MANIFEST_COLUMNS) + [c for c in df.columns if c not in MANIFEST_COLUMNS]]
        with atomic_path(self.tmp / "manifest.csv") as f:
            df.to_csv(f, index=False)
        self.manifest = df
        if len(skipped):
            log.warning("%s: converted %d samples, skipped %d (%s); see %s", self.out_dir, len(df), len(skipped),
                        skipped["reason"].str.split(" \\(").str[0].value_counts().to_dict(),
                        self.out_dir / "skipped.csv")

    def result(self) -> pd.DataFrame:
        """The manifest (as written), with the skipped samples in ``attrs['skipped']``."""
        df = self.manifest.copy()
        df.attrs["skipped"] = pd.DataFrame(self.skipped, columns=list(SKIPPED_COLUMNS))
        return df
