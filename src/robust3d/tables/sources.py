"""Our numbers, and only ours: metrics.csv, training-metrics JSONs, per-sample predictions and a paper's extra CSVs.

Every lookup returns a :class:`~robust3d.tables.spec.Cell`; a missing value carries the reason, preferring the
config's (a split or variant this config does not build, a model it does not train) over "no row in the file".

With several training seeds (``seeds``; model ids ``<model>@s<k>``, :mod:`robust3d.models.seeds`) a table row
still names the plain model: :meth:`Sources.with_seed` gives the view of one seed, in which every lookup of
``<model>`` reads ``<model>@s<k>``, and :func:`robust3d.tables.render.build_table` resolves the table once per
seed and reports the mean and sd of each cell.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from robust3d.data.io import read_json
from robust3d.tables.cell import Cell

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


class Sources:
    """Lookups into our outputs. ``models``: the ids this config trains (None: unknown, allow all);
    ``availability(split, variant, level)``: why this config builds no such evaluation, or None; ``extra``: a
    paper's own CSVs by name (e.g. 3D-CompNets' ``scaling``), read by that paper's columns."""

    def __init__(self, metrics: pd.DataFrame | None = None, train: dict[str, dict] | None = None,
                 extra: dict[str, pd.DataFrame] | None = None, predictions: pd.DataFrame | None = None,
                 models: Iterable[str] | None = None,
                 availability: Callable[[str, str, str], str | None] | None = None,
                 benchmark: str | None = None, seeds: Iterable[int] | None = None):
        if metrics is not None and benchmark is not None and "benchmark" in metrics:
            metrics = metrics[metrics["benchmark"] == benchmark]
        self._metrics = None if metrics is None else {
            tuple(r[c] for c in KEY_COLUMNS): (float(r["value"]), None if pd.isna(r.get("n")) else int(r["n"]))
            for r in metrics.to_dict("records")
        }
        self._train = train or {}
        self.extra = dict(extra or {})
        self._predictions = predictions
        self._models = None if models is None else set(models)
        self._availability = availability
        self.seeds = None if seeds is None else [int(k) for k in seeds]
        self.seed: int | None = None  # the seed of this view (with_seed); None: plain model ids
        self._chance: dict[str, dict | None] = {}

    @property
    def predictions(self) -> pd.DataFrame | None:
        """The per-sample predictions given (None when none were)."""
        return self._predictions if self._predictions is not None and len(self._predictions) else None

    def with_seed(self, seed: int) -> Sources:
        """The view of one training seed: every lookup of model ``m`` reads ``m@s<seed>``."""
        if self.seeds is None or int(seed) not in self.seeds:
            raise ValueError(f"seed {seed} is not one of this run's seeds ({self.seeds})")
        view = copy.copy(self)
        view.seed = int(seed)
        return view

    def _id(self, model: str) -> str:
        """``model`` under this view's seed; a brought model (``byom-<name>``) has one run under every seed."""
        from robust3d.byom import entry_name
        from robust3d.models.seeds import seeded_id

        return model if self.seed is None or entry_name(model) else seeded_id(model, self.seed)

    @classmethod
    def load(cls, metrics: str | Path | None = None, train: Iterable[str | Path] = (),
             extra: dict[str, str | Path] | None = None, predictions: Iterable[str | Path] = (), **kwargs) -> Sources:
        runs = {}
        for path in train:
            data = read_json(path)
            runs[data["model"]] = data
        return cls(read_metrics(metrics) if metrics else None, runs,
                   {name: pd.read_csv(path) for name, path in (extra or {}).items()},
                   read_predictions(predictions) if predictions else None, **kwargs)

    # ------------------------------------------------------------------ models and reasons
    def has_model(self, model: str) -> bool:
        if self._models is None:
            return True
        if self.seeds is not None and self.seed is None:  # the all-seeds view: trained under some seed
            return any(self.with_seed(k)._id(model) in self._models for k in self.seeds)
        return self._id(model) in self._models

    def model_missing_reason(self, model: str) -> str:
        return f"model '{self._id(model)}' is not in this config's models"

    def _unavailable(self, split: str, variant: str, level: str) -> str | None:
        return self._availability(split, variant, level) if self._availability else None

    # ------------------------------------------------------------------ lookups
    def metric(self, model: str, split: str, variant: str, level: str, metric: str) -> Cell:
        reason = self._unavailable(split, variant, level)
        if reason:
            return Cell(None, None, reason)
        if self._metrics is None:
            return Cell(None, None, "no metrics.csv given")
        model = self._id(model)
        hit = self._metrics.get((model, split, variant, str(level), metric))
        if hit is None:
            return Cell(None, None, f"no {metric} of {model} on {split}/{variant}/{level} in metrics.csv")
        value, n = hit
        return Cell(None if math.isnan(value) else value, n, "" if not math.isnan(value) else "NaN in metrics.csv")

    def train_run(self, model: str) -> dict | None:
        """The model's whole train.json (None when not given)."""
        return self._train.get(self._id(model))

    def train_field(self, model: str, field: str, null_notes: dict[str, str] | None = None) -> Cell:
        """A field of the model's train.json; ``null_notes``: family -> why that family's models have none."""
        model = self._id(model)
        run = self._train.get(model)
        if run is None:
            return Cell(None, None, f"no training metrics (train.json) of {model}")
        value = run.get(field)
        if value is None:
            why = (null_notes or {}).get(run.get("family"), "null")
            return Cell(None, None, f"train.json {field}: {why}")
        return Cell(float(value), None, "")

    def class_metric(self, model: str, split: str, class_name: str, metric: str) -> Cell:
        """A pose metric of :func:`~robust3d.evaluate.metrics.group_metrics` (e.g. ``pose_acc_pi6``) over the samples
        of one class of a clean split, from the predictions (the evaluation's own metric function on the class's
        rows, so it agrees with metrics.csv's pooled value)."""
        reason = self._unavailable(split, "clean", "0")
        if reason:
            return Cell(None, None, reason)
        df = self._predictions
        if df is None or not len(df):
            return Cell(None, None, "no predictions given")
        model = self._id(model)
        df = df[(df["model"] == model) & (df["split"] == split) & (df["variant"] == "clean")]
        if not len(df):
            return Cell(None, None, f"no {split} predictions of {model}")
        df = df[df["class"] == class_name]
        if not len(df):
            return Cell(None, None, f"not one of our {split} classes")
        from robust3d.evaluate.metrics import group_metrics  # the same pose error as metrics.csv

        return Cell(group_metrics(df, with_class=False)[metric], len(df), "")

    def per_sample(self, model: str, split: str, variant: str, level: str, metric: str) -> pd.Series | None:
        """One evaluation's per-sample values of an accuracy metric (100 for a hit, 0 for a miss), indexed by
        ``sample_id``: what the claims' paired bootstrap resamples. None when the predictions are not given or the
        metric is not a per-sample accuracy (a median error is not a mean of per-sample values)."""
        from robust3d.evaluate.metrics import HIT_METRICS, sample_hits

        df = self._predictions
        if df is None or not len(df) or metric not in HIT_METRICS:
            return None
        df = df[(df["model"] == self._id(model)) & (df["split"] == split) & (df["variant"] == variant)
                & (df["level"] == str(level))]
        hits = sample_hits(df, metric) if len(df) else None
        if hits is None:
            return None
        return pd.Series(100.0 * hits, index=df["sample_id"].to_numpy(), name=metric)

    def reports(self, split: str, metric: str) -> bool:
        """Whether metrics.csv has ``metric`` for some evaluation of ``split`` (no class accuracy on unseen splits)."""
        return self._metrics is not None and any(k[1] == split and k[4] == metric for k in self._metrics)

    def chance(self, split: str) -> dict[str, tuple[float, float | None]] | None:
        """Chance levels (percent) of the split's accuracies from its samples' labels and poses in the predictions
        (:func:`robust3d.evaluate.chance.split_chance`; clean samples, which every variant shares), or None."""
        df = self._predictions
        if df is None or not len(df):
            return None
        cache = self._chance  # shared by the seed views (shallow copies)
        if split not in cache:
            rows = df[(df["split"] == split) & (df["variant"] == "clean")].drop_duplicates("sample_id")
            from robust3d.evaluate.chance import split_chance

            cache[split] = split_chance(rows) if len(rows) >= 2 else None
        return cache[split]

    def classes(self, model: str | None, split: str) -> list[str]:
        """Classes present in the predictions of ``split`` (of one model, or of all), in order of appearance."""
        df = self._predictions
        if df is None or not len(df):
            return []
        df = df[df["split"] == split]
        if model is not None:
            df = df[df["model"] == self._id(model)]
        return list(dict.fromkeys(df["class"]))
