"""Depth-estimation metrics on valid pixels, with a constant-depth baseline and a shape-sensitive error.

On object pixels a constant already scores well (object depth varies little relative to its distance), so every
figure is reported beside the same figure for a constant prediction, and ``rel_rmse`` measures the relative
shape: the RMSE between ``pred - median(pred)`` and ``gt - median(gt)`` over each image's valid pixels.

Metrics are computed per image, then averaged over images that have valid pixels (the Eigen/KITTI convention).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

METRICS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta1", "rel_rmse")
MIN_DEPTH = 1e-3  # predictions are clamped here before logs and ratios (no negative or zero depth)

ArrayLike = torch.Tensor | np.ndarray


def _as_batch(x: ArrayLike) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x)) if isinstance(x, np.ndarray) else x
    t = t.detach().cpu()
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"expected depth of shape [H, W] or [B, H, W], got {tuple(t.shape)}")
    return t


def valid_mask(gt: ArrayLike, valid: ArrayLike | None = None) -> torch.Tensor:
    """Pixels with a true surface: positive, finite depth (synthetic background is 0), within ``valid`` if given."""
    g = _as_batch(gt)
    mask = (g > 0) & torch.isfinite(g)
    if valid is not None:
        mask &= _as_batch(valid).bool()
    return mask


def per_image_depth_metrics(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> dict[str, torch.Tensor]:
    """Each metric per image, shape ``[B]`` (NaN for an image without valid pixels); batched over images."""
    p = _as_batch(pred).double()
    g = _as_batch(gt).double()
    if p.shape != g.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and ground truth {tuple(g.shape)} differ in shape")
    mask = valid_mask(g, valid) & torch.isfinite(p)
    w = mask.double()
    n = w.sum((1, 2))
    p = torch.where(mask, p.clamp_min(MIN_DEPTH), 1.0)  # harmless values off the mask: no NaN leaks into sums
    g = torch.where(mask, g, 1.0)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return (x * w).sum((1, 2)) / n

    err = p - g
    ratio = torch.maximum(p / g, g / p)
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    med_p = torch.nanmedian(torch.where(mask, p, nan).flatten(1), dim=1).values
    med_g = torch.nanmedian(torch.where(mask, g, nan).flatten(1), dim=1).values
    rel = (p - med_p[:, None, None]) - (g - med_g[:, None, None])
    out = {
        "abs_rel": mean(err.abs() / g),
        "sq_rel": mean(err**2 / g),
        "rmse": mean(err**2).sqrt(),
        "rmse_log": mean((p.log() - g.log()) ** 2).sqrt(),
        "delta1": mean((ratio < 1.25).double()),
        "rel_rmse": mean(rel**2).sqrt(),
    }
    empty = n == 0
    out = {k: torch.where(empty, nan, v) for k, v in out.items()}
    out["n_pixels"] = n
    return out


def aggregate(per_image: Mapping[str, Iterable[float] | torch.Tensor], prefix: str = "",
              metrics: Iterable[str] = METRICS) -> dict[str, float]:
    """Mean over images with valid pixels of per-image ``metrics``, plus ``n_images`` and ``n_pixels``."""
    cols = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) if not isinstance(v, torch.Tensor) else v.double()
            for k, v in per_image.items()}
    n_pix = cols["n_pixels"]
    keep = n_pix > 0
    out = {f"{prefix}{k}": float(cols[k][keep].mean()) if keep.any() else float("nan") for k in metrics}
    out[f"{prefix}n_images"] = int(keep.sum())
    out[f"{prefix}n_pixels"] = int(n_pix.sum())
    return out


def depth_metrics(pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None,
                  baseline_depth: float | None = None) -> dict[str, float]:
    """AbsRel, SqRel, RMSE, RMSE log, delta<1.25 and relative-depth RMSE of ``pred`` against ``gt``.

    With ``baseline_depth`` (e.g. the median of the training depths), the same metrics for predicting that constant
    everywhere are added with the prefix ``baseline_``: the figure a depth network has to beat.
    """
    out = aggregate(per_image_depth_metrics(pred, gt, valid))
    if baseline_depth is not None:
        out.update(baseline_metrics(gt, baseline_depth, valid))
    return out


def baseline_metrics(gt: ArrayLike, baseline_depth: float, valid: ArrayLike | None = None) -> dict[str, float]:
    """Metrics of the constant prediction ``baseline_depth``, prefixed ``baseline_``."""
    g = _as_batch(gt)
    const = torch.full(g.shape, float(baseline_depth), dtype=torch.float64)
    return aggregate(per_image_depth_metrics(const, g, valid), prefix="baseline_")


def per_image_background_abs_rel(pred: ArrayLike, gt: ArrayLike) -> dict[str, torch.Tensor]:
    """AbsRel of ``pred`` on each image's background pixels (true depth 0) against the project's backdrop depth
    (:func:`robust3d.geometry.backdrop.backdrop_depth` of the true map), shape ``[B]``: NaN for an image without
    background or without any surface (whose backdrop is undefined). Keys ``background_abs_rel`` and ``n_pixels``,
    the form :func:`aggregate` reads with ``metrics=("background_abs_rel",)``."""
    from robust3d.geometry.backdrop import BACKDROP_DEPTH_FACTOR

    p = _as_batch(pred).double()
    g = _as_batch(gt).double()
    if p.shape != g.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and ground truth {tuple(g.shape)} differ in shape")
    surface = valid_mask(g)
    backdrop = BACKDROP_DEPTH_FACTOR * torch.where(surface, g, 0.0).flatten(1).amax(1)
    background = ~surface & torch.isfinite(p) & surface.flatten(1).any(1)[:, None, None]
    n = background.double().sum((1, 2))
    err = (p.clamp_min(MIN_DEPTH) - backdrop[:, None, None]).abs() / backdrop.clamp_min(MIN_DEPTH)[:, None, None]
    value = torch.where(background, err, 0.0).sum((1, 2)) / n
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    return {"background_abs_rel": torch.where(n == 0, nan, value), "n_pixels": n}
