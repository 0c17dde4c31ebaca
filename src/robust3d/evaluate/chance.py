"""Chance levels computed from a split's own labels and poses, not assumed (1/12 classes, "random pose").

A "chance" line in a table is the score of a predictor that has seen the split's label or pose *distribution*
but not the image. For classes that is the frequency-matched guess, which draws a class with the split's class
frequencies ``p_c`` and is right with probability ``sum(p_c ** 2)``; the best constant guess (always the most
frequent class) scores ``max(p_c)`` and is exposed as ``majority``. Tables use ``chance`` (the frequency-matched
guess): it is the level a model that ignores the image reaches without exploiting an imbalance it was never
told about, and it equals ``1 / C`` on a balanced split. ``majority`` is the stricter bar for imbalanced splits.

For poses the guess is a pose drawn from the split's annotated poses independently of the sample
(:func:`pose_chance`); its accuracy at pi/6 and its median error are estimated by Monte-Carlo with the project's
pose error (:mod:`robust3d.geometry.pose_metrics`), so a split whose azimuths cover only a quarter circle gets
the much higher chance level it deserves. Accuracies here are fractions in ``[0, 1]`` (metrics.csv has percent).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ClassChance:
    """``chance = sum(p_c ** 2)`` (frequency-matched guess), ``majority = max(p_c)``, over ``n`` labels."""

    chance: float
    majority: float
    majority_class: Hashable
    n: int
    n_classes: int


def class_chance(labels: Iterable[Hashable]) -> ClassChance:
    """Chance accuracies of guessing the classes of ``labels`` (one true label per sample) without the image."""
    counts = Counter(labels)
    n = sum(counts.values())
    if n == 0:
        raise ValueError("no labels: chance is undefined on an empty split")
    p = np.array(list(counts.values()), dtype=np.float64) / n
    majority_class = max(counts, key=lambda c: (counts[c], str(c)))
    return ClassChance(chance=float((p**2).sum()), majority=float(p.max()), majority_class=majority_class,
                       n=n, n_classes=len(counts))


@dataclass(frozen=True)
class PoseChance:
    """Expected accuracy (fraction of errors below ``threshold``) and median error of a random pose guess."""

    accuracy: float
    median_deg: float
    threshold: float
    n: int
    n_draws: int


def pose_chance(azimuth: Iterable[float], elevation: Iterable[float], theta: Iterable[float],
                threshold: float = math.pi / 6, n_draws: int = 200_000, seed: int = 0,
                resample: Literal["pose", "azimuth"] = "pose") -> PoseChance:
    """Monte-Carlo chance level of the pose error on a split with these annotated poses (radians, ``(n,)`` each).

    Each of ``n_draws`` draws picks a sample ``i`` uniformly and a different sample ``j != i`` uniformly, and
    scores the error between pose ``i`` (the truth) and the guess:

    - ``resample="pose"`` (the tables' chance): the guess is pose ``j`` whole, a pose from the split's
      distribution independent of the sample;
    - ``resample="azimuth"``: the guess keeps sample ``i``'s own elevation and theta and takes ``j``'s azimuth,
      the chance of a model that gets elevation and in-plane rotation right but ignores the azimuth.

    Excluding ``j == i`` makes the estimate unbiased for two independent draws from the pose distribution (a
    guess equal to its own truth would add ``1/n``). Monte-Carlo error of the accuracy: at most
    ``0.5 / sqrt(n_draws)``.
    """
    import torch

    from robust3d.geometry.pose_metrics import accuracy_at, median_error_degrees, pose_error

    angles = [np.asarray(list(a), dtype=np.float64) for a in (azimuth, elevation, theta)]
    if any(a.ndim != 1 for a in angles) or len({a.size for a in angles}) != 1:
        raise ValueError(f"azimuth, elevation and theta must be 1-d and of equal length, got "
                         f"shapes {[a.shape for a in angles]}")
    poses = np.stack(angles)
    n = poses.shape[1]
    if n < 2:
        raise ValueError(f"pose chance needs at least 2 annotated poses, got {n}")
    if not np.isfinite(poses).all():
        raise ValueError("annotated poses must be finite")
    if resample not in ("pose", "azimuth"):
        raise ValueError(f"resample must be 'pose' or 'azimuth', got {resample!r}")
    if n_draws < 1:
        raise ValueError(f"n_draws must be at least 1, got {n_draws}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_draws)
    j = (i + rng.integers(1, n, size=n_draws)) % n
    truth = torch.from_numpy(poses[:, i])
    guess = torch.from_numpy(poses[:, j] if resample == "pose" else np.stack([poses[0, j], *poses[1:, i]]))
    errors = pose_error(tuple(guess), tuple(truth))
    return PoseChance(accuracy=accuracy_at(errors, threshold), median_deg=median_error_degrees(errors),
                      threshold=threshold, n=n, n_draws=n_draws)


#: Columns of ``<paper>_chance.csv``: one row per evaluation and accuracy metric.
CHANCE_COLUMNS = ["model", "split", "variant", "level", "metric", "value", "ci_low", "ci_high", "n", "chance",
                  "majority", "verdict"]
#: The accuracies judged against chance, and the chance each is compared with (percent, like metrics.csv).
CHANCE_METRICS = ("class_accuracy", "pose_acc_pi6")


def split_chance(truth: pd.DataFrame, seed: int = 0) -> dict[str, tuple[float, float | None]]:
    """Chance of :data:`CHANCE_METRICS` on the samples of ``truth`` (one row per sample with ``class``,
    ``azimuth``, ``elevation``, ``theta``), in percent: metric -> (chance, majority or None)."""
    from robust3d.geometry.pose_metrics import ACC_PI_6

    classes = class_chance(truth["class"].astype(str))
    out: dict[str, tuple[float, float | None]] = {"class_accuracy": (100 * classes.chance, 100 * classes.majority)}
    if len(truth) >= 2:
        pose = pose_chance(truth["azimuth"], truth["elevation"], truth["theta"], threshold=ACC_PI_6, seed=seed)
        out["pose_acc_pi6"] = (100 * pose.accuracy, None)
    return out


def chance_verdicts(predictions: pd.DataFrame, unseen_splits: Iterable[str] = ("unseen", "unseen_procedural"),
                    n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Whether each model's accuracy on each evaluation is above the chance of that evaluation's samples.

    ``predictions``: per-sample predictions of several evaluations (the contract's columns plus ``model, split,
    variant, level``). For every (model, split, variant, level) and accuracy the metrics rule reports (no class
    accuracy on unseen splits or for a model without a class head, no pose accuracy for one without a pose head:
    :func:`robust3d.evaluate.metrics.reported_metrics`), the accuracy's 95% percentile bootstrap interval over the
    samples is compared with the chance level computed from the same samples' labels and poses: ``above chance``
    when its lower bound is above it, ``below chance`` when its upper bound is below, ``at chance`` otherwise.
    """
    import pandas as pd

    from robust3d.evaluate.metrics import GROUP_KEYS, reported_metrics, sample_hits
    from robust3d.evaluate.stats import paired_bootstrap

    cache: dict[tuple, dict] = {}
    rows = []
    for (model, split, variant, lvl), group, metrics in reported_metrics(predictions, unseen_splits):
        key = (split, variant, lvl, tuple(sorted(group["sample_id"])))
        if key not in cache:
            cache[key] = split_chance(group, seed)
        for metric in (m for m in CHANCE_METRICS if m in metrics and m in cache[key]):
            hits = 100.0 * sample_hits(group, metric)
            interval = paired_bootstrap(lambda a: a.mean(axis=-1), hits, n_resamples=n_resamples, seed=seed,
                                        level=level)
            chance, majority = cache[key][metric]
            verdict = ("above chance" if interval.low > chance else "below chance" if interval.high < chance
                       else "at chance")
            rows.append({"model": model, "split": split, "variant": variant, "level": lvl, "metric": metric,
                         "value": interval.estimate, "ci_low": interval.low, "ci_high": interval.high,
                         "n": interval.n, "chance": chance, "majority": majority, "verdict": verdict})
    frame = pd.DataFrame.from_records(rows, columns=CHANCE_COLUMNS)
    return frame.sort_values(GROUP_KEYS + ["metric"], kind="stable", ignore_index=True)
