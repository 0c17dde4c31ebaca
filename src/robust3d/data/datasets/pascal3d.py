"""PASCAL3D+ release 1.1 (ImageNet subset, as NeMo uses it) into the robust3d sample format.

Raw layout (``PASCAL3D+_release1.1/``): ``Image_sets/{cls}_imagenet_{train,val}.txt`` (image names),
``Images/{cls}_imagenet/{name}.JPEG``, ``Annotations/{cls}_imagenet/{name}.mat`` (a MATLAB ``record`` struct whose
``objects`` struct array has ``class, bbox, viewpoint, cad_index, truncated, occluded, difficult``; ``viewpoint``
holds ``azimuth, elevation, theta`` in DEGREES and ``distance, focal, px, py, viewport``), ``CAD/{cls}/{NN}.off``;
optionally NeMo's ``Image_subsets/{cls}_imagenet_{split}.pkl``. The VOC half uses ``{cls}_pascal`` and ``.jpg``.

MATLAB pixel coordinates are 1-based with pixel centres at integers; robust3d's put pixel (r, c) on
[c, c+1) x [r, r+1), so principal points move by -0.5 and a box ``[x1 y1 x2 y2]`` of inclusive pixel indices
becomes the edges ``[x1-1, y1-1, x2, y2]``.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from robust3d.geometry.classes import PASCAL3D_CLASSES

from .common import (
    DEFAULT_IMAGE_SIZE,
    ObjectAnnotation,
    SampleSkipped,
    SplitWriter,
    prepare_cad,
    read_list,
    read_rgb,
)
from .registry import missing_file, require_raw

MATLAB_TO_PIXEL = -0.5  # add to MATLAB 1-based continuous coordinates


def load_record(mat_path: str | Path):
    """The ``record`` struct of a PASCAL3D+ ``.mat`` file (scipy ``mat_struct``), or :class:`SampleSkipped`."""
    mat_path = Path(mat_path)
    if not mat_path.is_file():
        raise SampleSkipped(mat_path, "missing annotation file")
    try:
        return scipy.io.loadmat(str(mat_path), squeeze_me=True, struct_as_record=False)["record"]
    except Exception as err:  # scipy raises ValueError, MatReadError, KeyError, OSError... for broken files
        raise SampleSkipped(mat_path, f"corrupt annotation file ({type(err).__name__}: {err})") from err


def _scalar(value) -> float:
    a = np.asarray(value, dtype=np.float64).ravel()
    if a.size == 0 or not np.isfinite(a[0]):
        raise ValueError("empty or non-finite value")
    return float(a[0])


def _flag(obj, name: str) -> int:
    """``truncated``/``occluded``/``difficult`` as 0/1, -1 when absent (kept as information, never a skip reason)."""
    try:
        return int(_scalar(getattr(obj, name)))
    except (AttributeError, ValueError, TypeError):
        return -1


def _pascal_object(obj, cls: str) -> ObjectAnnotation | str:
    """One ``record.objects`` entry as an annotation, or the reason it cannot be one."""
    vp = obj.viewpoint
    if isinstance(vp, np.ndarray):  # [] in the .mat: the object has no viewpoint annotation
        return "no viewpoint annotation"
    try:
        distance = _scalar(vp.distance)
        if distance <= 0:
            return f"distance <= 0 (coarse viewpoint only; distance={distance:g})"
        angles = [math.radians(_scalar(getattr(vp, k))) for k in ("azimuth", "elevation", "theta")]
        x1, y1, x2, y2 = np.asarray(obj.bbox, np.float64).ravel()[:4]
        return ObjectAnnotation(
            cls=cls, azimuth=angles[0], elevation=angles[1], theta=angles[2], distance=distance,
            focal=_scalar(vp.focal), viewport=_scalar(vp.viewport),
            principal=(_scalar(vp.px) + MATLAB_TO_PIXEL, _scalar(vp.py) + MATLAB_TO_PIXEL),
            cad_index=int(_scalar(obj.cad_index)), bbox=np.array([x1 - 1, y1 - 1, x2, y2]),
            extra={k: _flag(obj, k) for k in ("truncated", "occluded", "difficult")},
        )
    except (AttributeError, ValueError, TypeError) as err:
        return f"incomplete viewpoint annotation ({type(err).__name__}: {err})"


def pascal_objects(record, cls: str) -> list[tuple[int, ObjectAnnotation | str]]:
    """``(object index, annotation or skip reason)`` for every object of class ``cls`` (0-based indices)."""
    objects = np.atleast_1d(record.objects)
    return [(i, _pascal_object(obj, cls)) for i, obj in enumerate(objects) if str(getattr(obj, "class", "")) == cls]


def record_image_size(record) -> tuple[int, int] | None:
    """``(H, W)`` from ``record.imgsize`` (stored as [W, H, C]), or None if absent."""
    try:
        size = np.asarray(record.imgsize).ravel()
        return int(size[1]), int(size[0])
    except (AttributeError, IndexError, ValueError, TypeError):
        return None


def convert_pascal_image(writer: SplitWriter, cls: str, name: str, image_path: Path, mat_path: Path, *,
                         variant: str, level: str | int = "", obj_ids: Iterable[int] | None = None,
                         masks: dict[str, np.ndarray] | None = None, id_suffix: str = "",
                         columns: dict | None = None) -> int:
    """Convert every ``cls`` object of one PASCAL3D+-format image (or only ``obj_ids``); returns how many."""
    try:
        record = load_record(mat_path)
        objects = pascal_objects(record, cls)
    except SampleSkipped as err:
        writer.skip(f"{name}{id_suffix}", cls, err.file, err.reason)
        return 0
    except AttributeError as err:
        writer.skip(f"{name}{id_suffix}", cls, mat_path, f"annotation without objects ({err})")
        return 0
    if obj_ids is not None:
        wanted = set(obj_ids)
        for i in sorted(wanted - {i for i, _ in objects}):
            writer.skip(f"{name}_{i:02d}{id_suffix}", cls, mat_path, f"object {i} is not a {cls} in the annotation")
        objects = [(i, a) for i, a in objects if i in wanted]
    elif not objects:
        writer.skip(f"{name}{id_suffix}", cls, mat_path, f"no {cls} object in the annotation")
        return 0
    expected_size = record_image_size(record)
    cache: dict[str, tuple[np.ndarray, dict]] = {}

    def load() -> tuple[np.ndarray, dict]:
        if "x" not in cache:
            image = read_rgb(image_path)
            if expected_size is not None and image.shape[:2] != expected_size:
                raise SampleSkipped(image_path, f"image is {image.shape[1]}x{image.shape[0]} but the annotation "
                                                f"says {expected_size[1]}x{expected_size[0]}")
            for key, mask in (masks or {}).items():
                if mask.shape[:2] != image.shape[:2]:
                    raise SampleSkipped(image_path, f"{key} is {mask.shape[1]}x{mask.shape[0]}, the image "
                                                    f"{image.shape[1]}x{image.shape[0]}")
            cache["x"] = (image, masks or {})
        return cache["x"]

    converted = 0
    for i, ann in objects:
        sample_id = f"{name}_{i:02d}{id_suffix}"
        if isinstance(ann, str):
            writer.skip(sample_id, cls, mat_path, ann)
            continue
        converted += writer.convert(sample_id, ann, load, source_file=image_path, variant=variant, level=level,
                                    columns={"source_image": name, "object_index": i, **(columns or {})})
    return converted


def image_names(root: Path, cls: str, split: str, subset: str = "imagenet",
                image_list: str = "image_sets") -> list[str]:
    """Image names of a class and split: PASCAL3D+'s ``Image_sets`` lists or NeMo's ``Image_subsets`` pickles."""
    if image_list == "image_sets":
        path = root / "Image_sets" / f"{cls}_{subset}_{split}.txt"
        if not path.is_file():
            raise missing_file(path, "pascal3d", "the image list")
        return [Path(n).stem if n.endswith((".JPEG", ".jpg")) else n for n in read_list(path)]
    if image_list == "nemo_subsets":
        path = root / "Image_subsets" / f"{cls}_{subset}_{split}.pkl"
        if not path.is_file():
            raise missing_file(path, "pascal3d_nemo_subsets", "NeMo's image subset")
        with open(path, "rb") as f:
            try:
                groups = pickle.load(f)
            except UnicodeDecodeError:  # pickled by Python 2
                f.seek(0)
                groups = pickle.load(f, encoding="latin1")
        names = [str(n) for group in groups for n in ([group] if isinstance(group, str) else group)]
        return list(dict.fromkeys(Path(n).stem if n.endswith((".JPEG", ".jpg")) else n for n in names))
    raise ValueError(f"image_list must be 'image_sets' or 'nemo_subsets', not {image_list!r}")


def convert_pascal3d(raw_root: str | Path, out_root: str | Path, split: str,
                     classes: Iterable[str] = PASCAL3D_CLASSES, image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE,
                     target_distance: float = 5.0, *, subset: str = "imagenet", image_list: str = "image_sets",
                     image_ext: str = ".jpg") -> pd.DataFrame:
    """Convert one split (``train`` or ``val``) of PASCAL3D+ into ``<out_root>/<split>``; returns the manifest.

    One sample per annotated object (``{image}_{obj:02d}``); objects with distance <= 0 (coarse viewpoint only),
    missing or corrupt files are listed in ``skipped.csv`` with the reason. Writes ``<out_root>/CAD`` and
    ``<out_root>/CAD_single`` (NeMo's cuboids) for the classes.
    """
    root = require_raw("pascal3d", raw_root)
    classes = list(classes)
    names = {cls: image_names(root, cls, split, subset, image_list) for cls in classes}
    cad = prepare_cad(root / "CAD", out_root, classes)
    ext = ".JPEG" if subset == "imagenet" else ".jpg"
    with SplitWriter(out_root, split, cad, image_size=image_size, target_distance=target_distance,
                     image_ext=image_ext, dataset="pascal3d") as writer:
        for cls in classes:
            folder = f"{cls}_{subset}"
            for name in names[cls]:
                convert_pascal_image(writer, cls, name, root / "Images" / folder / f"{name}{ext}",
                                     root / "Annotations" / folder / f"{name}.mat", variant="clean")
    return writer.result()


__all__ = ["convert_pascal3d", "convert_pascal_image", "image_names", "load_record", "pascal_objects"]
