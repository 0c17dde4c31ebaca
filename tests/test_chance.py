"""Chance levels computed from a split's labels and poses (robust3d.evaluate.chance)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from robust3d.evaluate.chance import class_chance, pose_chance
from robust3d.geometry.pose_metrics import ACC_PI_6, accuracy_at, pose_error


def draw_poses(rng: np.random.Generator, n: int, azimuth_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A split's pose distribution: azimuth uniform on [0, azimuth_max), elevation on [-15, 45) degrees,
    in-plane rotation normal with sd 0.15 rad."""
    return (rng.uniform(0.0, azimuth_max, n), rng.uniform(-math.pi / 12, math.pi / 4, n), rng.normal(0.0, 0.15, n))


def random_predictor_accuracy(azimuth_max: float, n: int = 200_000, seed: int = 11) -> float:
    """Accuracy at pi/6 of a predictor whose poses are drawn independently from the split's distribution."""
    rng = np.random.default_rng(seed)
    truth, guess = draw_poses(rng, n, azimuth_max), draw_poses(rng, n, azimuth_max)
    errors = pose_error(tuple(map(torch.from_numpy, guess)), tuple(map(torch.from_numpy, truth)))
    return accuracy_at(errors, ACC_PI_6)


def test_class_chance_is_sum_of_squared_frequencies() -> None:
    result = class_chance(["car"] * 6 + ["bus"] * 3 + ["bike"])
    assert result.chance == pytest.approx(0.6**2 + 0.3**2 + 0.1**2)  # 0.46
    assert result.majority == pytest.approx(0.6) and result.majority_class == "car"
    assert (result.n, result.n_classes) == (10, 3)
    balanced = class_chance([c for c in range(12) for _ in range(5)])
    assert balanced.chance == pytest.approx(1 / 12) and balanced.majority == pytest.approx(1 / 12)
    with pytest.raises(ValueError, match="empty"):
        class_chance([])


def test_restricted_azimuth_raises_chance_and_matches_a_random_predictor() -> None:
    rng = np.random.default_rng(0)
    quarter = pose_chance(*draw_poses(rng, 20_000, math.pi / 2))
    full = pose_chance(*draw_poses(rng, 20_000, 2 * math.pi))
    assert quarter.accuracy - full.accuracy > 0.2, (quarter, full)
    assert quarter.median_deg < full.median_deg - 20
    assert abs(quarter.accuracy - random_predictor_accuracy(math.pi / 2)) < 0.01
    assert abs(full.accuracy - random_predictor_accuracy(2 * math.pi)) < 0.01
    assert (quarter.n, quarter.n_draws, quarter.threshold) == (20_000, 200_000, ACC_PI_6)


@pytest.mark.parametrize("resample", ["pose", "azimuth"])
def test_azimuth_only_difference_has_a_closed_form(resample: str) -> None:
    """When the guess differs only in azimuth the error is the wrapped azimuth difference: for azimuths uniform
    on a quarter circle P(|d| < 30 deg) = 1 - (2/3)^2 = 5/9 with median 90 (1 - 1/sqrt 2) deg; on the full
    circle 1/6 and 90 deg. 'pose' gets there with fixed elevation and theta, 'azimuth' keeps them per sample."""
    rng = np.random.default_rng(3)
    n = 20_000
    if resample == "pose":
        elevation, theta = np.full(n, 0.3), np.full(n, -0.1)
    else:
        _, elevation, theta = draw_poses(rng, n, 1.0)
    quarter = pose_chance(rng.uniform(0, math.pi / 2, n), elevation, theta, resample=resample)
    full = pose_chance(rng.uniform(0, 2 * math.pi, n), elevation, theta, resample=resample)
    assert quarter.accuracy == pytest.approx(5 / 9, abs=0.01)
    assert quarter.median_deg == pytest.approx(90 * (1 - 1 / math.sqrt(2)), abs=1.0)
    assert full.accuracy == pytest.approx(1 / 6, abs=0.01)
    assert full.median_deg == pytest.approx(90.0, abs=1.5)


def test_pose_chance_never_pairs_a_sample_with_itself() -> None:
    """Two distinct poses 90 degrees apart: every guess is the other pose, so chance is 0 (not 1/2)."""
    result = pose_chance([0.0, math.pi / 2], [0.2, 0.2], [0.0, 0.0], n_draws=1000)
    assert result.accuracy == 0.0 and result.median_deg == pytest.approx(90.0)


def test_pose_chance_is_reproducible_and_refuses_bad_input() -> None:
    rng = np.random.default_rng(5)
    poses = draw_poses(rng, 500, math.pi)
    assert pose_chance(*poses, n_draws=5000, seed=1) == pose_chance(*poses, n_draws=5000, seed=1)
    with pytest.raises(ValueError, match="equal length"):
        pose_chance([0.0, 1.0], [0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="at least 2"):
        pose_chance([0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="finite"):
        pose_chance([0.0, float("nan")], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="resample"):
        pose_chance([0.0, 1.0], [0.0, 0.0], [0.0, 0.0], resample="theta")  # type: ignore[arg-type]


def _split_predictions(model: str, split: str, n: int, guess: str, seed: int = 0) -> pd.DataFrame:
    """A split of ``n`` samples (4 classes, azimuth on a half circle) and a model's predictions: ``perfect``,
    ``shuffled`` (the split's own labels and poses given to the wrong samples: a guess from the split's
    distribution) or ``wrong`` (always another class; no pose head)."""
    rng = np.random.default_rng(seed)
    az, el, th = draw_poses(rng, n, math.pi)
    truth = pd.DataFrame({"model": model, "split": split, "variant": "clean", "level": "0",
                          "sample_id": [f"s{i:03d}" for i in range(n)],
                          "class": rng.choice(["car", "bus", "boat", "chair"], n, p=[0.4, 0.3, 0.2, 0.1]),
                          "azimuth": az, "elevation": el, "theta": th})
    pred = truth.copy()
    if guess == "shuffled":
        order = rng.permutation(n)
        pred[["class", "azimuth", "elevation", "theta"]] = truth[["class", "azimuth", "elevation", "theta"]].iloc[
            order].to_numpy()
    pred = pred.rename(columns={c: f"pred_{c}" for c in ("class", "azimuth", "elevation", "theta")})
    out = truth.join(pred[[c for c in pred if c.startswith("pred_")]])
    if guess == "wrong":
        out["pred_class"] = np.where(out["class"] == "car", "bus", "car")
        out[["pred_azimuth", "pred_elevation", "pred_theta"]] = np.nan
    return out


def test_chance_verdicts_judge_each_evaluation_against_its_own_chance() -> None:
    from robust3d.evaluate.chance import CHANCE_COLUMNS, chance_verdicts

    frames = [_split_predictions("good", "test", 300, "perfect"), _split_predictions("guess", "test", 300, "shuffled"),
              _split_predictions("bad", "test", 300, "wrong"), _split_predictions("good", "unseen", 50, "perfect")]
    result = chance_verdicts(pd.concat(frames, ignore_index=True), n_resamples=500)
    assert list(result.columns) == CHANCE_COLUMNS
    verdict = result.set_index(["model", "split", "metric"])["verdict"].to_dict()
    assert verdict[("good", "test", "class_accuracy")] == verdict[("good", "test", "pose_acc_pi6")] == "above chance"
    assert verdict[("guess", "test", "class_accuracy")] == verdict[("guess", "test", "pose_acc_pi6")] == "at chance"
    assert verdict[("bad", "test", "class_accuracy")] == "below chance"
    assert ("bad", "test", "pose_acc_pi6") not in verdict  # no pose head: no pose row, as in metrics.csv
    assert ("good", "unseen", "class_accuracy") not in verdict and ("good", "unseen", "pose_acc_pi6") in verdict
    row = result[(result["model"] == "guess") & (result["metric"] == "class_accuracy")].iloc[0]
    assert row["chance"] == pytest.approx(100 * class_chance(frames[1]["class"]).chance)
    assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["n"] == 300
