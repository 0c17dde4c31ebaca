"""One table cell: a value with its sample count, or the reason it is missing."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """One value with its sample count, or ``None`` with the reason it is missing (``note``)."""

    value: float | None
    n: int | None = None
    note: str = ""

    @property
    def missing(self) -> bool:
        return self.value is None or (isinstance(self.value, float) and math.isnan(self.value))
