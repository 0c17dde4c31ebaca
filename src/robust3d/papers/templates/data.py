"""The template-matching splits in memory: templates with their masks and views, queries with their objects and
views, training queries with their positive templates. Images stay uint8 ``(N, 3, S, S)`` at the matcher's size."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from robust3d.data.format import read_manifest
from robust3d.data.io import read_image, read_mask

#: Manifest columns a template-matching split must have (the synthetic benchmark's template splits write them).
COLUMNS = ("object", "seen", "azimuth", "elevation", "image", "mask_visible")


@dataclass
class Split:
    images: torch.Tensor  # (N, 3, S, S) uint8
    masks: torch.Tensor  # (N, S, S) bool: the object's visible mask
    rows: pd.DataFrame  # sample_id, object, seen (bool), azimuth, elevation (radians), view_index, ...

    @property
    def objects(self) -> list[str]:
        return self.rows["object"].astype(str).tolist()

    def where(self, keep: np.ndarray) -> Split:
        idx = torch.from_numpy(np.flatnonzero(keep))
        return Split(self.images[idx], self.masks[idx], self.rows.iloc[idx.numpy()].reset_index(drop=True))


def load_split(manifest: str | Path, size: int) -> Split:
    """A template split's images and visible masks at ``size`` px (area / nearest resampling) and its rows."""
    manifest = Path(manifest)
    rows = read_manifest(manifest)
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"{manifest} is not a template-matching split: it lacks the columns {missing} (render it "
                         "with synthetic.templates, or convert a BOP dataset to this layout)")
    if not len(rows):
        raise ValueError(f"{manifest} lists no images")
    images = torch.from_numpy(np.stack([read_image(manifest.parent / p) for p in rows["image"]])).permute(0, 3, 1, 2)
    masks = torch.from_numpy(np.stack([read_mask(manifest.parent / p) for p in rows["mask_visible"]]))
    if images.shape[-1] != size or images.shape[-2] != size:
        images = F.interpolate(images.float(), size=(size, size), mode="area").round().clamp(0, 255).to(torch.uint8)
        masks = F.interpolate(masks[:, None].float(), size=(size, size), mode="nearest")[:, 0] > 0.5
    rows = rows.copy()
    rows["seen"] = rows["seen"].astype(str).str.lower().isin(["true", "1"])
    for c in ("azimuth", "elevation"):
        rows[c] = rows[c].astype(float)
    rows["object"] = rows["object"].astype(str)
    return Split(images, masks.bool(), rows.reset_index(drop=True))


def nearest_templates(queries: pd.DataFrame, templates: pd.DataFrame, symmetries: dict[str, str]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the index of its object's template nearest its view (under the object's symmetry) and that
    angle in degrees: the oracle's retrieval, and a training query's positive."""
    from robust3d.evaluate.template_metrics import pairwise_errors

    missing = sorted(set(queries["object"]) - set(templates["object"]))
    if missing:
        raise ValueError(f"no template of object(s) {', '.join(map(str, missing))}")
    err = pairwise_errors(queries, templates, symmetries)
    other = queries["object"].to_numpy()[:, None] != templates["object"].to_numpy()
    err[other] = np.inf
    index = err.argmin(1)
    return index, err[np.arange(len(queries)), index]
