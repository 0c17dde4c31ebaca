"""ImageNet3D into the robust3d sample format, and the class selection of 3D-CompNets (ICCV 2025).

Raw layout (``imagenet3d/``): ``images/{cls}/{name}.JPEG``, ``annotations/{cls}/{name}.npz`` whose key
``annotations`` is a pickled list of dicts, one per object, with ``azimuth, elevation, theta`` in RADIANS,
``distance, viewport, px, py, bbox (x1, y1, x2, y2), cad_index, class, ignore, object_status, dense`` and
(sometimes) ``focal``; ``lists/{cls}_imagenet_{train,val}.txt`` (image names); ``CAD/{cls}/{NN}.off``.
ImageNet3D's own preprocessing centres and resizes to distance 4 (not PASCAL3D+'s 5); its 2-D coordinates
are taken as continuous pixel coordinates (Python, 0-based).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .common import DEFAULT_IMAGE_SIZE, ObjectAnnotation, SampleSkipped, SplitWriter, prepare_cad, read_list, read_rgb
from .registry import missing_file, require_raw

# The 10 classes 3D-CompNets hold out for pose estimation on unseen classes (its 188 = 178 seen + these 10),
# in ImageNet3D's spelling ("go kart" = go_kart, "RV" = recreational_vehicle, "filing cabinet" = filing_cabinet).
IMAGENET3D_UNSEEN_10 = ("tricycle", "unicycle", "laptop", "go_kart", "recreational_vehicle", "suitcase", "teapot",
                        "filing_cabinet", "sofa", "projector")
IMAGENET3D_N_CLASSES = 188
OBJECT_STATUSES = ("status_good", "status_partially", "status_barely", "status_bad")


def imagenet3d_class_counts(raw_root: str | Path, splits: Sequence[str] = ("train", "val")) -> pd.DataFrame:
    """Images per class and split, from the list files (one row per class, one column per split)."""
    root = require_raw("imagenet3d", raw_root)
    counts: dict[str, dict[str, int]] = {}
    for split in splits:
        suffix = f"_imagenet_{split}.txt"
        for path in (root / "lists").glob(f"*{suffix}"):
            counts.setdefault(path.name.removesuffix(suffix), {})[split] = len(read_list(path))
    df = pd.DataFrame.from_dict(counts, orient="index").reindex(columns=list(splits)).fillna(0).astype(int)
    return df.rename_axis("class").sort_index()


def select_imagenet3d_classes(raw_root: str | Path, n_classes: int = IMAGENET3D_N_CLASSES, min_images: int = 1,
                              include: Iterable[str] = IMAGENET3D_UNSEEN_10) -> list[str]:
    """3D-CompNets' selection: the ``n_classes`` classes with the most images, each with ``min_images`` per split.

    The paper says only "188 classes with enough images" (61,230 images, 30,630 train / 30,600 test); the
    threshold is not given, so ``min_images`` is a parameter. Classes in ``include`` (the 10 unseen ones) are
    always selected and must qualify.
    """
    counts = imagenet3d_class_counts(raw_root)
    eligible = counts[(counts >= min_images).all(axis=1)]
    include = list(include)
    absent = [c for c in include if c not in eligible.index]
    if absent:
        raise ValueError(f"classes {absent} must be selected but have fewer than {min_images} images in a split "
                         f"(or are not in {raw_root}/lists)")
    rest = eligible.drop(index=include).assign(total=lambda d: d.sum(axis=1)).reset_index()
    rest = rest.sort_values(["total", "class"], ascending=[False, True])["class"].tolist()
    chosen = include + rest[: max(0, n_classes - len(include))]
    if len(chosen) < n_classes:
        raise ValueError(f"only {len(chosen)} ImageNet3D classes have >= {min_images} images per split, "
                         f"{n_classes} were asked for")
    return sorted(chosen)


def seen_classes(classes: Iterable[str], unseen: Iterable[str] = IMAGENET3D_UNSEEN_10) -> list[str]:
    """The training classes of the unseen-class experiment (188 - 10 = 178)."""
    unseen = set(unseen)
    return [c for c in classes if c not in unseen]


def load_objects(npz_path: Path) -> list[dict]:
    """The per-object dicts of one ImageNet3D annotation file, or :class:`SampleSkipped`."""
    if not npz_path.is_file():
        raise SampleSkipped(npz_path, "missing annotation file")
    try:
        with np.load(npz_path, allow_pickle=True) as data:
            objects = [dict(o) for o in np.atleast_1d(data["annotations"])]
    except Exception as err:  # zip, pickle or key errors: a broken file
        raise SampleSkipped(npz_path, f"corrupt annotation file ({type(err).__name__}: {err})") from err
    return objects


def _annotation(obj: dict, cls: str) -> ObjectAnnotation:
    return ObjectAnnotation(
        cls=cls, azimuth=float(obj["azimuth"]), elevation=float(obj["elevation"]), theta=float(obj["theta"]),
        distance=float(obj["distance"]), focal=float(obj.get("focal", 1.0)), viewport=float(obj["viewport"]),
        principal=(float(obj["px"]), float(obj["py"])), cad_index=int(obj["cad_index"]),
        bbox=np.asarray(obj["bbox"], np.float64).ravel()[:4],
        extra={"object_status": str(obj.get("object_status", "")), "dense": str(obj.get("dense", ""))},
    )


def convert_imagenet3d(raw_root: str | Path, out_root: str | Path, split: str, classes: Iterable[str],
                       image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, target_distance: float = 4.0, *,
                       statuses: Iterable[str] | None = None, max_images_per_class: int | None = None,
                       image_ext: str = ".jpg") -> pd.DataFrame:
    """Convert one ImageNet3D split (``train`` or ``val``) of ``classes`` into ``<out_root>/<split>``.

    One sample per object (``{image}_{obj:02d}``); objects with ``ignore > 0``, distance <= 0 or (if given) an
    ``object_status`` outside ``statuses`` are listed in ``skipped.csv``. Angles stay in radians.
    """
    root = require_raw("imagenet3d", raw_root)
    classes = list(classes)
    allowed = None if statuses is None else set(statuses)
    names = {}
    for cls in classes:
        path = root / "lists" / f"{cls}_imagenet_{split}.txt"
        if not path.is_file():
            raise missing_file(path, "imagenet3d", "the image list")
        names[cls] = read_list(path)[:max_images_per_class]
    cad = prepare_cad(root / "CAD", out_root, classes)
    with SplitWriter(out_root, split, cad, image_size=image_size, target_distance=target_distance,
                     image_ext=image_ext, dataset="imagenet3d") as writer:
        for cls in classes:
            for name in names[cls]:
                npz_path = root / "annotations" / cls / f"{name}.npz"
                image_path = root / "images" / cls / f"{name}.JPEG"
                try:
                    objects = load_objects(npz_path)
                except SampleSkipped as err:
                    writer.skip(name, cls, err.file, err.reason)
                    continue
                cache: dict[str, np.ndarray] = {}

                def load(path: Path = image_path, cache: dict = cache) -> tuple[np.ndarray, dict]:
                    if "image" not in cache:
                        cache["image"] = read_rgb(path)
                    return cache["image"], {}

                for i, obj in enumerate(objects):
                    sample_id = f"{name}_{i:02d}"
                    if str(obj.get("class", cls)) != cls:
                        writer.skip(sample_id, cls, npz_path, f"object of class {obj.get('class')!r}, not {cls!r}")
                        continue
                    if float(obj.get("ignore", 0) or 0) > 0:
                        writer.skip(sample_id, cls, npz_path, "object marked 'ignore'")
                        continue
                    if allowed is not None and str(obj.get("object_status", "")) not in allowed:
                        writer.skip(sample_id, cls, npz_path, f"object_status {obj.get('object_status')!r} excluded")
                        continue
                    try:
                        ann = _annotation(obj, cls)
                    except (KeyError, TypeError, ValueError) as err:
                        writer.skip(sample_id, cls, npz_path, f"incomplete annotation ({type(err).__name__}: {err})")
                        continue
                    writer.convert(sample_id, ann, load, source_file=image_path, variant="clean",
                                   columns={"source_image": name, "object_index": i})
    return writer.result()
