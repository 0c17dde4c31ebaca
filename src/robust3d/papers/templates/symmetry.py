"""Which template objects are symmetric about their up axis (build notes §6 item 9): how alike each object's
templates look from the opposite azimuth, against its nearest other template and a template a quarter-turn away.

An object whose opposite views match about as well as its neighbouring views carries ``z180`` in
``templates.symmetries``; one whose quarter-turn views do too is ``z_continuous``. Otherwise Acc15 would penalise
correct answers (or, with a wrong declaration, reward wrong ones)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from robust3d.papers.templates.data import load_split


def _ncc(a: torch.Tensor, b: torch.Tensor, ma: torch.Tensor, mb: torch.Tensor) -> float:
    """Normalised cross-correlation of two RGB renders over the union of their masks, and 0 IoU counts against."""
    union = ma | mb
    if not union.any():
        return 0.0
    x, y = a.float()[:, union], b.float()[:, union]
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp_min(1e-6))


def _turned(az: np.ndarray, el: np.ndarray, i: int, turn: float) -> int:
    """Index of the template nearest view ``i`` turned by ``turn`` radians of azimuth (any other view)."""
    from robust3d.evaluate.template_metrics import viewpoint_errors

    err = viewpoint_errors(az, el, np.full(len(az), az[i] + turn), np.full(len(az), el[i]))
    err[i] = np.inf
    return int(err.argmin())


def symmetry_report(templates_manifest: str | Path, size: int = 64) -> pd.DataFrame:
    """Per object: the mean NCC of each template with its opposite view, its nearest other view and its view a
    quarter-turn away (views above 80 degrees of elevation left out: there every azimuth looks alike)."""
    split = load_split(templates_manifest, size)
    rows = []
    for obj, part in split.rows.groupby("object", sort=False):
        idx = part.index.to_numpy()
        az, el = part["azimuth"].to_numpy(), part["elevation"].to_numpy()
        scores = {"opposite": [], "neighbour": [], "quarter": []}
        for k, i in enumerate(idx):
            if el[k] > math.radians(80):
                continue
            for name, turn in (("opposite", math.pi), ("neighbour", 0.0), ("quarter", math.pi / 2)):
                j = idx[_turned(az, el, k, turn)]
                scores[name].append(_ncc(split.images[i], split.images[j], split.masks[i], split.masks[j]))
        row = {"object": obj, **{k: float(np.mean(v)) for k, v in scores.items()}}
        row["suggested"] = suggested_symmetry(row)
        rows.append(row)
    return pd.DataFrame(rows)


#: An object whose opposite (quarter-turn) views match at least this share of its neighbouring views' match.
ALIKE = 0.9


def suggested_symmetry(scores: dict[str, float]) -> str:
    """``z_continuous`` when even quarter-turn views match like neighbours, ``z180`` when opposite ones do, else
    ``none``; the neighbours (one grid step apart) are the yardstick of 'looks the same' at this grid."""
    yardstick = ALIKE * scores["neighbour"]
    if scores["quarter"] >= yardstick and scores["opposite"] >= yardstick:
        return "z_continuous"
    return "z180" if scores["opposite"] >= yardstick else "none"
