"""OccludedPASCAL3D+ (FGL{k}_BGL{k}) into the robust3d sample format, with object and occluder masks.

Raw layout (``OccludedPASCAL3D/``): ``lists/{cls}FGL{k}_BGL{k}.txt`` (``name.JPEG`` per line),
``images/{cls}FGL{k}_BGL{k}/{name}.JPEG`` (the PASCAL3D+ ImageNet val image with COCO occluders pasted on) and
``annotations/{cls}FGL{k}_BGL{k}/{name}.npz`` with ``source`` (path of the clean image), ``mask`` (object mask,
JPEG-noisy uint8), ``occluder_mask``, ``box`` and ``occluder_box`` (pickled, hence ``allow_pickle``). The pose
comes from the clean PASCAL3D+ ``.mat`` of the source image; only single-object images were occluded.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.geometry.classes import PASCAL3D_CLASSES

from .common import DEFAULT_IMAGE_SIZE, SampleSkipped, SplitWriter, binary_mask, prepare_cad, read_list
from .pascal3d import convert_pascal_image
from .registry import missing_file, require_raw


def load_occlusion(npz_path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Source image name and full-size masks (object, occluder) of one occluded image."""
    if not npz_path.is_file():
        raise SampleSkipped(npz_path, "missing occlusion annotation")
    try:
        with np.load(npz_path, allow_pickle=True) as data:
            source = str(np.asarray(data["source"]).item())
            amodal, occluder = binary_mask(data["mask"]), binary_mask(data["occluder_mask"])
    except Exception as err:  # zip/pickle/key errors: the file is broken
        raise SampleSkipped(npz_path, f"corrupt occlusion annotation ({type(err).__name__}: {err})") from err
    if amodal.shape != occluder.shape:
        raise SampleSkipped(npz_path, f"mask {amodal.shape} and occluder_mask {occluder.shape} differ in size")
    return Path(source.replace("\\", "/")).stem, {"mask_amodal": amodal, "occluder_mask": occluder}


def convert_occluded_pascal3d(raw_root: str | Path, out_root: str | Path, split: str,
                              classes: Iterable[str] = PASCAL3D_CLASSES,
                              image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE, target_distance: float = 5.0, *,
                              pascal3d_root: str | Path, levels: Iterable[int] = (1, 2, 3),
                              image_ext: str = ".jpg") -> pd.DataFrame:
    """Convert the FGL{k}_BGL{k} sets into one split folder ``<out_root>/<split>`` (variant 'occlusion', level k).

    Sample ids are ``{image}_{obj:02d}_FGL{k}_BGL{k}``; the column ``clean_sample_id`` names the matching clean
    PASCAL3D+ sample. ``mask_amodal`` is the object mask (amodal with respect to the pasted occluders only),
    ``mask_visible`` the object minus the occluders.
    """
    occ = require_raw("occluded_pascal3d", raw_root)
    p3d = require_raw("pascal3d", pascal3d_root)
    classes, levels = list(classes), list(levels)
    lists = {}
    for k in levels:
        for cls in classes:
            path = occ / "lists" / f"{cls}FGL{k}_BGL{k}.txt"
            if not path.is_file():
                raise missing_file(path, f"occluded_pascal3d_l{k}", "the image list")
            lists[k, cls] = read_list(path)
    cad = prepare_cad(p3d / "CAD", out_root, classes)
    with SplitWriter(out_root, split, cad, image_size=image_size, target_distance=target_distance,
                     image_ext=image_ext, dataset="occluded_pascal3d") as writer:
        for (k, cls), entries in lists.items():
            folder = f"{cls}FGL{k}_BGL{k}"
            for entry in entries:
                name, suffix = Path(entry).stem, f"_FGL{k}_BGL{k}"
                try:
                    source, masks = load_occlusion(occ / "annotations" / folder / f"{name}.npz")
                except SampleSkipped as err:
                    writer.skip(f"{name}{suffix}", cls, err.file, err.reason)
                    continue
                mat_path = p3d / "Annotations" / f"{cls}_imagenet" / f"{source}.mat"
                convert_pascal_image(writer, cls, source, occ / "images" / folder / f"{name}.JPEG", mat_path,
                                     variant="occlusion", level=k, masks=masks, id_suffix=suffix,
                                     columns={"occlusion_folder": folder})
        for row in writer.rows:
            row["clean_sample_id"] = f"{row['source_image']}_{int(row['object_index']):02d}"
    return writer.result()
