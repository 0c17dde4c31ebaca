"""The paired bootstrap, sample pairing and claim verdicts of robust3d.evaluate.stats."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from robust3d.evaluate import stats
from robust3d.evaluate.stats import (
    Interval,
    exact_verdict,
    mean_difference,
    pair_by_sample,
    paired_bootstrap,
    verdict,
)

N = 288


def correctness(rate: float, n: int = N, seed: int = 1) -> np.ndarray:
    """0/1 correctness with exactly ``round(rate * n)`` ones, shuffled."""
    ones = round(rate * n)
    return np.random.default_rng(seed).permutation(np.r_[np.ones(ones), np.zeros(n - ones)])


def slow_paired_bootstrap(statistic, *arrays, n_resamples: int, seed: int, level: float) -> Interval:
    """Reference: one resample at a time in plain Python, quantiles by hand (numpy's default 'linear')."""
    values = [list(map(float, a)) for a in arrays]
    n = len(values[0])
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_resamples):
        row = [min(int(u * n), n - 1) for u in rng.random(n)]  # the documented index draw, row by row
        boot.append(float(statistic(*(np.array([v[i] for i in row]) for v in values))))
    boot.sort()

    def quantile(q: float) -> float:
        h = (len(boot) - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, len(boot) - 1)
        return boot[lo] + (h - lo) * (boot[hi] - boot[lo])

    return Interval(float(statistic(*(np.array(v) for v in values))), quantile((1 - level) / 2),
                    quantile((1 + level) / 2), n, level)


@pytest.mark.parametrize("chunk_values", [stats.CHUNK_VALUES, 1000])  # one chunk, and many chunks of 3 rows
def test_fast_bootstrap_equals_slow_reference(monkeypatch: pytest.MonkeyPatch, chunk_values: int) -> None:
    monkeypatch.setattr(stats, "CHUNK_VALUES", chunk_values)
    a, b = correctness(0.7, seed=2), correctness(0.6, seed=3)
    fast = paired_bootstrap(mean_difference, a, b, n_resamples=500, seed=7, level=0.9)
    slow = slow_paired_bootstrap(mean_difference, a, b, n_resamples=500, seed=7, level=0.9)
    assert fast.n == slow.n == N and fast.level == 0.9
    assert fast.estimate == pytest.approx((202 - 173) / N, abs=1e-12)  # 70% and 60% of 288, rounded
    for field in ("estimate", "low", "high"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), abs=1e-12), field
    assert fast.low < fast.estimate < fast.high


def test_resampling_is_paired() -> None:
    """Identical arrays stay identical in every resample, so their difference has a zero-width interval;
    an unpaired bootstrap would give a wide one."""
    a = correctness(0.5)
    interval = paired_bootstrap(mean_difference, a, a.copy())
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert verdict(interval, 0.0, "greater") == "within noise"
    assert verdict(interval, 0.0, "less") == "within noise"


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    a, b = correctness(0.7, seed=2), correctness(0.6, seed=3)
    assert paired_bootstrap(mean_difference, a, b, seed=4) == paired_bootstrap(mean_difference, a, b, seed=4)
    assert paired_bootstrap(mean_difference, a, b, seed=4) != paired_bootstrap(mean_difference, a, b, seed=5)


def test_clearly_separated_pair_holds_and_reversed_fails() -> None:
    a, b = correctness(0.9, seed=2), correctness(0.5, seed=3)
    ab = paired_bootstrap(mean_difference, a, b)
    assert ab.estimate == pytest.approx((259 - 144) / N, abs=1e-12)
    assert verdict(ab, 0.0, "greater") == "holds"
    assert verdict(ab, 0.0, "less") == "fails"
    ba = paired_bootstrap(mean_difference, b, a)
    assert verdict(ba, 0.0, "greater") == "fails"
    assert verdict(ba, 0.0, "less") == "holds"


def test_verdict_boundaries() -> None:
    interval = Interval(estimate=0.5, low=0.2, high=0.8, n=10, level=0.95)
    assert verdict(interval, 0.1, "greater") == "holds"
    assert verdict(interval, 0.2, "greater") == "within noise"  # touching the threshold is not beyond it
    assert verdict(interval, 0.9, "greater") == "fails"
    assert verdict(interval, 0.9, "less") == "holds"
    assert verdict(interval, 0.8, "less") == "within noise"
    assert verdict(interval, 0.1, "less") == "fails"
    with pytest.raises(ValueError, match="side"):
        verdict(interval, 0.0, "more")  # type: ignore[arg-type]


@pytest.mark.parametrize("p", [0.5, 0.7])
def test_equal_accuracy_predictors_rarely_hold(p: float) -> None:
    """Calibration: 200 pairs of independent predictors with the same accuracy ``p`` on n = 288 samples, 2,000
    resamples each; "A > B" may hold at most 7% of the time (nominally 2.5%, the upper tail of a 95% interval)."""
    rng = np.random.default_rng(100 + int(10 * p))
    holds = 0
    for k in range(200):
        a, b = (rng.random((2, N)) < p).astype(float)
        holds += verdict(paired_bootstrap(mean_difference, a, b, seed=k), 0.0, "greater") == "holds"
    assert holds <= 0.07 * 200, holds


def test_exact_claims_have_no_interval() -> None:
    assert exact_verdict(3.0e9, 1.0e9, "greater") == "holds"
    assert exact_verdict(3.0e9, 1.0e9, "less") == "fails"
    assert exact_verdict(1.0e9, 1.0e9, "greater") == "fails"  # strict claims: equality does not hold
    assert exact_verdict(1.0e9, 1.0e9, "less") == "fails"
    with pytest.raises(TypeError, match="verdict"):
        exact_verdict(Interval(1.0, 0.5, 1.5, 10, 0.95), 0.0, "greater")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="exact_verdict"):
        verdict(3.0e9, 1.0e9, "greater")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        exact_verdict(float("nan"), 0.0, "greater")


def test_bootstrap_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="not paired"):
        paired_bootstrap(mean_difference, np.ones(5), np.ones(6))
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap(mean_difference, np.ones(5), np.array([1, 0, np.nan, 1, 1]))
    with pytest.raises(ValueError, match="no samples"):
        paired_bootstrap(mean_difference, np.ones(0), np.ones(0))
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(mean_difference, np.ones(5), np.ones(5), level=95)
    with pytest.raises(TypeError, match="last axis"):
        paired_bootstrap(lambda a, b: float(np.mean(a) - np.mean(b)), np.ones(5), np.ones(5))


def _table(ids: list, values: list) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": ids, "correct": values})


def test_pair_by_sample_aligns_by_id() -> None:
    a = _table(["s2", "s0", "s1"], [1, 0, 1])
    b = _table(["s1", "s2", "s0"], [0, 0, 1])
    left, right = pair_by_sample(a, b, column="correct")
    assert left.tolist() == [0.0, 1.0, 1.0] and right.tolist() == [1.0, 0.0, 0.0]  # s0, s1, s2


def test_pair_by_sample_refuses_different_or_repeated_samples() -> None:
    a = _table(["s0", "s1", "s2"], [1, 0, 1])
    with pytest.raises(ValueError, match=r"different samples.*'s2'.*'s9'"):
        pair_by_sample(a, _table(["s0", "s1", "s9"], [1, 1, 1]), column="correct")
    with pytest.raises(ValueError, match=r"different samples"):
        pair_by_sample(a, _table(["s0", "s1"], [1, 1]), column="correct")
    with pytest.raises(ValueError, match=r"table 1 repeats sample_id\(s\) \['s1'\]"):
        pair_by_sample(a, _table(["s0", "s1", "s1", "s2"], [1, 1, 0, 1]), column="correct")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['correct'\]"):
        pair_by_sample(a, a.rename(columns={"correct": "right"}), column="correct")
    with pytest.raises(ValueError, match=r"no 'correct' for sample\(s\) \['s1'\]"):
        pair_by_sample(a, _table(["s0", "s1", "s2"], [1, None, 1]), column="correct")
