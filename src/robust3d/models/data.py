"""A manifest split as a torch Dataset: image tensor, annotation, class index (shared by every model family).

Images of one split share a size (the benchmarks render or crop to one size), so batches stack without resizing.
The camera values the models need (pose, distance, focal, viewport, principal point) are batched as tensors by
:func:`collate`; the raw annotation dicts and manifest fields travel along for predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from robust3d.data.format import load_annotation, read_manifest
from robust3d.data.io import read_image, read_mask

CAMERA_KEYS = ("azimuth", "elevation", "theta", "distance", "focal", "viewport")


def manifest_classes(manifest: str | Path) -> list[str]:
    """The sorted classes of a manifest: a model's class list is that of its training split."""
    return sorted(set(read_manifest(manifest)["class"]))


class ManifestDataset(Dataset):
    """Samples of one split; ``class_index`` indexes ``classes`` (-1 for a class outside it, if allowed).

    ``allow_unknown`` is for the unseen-class split, whose classes no model was trained on.
    """

    def __init__(self, manifest: str | Path, classes: list[str], allow_unknown: bool = False,
                 with_masks: bool = False) -> None:
        self.manifest = Path(manifest)
        self.root = self.manifest.parent
        self.rows = read_manifest(self.manifest).to_dict("records")
        self.classes = list(classes)
        self.with_masks = with_masks
        index = {c: i for i, c in enumerate(self.classes)}
        unknown = sorted({r["class"] for r in self.rows} - set(index))
        if unknown and not allow_unknown:
            raise ValueError(f"manifest {self.manifest} has classes {unknown} outside the model's {self.classes}")
        self.class_index = [index.get(r["class"], -1) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.rows[i]
        ann = load_annotation(self.root / row["annotation"])
        # The annotation's image size (when it has one) is what the camera was calibrated for.
        size = (int(ann["height"]), int(ann["width"])) if "height" in ann and "width" in ann else None
        image = torch.from_numpy(read_image(self.root / row["image"], size)).permute(2, 0, 1).float() / 255.0
        item = {"index": i, "image": image, "annotation": ann, "class_index": self.class_index[i], "row": row}
        if self.with_masks:
            item["mask_amodal"] = (torch.from_numpy(read_mask(self.root / row["mask_amodal"]))
                                   if row.get("mask_amodal") else None)
        return item


def camera_batch(anns: list[dict]) -> dict[str, torch.Tensor]:
    """The PASCAL3D+ camera of each annotation as float64 tensors ``(B,)``, ``principal (B, 2)``."""
    camera = {k: torch.tensor([float(np.asarray(a[k]).reshape(-1)[0]) for a in anns], dtype=torch.float64)
              for k in CAMERA_KEYS}
    camera["principal"] = torch.tensor(np.stack([np.asarray(a["principal"], np.float64).reshape(2) for a in anns]))
    return camera


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack images, class indices and camera values; keep annotations, rows and masks as lists."""
    sizes = {tuple(it["image"].shape) for it in items}
    if len(sizes) > 1:
        raise ValueError(f"images of one batch differ in size: {sorted(sizes)}")
    anns = [it["annotation"] for it in items]
    camera = camera_batch(anns)
    batch = {"index": torch.tensor([it["index"] for it in items]), "image": torch.stack([it["image"] for it in items]),
             "class_index": torch.tensor([it["class_index"] for it in items]), "camera": camera,
             "annotation": anns, "row": [it["row"] for it in items]}
    if "mask_amodal" in items[0]:
        batch["mask_amodal"] = [it["mask_amodal"] for it in items]
    return batch
