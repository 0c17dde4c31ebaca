"""The predictions CSV contract (one row per sample), shared by every model family that writes predictions.

Manifests carry no split column, so the split is read from where the manifest lies: ``<root>/<split>/manifest.csv``
for a clean split and ``<root>/variants/<split>/<variant>/<level>/manifest.csv`` for a variant (the layout of the
synthetic benchmark and of the variants rule). A ``split`` column in the manifest, when present, wins.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from robust3d.data.format import manifest_split

__all__ = ["manifest_split", "read_predictions", "sample_keys", "write_predictions"]

PREDICTION_COLUMNS = ("sample_id", "class", "pred_class", "azimuth", "elevation", "theta", "pred_azimuth",
                      "pred_elevation", "pred_theta", "pose_class", "seconds", "model", "split", "variant", "level")
CLEAN_VARIANT, CLEAN_LEVEL = "clean", "0"


def sample_keys(manifest_df: pd.DataFrame, manifest: str | Path) -> pd.DataFrame:
    """``split, variant, level`` per manifest row: empty variant/level become ``clean``/``0``."""
    split = manifest_df["split"] if "split" in manifest_df else manifest_split(manifest)
    variant = manifest_df["variant"].replace("", CLEAN_VARIANT)
    level = manifest_df["level"].replace("", CLEAN_LEVEL)
    return pd.DataFrame({"split": split, "variant": variant, "level": level}, index=manifest_df.index)


NUMERIC_COLUMNS = ("azimuth", "elevation", "theta", "pred_azimuth", "pred_elevation", "pred_theta", "seconds")
PRED_POSE_COLUMNS = ("pred_azimuth", "pred_elevation", "pred_theta")
SAMPLE_KEY = ("model", "split", "variant", "level", "sample_id")


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A predictions CSV with angles and seconds as floats, checked before it becomes a number.

    Refused with :class:`~robust3d.errors.InputError` naming the file and the first offending sample: a missing
    column; a non-empty numeric cell that is not a finite number (``abc``, ``nan``, ``inf``); a predicted pose given
    for some samples but not others, or with some of its three angles only (a model has a pose head or it has not:
    see :mod:`robust3d.evaluate.metrics`); the same sample twice.
    """
    import numpy as np

    from robust3d.data.format import read_table
    from robust3d.errors import InputError

    df = read_table(path, PREDICTION_COLUMNS, "predictions file")
    for col in NUMERIC_COLUMNS:
        values = pd.to_numeric(df[col].replace("", "nan"), errors="coerce")
        bad = (df[col] != "") & ~np.isfinite(values.to_numpy(np.float64))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: column '{col}' must hold finite numbers or nothing; sample "
                             f"'{df['sample_id'].iloc[i]}' has {df[col].iloc[i]!r} ({int(bad.sum())} such rows)")
        df[col] = values
    given = df[list(PRED_POSE_COLUMNS)].notna()
    partial = given.any(axis=1) & ~given.all(axis=1)
    if partial.any() or 0 < int(given.all(axis=1).sum()) < len(df):
        i = int(np.flatnonzero(partial | ~given.all(axis=1))[0])
        raise InputError(f"{path}: sample '{df['sample_id'].iloc[i]}' lacks predicted angles that other samples "
                         "have; a model predicts all three angles for every sample or leaves them all empty")
    df["variant"] = df["variant"].replace("", CLEAN_VARIANT)
    df["level"] = df["level"].replace("", CLEAN_LEVEL)
    dup = df.duplicated(list(SAMPLE_KEY))
    if dup.any():
        raise InputError(f"{path}: sample '{df.loc[dup, 'sample_id'].iloc[0]}' appears {int(dup.sum()) + 1} times "
                         "for the same model, split, variant and level; one row per sample")
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
