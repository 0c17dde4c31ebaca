"""Template matching's metrics (template-pose ``lib/datasets/linemod/testing_utils.py::calculate_score``).

The error is the angle between the predicted and the true viewing directions (out-of-plane only; in-plane rotation
is removed by the crops), in degrees. A symmetric object takes the minimum over its declared symmetry:

- ``z180``: the true direction or the one turned by 180 degrees about the object's up axis (azimuth + pi);
- ``z_continuous``: any azimuth, so only the elevation difference counts.

Accuracies are percent of queries with ``error <= threshold`` (inclusive). ``acc<k>`` is **class-and-pose**: the
retrieved template is of the query's object *and* within ``k`` degrees (what the reference logs and reports as
Acc15); ``pose_acc15`` ignores the object and ``recognition`` ignores the pose.

``reference_quirks`` reproduces the reference's two bugs for comparison with printed numbers: the symmetric error is
``cos_sim(gt_opposite, gt_opposite)``, i.e. 0 degrees for every query of an object flagged symmetric (whatever was
retrieved), and the flag list also marks a non-symmetric object (LINEMOD's duck); pass the flagged objects.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

SYMMETRIES = ("none", "z180", "z_continuous")
THRESHOLDS = (15, 12, 9, 6, 3)
#: Per-sample hit metrics a claim can resample, and the columns they read.
HIT_METRICS = (*(f"acc{k}" for k in THRESHOLDS), "pose_acc15", "recognition")


def _error_deg(az1, el1, az2, el2) -> np.ndarray:
    import torch

    from robust3d.geometry.viewpoints import viewpoint_error

    t = [torch.tensor(np.asarray(x, dtype=np.float64)) for x in (az1, el1, az2, el2)]
    return np.degrees(viewpoint_error(*t).numpy())


def viewpoint_errors(pred_azimuth, pred_elevation, azimuth, elevation, symmetry: Iterable[str] | str = "none",
                     quirk_zero: Iterable[bool] | None = None) -> np.ndarray:
    """Degrees between predicted and true viewing directions, per query, under each query's object symmetry.
    ``quirk_zero``: queries the reference scores 0 degrees (its symmetric-object bug)."""
    pa, pe, a, e = (np.asarray(x, dtype=np.float64) for x in (pred_azimuth, pred_elevation, azimuth, elevation))
    sym = np.broadcast_to(np.asarray(symmetry, dtype=object), a.shape)
    unknown = set(sym.tolist()) - set(SYMMETRIES)
    if unknown:
        raise ValueError(f"unknown symmetry {sorted(unknown)} (known: {', '.join(SYMMETRIES)})")
    err = _error_deg(pa, pe, a, e)
    flip = sym == "z180"
    if flip.any():
        err[flip] = np.minimum(err[flip], _error_deg(pa[flip], pe[flip], a[flip] + math.pi, e[flip]))
    cont = sym == "z_continuous"
    if cont.any():
        err[cont] = np.degrees(np.abs(pe[cont] - e[cont]))
    if quirk_zero is not None:
        err = np.where(np.asarray(list(quirk_zero), dtype=bool), 0.0, err)
    return err


def hits(predictions: pd.DataFrame, metric: str) -> np.ndarray:
    """Per-query hit (bool) of ``metric`` from a predictions frame (``error_deg``, ``object``, ``pred_object``)."""
    right_object = (predictions["pred_object"].astype(str) == predictions["object"].astype(str)).to_numpy()
    err = predictions["error_deg"].to_numpy(dtype=float)
    if metric == "recognition":
        return right_object
    if metric == "pose_acc15":
        return err <= 15.0
    if metric.startswith("acc") and metric[3:].isdigit():
        return right_object & (err <= float(metric[3:]))
    raise ValueError(f"not a per-query template metric: {metric!r} (known: {', '.join(HIT_METRICS)})")


def summary(predictions: pd.DataFrame) -> dict[str, float]:
    """The group's metrics (percent; ``mean_err`` in degrees over all queries, whatever object was retrieved)."""
    out = {m: 100.0 * float(hits(predictions, m).mean()) for m in HIT_METRICS}
    out["mean_err"] = float(predictions["error_deg"].mean())
    return out


def pairwise_errors(queries: pd.DataFrame, templates: pd.DataFrame, symmetries: Mapping[str, str]) -> np.ndarray:
    """``(Q, T)`` degrees between each query's true view and each template's view, under the query object's
    symmetry (``queries`` and ``templates``: ``object, azimuth, elevation``)."""
    q, t = len(queries), len(templates)
    rep = lambda col: np.repeat(queries[col].to_numpy(), t)  # noqa: E731
    tile = lambda col: np.tile(templates[col].to_numpy(dtype=np.float64), q)  # noqa: E731
    sym = np.repeat(np.array([symmetries.get(str(o), "none") for o in queries["object"]], dtype=object), t)
    return viewpoint_errors(tile("azimuth"), tile("elevation"), rep("azimuth").astype(np.float64),
                            rep("elevation").astype(np.float64), sym).reshape(q, t)


def chance_of_group(query_views: pd.DataFrame, template_views: pd.DataFrame,
                    symmetries: Mapping[str, str]) -> pd.DataFrame:
    """The chance row: for each query, the share of the group's templates that would be a hit if one were drawn at
    random (class-and-pose at every threshold, pose-only, recognition; percent) and the expected error (degrees).
    Computed, not sampled.

    ``query_views``: ``sample_id, object, azimuth, elevation``; ``template_views``: ``object, azimuth, elevation``
    (the group's templates)."""
    err = pairwise_errors(query_views, template_views, symmetries)
    same = query_views["object"].astype(str).to_numpy()[:, None] == template_views["object"].astype(str).to_numpy()
    out = pd.DataFrame({"sample_id": query_views["sample_id"].to_numpy(), "object": query_views["object"].to_numpy(),
                        "recognition": 100.0 * same.mean(1), "pose_acc15": 100.0 * (err <= 15).mean(1)})
    for k in THRESHOLDS:
        out[f"acc{k}"] = 100.0 * (same & (err <= k)).mean(1)
    out["mean_err"] = err.mean(1)  # degrees: the expected error of a random template, whatever its object
    return out
