"""One table cell: a value with its sample count, or the reason it is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: What a cell's value is of the quantity it stands for: the value itself (None), or a lower / upper bound.
BOUNDS = (None, "lower", "upper")


@dataclass(frozen=True)
class Cell:
    """One value with its sample count, or ``None`` with the reason it is missing (``note``). ``sd``: the standard
    deviation over training seeds when ``value`` is their mean (``seeds`` of them), else None. ``bound``: "lower"
    when the quantity is only known to be at least ``value`` (a time to convergence of a run that stopped before
    converging), "upper" for at most; the claims engine decides a comparison on a bound only when the bound's
    direction settles it."""

    value: float | None
    n: int | None = None
    note: str = ""
    sd: float | None = None
    seeds: int | None = None
    bound: str | None = None

    def __post_init__(self):
        if self.bound not in BOUNDS:
            raise ValueError(f"cell bound must be one of {BOUNDS}, got {self.bound!r}")

    @property
    def missing(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))


def seed_mean(cells: list[Cell], seeds: list[int]) -> Cell:
    """One cell from the same cell resolved under each training seed: the mean and sample sd (ddof 1) of the seeds
    that have it, the first seed's ``n``; missing when every seed's is, with the first reason. The mean of lower
    bounds is a lower bound of the mean (and so for upper); seeds bounded both ways give no usable value."""
    present = [(k, c) for k, c in zip(seeds, cells, strict=True) if not c.missing]
    if not present:
        return Cell(None, None, cells[0].note if cells else "no seeds")
    values = [c.value for _, c in present]
    mean = math.fsum(values) / len(values)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    absent = [f"s{k}" for k, c in zip(seeds, cells, strict=True) if c.missing]
    notes = sorted({c.note for _, c in present if c.note})
    note = "; ".join([*notes, *([f"mean of {len(present)} seeds ({', '.join(absent)} missing)"] if absent else [])])
    bounds = {c.bound for _, c in present} - {None}
    if len(bounds) > 1:
        return Cell(None, None, "seeds bound the value from both sides: " + note)
    return Cell(mean, present[0][1].n, note, sd, len(present), next(iter(bounds), None))
