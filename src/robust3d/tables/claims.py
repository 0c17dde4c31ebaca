"""The papers' claims as machine-checked comparisons between table cells, evaluated on ours and on the paper's.

A claim compares cells (:class:`Ref`) with one of a few tests; it is evaluated once on our cells (``holds``) and
once on the paper's printed cells (``paper_holds``), so a reader sees whether our run reproduces the statement
and how wide the margin is on each side. A missing cell makes a claim ``untestable``, never true or false; so does
a claim whose ``above_chance`` cells are not above the chance level of their samples (a comparison of chance-level
numbers says nothing), and one on a bound (:attr:`Cell.bound`) that the bound's direction does not settle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robust3d.tables.cell import Cell

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("greater", "less", "drop_less", "ratio_at_most", "ratio_at_least", "below", "above", "within")
#: Kinds that compare one cell with ``threshold`` (no right side).
VALUE_KINDS = ("below", "above")
CLAIM_COLUMNS = ["claim_id", "claim", "evidence", "test", "holds", "ours_left", "ours_right", "ours_statistic",
                 "threshold", "paper_left", "paper_right", "paper_statistic", "paper_holds", "paper_evidence", "note",
                 "timing", "verdict", "ci_low", "ci_high", "n_samples"]
#: Resamples and seed of the claims' paired bootstrap (95% percentile interval over test samples).
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 2000, 0


@dataclass(frozen=True)
class Ref:
    table: str
    row: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}[{self.row}, {self.column}]"


@dataclass(frozen=True)
class Claim:
    """``kind``: greater / less (left vs the max / min of right), drop_less (left = (base, shifted), right the
    same; the left drop is smaller), ratio_at_most / ratio_at_least (left / right against ``threshold``), below /
    above (the one left cell strictly against ``threshold``, no right side), within (one left and one right cell
    at most ``threshold`` apart, ``|left - right| <= threshold``: the paper's "comparable").
    ``paper_left`` / ``paper_right`` replace the refs on the paper's side (e.g. a figure without numbers, checked
    against a table); ``paper_text`` quotes the paper when it states the claim without printed numbers.
    ``above_chance``: accuracy cells that must be above the chance level of their samples (95% bootstrap interval
    over the samples wholly above it, as ``<paper>_chance.csv`` judges) for our side to be tested at all; the
    paper's side is not checked (its chance levels are not printed)."""

    id: str
    text: str
    kind: str
    left: tuple[Ref, ...]
    right: tuple[Ref, ...]
    threshold: float | None = None
    paper_left: tuple[Ref, ...] | None = None
    paper_right: tuple[Ref, ...] | None = None
    paper_text: str = ""
    paper_text_holds: bool | None = None
    above_chance: tuple[Ref, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: unknown kind '{self.kind}' (known: {', '.join(KINDS)})")
        if (self.kind.startswith("ratio") or self.kind in (*VALUE_KINDS, "within")) and self.threshold is None:
            raise ValueError(f"claim {self.id}: {self.kind} needs a threshold")
        if self.kind in VALUE_KINDS and (len(self.left) != 1 or self.right):
            raise ValueError(f"claim {self.id}: {self.kind} compares one left cell with the threshold")
        if self.kind == "drop_less" and (len(self.left) != 2 or len(self.right) != 2):
            raise ValueError(f"claim {self.id}: drop_less compares (base, shifted) pairs")
        if self.kind == "within" and any(
                refs is not None and len(refs) != 1
                for refs in (self.left, self.right, self.paper_left, self.paper_right)):
            raise ValueError(f"claim {self.id}: within compares one left cell with one right cell")


@dataclass(frozen=True)
class Outcome:
    holds: bool | None  # None: untestable
    left: float | None
    right: float | None
    statistic: float | None
    note: str = ""


def evaluate(claim: Claim, lookup: Callable[[Ref], Cell], left=None, right=None) -> Outcome:
    """Evaluate ``claim`` on the cells ``lookup`` returns (ours or the paper's); on bounds, see :func:`settle`."""
    left, right = left or claim.left, right or claim.right
    cells = {ref: lookup(ref) for ref in (*left, *right)}
    missing = [f"{ref} ({cells[ref].note or 'missing'})" for ref in cells if cells[ref].missing]
    if missing:
        return Outcome(None, None, None, None, "missing: " + "; ".join(missing))
    outcome = _compare(claim, [cells[r].value for r in left], [cells[r].value for r in right])
    return settle(claim, outcome, [cells[r] for r in (*left, *right)], [*left, *right])


def _compare(claim: Claim, lv: list[float], rv: list[float]) -> Outcome:
    if claim.kind in VALUE_KINDS:
        a = lv[0]
        return Outcome(a < claim.threshold if claim.kind == "below" else a > claim.threshold, a, None, a)
    if claim.kind == "greater":
        a, b = lv[0], max(rv)
        return Outcome(a > b, a, b, a - b)
    if claim.kind == "less":
        a, b = lv[0], min(rv)
        return Outcome(a < b, a, b, a - b)
    if claim.kind == "drop_less":
        a, b = lv[0] - lv[1], rv[0] - rv[1]
        return Outcome(a < b, a, b, a - b, "left/right are the drops base - shifted")
    if claim.kind == "within":
        a, b = lv[0], rv[0]
        return Outcome(abs(a - b) <= claim.threshold, a, b, abs(a - b),
                       "statistic |left - right|; its interval is of left - right")
    a, b = lv[0], rv[0]
    if b == 0 or math.isnan(b):
        return Outcome(None, a, b, None, "ratio with a zero denominator")
    ratio = a / b
    holds = ratio <= claim.threshold if claim.kind == "ratio_at_most" else ratio >= claim.threshold
    return Outcome(holds, a, b, ratio)


def _high_side(kind: str) -> bool:
    """Whether the claim holds for a large statistic (greater, above, ratio_at_least) or a small one."""
    return kind in ("greater", "above", "ratio_at_least")


def _direction(kind: str, position: int, n_left: int) -> int:
    """+1 when the claim's statistic can only grow as the cell at ``position`` (left refs first) grows, -1 when it
    can only shrink: a difference or drop rises with its left term and falls with its right (a max or min of the
    right cells never falls as one of them rises), a ratio of positive times with its numerator."""
    if kind == "drop_less":  # (left base - left shifted) - (right base - right shifted)
        return (1, -1, -1, 1)[position]
    return 1 if position < n_left else -1


def settle(claim: Claim, outcome: Outcome, cells: list[Cell], refs: list[Ref]) -> Outcome:
    """An outcome on bounded cells (a time to convergence of a run that did not converge is a lower bound): it
    stands when every bound can only move the statistic further to the side the outcome is on (a lower bound on
    NOVUM's time can only raise the speed-up, so a speed-up that already reaches the threshold holds); otherwise
    the claim is untestable, with the bounds named."""
    bounded = [(i, c) for i, c in enumerate(cells) if c.bound]
    if not bounded or outcome.holds is None:
        return outcome
    moves = {_direction(claim.kind, i, len(claim.left)) * (1 if c.bound == "lower" else -1) for i, c in bounded}
    names = ", ".join(f"{refs[i]} is {'at least' if c.bound == 'lower' else 'at most'} its value" for i, c in bounded)
    # One direction ``up`` (the true statistic is at least the measured one, or at most): the outcome stands when
    # that direction leads away from the threshold, i.e. it holds on the side the bound points to, or fails on the
    # other.
    up = next(iter(moves)) == 1
    if claim.kind == "within":  # on left - right: only a failure beyond +t moving up (or below -t, down) stands
        gap = outcome.left - outcome.right
        settled = len(moves) == 1 and not outcome.holds and (gap > 0) == up
    else:
        settled = len(moves) == 1 and outcome.holds == (up == _high_side(claim.kind))
    if settled:
        return Outcome(outcome.holds, outcome.left, outcome.right, outcome.statistic,
                       "; ".join(filter(None, [outcome.note, f"settled although {names}"])))
    return Outcome(None, outcome.left, outcome.right, outcome.statistic,
                   "; ".join(filter(None, [outcome.note, f"not settled: {names}"])))


def chance_reason(claim: Claim, ours: Callable[[Ref], Cell], samples: Callable[[Ref], pd.Series | None] | None,
                  chance: Callable[[Ref], float | None] | None) -> str:
    """Why our side of ``claim`` is not tested (an ``above_chance`` cell not above its chance level), or ""."""
    from robust3d.evaluate.stats import paired_bootstrap

    for ref in claim.above_chance:
        level = chance(ref) if chance else None
        if level is None:
            return f"{ref}: no chance level of its samples to test it against"
        series = samples(ref) if samples else None
        if series is None:
            return f"{ref}: no per-sample values to test it against chance ({level:.1f})"
        values = series.to_numpy().T  # (n,) or, over training seeds, (seeds, n)
        interval = paired_bootstrap(lambda a: a.mean(axis=-1), values, n_resamples=BOOTSTRAP_RESAMPLES,
                                    seed=BOOTSTRAP_SEED)
        if not interval.low > level:
            return (f"{ref} is not above chance: {ours(ref).value:.1f} (95% interval {interval.low:.1f} to "
                    f"{interval.high:.1f}) against a chance level of {level:.1f}")
    return ""


def _flag(value: bool | None) -> str:
    return "untestable" if value is None else str(bool(value)).lower()


def _statistic(kind: str, n_left: int) -> Callable[..., np.ndarray]:
    """The claim's statistic on per-sample arrays ``(..., n)`` (left refs first): the same as :func:`evaluate`'s."""
    def stat(*arrays):
        means = [a.mean(axis=-1) for a in arrays]
        left, right = means[:n_left], means[n_left:]
        if kind == "greater":
            return left[0] - np.max(np.stack(right), axis=0)
        if kind == "less":
            return left[0] - np.min(np.stack(right), axis=0)
        if kind in VALUE_KINDS:
            return left[0]
        if kind == "within":  # signed, so the interval says on which side of 0 the gap lies
            return left[0] - right[0]
        return (left[0] - left[1]) - (right[0] - right[1])  # drop_less
    return stat


def _replicate_statistic(kind: str, n_left: int, reps: list[np.ndarray]) -> np.ndarray:
    """The claim's statistic on each bootstrap replicate of its cells (independent replicates, one row each)."""
    left, right = reps[:n_left], reps[n_left:]
    if kind == "greater":
        return left[0] - np.max(np.stack(right), axis=0)
    if kind == "less":
        return left[0] - np.min(np.stack(right), axis=0)
    if kind == "drop_less":
        return (left[0] - left[1]) - (right[0] - right[1])
    if kind in VALUE_KINDS:
        return left[0]
    if kind == "within":
        return left[0] - right[0]
    return left[0] / right[0]  # ratio_at_most / ratio_at_least


def _side_and_threshold(claim: Claim) -> tuple[str, float]:
    if claim.kind.startswith("ratio") or claim.kind in VALUE_KINDS:
        return ("greater" if _high_side(claim.kind) else "less"), float(claim.threshold)
    return ("greater" if claim.kind == "greater" else "less"), 0.0


def within_verdict(low: float, high: float, threshold: float) -> str:
    """A ``within`` claim on the 95% interval of left - right: ``holds`` when it lies inside [-t, t], ``fails``
    when it lies wholly outside (above t or below -t), ``within noise`` when it straddles -t or t."""
    if -threshold <= low and high <= threshold:
        return "holds"
    if low > threshold or high < -threshold:
        return "fails"
    return "within noise"


def timed_verdict(claim: Claim, mine: Outcome, replicates: Callable[[Ref], np.ndarray | None] | None
                  ) -> tuple[str, float, float, int | None]:
    """A claim on wall-clock cells, judged on the repeated timings: the statistic on each bootstrap replicate of
    its cells (``replicates(ref)``), a 95% percentile interval, holds / fails / within noise. Without repeats
    (a cell timed once) it is ``not assessed``. ``n`` is the number of replicates."""
    from robust3d.evaluate.stats import replicate_interval, verdict

    nan = float("nan")
    reps = [replicates(ref) for ref in (*claim.left, *claim.right)] if replicates else [None]
    if any(r is None for r in reps):
        return "not assessed (one timed run)", nan, nan, None
    values = _replicate_statistic(claim.kind, len(claim.left), reps)
    if not np.isfinite(values).all():
        return "not assessed (a replicate is not finite)", nan, nan, None
    interval = replicate_interval(mine.statistic, values)
    if claim.kind == "within":
        return within_verdict(interval.low, interval.high, claim.threshold), interval.low, interval.high, interval.n
    side, threshold = _side_and_threshold(claim)
    return verdict(interval, threshold, side), interval.low, interval.high, interval.n


def verdict_of(claim: Claim, mine: Outcome, timed: bool,
               samples: Callable[[Ref], pd.Series | None] | None,
               replicates: Callable[[Ref], np.ndarray | None] | None = None
               ) -> tuple[str, float, float, int | None]:
    """(verdict, interval low, high, n) of one claim on our numbers.

    Comparisons of per-sample accuracies get a 95% paired percentile bootstrap over the test samples (paired by
    ``sample_id``): ``holds`` / ``fails`` when the interval of the statistic lies wholly on one side of 0,
    ``within noise`` otherwise (``within``: the interval of left - right against [-t, t], :func:`within_verdict`;
    without per-sample values, its point value decides). Ratios of exact counts (FLOPs), and a value against a
    threshold when the value is not a mean over samples (a training record such as omega's sparsity), are
    ``holds`` / ``fails`` with no interval. A claim on wall-clock cells is judged on the cells' repeated timings
    (:func:`timed_verdict`), or ``not assessed`` when a cell was timed once.
    """
    from robust3d.evaluate.stats import paired_bootstrap, verdict

    nan = float("nan")
    if mine.holds is None:
        return "untestable", nan, nan, None
    if timed:
        return timed_verdict(claim, mine, replicates)
    refs = (*claim.left, *claim.right)
    series = [samples(ref) for ref in refs] if samples else [None]
    if claim.kind.startswith("ratio") or (claim.kind in (*VALUE_KINDS, "within") and any(s is None for s in series)):
        return ("holds" if mine.holds else "fails"), nan, nan, None
    if any(s is None for s in series):
        return "not assessed (no per-sample values)", nan, nan, None
    try:
        arrays = paired_arrays(series)
    except ValueError:
        return "not assessed (the cells cover different samples)", nan, nan, None
    interval = paired_bootstrap(_statistic(claim.kind, len(claim.left)), *arrays,
                                n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    if claim.kind == "within":
        return within_verdict(interval.low, interval.high, claim.threshold), interval.low, interval.high, interval.n
    side, threshold = _side_and_threshold(claim)
    return verdict(interval, threshold, side), interval.low, interval.high, interval.n


def paired_arrays(cells: list[pd.Series | pd.DataFrame]) -> list[np.ndarray]:
    """Per-sample values of several cells aligned by ``sample_id``: a Series (one run) gives ``(n,)``, a DataFrame
    (one column per training seed) ``(s, n)``, the input of :func:`~robust3d.evaluate.stats.paired_bootstrap`."""
    import pandas as pd

    from robust3d.evaluate.stats import pair_by_sample

    parts = [[c] if isinstance(c, pd.Series) else [c[k] for k in c.columns] for c in cells]
    flat = [pd.DataFrame({"sample_id": s.index, "value": s.to_numpy()}) for part in parts for s in part]
    aligned = iter(pair_by_sample(*flat, column="value"))
    out = []
    for cell, part in zip(cells, parts, strict=True):
        rows = [next(aligned) for _ in part]
        out.append(rows[0] if isinstance(cell, pd.Series) else np.stack(rows))
    return out


def claims_frame(claims: list[Claim], ours: Callable[[Ref], Cell], paper: Callable[[Ref], Cell],
                 timing: Callable[[Ref], bool] | None = None,
                 samples: Callable[[Ref], pd.Series | None] | None = None,
                 replicates: Callable[[Ref], np.ndarray | None] | None = None,
                 chance: Callable[[Ref], float | None] | None = None) -> pd.DataFrame:
    """One row per claim: ours (holds and the numbers behind it) beside the paper's. ``timing(ref)`` says whether a
    cell is a timed value; a claim reading one is marked ``timing`` (its verdict depends on the machine).
    ``samples(ref)``: a cell's per-sample values, for the ``verdict`` and its interval (:func:`verdict_of`);
    ``replicates(ref)``: a timed cell's bootstrap replicates from its repeated timings; ``chance(ref)``: the
    chance level of an accuracy cell's samples (same unit), for the claims' ``above_chance`` precondition."""
    import pandas as pd

    records = []
    for claim in claims:
        mine = evaluate(claim, ours)
        reason = chance_reason(claim, ours, samples, chance) if mine.holds is not None else ""
        if reason:  # the numbers stay visible; the comparison is not made
            mine = Outcome(None, mine.left, mine.right, mine.statistic, "untestable: " + reason)
        timed = bool(timing) and any(timing(ref) for ref in (*claim.left, *claim.right))
        verdict, low, high, n = verdict_of(claim, mine, timed, samples, replicates)
        theirs = evaluate(claim, paper, claim.paper_left, claim.paper_right)
        paper_holds, paper_evidence = theirs.holds, "; ".join(map(str, (*(claim.paper_left or claim.left),
                                                                         *(claim.paper_right or claim.right))))
        if theirs.holds is None and claim.paper_text:
            paper_holds, paper_evidence = claim.paper_text_holds, f"text: {claim.paper_text}"
        records.append({
            "claim_id": claim.id, "claim": claim.text,
            "evidence": "; ".join(map(str, (*claim.left, *claim.right))), "test": claim.kind,
            "holds": _flag(mine.holds), "ours_left": mine.left, "ours_right": mine.right,
            "ours_statistic": mine.statistic, "threshold": claim.threshold,
            "paper_left": theirs.left, "paper_right": theirs.right, "paper_statistic": theirs.statistic,
            "paper_holds": _flag(paper_holds), "paper_evidence": paper_evidence, "note": mine.note,
            "timing": timed, "verdict": verdict, "ci_low": low, "ci_high": high, "n_samples": n,
        })
    frame = pd.DataFrame.from_records(records, columns=CLAIM_COLUMNS)
    frame["n_samples"] = frame["n_samples"].astype("Int64")
    return frame


# ---------------------------------------------------------------------------------------------- brought models
BYOM_COLUMNS = ["claim_id", "model", "cells", "values", "standing"]


def _side(value: float, other: float) -> str:
    return "above" if value > other else "below" if value < other else "level with"


def byom_comparison(claims: list[Claim], ours: Callable[[Ref], Cell], models: list[str],
                    counterpart: Callable[[Ref, str], Ref | None]) -> pd.DataFrame:
    """Where each brought model stands in each claim's cells: its value in the claim's left cell's column (its
    drop, for drop_less; against the threshold, for below / above) beside the claim's two sides, a comparison row
    shown beside the claim, never a verdict (the claim is about the paper's models). ``counterpart(ref, model)``:
    the model's cell in the same table and column as ``ref`` (None where it has none). Ratio claims (FLOPs, time)
    compare training records a brought model does not have."""
    import pandas as pd

    records = []
    for claim in claims:
        if claim.kind.startswith("ratio"):
            continue
        base = evaluate(claim, ours)
        for model in models:
            refs = [counterpart(r, model) for r in (claim.left[:2] if claim.kind == "drop_less" else claim.left[:1])]
            if any(r is None for r in refs) or any(ours(r).missing for r in refs):
                continue
            values = [ours(r).value for r in refs]
            mine = values[0] - values[1] if claim.kind == "drop_less" else values[0]
            what = "drop" if claim.kind == "drop_less" else "value"
            if claim.kind in VALUE_KINDS:
                shown, standing = f"{mine:.1f} vs threshold {claim.threshold:g}", \
                    f"{_side(mine, claim.threshold)} the threshold"
            elif base.left is None or base.right is None:
                shown, standing = f"{what} {mine:.1f}", "the claim's own cells are missing"
            else:
                shown = f"{what} {mine:.1f} | left {base.left:.1f} | right {base.right:.1f}"
                standing = f"{_side(mine, base.left)} the left side, {_side(mine, base.right)} the right side"
            records.append({"claim_id": claim.id, "model": model, "cells": "; ".join(map(str, refs)),
                            "values": shown, "standing": standing})
    return pd.DataFrame.from_records(records, columns=BYOM_COLUMNS)
