"""Tidy metrics from predictions CSVs: one row per (model, split, variant, level, metric), as ARCHITECTURE.md fixes.

Metrics (3D-CompNets Sec. 4.4, plus the NeMo family's usual extras):

- ``class_accuracy``: percent of samples with ``pred_class == class``. It is left out (no row, not NaN) for the
  splits named in ``unseen_splits`` (default ``unseen``): their true classes are not among the model's classes,
  so ``pred_class`` can never be right and a 0 would be a meaningless number in a table (Table 3 reports pose only).
- ``pose_acc_pi6``, ``pose_acc_pi18``: percent of samples whose rotation error is strictly below pi/6, pi/18.
- ``pose_median_deg``: median rotation error in degrees.
- ``amodal_iou``: mean of the per-sample ``amodal_iou`` column (IoU of the predicted and the true amodal mask, in
  percent) over the samples that have one; ``n`` counts those. Only a predictions frame with that column and a
  finite value in the group gets the row: a model without masks, or a split without true masks, has none (not 0).

The rotation error, the thresholds and the median are :mod:`robust3d.geometry.pose_metrics`' (a NaN or infinite
predicted angle scores pi, the worst error). ``n`` is the number of samples behind each value.

A model that does not predict a quantity gets no rows for it: when every ``pred_class`` of a model is empty there
is no ``class_accuracy`` (not 0%), and when all of its ``pred_azimuth/elevation/theta`` are empty there are no pose
metrics (not 0% and 180 degrees). The decision is per model, so a pose model whose predictions fail on a whole
split still scores the worst error there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.evaluate.predictions import read_predictions

METRIC_COLUMNS = ("benchmark", "paper", "model", "split", "variant", "level", "metric", "value", "n")
GROUP_KEYS = ["model", "split", "variant", "level"]
DEFAULT_UNSEEN_SPLITS = ("unseen", "unseen_procedural")


def pose_errors(df: pd.DataFrame) -> np.ndarray:
    """Rotation error (radians) per row between the predicted and the true pose."""
    import torch

    from robust3d.geometry.pose_metrics import pose_error

    true = df[["azimuth", "elevation", "theta"]].to_numpy(np.float64)
    if not np.isfinite(true).all():
        bad = df.loc[~np.isfinite(true).all(1), "sample_id"].tolist()[:5]
        raise ValueError(f"true poses must be finite; samples {bad} are not")
    pred = torch.tensor(df[["pred_azimuth", "pred_elevation", "pred_theta"]].to_numpy(np.float64))
    gt = torch.tensor(true)
    return pose_error((pred[:, 0], pred[:, 1], pred[:, 2]), (gt[:, 0], gt[:, 1], gt[:, 2])).numpy()


POSE_PREDICTIONS = ["pred_azimuth", "pred_elevation", "pred_theta"]


def predicts_pose(df: pd.DataFrame) -> bool:
    """Whether any row of ``df`` has a predicted angle (an entirely empty pose column: the model has no pose head)."""
    return bool(df[POSE_PREDICTIONS].notna().to_numpy().any())


def predicts_class(df: pd.DataFrame) -> bool:
    """Whether any row of ``df`` has a predicted class."""
    return bool((df["pred_class"].astype(str) != "").any())


#: The metrics that are means of per-sample values (what a paired bootstrap over samples resamples): hits, and
#: the amodal IoU.
HIT_METRICS = ("class_accuracy", "pose_acc_pi6", "pose_acc_pi18", "amodal_iou")


def mask_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """IoU (percent) of two boolean masks of one image; 100 when both are empty: a sample's ``amodal_iou``."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    union = np.logical_or(pred, true).sum()
    return 100.0 if union == 0 else 100.0 * float(np.logical_and(pred, true).sum()) / float(union)


def amodal_ious(df: pd.DataFrame) -> np.ndarray:
    """Each row's amodal IoU (percent) as a float, NaN where it is empty; all NaN without the column.
    Predictions are read as strings (extra columns are not converted), hence the coercion here."""
    if "amodal_iou" not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df["amodal_iou"], errors="coerce").to_numpy(np.float64)


def sample_hits(df: pd.DataFrame, metric: str) -> np.ndarray | None:
    """Each row's hit (1.0) or miss (0.0) for one of :data:`HIT_METRICS`, with the thresholds of ``group_metrics``
    (its value is ``100 * hits.mean()``); None for another metric or a model that predicts no pose. For
    ``amodal_iou`` each row's IoU as a fraction (so ``100 * mean`` is the metric, as for a hit), None unless every
    row has one: a NaN would poison the bootstrap, and the metric averages the finite values only."""
    if metric == "amodal_iou":
        ious = amodal_ious(df)
        return ious / 100.0 if len(ious) and np.isfinite(ious).all() else None
    if metric == "class_accuracy":
        return (df["pred_class"].astype(str) == df["class"].astype(str)).to_numpy(np.float64)
    if metric not in HIT_METRICS or not predicts_pose(df):
        return None
    from robust3d.geometry.pose_metrics import ACC_PI_6, ACC_PI_18

    threshold = ACC_PI_6 if metric == "pose_acc_pi6" else ACC_PI_18
    return (pose_errors(df) < threshold).astype(np.float64)


def group_metrics(df: pd.DataFrame, *, with_class: bool = True, with_pose: bool = True) -> dict[str, float]:
    """The metrics of one group of predictions (see the module docstring)."""
    import torch

    from robust3d.geometry.pose_metrics import ACC_PI_6, ACC_PI_18, accuracy_at, median_error_degrees

    out: dict[str, float] = {}
    if with_class:
        out["class_accuracy"] = 100.0 * float((df["pred_class"] == df["class"]).mean())
    if not with_pose:
        return out
    errors = torch.as_tensor(pose_errors(df))
    out["pose_acc_pi6"] = 100.0 * accuracy_at(errors, ACC_PI_6)
    out["pose_acc_pi18"] = 100.0 * accuracy_at(errors, ACC_PI_18)
    out["pose_median_deg"] = median_error_degrees(errors)
    return out


def compute_metrics(predictions: pd.DataFrame, benchmark: str, paper: str,
                    unseen_splits: Iterable[str] = DEFAULT_UNSEEN_SPLITS) -> pd.DataFrame:
    """Tidy metrics of concatenated predictions; duplicate samples within a group are an error (double counting)."""
    dup = predictions.duplicated([*GROUP_KEYS, "sample_id"])
    if dup.any():
        first = predictions.loc[dup, [*GROUP_KEYS, "sample_id"]].iloc[0].to_dict()
        raise ValueError(f"{int(dup.sum())} duplicate predictions (same model, split, variant, level and sample), "
                         f"e.g. {first}; was a predictions file given twice?")
    rows = []
    for (model, split, variant, level), group, reported in reported_metrics(predictions, unseen_splits):
        for metric, value in group_metrics(group, with_class="class_accuracy" in reported,
                                           with_pose="pose_acc_pi6" in reported).items():
            rows.append((benchmark, paper, model, split, variant, level, metric, value, len(group)))
        ious = amodal_ious(group)
        ious = ious[np.isfinite(ious)]
        if ious.size:  # masks predicted and true masks at hand for these samples
            rows.append((benchmark, paper, model, split, variant, level, "amodal_iou", float(ious.mean()),
                         int(ious.size)))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def reported_metrics(predictions: pd.DataFrame, unseen_splits: Iterable[str] = DEFAULT_UNSEEN_SPLITS
                     ) -> Iterator[tuple[tuple[str, str, str, str], pd.DataFrame, tuple[str, ...]]]:
    """Each evaluation's key (model, split, variant, level), its rows and the metrics it reports (see the module
    docstring: no class accuracy on unseen splits or for a model without class predictions, no pose metrics for
    one without pose predictions), in sorted order."""
    unseen = set(unseen_splits)
    pose_models = {m for m, g in predictions.groupby("model") if predicts_pose(g)}
    class_models = {m for m, g in predictions.groupby("model") if predicts_class(g)}
    pose = ("pose_acc_pi6", "pose_acc_pi18", "pose_median_deg")
    for key, group in predictions.groupby(GROUP_KEYS, sort=True):
        model, split = key[0], key[1]
        with_class = split not in unseen and model in class_models
        yield key, group, (("class_accuracy",) if with_class else ()) + (pose if model in pose_models else ())


def paper_of(path: str | Path) -> str:
    """The paper a predictions file belongs to, from its path
    ``<results>/<paper>/predictions/<benchmark>/<model>/<split>/<variant>/<level>.csv``."""
    parts = Path(path).parts
    if len(parts) < 7 or parts[-6] != "predictions":
        raise ValueError(f"{path}: not a predictions path <results>/<paper>/predictions/<benchmark>/<model>/<split>/"
                         "<variant>/<level>.csv, so its paper is unknown (give --paper)")
    return parts[-7]


def evaluate_files(paths: Sequence[str | Path], out: str | Path, benchmark: str, paper: str | None = None,
                   unseen_splits: Iterable[str] = DEFAULT_UNSEEN_SPLITS) -> pd.DataFrame:
    """Read predictions CSVs, compute the tidy metrics and write them atomically to ``out``.

    ``paper``: the paper of every file; None takes each file's from its path (:func:`paper_of`), so one metrics
    file gathers every paper's predictions on a benchmark."""
    from robust3d.data.io import atomic_path

    if not paths:
        raise ValueError("no predictions files given")
    from robust3d.errors import InputError

    frames = [read_predictions(p) for p in paths]
    empty = [str(p) for p, f in zip(paths, frames, strict=True) if f.empty]
    if empty:
        raise InputError(f"predictions files without rows: {empty}")
    # A predicted class must be a class of some sample (unseen splits predict the training classes, which the
    # clean splits' rows carry): anything else is a typo or another model's label set.
    known = set().union(*(set(f["class"]) for f in frames))
    for path, frame in zip(paths, frames, strict=True):
        unknown = frame["pred_class"][(frame["pred_class"] != "") & ~frame["pred_class"].isin(known)]
        if len(unknown):
            sample = frame.loc[unknown.index[0], "sample_id"]
            raise InputError(f"{path}: sample '{sample}' predicts class {unknown.iloc[0]!r}, which no sample of "
                             f"the given predictions has (known: {', '.join(sorted(known))})")
    papers = [paper or paper_of(p) for p in paths]
    metrics = pd.concat([compute_metrics(pd.concat([f for f, q in zip(frames, papers, strict=True) if q == name],
                                                   ignore_index=True), benchmark, name, unseen_splits)
                         for name in dict.fromkeys(papers)], ignore_index=True)
    with atomic_path(out) as tmp:
        metrics.to_csv(tmp, index=False)
    return metrics
