"""Class subsets and held-out parts of a converted split, written as manifests in other folders that still resolve.

The 3D-CompNets stage on ImageNet3D needs splits the dataset does not ship: its seen classes' training objects
minus a held-out calibration part (§3.3.2, "held-out calibration data"), the test objects of the seen classes,
and those of the 10 unseen classes (Table 3). No image is copied: the new manifests point at the converted files.

Objects of one image (ImageNet3D's ``{image}_{object}`` samples share ``source_image``) are held out together,
so no calibration image is also a training image.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.data.format import read_manifest, relocate_manifest
from robust3d.data.io import atomic_path


def select_classes(df: pd.DataFrame, *, keep: Iterable[str] | None = None, drop: Iterable[str] | None = None,
                   what: str = "manifest") -> pd.DataFrame:
    """Rows of the ``keep`` classes (every one must be present), minus those of the ``drop`` classes."""
    present = set(df["class"])
    if keep is not None:
        keep = list(keep)
        absent = sorted(set(keep) - present)
        if absent:
            raise ValueError(f"{what} has no sample of the classes {absent} (it has {len(present)} classes)")
        df = df[df["class"].isin(keep)]
    if drop is not None:
        df = df[~df["class"].isin(list(drop))]
    return df


def hold_out(df: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rest, held)``: per class, about ``fraction`` of its images (all their objects) held out, at random.

    A class with at least two images keeps at least one in each part; a class with one image stays in ``rest``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    group = df["source_image"] if "source_image" in df.columns else df["sample_id"]
    held = np.zeros(len(df), dtype=bool)
    rng = np.random.default_rng(seed)
    for cls in sorted(set(df["class"])):
        rows = np.flatnonzero(df["class"].to_numpy() == cls)
        images = sorted(set(group.iloc[rows]))
        n = min(max(round(fraction * len(images)), 1), len(images) - 1)
        chosen = set(rng.permutation(images)[:n].tolist()) if n > 0 else set()
        held[rows] = group.iloc[rows].isin(chosen).to_numpy()
    return df[~held], df[held]


def write_subset(df: pd.DataFrame, src_manifest: str | Path, out_manifest: str | Path) -> None:
    """Write ``df`` (rows of ``src_manifest``) as ``out_manifest``, its paths relative to the new folder."""
    if df.empty:
        raise ValueError(f"no samples left for {out_manifest} (from {src_manifest})")
    out_manifest = Path(out_manifest)
    relocated = relocate_manifest(df, Path(src_manifest).parent, out_manifest.parent)
    with atomic_path(out_manifest) as tmp:
        relocated.to_csv(tmp, index=False)


def subset_manifest(manifest: str | Path, out: str | Path, *, keep: Iterable[str] | None = None,
                    drop: Iterable[str] | None = None, held_out: str | Path | None = None,
                    fraction: float | None = None, seed: int = 0) -> dict[str, int]:
    """Write the class subset of ``manifest`` to ``out`` (and, with ``held_out``, a held-out part there).

    Returns the sample and class counts written, for the job's log.
    """
    df = select_classes(read_manifest(manifest), keep=keep, drop=drop, what=f"manifest {manifest}")
    counts = {"classes": df["class"].nunique()}
    if held_out is not None:
        if fraction is None:
            raise ValueError("a held-out part needs its fraction")
        df, held = hold_out(df, fraction, seed)
        write_subset(held, manifest, held_out)
        counts["held_out"] = len(held)
    write_subset(df, manifest, out)
    counts["samples"] = len(df)
    return counts
