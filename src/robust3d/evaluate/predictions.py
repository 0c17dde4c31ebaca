"""The predictions CSV contract (one row per sample), shared by every model family that writes predictions.

Manifests carry no split column, so the split is read from where the manifest lies: ``<root>/<split>/manifest.csv``
for a clean split and ``<root>/variants/<split>/<variant>/<level>/manifest.csv`` for a variant (the layout of the
synthetic benchmark and of the variants rule). A ``split`` column in the manifest, when present, wins.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PREDICTION_COLUMNS = ("sample_id", "class", "pred_class", "azimuth", "elevation", "theta", "pred_azimuth",
                      "pred_elevation", "pred_theta", "pose_class", "seconds", "model", "split", "variant", "level")
CLEAN_VARIANT, CLEAN_LEVEL = "clean", "0"


def manifest_split(manifest: str | Path) -> str:
    """Split name of a manifest from its location (see the module docstring)."""
    parts = Path(manifest).resolve().parts
    if len(parts) >= 5 and parts[-5] == "variants":
        return parts[-4]
    if len(parts) < 2:
        raise ValueError(f"cannot tell the split of manifest {manifest}")
    return parts[-2]


def sample_keys(manifest_df: pd.DataFrame, manifest: str | Path) -> pd.DataFrame:
    """``split, variant, level`` per manifest row: empty variant/level become ``clean``/``0``."""
    split = manifest_df["split"] if "split" in manifest_df else manifest_split(manifest)
    variant = manifest_df["variant"].replace("", CLEAN_VARIANT)
    level = manifest_df["level"].replace("", CLEAN_LEVEL)
    return pd.DataFrame({"split": split, "variant": variant, "level": level}, index=manifest_df.index)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV with angles and seconds as floats; a clear error naming the missing columns."""
    from robust3d.data.format import read_table

    df = read_table(path, PREDICTION_COLUMNS, "predictions file")
    for col in ("azimuth", "elevation", "theta", "pred_azimuth", "pred_elevation", "pred_theta", "seconds"):
        df[col] = pd.to_numeric(df[col].replace("", "nan"), errors="coerce")
    df["variant"] = df["variant"].replace("", CLEAN_VARIANT)
    df["level"] = df["level"].replace("", CLEAN_LEVEL)
    return df


def write_predictions(df: pd.DataFrame, out_csv: str | Path) -> None:
    """Write ``df`` atomically with the contract's columns first (extra columns kept after them)."""
    from robust3d.data.io import atomic_path

    missing = [c for c in PREDICTION_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"predictions lack the columns {missing}")
    extra = [c for c in df.columns if c not in PREDICTION_COLUMNS]
    with atomic_path(out_csv) as tmp:
        df[list(PREDICTION_COLUMNS) + extra].to_csv(tmp, index=False)
