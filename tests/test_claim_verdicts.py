"""Claim verdicts with their uncertainty (tables.claims.verdict_of): a paired bootstrap over test samples for
comparisons of accuracies, exact verdicts for exact counts, no verdict from one timed run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from robust3d.tables.cell import Cell
from robust3d.tables.claims import Claim, Ref, claims_frame

N = 288
A, B, FLOPS_A, FLOPS_B, TIME_A, TIME_B = (Ref("t", r, "c") for r in ("a", "b", "fa", "fb", "ta", "tb"))


def _hits(p: float, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100.0 * (rng.random(N) < p), index=[f"s{i:03d}" for i in range(N)])


def _frame(per_sample: dict[Ref, pd.Series], claims: list[Claim], values: dict[Ref, float] | None = None):
    values = {**{ref: float(s.mean()) for ref, s in per_sample.items()}, **(values or {})}

    def ours(ref: Ref) -> Cell:
        return Cell(values.get(ref), N, "" if ref in values else "missing")

    return claims_frame(claims, ours, lambda ref: Cell(None, None, "not printed"),
                        timing=lambda ref: ref in (TIME_A, TIME_B), samples=per_sample.get).set_index("claim_id")


def test_separated_pair_holds_reversed_fails_identical_is_within_noise():
    strong, weak = _hits(0.9, 1), _hits(0.5, 2)
    claims = [Claim("ab", "a beats b", "greater", (A,), (B,)), Claim("ba", "b beats a", "greater", (B,), (A,)),
              Claim("less", "b is below a", "less", (B,), (A,))]
    frame = _frame({A: strong, B: weak}, claims)
    assert frame.loc["ab", "verdict"] == "holds" and frame.loc["ab", "ci_low"] > 0
    assert frame.loc["ba", "verdict"] == "fails" and frame.loc["ba", "ci_high"] < 0
    assert frame.loc["less", "verdict"] == "holds" and frame.loc["ab", "n_samples"] == N
    same = _frame({A: strong, B: strong.copy()}, claims[:1])
    assert same.loc["ab", "verdict"] == "within noise" and same.loc["ab", "ci_low"] == same.loc["ab", "ci_high"] == 0


def test_a_small_gap_on_one_test_set_is_within_noise():
    a = _hits(0.75, 3)
    b = a.copy()
    b.iloc[:3] = 100.0 - b.iloc[:3]  # three samples apart: about one point
    frame = _frame({A: a, B: b}, [Claim("ab", "a beats b", "greater", (A,), (B,))])
    assert frame.loc["ab", "verdict"] == "within noise"


def test_exact_counts_get_no_interval_and_one_timed_run_no_verdict():
    claims = [Claim("flops", "a needs <= 10% of b's FLOPs", "ratio_at_most", (FLOPS_A,), (FLOPS_B,), threshold=0.1),
              Claim("flops_no", "a needs <= 1% of b's FLOPs", "ratio_at_most", (FLOPS_A,), (FLOPS_B,), threshold=0.01),
              Claim("time", "a trains 2x faster", "ratio_at_least", (TIME_B,), (TIME_A,), threshold=2.0)]
    frame = _frame({}, claims, {FLOPS_A: 5.0, FLOPS_B: 100.0, TIME_A: 1.0, TIME_B: 3.0})
    assert list(frame["verdict"]) == ["holds", "fails", "not assessed (one timed run)"]
    assert frame[["ci_low", "ci_high"]].isna().all().all() and frame["n_samples"].isna().all()
    assert list(frame["timing"]) == [False, False, True]


def test_missing_cells_are_untestable_and_cells_without_samples_are_not_assessed():
    claims = [Claim("gone", "a beats z", "greater", (A,), (Ref("t", "z", "c"),)),
              Claim("nosamples", "a beats b", "greater", (A,), (B,))]
    frame = _frame({A: _hits(0.8, 4)}, claims, {B: 50.0})
    assert frame.loc["gone", "verdict"] == "untestable"
    assert frame.loc["nosamples", "verdict"] == "not assessed (no per-sample values)"
    assert math.isnan(frame.loc["nosamples", "ci_low"])


@pytest.mark.parametrize("kind", ["greater", "drop_less"])
def test_cells_over_different_samples_are_not_paired(kind):
    a, b = _hits(0.9, 5), _hits(0.5, 6)
    b.index = [f"x{i}" for i in range(N)]
    refs = ((A,), (B,)) if kind == "greater" else ((A, A), (B, B))
    frame = _frame({A: a, B: b}, [Claim("c", "c", kind, *refs)])
    assert frame.loc["c", "verdict"] == "not assessed (the cells cover different samples)"
