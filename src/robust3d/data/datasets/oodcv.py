"""OOD-CV (v1 pose data, PASCAL3D+ format) and OOD-CV v2 / ROBIN (challenge CSVs) into the sample format.

v1 raw layout (``ood_cv/``): ``images/{cls}/{name}.JPEG``, ``annotations/{cls}/{name}.mat`` (PASCAL3D+ records,
angles in DEGREES), ``lists/{cls}_{nuisance}.txt`` and ``lists/{cls}_all.txt`` ("name obj_id" per line; objects
of ``_all`` that no nuisance list names are the IID test set) and ``lists/TrainSet.txt`` (PASCAL3D+ image names
of the training set, found in ``Images/{cls}_imagenet`` or ``Images/{cls}_pascal`` of PASCAL3D+). OOD-CV has no
CAD models of its own: it uses PASCAL3D+'s.

v2 raw layout (``ROBINv1.1/``): ``train/``, ``iid_test/`` and ``nuisances/{nuisance}/``, each with one CSV with
``im_path, cls_name, left, upper, right, lower, azimuth, elevation, inplane_rotation, distance`` (angles in
DEGREES; usually also ``source, im_name, object``), image paths relative to the CSV's folder. The CSVs carry no
principal point, focal length, viewport or CAD index: we assume the image centre, focal 1, viewport 3000 (the
PASCAL3D+ annotation tool's camera) and CAD model 1, and store ``principal_assumed``/``cad_index_assumed`` flags.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (
    DEFAULT_IMAGE_SIZE,
    ConversionError,
    ObjectAnnotation,
    SampleSkipped,
    SplitWriter,
    prepare_cad,
    read_list,
    read_rgb,
)
from .pascal3d import convert_pascal_image
from .registry import DatasetUnavailable, missing_file, require_raw

log = logging.getLogger(__name__)

OODCV_CLASSES = ("aeroplane", "bicycle", "boat", "bus", "car", "chair", "diningtable", "motorbike", "sofa", "train")
OODCV_NUISANCES = ("context", "pose", "shape", "texture", "weather")
OODCV_V2_NUISANCES = (*OODCV_NUISANCES, "occlusion")
OODCV_V2_SPLITS = {"train": "train", "iid_test": "iid_test", **{n: f"nuisances/{n}" for n in OODCV_V2_NUISANCES}}
OODCV_V2_COLUMNS = ("im_path", "cls_name", "left", "upper", "right", "lower", "azimuth", "elevation",
                    "inplane_rotation", "distance")


def _cad_dir(ood_root: Path, pascal3d_root: str | Path | None) -> Path:
    if (ood_root / "CAD").is_dir():
        return ood_root / "CAD"
    if pascal3d_root is None:
        raise DatasetUnavailable(f"OOD-CV uses the PASCAL3D+ CAD models, which {ood_root} lacks: pass pascal3d_root "
                                 "(the PASCAL3D+_release1.1 folder, whose CAD/ sub-folder holds them)")
    return require_raw("pascal3d", pascal3d_root) / "CAD"


def _read_object_list(path: Path) -> list[tuple[str, int]]:
    """``(image, object index)`` pairs of an OOD-CV list ("name obj_id" per line, 0-based object index)."""
    pairs = []
    for line in read_list(path):
        parts = line.split()
        if len(parts) < 2 or not parts[1].lstrip("-").isdigit():
            raise ConversionError(f"{path}: line {line!r} is not of the form 'image obj_id'")
        pairs.append((parts[0], int(parts[1])))
    return pairs


def _test_entries(root: Path, cls: str, nuisances: Iterable[str]) -> list[tuple[str, int, str]]:
    """``(image, object index, nuisance)`` of a class's test set, ``iid`` for objects in no nuisance list."""
    entries: dict[tuple[str, int], str] = {}
    for nuisance in nuisances:
        path = root / "lists" / f"{cls}_{nuisance}.txt"
        for pair in _read_object_list(path) if path.is_file() else []:
            entries.setdefault(pair, nuisance)
    all_path = root / "lists" / f"{cls}_all.txt"
    if not all_path.is_file():
        raise missing_file(all_path, "oodcv_pose", "the list of all test objects")
    for pair in _read_object_list(all_path):
        entries.setdefault(pair, "iid")
    return [(name, obj, nuisance) for (name, obj), nuisance in entries.items()]


def convert_oodcv(raw_root: str | Path, out_root: str | Path, split: str, classes: Iterable[str] = OODCV_CLASSES,
                  image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, target_distance: float = 5.0, *,
                  pascal3d_root: str | Path | None = None, nuisances: Iterable[str] = OODCV_NUISANCES,
                  image_ext: str = ".jpg") -> pd.DataFrame:
    """Convert OOD-CV v1: ``split='test'`` (variant = nuisance or 'iid') or ``'train'`` (needs ``pascal3d_root``).

    Test samples are ``{image}_{obj:02d}`` with the object index given by the lists.
    """
    root = require_raw("oodcv", raw_root)
    classes, nuisances = list(classes), list(nuisances)
    if split not in ("train", "test"):
        raise ValueError(f"OOD-CV v1 splits are 'train' and 'test', not {split!r}")
    p3d = require_raw("pascal3d", pascal3d_root) if split == "train" and pascal3d_root is not None else None
    if split == "train" and p3d is None:
        raise DatasetUnavailable("OOD-CV's training set is PASCAL3D+ images listed in ood_cv/lists/TrainSet.txt: "
                                 "pass pascal3d_root (the PASCAL3D+_release1.1 folder)")
    cad = prepare_cad(_cad_dir(root, pascal3d_root), out_root, classes)
    with SplitWriter(out_root, split, cad, image_size=image_size, target_distance=target_distance,
                     image_ext=image_ext, dataset="oodcv") as writer:
        if split == "test":
            for cls in classes:
                for name, obj, nuisance in _test_entries(root, cls, nuisances):
                    convert_pascal_image(writer, cls, name, root / "images" / cls / f"{name}.JPEG",
                                         root / "annotations" / cls / f"{name}.mat", variant=nuisance,
                                         obj_ids=[obj], columns={"nuisance": nuisance})
        else:
            train_list = root / "lists" / "TrainSet.txt"
            if not train_list.is_file():
                raise missing_file(train_list, "oodcv_pose", "the training list")
            names = read_list(train_list)
            assert p3d is not None
            for cls in classes:
                for name in names:
                    subset, ext = ("imagenet", ".JPEG") if name.startswith("n") else ("pascal", ".jpg")
                    image = p3d / "Images" / f"{cls}_{subset}" / f"{name}{ext}"
                    if image.is_file():  # TrainSet.txt mixes all classes; an image belongs to its class folder
                        convert_pascal_image(writer, cls, name, image,
                                             p3d / "Annotations" / f"{cls}_{subset}" / f"{name}.mat", variant="clean")
    return writer.result()


def read_oodcv_v2_csv(folder: Path) -> tuple[Path, pd.DataFrame]:
    """The one CSV of a ROBIN split folder, checked for the challenge's columns."""
    csvs = sorted(folder.glob("*.csv"))
    if not csvs:
        raise missing_file(folder / "<labels>.csv", "oodcv_v2", "the split's CSV")
    df = pd.read_csv(csvs[0])
    missing = [c for c in OODCV_V2_COLUMNS if c not in df.columns]
    if missing:
        raise ConversionError(f"{csvs[0]} lacks the OOD-CV v2 columns {missing} (has {list(df.columns)})")
    return csvs[0], df


def convert_oodcv_v2(raw_root: str | Path, out_root: str | Path, split: str, classes: Iterable[str] = OODCV_CLASSES,
                     image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, target_distance: float = 5.0, *,
                     cad_root: str | Path, viewport: float = 3000.0, focal: float = 1.0,
                     image_ext: str = ".jpg") -> pd.DataFrame:
    """Convert one OOD-CV v2 / ROBIN split (``train``, ``iid_test`` or a nuisance name) to ``<out_root>/<split>``.

    ``cad_root`` is the PASCAL3D+ folder (or its ``CAD`` sub-folder). Variant: the nuisance, 'iid' for
    ``iid_test``, 'clean' for ``train``.
    """
    root = require_raw("oodcv_v2", raw_root)
    if split not in OODCV_V2_SPLITS:
        raise ValueError(f"OOD-CV v2 splits are {list(OODCV_V2_SPLITS)}, not {split!r}")
    folder = root / OODCV_V2_SPLITS[split]
    csv_path, df = read_oodcv_v2_csv(folder)
    classes = list(classes)
    cad_root = Path(cad_root)
    cad = prepare_cad(cad_root / "CAD" if (cad_root / "CAD").is_dir() else cad_root, out_root, classes)
    variant = {"train": "clean", "iid_test": "iid"}.get(split, split)
    log.warning("OOD-CV v2 CSVs carry no principal point or CAD index: assuming the image centre and CAD model 1")
    with SplitWriter(out_root, split, cad, image_size=image_size, target_distance=target_distance,
                     image_ext=image_ext, dataset="oodcv_v2") as writer:
        for index, row in df.iterrows():
            cls = str(row["cls_name"])
            if cls not in classes:
                continue
            has_ids = "im_name" in row and "object" in row and pd.notna(row["im_name"]) and pd.notna(row["object"])
            sample_id = (f"{row['im_name']}_{int(row['object']):02d}" if has_ids
                         else f"{Path(str(row['im_path'])).stem}_{index:05d}")
            image_path = folder / str(row["im_path"])
            try:
                values = [float(row[c]) for c in OODCV_V2_COLUMNS[2:]]
                if not all(math.isfinite(v) for v in values):
                    raise ValueError("non-finite value")
                image = read_rgb(image_path)
            except ValueError as err:
                writer.skip(sample_id, cls, csv_path, f"bad CSV row {index} ({err})")
                continue
            except SampleSkipped as err:
                writer.skip(sample_id, cls, err.file, err.reason)
                continue
            left, upper, right, lower, azimuth, elevation, theta, distance = values
            h, w = image.shape[:2]
            ann = ObjectAnnotation(
                cls=cls, azimuth=math.radians(azimuth), elevation=math.radians(elevation),
                theta=math.radians(theta), distance=distance, focal=focal, viewport=viewport,
                principal=(w / 2.0, h / 2.0), cad_index=1, bbox=np.array([left, upper, right, lower]),
                extra={"principal_assumed": 1, "cad_index_assumed": 1},
            )
            writer.convert(sample_id, ann, lambda image=image: (image, {}), source_file=image_path,
                           variant=variant, columns={"source_image": str(row["im_path"]), "nuisance": variant})
    return writer.result()
