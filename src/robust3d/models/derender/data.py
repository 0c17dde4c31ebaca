"""A de-rendering split in memory: its images (and, for evaluation, true depth and masks) at the model's size.

The splits are small (a few hundred 64 px images), so they are read once into tensors rather than streamed; a
model working at a smaller size than the images (the embedded default: 32 px) gets them area-downsampled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from robust3d.data.format import read_manifest
from robust3d.data.io import read_image, read_mask


def _resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode=mode)


def load_images(manifest: str | Path, size: int) -> tuple[torch.Tensor, pd.DataFrame]:
    """Images (N, 3, size, size) in [0, 1] and the manifest rows, in manifest order."""
    manifest = Path(manifest)
    rows = read_manifest(manifest)
    if not len(rows):
        raise ValueError(f"{manifest} lists no images")
    images = np.stack([read_image(manifest.parent / p) for p in rows["image"]])
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return _resize(tensor, size, "area"), rows


def load_depth(manifest: str | Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """True depth (N, size, size) and object masks (N, size, size, bool) of a split (``depth``, ``mask_visible``):
    what the shape gate compares the de-renderer's depth with. Depth is nearest-resampled inside the mask."""
    manifest = Path(manifest)
    rows = read_manifest(manifest)
    missing = rows["depth"].eq("") | rows["mask_visible"].eq("")
    if missing.any():
        raise ValueError(f"{manifest}: {int(missing.sum())} samples have no true depth or mask (e.g. "
                         f"{rows.loc[missing, 'sample_id'].iloc[0]})")
    depth = torch.from_numpy(np.stack([np.load(manifest.parent / p).astype(np.float32) for p in rows["depth"]]))
    mask = torch.from_numpy(np.stack([read_mask(manifest.parent / p) for p in rows["mask_visible"]]))
    depth = _resize(depth[:, None], size, "nearest")[:, 0]
    mask = _resize(mask[:, None].float(), size, "nearest")[:, 0] > 0.5
    return depth, mask & (depth > 0)
