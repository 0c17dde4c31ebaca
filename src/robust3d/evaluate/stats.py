"""Statistics over our results: fitted slopes, paired bootstrap intervals over test samples, claim verdicts.

A claim such as "model A is more accurate than model B" is judged on the same test samples for both models: the
per-sample values (0/1 correctness, errors) are paired by ``sample_id`` (:func:`pair_by_sample`) and resampled
together (:func:`paired_bootstrap`), so the interval reflects how much the *difference* depends on which samples
happened to be in the test set, not the much larger spread of each accuracy on its own. :func:`verdict` turns the
interval into "holds", "fails" or "within noise"; exact quantities (FLOP counts, parameter counts) have no sampling
noise and get :func:`exact_verdict` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Side = Literal["greater", "less"]
Verdict = Literal["holds", "fails", "within noise"]
SIDES: tuple[Side, ...] = ("greater", "less")
#: Largest number of gathered values (resamples x samples) held at once per array; bounds memory for big test sets.
CHUNK_VALUES = 4_000_000


def loglog_slope(x: Iterable[float], y: Iterable[float]) -> float:
    """Least-squares slope of log(y) against log(x): ~1 for linear growth, ~2 for quadratic."""
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


@dataclass(frozen=True)
class Interval:
    """A point estimate on all ``n`` samples and its percentile bootstrap interval ``[low, high]`` at ``level``."""

    estimate: float
    low: float
    high: float
    n: int
    level: float


def mean_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``mean(a) - mean(b)`` over the last axis, ``(...)``; on 0/1 correctness, the difference of accuracies."""
    return a.mean(axis=-1) - b.mean(axis=-1)


def resample_indices(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``(rows, n)`` sample indices drawn uniformly with replacement.

    Drawn as ``floor(u * n)`` from doubles, one generator value per index, so drawing the rows in chunks gives
    exactly the same indices as drawing them all at once (``Generator.integers`` buffers 32-bit halves per call,
    which chunking would change); the bias of the floor is of order ``n / 2**53``.
    """
    return np.minimum((rng.random((rows, n)) * n).astype(np.intp), n - 1)


def paired_bootstrap(statistic: Callable[..., np.ndarray], *arrays: Iterable[float], n_resamples: int = 2000,
                     seed: int = 0, level: float = 0.95) -> Interval:
    """Paired percentile bootstrap of ``statistic(*arrays)`` over samples (and over training seeds).

    ``arrays``: one or more per-sample values aligned by sample (element ``i`` of every array belongs to sample
    ``i``; see :func:`pair_by_sample`), each of shape ``(n,)`` or, for a model trained under several seeds,
    ``(s, n)`` (one row per seed). Each resample draws ``n`` sample indices with replacement and applies the
    *same* indices to every array, which keeps the pairing; a ``(s, n)`` array also draws ``s`` of its seeds with
    replacement (independently per array: different models' seeds are different runs) and averages them, so the
    interval carries the seed-to-seed spread as well as the test set's. The estimate averages all seeds.

    ``statistic`` must be vectorised over leading axes: given arrays of shape ``(..., n)`` it reduces the last
    axis and returns shape ``(...)`` (e.g. :func:`mean_difference`). It is called once on the ``(n,)`` data for
    the estimate and on ``(rows, n)`` chunks of resamples. The interval is the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles (linear interpolation) of the ``n_resamples`` bootstrap values; the indices come
    from ``numpy.random.default_rng(seed)``, so the result is reproducible (and, with ``(n,)`` arrays only, the
    same as without seed support).
    """
    if not arrays:
        raise ValueError("paired_bootstrap needs at least one array of per-sample values")
    values = [np.asarray(a, dtype=np.float64) for a in arrays]
    if any(v.ndim not in (1, 2) or (v.ndim == 2 and v.shape[0] == 0) for v in values):
        raise ValueError(f"per-sample values must be (n,) or (seeds, n); got shapes {[v.shape for v in values]}")
    n = values[0].shape[-1]
    if any(v.shape[-1] != n for v in values):
        raise ValueError(f"arrays are not paired: lengths {[v.shape[-1] for v in values]} differ")
    if n == 0:
        raise ValueError("no samples to bootstrap")
    if not all(np.isfinite(v).all() for v in values):
        raise ValueError("per-sample values must be finite (a NaN would silently poison every resample)")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")

    estimate = float(np.asarray(statistic(*(v.mean(axis=0) if v.ndim == 2 else v for v in values))))
    rng = np.random.default_rng(seed)
    widest = max(v.shape[0] if v.ndim == 2 else 1 for v in values)
    rows = max(1, CHUNK_VALUES // (n * widest))
    boot = np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        idx = resample_indices(rng, stop - start, n)
        out = np.asarray(statistic(*(_resample(v, idx, rng) for v in values)), dtype=np.float64)
        if out.shape != (stop - start,):
            raise TypeError(f"statistic must reduce the last axis: (rows, n) = {idx.shape} gave shape {out.shape}")
        boot[start:stop] = out
    if not (np.isfinite(boot).all() and np.isfinite(estimate)):
        raise ValueError("statistic is not finite on the data or on some resample")
    low, high = np.quantile(boot, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Interval(estimate=estimate, low=float(low), high=float(high), n=n, level=level)


def _resample(values: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(rows, n)`` resampled values: the samples ``idx`` of a ``(n,)`` array, or of a ``(s, n)`` array the mean
    over ``s`` seeds drawn with replacement per row."""
    if values.ndim == 1:
        return values[idx]
    s = values.shape[0]
    drawn = resample_indices(rng, idx.shape[0], s)  # (rows, s)
    weights = np.stack([np.bincount(row, minlength=s) for row in drawn]) / s  # (rows, s), rows sum to 1
    return np.einsum("rs,srn->rn", weights, values[:, idx])


def bootstrap_replicates(values: Iterable[float], statistic: Callable[[np.ndarray], np.ndarray],
                         n_resamples: int = 2000, seed: int = 0) -> np.ndarray:
    """``(n_resamples,)`` values of ``statistic`` on resamples (with replacement) of one set of repeated
    measurements, e.g. the median of a step's repeated timings. ``statistic`` reduces the last axis of
    ``(rows, n)``; replicates of unrelated quantities take different seeds, so they are independent."""
    values = np.asarray(list(values), dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"repeated measurements must be a non-empty 1-d finite array, got {values!r}")
    idx = resample_indices(np.random.default_rng(seed), n_resamples, values.size)
    return np.asarray(statistic(values[idx]), dtype=np.float64)


def replicate_interval(estimate: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """The percentile interval of bootstrap ``replicates`` (shape ``(B,)``) around ``estimate``."""
    replicates = np.asarray(replicates, dtype=np.float64)
    if replicates.ndim != 1 or not replicates.size or not np.isfinite(replicates).all():
        raise ValueError("replicates must be a non-empty 1-d finite array")
    low, high = np.quantile(replicates, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Interval(estimate=float(estimate), low=float(low), high=float(high), n=replicates.size, level=level)


def loglog_slopes(x: Iterable[float], y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of log(y) against log(x) for many curves at once: ``y`` is ``(points, curves)``, all
    positive; returns ``(curves,)`` (the vectorised :func:`loglog_slope`)."""
    x, y = np.asarray(list(x), float), np.asarray(y, float)
    if y.ndim != 2 or y.shape[0] != x.size or x.size < 2 or (x <= 0).any() or (y <= 0).any():
        raise ValueError(f"need >= 2 positive points with (points, curves) values, got x {x.shape}, y {y.shape}")
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def pair_by_sample(*tables: pd.DataFrame, column: str) -> tuple[np.ndarray, ...]:
    """The ``column`` of each table as arrays aligned by ``sample_id`` (sorted by it), ready for the bootstrap.

    Refuses (``ValueError``) a table without ``sample_id`` or ``column``, a repeated ``sample_id`` within a table
    (it would count a sample twice), a missing value, and tables whose sample sets differ: a paired comparison on
    different samples is not paired, so this never silently intersects them.
    """
    if len(tables) < 1:
        raise ValueError("pair_by_sample needs at least one table")
    indexed = []
    for k, table in enumerate(tables):
        missing = [c for c in ("sample_id", column) if c not in table.columns]
        if missing:
            raise ValueError(f"table {k} lacks column(s) {missing}; it has {list(table.columns)}")
        dup = table["sample_id"][table["sample_id"].duplicated()].unique().tolist()
        if dup:
            raise ValueError(f"table {k} repeats sample_id(s) {dup[:5]} ({len(dup)} in all)")
        if table[column].isna().any():
            bad = table.loc[table[column].isna(), "sample_id"].tolist()
            raise ValueError(f"table {k} has no {column!r} for sample(s) {bad[:5]} ({len(bad)} in all)")
        indexed.append(table.set_index("sample_id")[column])
    ids = indexed[0].index
    for k, series in enumerate(indexed[1:], start=1):
        if set(series.index) != set(ids):
            only_first = sorted(set(ids) - set(series.index), key=str)
            only_k = sorted(set(series.index) - set(ids), key=str)
            raise ValueError(f"tables 0 and {k} cover different samples: {len(only_first)} only in table 0 "
                             f"(e.g. {only_first[:5]}), {len(only_k)} only in table {k} (e.g. {only_k[:5]})")
    order = sorted(ids, key=str)
    return tuple(series.loc[order].to_numpy(dtype=np.float64) for series in indexed)


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")


def verdict(interval: Interval, threshold: float, side: Side) -> Verdict:
    """Whether a claim "statistic is ``side`` than ``threshold``" survives the sampling noise.

    ``holds``: the whole interval lies on the claimed side (``greater``: ``low > threshold``; ``less``:
    ``high < threshold``); ``fails``: it lies wholly on the other side; ``within noise``: it contains (or
    touches) the threshold, so the test set cannot decide.
    """
    if not isinstance(interval, Interval):
        raise TypeError(f"verdict needs an Interval, got {type(interval).__name__}; "
                        "an exact value (no sampling noise) takes exact_verdict")
    _check_side(side)
    above, below = interval.low > threshold, interval.high < threshold
    if side == "greater":
        return "holds" if above else "fails" if below else "within noise"
    return "holds" if below else "fails" if above else "within noise"


def exact_verdict(value: float, threshold: float, side: Side) -> Literal["holds", "fails"]:
    """Verdict for an exact value (a FLOP or parameter count): no interval, so never "within noise".

    The claim is strict, so a value equal to the threshold fails.
    """
    if isinstance(value, Interval):
        raise TypeError("exact_verdict takes an exact value; an Interval takes verdict")
    _check_side(side)
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"an exact value must be finite, got {value}")
    ok = value > threshold if side == "greater" else value < threshold
    return "holds" if ok else "fails"
