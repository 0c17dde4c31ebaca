"""Statistics over our results: fitted slopes (and, later, bootstrap intervals and chance levels)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def loglog_slope(x: Iterable[float], y: Iterable[float]) -> float:
    """Least-squares slope of log(y) against log(x): ~1 for linear growth, ~2 for quadratic."""
    x, y = np.asarray(list(x), float), np.asarray(list(y), float)
    keep = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])
