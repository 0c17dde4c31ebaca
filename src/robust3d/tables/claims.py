"""The papers' claims as machine-checked comparisons between table cells, evaluated on ours and on the paper's.

A claim compares cells (:class:`Ref`) with one of a few tests; it is evaluated once on our cells (``holds``) and
once on the paper's printed cells (``paper_holds``), so a reader sees whether our run reproduces the statement
and how wide the margin is on each side. A missing cell makes a claim ``untestable``, never true or false.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from robust3d.tables.cell import Cell

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("greater", "less", "drop_less", "ratio_at_most", "ratio_at_least")
CLAIM_COLUMNS = ["claim_id", "claim", "evidence", "test", "holds", "ours_left", "ours_right", "ours_statistic",
                 "threshold", "paper_left", "paper_right", "paper_statistic", "paper_holds", "paper_evidence", "note",
                 "timing"]


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
    same; the left drop is smaller), ratio_at_most / ratio_at_least (left / right against ``threshold``).
    ``paper_left`` / ``paper_right`` replace the refs on the paper's side (e.g. a figure without numbers, checked
    against a table); ``paper_text`` quotes the paper when it states the claim without printed numbers."""

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

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id}: unknown kind '{self.kind}' (known: {', '.join(KINDS)})")
        if self.kind.startswith("ratio") and self.threshold is None:
            raise ValueError(f"claim {self.id}: {self.kind} needs a threshold")
        if self.kind == "drop_less" and (len(self.left) != 2 or len(self.right) != 2):
            raise ValueError(f"claim {self.id}: drop_less compares (base, shifted) pairs")


@dataclass(frozen=True)
class Outcome:
    holds: bool | None  # None: untestable
    left: float | None
    right: float | None
    statistic: float | None
    note: str = ""


def evaluate(claim: Claim, lookup: Callable[[Ref], Cell], left=None, right=None) -> Outcome:
    """Evaluate ``claim`` on the cells ``lookup`` returns (ours or the paper's)."""
    left, right = left or claim.left, right or claim.right
    cells = {ref: lookup(ref) for ref in (*left, *right)}
    missing = [f"{ref} ({cells[ref].note or 'missing'})" for ref in cells if cells[ref].missing]
    if missing:
        return Outcome(None, None, None, None, "missing: " + "; ".join(missing))
    lv = [cells[r].value for r in left]
    rv = [cells[r].value for r in right]
    if claim.kind == "greater":
        a, b = lv[0], max(rv)
        return Outcome(a > b, a, b, a - b)
    if claim.kind == "less":
        a, b = lv[0], min(rv)
        return Outcome(a < b, a, b, a - b)
    if claim.kind == "drop_less":
        a, b = lv[0] - lv[1], rv[0] - rv[1]
        return Outcome(a < b, a, b, a - b, "left/right are the drops base - shifted")
    a, b = lv[0], rv[0]
    if b == 0 or math.isnan(b):
        return Outcome(None, a, b, None, "ratio with a zero denominator")
    ratio = a / b
    holds = ratio <= claim.threshold if claim.kind == "ratio_at_most" else ratio >= claim.threshold
    return Outcome(holds, a, b, ratio)


def _flag(value: bool | None) -> str:
    return "untestable" if value is None else str(bool(value)).lower()


def claims_frame(claims: list[Claim], ours: Callable[[Ref], Cell], paper: Callable[[Ref], Cell],
                 timing: Callable[[Ref], bool] | None = None) -> pd.DataFrame:
    """One row per claim: ours (holds and the numbers behind it) beside the paper's. ``timing(ref)`` says whether a
    cell is a wall-clock value; a claim reading one is marked ``timing`` (its verdict depends on the machine)."""
    import pandas as pd

    records = []
    for claim in claims:
        mine = evaluate(claim, ours)
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
            "timing": bool(timing) and any(timing(ref) for ref in (*claim.left, *claim.right)),
        })
    return pd.DataFrame.from_records(records, columns=CLAIM_COLUMNS)
