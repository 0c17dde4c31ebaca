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


def test_timing_claims_are_judged_on_their_repeated_timings():
    """Replicates of a wall-clock cell (from its repeated timings) give the timing claims an interval; a cell
    timed once (no replicates) leaves the claim not assessed."""
    rng = np.random.default_rng(7)
    fast, slow = rng.normal(1.0, 0.05, 2000), rng.normal(3.0, 0.05, 2000)
    noisy = rng.normal(2.0, 0.6, 2000)
    claims = [Claim("2x", "a trains 2x faster", "ratio_at_least", (TIME_B,), (TIME_A,), threshold=2.0),
              Claim("4x", "a trains 4x faster", "ratio_at_least", (TIME_B,), (TIME_A,), threshold=4.0),
              Claim("slower", "b is slower than a", "greater", (TIME_B,), (TIME_A,))]

    def frame(reps: dict[Ref, np.ndarray]):
        values = {ref: float(np.mean(r)) for ref, r in reps.items()}
        return claims_frame(claims, lambda ref: Cell(values.get(ref, 1.0), None, ""),
                            lambda ref: Cell(None, None, "not printed"), timing=lambda ref: True,
                            replicates=reps.get).set_index("claim_id")

    clear = frame({TIME_A: fast, TIME_B: slow})
    assert list(clear["verdict"]) == ["holds", "fails", "holds"]
    assert clear.loc["2x", "ci_low"] > 2.0 and clear.loc["4x", "ci_high"] < 4.0 and clear.loc["2x", "n_samples"] == 2000
    assert frame({TIME_A: fast, TIME_B: noisy}).loc["2x", "verdict"] == "within noise"
    assert set(frame({TIME_A: fast})["verdict"]) == {"not assessed (one timed run)"}


def test_train_time_replicates_resample_epochs_and_runs():
    """TrainColumn: setup + epochs x resampled mean epoch time; nothing to resample from one epoch."""
    from robust3d.tables.sources import Sources
    from robust3d.tables.spec import Row, TrainColumn

    column = TrainColumn("hours", "h", field_name="train_seconds", scale=1 / 3600, timing=True,
                         epoch_repeats="seconds")
    run = {"model": "m", "train_seconds": 3600.0 + 7200.0, "history": [{"seconds": 3000.0}, {"seconds": 4200.0}]}
    reps = column.replicates(Row("m", "m", "M"), Sources(train={"m": run}), 1000)
    # setup 1 h; two epochs of 3000 s and 4200 s resampled: 2 x 3000, 3000 + 4200 or 2 x 4200 seconds
    assert reps.shape == (1000,) and set(np.round(reps, 6)) == set(np.round([1 + 6000 / 3600, 3.0, 1 + 8400 / 3600], 6))
    one = {"model": "m", "train_seconds": 10.0, "history": [{"seconds": 9.0}]}
    assert column.replicates(Row("m", "m", "M"), Sources(train={"m": one})) is None
    seeded = {"m@s0": run, "m@s1": {**run, "train_seconds": 3600.0 + 7200.0 + 3600.0}}
    reps = column.replicates(Row("m", "m", "M"), Sources(train=seeded, seeds=[0, 1]), 1000)
    assert reps.min() >= 1 + 6000 / 3600 - 1e-9 and reps.max() <= 2 + 8400 / 3600 + 1e-9 and reps.std() > 0
    assert reps.mean() == pytest.approx(3.5, abs=0.05)  # the two runs' totals, 3 h and 4 h, on average


def test_above_chance_precondition_makes_a_claim_on_chance_level_numbers_untestable():
    """Claim.above_chance: each named cell's 95% bootstrap interval must lie above its chance level (as
    <paper>_chance.csv judges), or our side is untestable with the reason; the paper's side is not checked."""
    strong, at_chance = _hits(0.9, 8), _hits(0.25, 9)
    claims = [Claim("ab", "a beats b", "greater", (A,), (B,), above_chance=(A, B)),
              Claim("plain", "a beats b", "greater", (A,), (B,))]
    values = {A: float(strong.mean()), B: float(at_chance.mean())}

    def frame(chance):
        return claims_frame(claims, lambda ref: Cell(values[ref], N, ""), lambda ref: Cell(80.0, None, ""),
                            samples={A: strong, B: at_chance}.get, chance=chance).set_index("claim_id")

    quarter = frame(lambda ref: 25.0)
    assert (quarter.loc["ab", "holds"], quarter.loc["ab", "verdict"]) == ("untestable", "untestable")
    assert "t[b, c] is not above chance" in quarter.loc["ab", "note"] and quarter.loc["ab", "ours_left"] == values[A]
    assert quarter.loc["ab", "paper_holds"] == "false"  # the paper's side: compared as printed (80 vs 80)
    assert quarter.loc["plain", "holds"] == "true"  # no precondition, same numbers
    tenth = frame(lambda ref: 10.0)  # both above a 10% chance: compared
    assert tenth.loc["ab", "holds"] == "true" and tenth.loc["ab", "verdict"] == "holds"
    unknown = frame(None)
    assert unknown.loc["ab", "holds"] == "untestable" and "no chance level" in unknown.loc["ab", "note"]
    no_samples = claims_frame(claims[:1], lambda ref: Cell(values[ref], N, ""), lambda ref: Cell(None),
                              chance=lambda ref: 10.0).set_index("claim_id")
    assert "no per-sample values" in no_samples.loc["ab", "note"]


def test_value_kinds_and_bounds():
    """below / above compare one cell with the threshold (exactly, when it is no mean over samples); a bound
    decides a claim only when its direction settles it."""
    with pytest.raises(ValueError, match="one left cell"):
        Claim("x", "x", "below", (A,), (B,), threshold=1.0)
    with pytest.raises(ValueError, match="needs a threshold"):
        Claim("x", "x", "above", (A,), ())
    claims = [Claim("below", "a is below 50", "below", (A,), (), threshold=50.0),
              Claim("above", "a is above 50", "above", (A,), (), threshold=50.0),
              Claim("beats", "a beats b", "greater", (A,), (B,))]

    def frame(a: Cell, b: Cell):
        return claims_frame(claims, {A: a, B: b}.get, lambda ref: Cell(None, None, "not printed")
                            ).set_index("claim_id")

    exact = frame(Cell(40.0), Cell(30.0))
    assert list(exact["holds"]) == ["true", "false", "true"]
    assert list(exact["verdict"][:2]) == ["holds", "fails"] and exact["ci_low"][:2].isna().all()
    assert frame(Cell(50.0), Cell(30.0)).loc["below", "holds"] == "false"  # strictly below
    lower = frame(Cell(40.0, bound="lower"), Cell(30.0))  # a >= 40: above 30 for sure, below 50 unknown
    assert list(lower["holds"]) == ["untestable", "untestable", "true"]
    upper = frame(Cell(40.0, bound="upper"), Cell(30.0, bound="lower"))  # a <= 40: below 50 for sure
    assert list(upper["holds"]) == ["true", "false", "untestable"]
    assert "not settled" in upper.loc["beats", "note"]


def test_seed_means_keep_a_bound():
    from robust3d.tables.cell import seed_mean

    assert seed_mean([Cell(2.0), Cell(4.0, bound="lower")], [0, 1]).bound == "lower"
    assert seed_mean([Cell(2.0), Cell(4.0)], [0, 1]).bound is None
    assert seed_mean([Cell(2.0, bound="upper"), Cell(4.0, bound="lower")], [0, 1]).missing
    with pytest.raises(ValueError, match="bound"):
        Cell(1.0, bound="sideways")


def test_within_compares_one_gap_with_the_threshold():
    """within: |left - right| <= t on a point value (the paper's side, or no per-sample values); with samples,
    the 95% interval of left - right inside [-t, t] holds, wholly outside fails, across -t or t is within noise."""
    with pytest.raises(ValueError, match="one left cell with one right cell"):
        Claim("x", "x", "within", (A,), (B, FLOPS_A), threshold=5.0)
    with pytest.raises(ValueError, match="one left cell with one right cell"):
        Claim("x", "x", "within", (A, B), (FLOPS_A,), threshold=5.0)
    with pytest.raises(ValueError, match="needs a threshold"):
        Claim("x", "x", "within", (A,), (B,))
    near = Claim("near", "a is within 5 points of b", "within", (A,), (B,), threshold=5.0)
    exact = claims_frame([near, Claim("far", "a is within 1 point of b", "within", (A,), (B,), threshold=1.0)],
                         {A: Cell(84.0), B: Cell(88.0)}.get, {A: Cell(86.4), B: Cell(88.1)}.get
                         ).set_index("claim_id")
    assert list(exact["holds"]) == ["true", "false"] and list(exact["verdict"]) == ["holds", "fails"]
    assert exact.loc["near", "ours_statistic"] == pytest.approx(4.0) and exact["ci_low"].isna().all()
    assert list(exact["paper_holds"]) == ["true", "false"]  # the paper's side: 1.7 points apart
    assert exact.loc["near", "paper_statistic"] == pytest.approx(1.7)

    a = _hits(0.8, 10)
    assert _frame({A: a, B: a.copy()}, [near]).loc["near", "verdict"] == "holds"  # interval [0, 0]
    low = _hits(0.3, 11)
    apart = _frame({A: a, B: low}, [near, Claim("rev", "b within 5 of a", "within", (B,), (A,), threshold=5.0)])
    assert list(apart["verdict"]) == ["fails", "fails"] and apart.loc["near", "ci_low"] > 5.0
    assert apart.loc["rev", "ci_high"] < -5.0
    b = a.copy()
    b[b[b == 100.0].index[:14]] = 0.0  # 14 of a's hits missed by b: 4.9 points apart, the interval straddles t
    edge = _frame({A: a, B: b}, [near]).loc["near"]
    assert edge["verdict"] == "within noise" and edge["ci_low"] < 5.0 < edge["ci_high"]


def test_within_on_a_bound_settles_only_a_gap_that_can_only_widen():
    near = Claim("near", "a is within 5 points of b", "within", (A,), (B,), threshold=5.0)

    def holds(a: Cell, b: Cell) -> str:
        return claims_frame([near], {A: a, B: b}.get, lambda ref: Cell(None)).loc[0, "holds"]

    assert holds(Cell(20.0, bound="lower"), Cell(10.0)) == "false"  # a - b >= 10 > 5
    assert holds(Cell(20.0, bound="upper"), Cell(10.0)) == "untestable"  # a could be close to b
    assert holds(Cell(12.0, bound="lower"), Cell(10.0)) == "untestable"  # holds now, a could grow away
    assert holds(Cell(0.0), Cell(10.0, bound="lower")) == "false"  # a - b <= -10


def test_reference_na_cells_and_not_reproduced_rows(tmp_path):
    """A row's ``na`` (the paper's "×") gives its paper cells their own reason, which a claim on them carries;
    ``not_reproduced`` is the reason our cells of the row give; a cell both printed and na is refused."""
    import yaml

    from robust3d.tables.reference import NA_REASON, load_reference

    def write_yaml(path, data):
        path.write_text(yaml.safe_dump(data, allow_unicode=True))

    rows = {"star": {"label": "StarMap", "values": {"pose": 89.4}, "na": ["iou"],
                     "not_reproduced": "needs keypoint\n annotations"},
            "mine": {"label": "Mine", "values": {"pose": 86.4, "iou": 67.9}}}
    data = {"paper": "p", "citation": "c", "dataset": "d",
            "tables": {"t": {"printed_as": "Table 1", "columns": {"pose": "Pose", "iou": "IoU"}, "rows": rows}}}
    write_yaml(tmp_path / "ref.yaml", data)
    ref = load_reference(tmp_path / "ref.yaml")
    assert NA_REASON == "× in the paper: the method does not do this task"
    assert ref.value("t", "star", "iou") is None and ref.missing_reason("t", "star", "iou") == NA_REASON
    assert ref.missing_reason("t", "mine", "other") == "not a column of the paper's table"
    assert ref.not_reproduced("t", "star") == "not reproduced: needs keypoint annotations"
    assert ref.ours_missing_reason("t", "star", "model 'x' is not in this config's models") == \
        "not reproduced: needs keypoint annotations"
    assert ref.ours_missing_reason("t", "mine", "why") == "why" and ref.not_reproduced("t", "mine") is None

    def paper(r: Ref) -> Cell:
        value = ref.value(r.table, r.row, r.column)
        return Cell(value, None, "" if value is not None else ref.missing_reason(r.table, r.row, r.column))

    claim = Claim("iou", "mine has the best IoU", "greater", (Ref("t", "mine", "iou"),), (Ref("t", "star", "iou"),))
    out = claims_frame([claim], paper, paper)
    assert out.loc[0, "paper_holds"] == "untestable" and NA_REASON in out.loc[0, "note"]

    rows["star"]["values"]["iou"] = 1.0
    write_yaml(tmp_path / "bad.yaml", data)
    with pytest.raises(ValueError, match=r"t\[star, iou\]"):
        load_reference(tmp_path / "bad.yaml")
