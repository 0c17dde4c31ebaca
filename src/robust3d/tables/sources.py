"""Our numbers, and only ours: metrics.csv, training-metrics JSONs, the scaling CSV and per-sample predictions.

Every lookup returns a :class:`~robust3d.tables.spec.Cell`; a missing value carries the reason, preferring the
config's (a split or variant this config does not build, a model it does not train) over "no row in the file".
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.tables.spec import Cell

KEY_COLUMNS = ("model", "split", "variant", "level", "metric")


def _normalise_keys(df: pd.DataFrame) -> pd.DataFrame:
    """Variant/level as strings with the clean defaults, so "4" and 4 (or "" and "clean") look the same."""
    df = df.copy()
    for col in ("model", "split", "variant", "level"):
        if col in df:
            df[col] = df[col].fillna("").astype(str)
    if "variant" in df:
        df.loc[df["variant"] == "", "variant"] = "clean"
    if "level" in df:
        df.loc[df["level"] == "", "level"] = "0"
    return df


def read_metrics(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={c: str for c in ("benchmark", "paper", *KEY_COLUMNS)}, keep_default_na=False,
                     na_values={"value": ["", "nan", "NaN"], "n": [""]})
    return _normalise_keys(df)


def read_predictions(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Predictions CSVs through the evaluation's own reader (the contract's columns, angles as floats)."""
    from robust3d.evaluate.predictions import read_predictions as read_one

    frames = [read_one(p) for p in paths]
    return _normalise_keys(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()


def loglog_slope(x: Iterable[float], y: Iterable[float]) -> float:
    """Least-squares slope of log(y) against log(x): ~1 for linear growth, ~2 for quadratic."""
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def scaling_series(df: pd.DataFrame) -> pd.Series:
    """Series name of each scaling row: NOVUM-<vertices> (no cross-class sampling) or 3D-CompNets."""
    def name(row) -> str:
        n = row.get("cross_samples")
        if n is None or n == "" or (isinstance(n, float) and math.isnan(n)):
            return f"NOVUM-{int(row['vertices_per_class'])}"
        return "3D-CompNets"

    return df.apply(name, axis=1) if len(df) else pd.Series([], dtype=str)


class Sources:
    """Lookups into our outputs. ``models``: the ids this config trains (None: unknown, allow all);
    ``availability(split, variant, level)``: why this config builds no such evaluation, or None."""

    def __init__(self, metrics: pd.DataFrame | None = None, train: dict[str, dict] | None = None,
                 scaling: pd.DataFrame | None = None, predictions: pd.DataFrame | None = None,
                 models: Iterable[str] | None = None,
                 availability: Callable[[str, str, str], str | None] | None = None,
                 benchmark: str | None = None):
        if metrics is not None and benchmark is not None and "benchmark" in metrics:
            metrics = metrics[metrics["benchmark"] == benchmark]
        self._metrics = None if metrics is None else {
            tuple(r[c] for c in KEY_COLUMNS): (float(r["value"]), None if pd.isna(r.get("n")) else int(r["n"]))
            for r in metrics.to_dict("records")
        }
        self._train = train or {}
        self._scaling = scaling
        if scaling is not None and len(scaling):
            self._scaling = scaling.assign(series=scaling_series(scaling))
        self._predictions = predictions
        self._models = None if models is None else set(models)
        self._availability = availability

    @classmethod
    def load(cls, metrics: str | Path | None = None, train: Iterable[str | Path] = (),
             scaling: str | Path | None = None, predictions: Iterable[str | Path] = (), **kwargs) -> Sources:
        runs = {}
        for path in train:
            data = json.loads(Path(path).read_text())
            runs[data["model"]] = data
        return cls(read_metrics(metrics) if metrics else None, runs,
                   pd.read_csv(scaling) if scaling else None,
                   read_predictions(predictions) if predictions else None, **kwargs)

    # ------------------------------------------------------------------ models and reasons
    def has_model(self, model: str) -> bool:
        return self._models is None or model in self._models

    def model_missing_reason(self, model: str) -> str:
        return f"model '{model}' is not in this config's models"

    def _unavailable(self, split: str, variant: str, level: str) -> str | None:
        return self._availability(split, variant, level) if self._availability else None

    # ------------------------------------------------------------------ lookups
    def metric(self, model: str, split: str, variant: str, level: str, metric: str) -> Cell:
        reason = self._unavailable(split, variant, level)
        if reason:
            return Cell(None, None, reason)
        if self._metrics is None:
            return Cell(None, None, "no metrics.csv given")
        hit = self._metrics.get((model, split, variant, str(level), metric))
        if hit is None:
            return Cell(None, None, f"no {metric} of {model} on {split}/{variant}/{level} in metrics.csv")
        value, n = hit
        return Cell(None if math.isnan(value) else value, n, "" if not math.isnan(value) else "NaN in metrics.csv")

    def train_field(self, model: str, field: str) -> Cell:
        run = self._train.get(model)
        if run is None:
            return Cell(None, None, f"no training metrics (train.json) of {model}")
        value = run.get(field)
        if value is None:
            why = "a dual-head model has no contrastive loss" if run.get("family") == "dual_head" else "null"
            return Cell(None, None, f"train.json {field}: {why}")
        return Cell(float(value), None, "")

    def class_pose_accuracy(self, model: str, split: str, class_name: str) -> Cell:
        """Pose accuracy at pi/6 (percent) over the samples of one class, from the predictions (the evaluation's
        metric function on the class's rows, so it agrees with metrics.csv's pooled value)."""
        reason = self._unavailable(split, "clean", "0")
        if reason:
            return Cell(None, None, reason)
        df = self._predictions
        if df is None or not len(df):
            return Cell(None, None, "no predictions given")
        df = df[(df["model"] == model) & (df["split"] == split) & (df["variant"] == "clean")]
        if not len(df):
            return Cell(None, None, f"no {split} predictions of {model}")
        df = df[df["class"] == class_name]
        if not len(df):
            return Cell(None, None, f"not one of our {split} classes")
        from robust3d.evaluate.metrics import group_metrics  # the same pose error as metrics.csv

        return Cell(group_metrics(df, with_class=False)["pose_acc_pi6"], len(df), "")

    def classes(self, model: str | None, split: str) -> list[str]:
        """Classes present in the predictions of ``split`` (of one model, or of all), in order of appearance."""
        df = self._predictions
        if df is None or not len(df):
            return []
        df = df[df["split"] == split]
        if model is not None:
            df = df[df["model"] == model]
        return list(dict.fromkeys(df["class"]))

    def _series(self, series: str) -> pd.DataFrame | None:
        if self._scaling is None or not len(self._scaling):
            return None
        return self._scaling[self._scaling["series"] == series]

    def scaling_value(self, series: str, n_classes: int, field: str) -> Cell:
        df = self._series(series)
        if df is None:
            return Cell(None, None, "no scaling CSV given")
        hit = df[df["n_classes"] == n_classes]
        if not len(hit):
            return Cell(None, None, f"no {series} point at {n_classes} classes in the scaling CSV")
        value = float(hit[field].iloc[0])
        return Cell(None if math.isnan(value) else value, None, "")

    def scaling_slope(self, series: str, field: str) -> Cell:
        df = self._series(series)
        if df is None:
            return Cell(None, None, "no scaling CSV given")
        slope = loglog_slope(df["n_classes"], df[field])
        if math.isnan(slope):
            return Cell(None, None, f"fewer than 2 positive {series} points")
        return Cell(slope, len(df), "")

    def scaling_classes(self) -> list[int]:
        if self._scaling is None or not len(self._scaling):
            return []
        return sorted({int(v) for v in self._scaling["n_classes"]})
