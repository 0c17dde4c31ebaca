"""The on-disk sample format (the contracts of shared/ARCHITECTURE.md), shared by every dataset.

A split folder holds ``manifest.csv``, one row per sample, with paths relative to the folder; each sample's
annotation ``.npz`` has at least the keys of NeMo-preprocessed PASCAL3D+ (angles in radians).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.errors import InputError

MANIFEST_COLUMNS = ("sample_id", "class", "image", "annotation", "mask_visible", "mask_amodal", "depth",
                    "occluder_mask", "variant", "level")
#: The contract's columns that hold paths (relative to the manifest's folder).
PATH_COLUMNS = ("image", "annotation", "mask_visible", "mask_amodal", "depth", "occluder_mask")
ANNOTATION_KEYS = ("azimuth", "elevation", "theta", "distance", "focal", "viewport", "principal",
                   "cad_index", "bbox", "class")


def read_table(path: str | Path, required: Sequence[str], what: str) -> pd.DataFrame:
    """Read a CSV of strings (empty cells become '') and check it has the ``required`` columns, naming ``what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{what} {path} lacks the columns {missing} (expected {list(required)})")
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read a manifest and check it has the contract's columns; empty cells become ''."""
    return read_table(path, MANIFEST_COLUMNS, "manifest")


def manifest_split(manifest: str | Path) -> str:
    """Split name of a manifest from where it lies: ``<root>/<split>/manifest.csv`` for a clean split,
    ``<root>/variants/<split>/<variant>/<level>/manifest.csv`` for a variant."""
    parts = Path(manifest).resolve().parts
    if len(parts) >= 5 and parts[-5] == "variants":
        return parts[-4]
    if len(parts) < 2:
        raise ValueError(f"cannot tell the split of manifest {manifest}")
    return parts[-2]


def check_manifest(path: str | Path, expected_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a manifest and check it before any model reads it: every listed file exists and, when the config says
    which samples the split holds (``expected_ids``), exactly those samples are there.

    Raises :class:`InputError` naming the manifest, with the first missing file or sample.
    """
    path = Path(path)
    df = read_manifest(path)
    if df.empty:
        raise InputError(f"{path}: the manifest lists no samples")
    missing = [v for c in PATH_COLUMNS if c in df.columns for v in df[c] if v and not (path.parent / v).is_file()]
    if missing:
        raise InputError(f"{path}: {len(missing)} listed files are missing, e.g. {missing[0]} (relative to the "
                         "manifest); rerun the rule that makes this split")
    if expected_ids is not None:
        have, want = list(df["sample_id"]), list(expected_ids)
        if sorted(have) != sorted(want):
            lost = sorted(set(want) - set(have))
            extra = sorted(set(have) - set(want))
            if lost:
                what = f"lacks {len(lost)} of them, e.g. '{lost[0]}'"
            elif extra:
                what = f"has {len(extra)} others, e.g. '{extra[0]}'"
            else:
                what = "lists some twice"
            raise InputError(f"{path}: {len(have)} rows, but the config plans {len(want)} samples for this split and "
                             f"the manifest {what}; a truncated or stale manifest? rerun its rule")
    return df


def path_columns(df: pd.DataFrame, root: Path) -> list[str]:
    """The contract's path columns, plus any extra column whose every non-empty cell is a file under ``root``."""
    cols = [c for c in PATH_COLUMNS if c in df.columns]
    for c in df.columns:
        if c in cols or c in MANIFEST_COLUMNS:
            continue
        values = [v for v in df[c] if v]
        if values and all(isinstance(v, str) and (root / v).is_file() for v in values):
            cols.append(c)
    return cols


def relocate_manifest(df: pd.DataFrame, src_dir: str | Path, dst_dir: str | Path) -> pd.DataFrame:
    """``df`` (a manifest of ``src_dir``) with every path rewritten relative to ``dst_dir``: the same files, listed
    from another folder (a subset or a derived split written elsewhere still resolves)."""
    src, dst = Path(src_dir).resolve(), Path(dst_dir).resolve()
    out = df.copy()
    for c in path_columns(df, src):
        out[c] = [os.path.relpath(src / v, dst) if v else "" for v in df[c]]
    return out


def load_annotation(path: str | Path) -> dict:
    """An annotation as a dict of numpy values, checked for the contract's keys."""
    from robust3d.data.io import read_npz

    ann = read_npz(path)
    missing = [k for k in ANNOTATION_KEYS if k not in ann]
    if missing:
        raise InputError(f"{path}: annotation lacks the keys {missing}")
    return ann


def bbox_from_mask(mask: np.ndarray) -> np.ndarray:
    """``[x1, y1, x2, y2]`` (pixel edges, x2/y2 exclusive) of a mask; zeros when empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return np.zeros(4, np.float32)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def merge_manifests(chunk_dirs: list[str | Path], out_path: str | Path) -> pd.DataFrame:
    """Concatenate chunk manifests into one at ``out_path``: each chunk lists paths relative to its own folder, and
    they are rewritten relative to ``out_path``'s folder."""
    from robust3d.data.io import atomic_path

    frames = [relocate_manifest(pd.read_csv(Path(d) / "manifest.csv", dtype=str, keep_default_na=False), d,
                                Path(out_path).parent) for d in chunk_dirs]
    df = pd.concat(frames, ignore_index=True)
    extra = [c for c in df.columns if c not in MANIFEST_COLUMNS]
    df = df[list(MANIFEST_COLUMNS) + extra]
    with atomic_path(out_path) as tmp:
        df.to_csv(tmp, index=False)
    return df
