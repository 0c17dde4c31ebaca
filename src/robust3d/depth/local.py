"""A small monocular depth network trained on the dataset's own true depth: the offline stand-in for ZoeDepth.

The network is a compact U-Net (about 1.2 M parameters) with two heads: log-depth per pixel and a foreground logit
(is there a surface here, or the backdrop?). The depth head starts at the log of the training median depth
(zero-initialized head), so training starts exactly at the constant baseline and every gain over that constant is
learned. Its loss is an L1 on log depth (scale-aware: metric depth is the target) plus a multi-scale gradient term
on the log residual (relative shape), over valid pixels (depth > 0) only; the foreground head is trained on
``depth > 0`` with a class-balanced cross-entropy plus a Dice term (objects cover a fraction of the frame).

The pseudo-depth a split gets covers the whole image (:func:`whole_image_depth`): the depth head where the
foreground head says "surface", and elsewhere the project's one backdrop
(:data:`robust3d.geometry.backdrop.BACKDROP_DEPTH_FACTOR` times the farthest predicted surface), the same wall
the renderer's 3D corruptions put behind the object.

Training is resumable: every ``checkpoint_every`` steps the model, optimizer, step, epoch and RNG states go to
``<out>.ckpt`` (outside the declared output); a rerun continues from there. Batch order and flips are derived from
``(seed, epoch)``, so a resumed run replays the same batches as an uninterrupted one.
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from robust3d.data.format import read_manifest
from robust3d.data.io import atomic_path, read_image, read_npy
from robust3d.depth.metrics import aggregate, per_image_background_abs_rel, per_image_depth_metrics
from robust3d.models.runtime import checkpoint_path, load_checkpoint, rng_state, save_checkpoint, set_rng_state

WEIGHTS_FORMAT = "robust3d.local_depth/2"  # /1 had no foreground head: refused
MIN_DEPTH = 1e-3
FG_LOGIT_SCALE = 10.0
"""The foreground logit is the head's output times this: a decision of +-5 logits is then a small weight change,
so the mask is learnt within the few epochs the depth head needs (unscaled, its IoU lagged far behind)."""


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + BatchNorm + ReLU: the unit of both encoder and decoder."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        )


class DepthUNet(nn.Module):
    """RGB ``[B,3,H,W]`` in [0,1] -> (log-depth ``[B,H,W]``, foreground logit ``[B,H,W]``).

    H and W must be multiples of ``2**levels``.
    """

    def __init__(self, base_channels: int = 16, levels: int = 4, log_depth_offset: float = 0.0) -> None:
        super().__init__()
        chans = [base_channels * 2**i for i in range(levels)]
        self.levels = levels
        self.encoders = nn.ModuleList(ConvBlock(c_in, c_out) for c_in, c_out in zip([3, *chans[:-1]], chans,
                                                                                          strict=True))
        self.bottleneck = ConvBlock(chans[-1], chans[-1])
        ups = [chans[-1], *chans[:0:-1]]  # channels arriving from below at each decoder level, top-down reversed
        self.decoders = nn.ModuleList(ConvBlock(c_up + c_skip, c_skip) for c_up, c_skip in zip(ups, chans[::-1],
                                                                                               strict=True))
        self.head = nn.Conv2d(chans[0], 2, 1)  # channel 0: log-depth, channel 1: foreground logit
        nn.init.zeros_(self.head.weight)  # start at the constant log_depth_offset (the trivial baseline), p(fg) 0.5
        nn.init.zeros_(self.head.bias)
        self.register_buffer("log_depth_offset", torch.tensor(float(log_depth_offset)))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = images * 2 - 1
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for dec, skip in zip(self.decoders, reversed(skips), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        out = self.head(x)
        return out[:, 0] + self.log_depth_offset, FG_LOGIT_SCALE * out[:, 1]


def predicted_far_depth(log_depth: torch.Tensor, fg_logit: torch.Tensor, threshold: float = 0.5
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted surface mask ``[B,H,W]`` and each image's farthest predicted surface depth ``[B]``."""
    depth = log_depth.exp()
    flat_fg = (torch.sigmoid(fg_logit) > threshold).flatten(1)
    best = fg_logit.flatten(1).argmax(1)
    fallback = torch.zeros_like(flat_fg).scatter_(1, best[:, None], True)
    surface = torch.where(flat_fg.any(1, keepdim=True), flat_fg, fallback)
    return surface.view_as(depth), torch.where(surface, depth.flatten(1), 0.0).amax(1)


def whole_image_depth(log_depth: torch.Tensor, fg_logit: torch.Tensor, threshold: float = 0.5,
                      far_scale: float = 1.0) -> torch.Tensor:
    """``[B,H,W]`` depth over the whole frame: the predicted surface where ``sigmoid(fg_logit) > threshold``, and the
    backdrop (``BACKDROP_DEPTH_FACTOR`` x ``far_scale`` x the farthest predicted surface point) everywhere else.

    ``far_scale`` corrects the far point's bias: a regressed depth map is pulled toward the median, so its maximum
    falls short of the true one (on the embedded benchmark by about 6%); training fits the scale on its own split.

    An image where no pixel passes the threshold takes its most surface-like pixel as the surface that sets the
    backdrop, so every output is positive and finite.
    """
    from robust3d.geometry.backdrop import BACKDROP_DEPTH_FACTOR

    surface, far = predicted_far_depth(log_depth, fg_logit, threshold)
    return torch.where(surface, log_depth.exp(), BACKDROP_DEPTH_FACTOR * far_scale * far[:, None, None])


@torch.no_grad()
def fit_far_scale(model: nn.Module, data: dict[str, Any], idx: np.ndarray, batch_size: int, device: torch.device
                  ) -> float:
    """Median over the images ``idx`` of true farthest depth / predicted farthest surface depth."""
    was_training = model.training
    model.eval()
    ratios = []
    for chunk in torch.as_tensor(idx).split(batch_size):
        x, d = _batch(data, chunk, device)
        far = predicted_far_depth(*model(x))[1]
        true_far = d.flatten(1).amax(1)
        keep = true_far > 0
        ratios.append((true_far[keep] / far[keep].clamp_min(MIN_DEPTH)).cpu())
    model.train(was_training)
    return float(torch.cat(ratios).median())


def mask_loss(fg_logit: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy plus soft Dice of the foreground logit against ``depth > 0``.

    Each class gets half the weight whatever its pixel count, so a small object is not drowned by its background.
    """
    target = (depth > 0).float()
    n_fg = target.sum().clamp_min(1)
    n_bg = (1 - target).sum().clamp_min(1)
    weight = torch.where(target > 0, 0.5 / n_fg, 0.5 / n_bg)
    bce = (F.binary_cross_entropy_with_logits(fg_logit, target, reduction="none") * weight).sum()
    p = torch.sigmoid(fg_logit)
    dice = 1 - (2 * (p * target).sum() + 1) / (p.sum() + target.sum() + 1)
    return bce + dice


def depth_loss(log_pred: torch.Tensor, depth: torch.Tensor, grad_weight: float = 1.0, scales: int = 3
               ) -> torch.Tensor:
    """L1 on log depth over valid pixels plus ``grad_weight`` x multi-scale L1 of the log residual's gradients.

    The first term pins metric scale; the second compares local depth differences (shape) and ignores offsets.
    """
    valid = depth > 0
    resid = torch.where(valid, log_pred - depth.clamp_min(MIN_DEPTH).log(), 0.0)
    loss = resid.abs().sum() / valid.sum().clamp_min(1)
    grad = log_pred.new_zeros(())
    for s in range(scales):
        r, v = resid[:, :: 2**s, :: 2**s], valid[:, :: 2**s, :: 2**s]
        vx, vy = v[:, :, 1:] & v[:, :, :-1], v[:, 1:] & v[:, :-1]
        gx = (r[:, :, 1:] - r[:, :, :-1]).abs() * vx
        gy = (r[:, 1:] - r[:, :-1]).abs() * vy
        grad = grad + (gx.sum() + gy.sum()) / (vx.sum() + vy.sum()).clamp_min(1)
    return loss + grad_weight * grad / scales


def load_depth_samples(manifests: list[Path], image_size: int) -> dict[str, Any]:
    """Images (uint8 ``[N,3,S,S]``) and true depth (float ``[N,S,S]``) of every sample with a depth map."""
    images, depths, ids = [], [], []
    for manifest in manifests:
        manifest = Path(manifest)
        df = read_manifest(manifest)
        for row in df[df["depth"] != ""].itertuples(index=False):
            img = read_image(manifest.parent / row.image)
            dep = read_npy(manifest.parent / row.depth).astype(np.float32)
            if img.shape[:2] != (image_size, image_size):
                img = cv2.resize(img, (image_size, image_size), interpolation=cv2.INTER_AREA)
            if dep.shape != (image_size, image_size):  # nearest: never blends a surface with the 0 background
                dep = cv2.resize(dep, (image_size, image_size), interpolation=cv2.INTER_NEAREST)
            images.append(img)
            depths.append(dep)
            ids.append(row.sample_id)
    if not ids:
        raise ValueError(f"no sample with a depth map in {[str(m) for m in manifests]}")
    return {
        "images": torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        "depth": torch.from_numpy(np.stack(depths)),
        "sample_id": ids,
    }


def split_by_sample(sample_ids: list[str], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of train and validation; all rows of one sample id fall on the same side (no leakage)."""
    unique = sorted(set(sample_ids))
    if len(unique) < 2:
        raise ValueError("need at least two samples with depth to hold one out for validation")
    order = np.random.default_rng(seed).permutation(len(unique))
    n_val = min(len(unique) - 1, max(1, round(val_fraction * len(unique))))
    val_ids = {unique[i] for i in order[:n_val]}
    is_val = np.array([s in val_ids for s in sample_ids])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _lr_at(step: int, total: int, lr: float) -> float:
    """Linear warm-up then cosine decay to 5% of ``lr``: a function of the step only, so resuming needs no state."""
    warm = max(1, int(0.03 * total))
    if step < warm:
        return lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def _epoch_order(n: int, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen), torch.rand(n, generator=gen) < 0.5


def _batch(data: dict[str, Any], idx: torch.Tensor, device: torch.device, flips: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    x = data["images"][idx].to(device).float() / 255
    d = data["depth"][idx].to(device)
    if flips is not None and bool(flips.any()):
        f = flips.to(device)
        x = torch.where(f[:, None, None, None], x.flip(-1), x)
        d = torch.where(f[:, None, None], d.flip(-1), d)
    return x, d


def _loss(model: nn.Module, x: torch.Tensor, d: torch.Tensor, grad_weight: float, mask_weight: float
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    log_pred, fg_logit = model(x)
    log_pred, fg_logit = log_pred.float(), fg_logit.float()
    return depth_loss(log_pred, d, grad_weight) + mask_weight * mask_loss(fg_logit, d), log_pred, fg_logit


@torch.no_grad()
def _validate(model: nn.Module, data: dict[str, Any], idx: np.ndarray, batch_size: int, device: torch.device,
              grad_weight: float, mask_weight: float, baseline_depth: float, far_scale: float = 1.0
              ) -> dict[str, float]:
    """Validation loss and metrics: the depth head on object pixels (``abs_rel``, ...), the constant
    ``baseline_depth`` there (``baseline_*``), the whole-image map on object pixels (``whole_*``) and on background
    pixels against the backdrop (``background_abs_rel``), and the foreground head's mean IoU (``mask_iou``)."""
    was_training = model.training
    model.eval()
    loss_sum, parts, ious = 0.0, {"": [], "baseline_": [], "whole_": [], "background": []}, []
    for chunk in torch.as_tensor(idx).split(batch_size):
        x, d = _batch(data, chunk, device)
        loss, log_pred, fg_logit = _loss(model, x, d, grad_weight, mask_weight)
        loss_sum += float(loss) * len(chunk)
        whole = whole_image_depth(log_pred, fg_logit, far_scale=far_scale)
        parts[""].append(per_image_depth_metrics(log_pred.exp(), d))
        parts["baseline_"].append(per_image_depth_metrics(torch.full_like(d, baseline_depth), d))
        parts["whole_"].append(per_image_depth_metrics(whole, d))
        parts["background"].append(per_image_background_abs_rel(whole, d))
        fg, true = fg_logit > 0, d > 0
        ious.append(((fg & true).sum((1, 2)) / (fg | true).sum((1, 2)).clamp_min(1)).cpu())
    model.train(was_training)
    out = {"loss": loss_sum / len(idx), "mask_iou": float(torch.cat(ious).double().mean())}
    for prefix, rows in parts.items():
        cat = {k: torch.cat([r[k] for r in rows]) for k in rows[0]}
        if prefix == "background":
            out["background_abs_rel"] = aggregate(cat, metrics=("background_abs_rel",))["background_abs_rel"]
        else:
            out.update(aggregate(cat, prefix=prefix))
    return out


def train_local_depth(manifests: list[Path], out: Path, epochs: int = 20, batch_size: int = 16, lr: float = 2e-3,
                      image_size: int = 128, seed: int = 0, device: str | torch.device = "cpu",
                      checkpoint_every: int = 100, progress: bool = True, val_fraction: float = 0.1,
                      base_channels: int = 16, grad_weight: float = 1.0, weight_decay: float = 1e-4,
                      amp: bool = False, stop_after: int | None = None, num_threads: int | None = None,
                      mask_weight: float = 1.0) -> dict[str, Any]:
    """Train :class:`DepthUNet` on every sample with true depth in ``manifests``; write the weights to ``out``.

    Resumes from ``<out>.ckpt`` when present (same configuration required). ``stop_after`` stops once that many
    global steps are done, after checkpointing, as a killed job would (for tests). ``num_threads`` caps torch's CPU
    threads while training (on an oversubscribed machine one thread can beat two spinning ones).

    Returns the final metrics: the validation loss before and after training, the validation depth metrics of the
    depth head on object pixels (``val_abs_rel``, ...) and of the constant training-median baseline
    (``val_baseline_*``), of the whole-image map (``val_whole_*`` on object pixels, ``val_background_abs_rel``
    against the backdrop), the foreground IoU (``val_mask_iou``), and bookkeeping (steps, seconds, parameters,
    per-epoch history). ``mask_weight`` weighs the foreground head's loss against the depth loss.
    """
    threads_before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _train(manifests, Path(out), epochs, batch_size, lr, image_size, seed, torch.device(device),
                      checkpoint_every, progress, val_fraction, base_channels, grad_weight, weight_decay, amp,
                      stop_after, mask_weight)
    finally:
        torch.set_num_threads(threads_before)


def _train(manifests: list[Path], out: Path, epochs: int, batch_size: int, lr: float, image_size: int, seed: int,
           device: torch.device, checkpoint_every: int, progress: bool, val_fraction: float, base_channels: int,
           grad_weight: float, weight_decay: float, amp: bool, stop_after: int | None, mask_weight: float
           ) -> dict[str, Any]:
    ckpt_path = checkpoint_path(out)
    levels = 4
    if image_size % 2**levels:
        raise ValueError(f"image_size must be a multiple of {2**levels}, got {image_size}")
    config = {"manifests": [str(Path(m).resolve()) for m in manifests], "epochs": epochs, "batch_size": batch_size,
              "lr": lr, "image_size": image_size, "seed": seed, "val_fraction": val_fraction,
              "base_channels": base_channels, "levels": levels, "grad_weight": grad_weight,
              "weight_decay": weight_decay, "amp": amp, "mask_weight": mask_weight}
    started = time.perf_counter()

    random.seed(seed)
    torch.manual_seed(seed)
    data = load_depth_samples([Path(m) for m in manifests], image_size)
    train_idx, val_idx = split_by_sample(data["sample_id"], val_fraction, seed)
    train_depth = data["depth"][torch.as_tensor(train_idx)]
    median_depth = float(train_depth[train_depth > 0].median())
    model = DepthUNet(base_channels, levels, log_depth_offset=math.log(median_depth)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(train_idx) / batch_size)
    total = epochs * steps_per_epoch

    state: dict[str, Any] = {"step": 0, "history": [], "epoch_loss": [0.0, 0], "elapsed": 0.0}
    ckpt = load_checkpoint(ckpt_path, config)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    else:
        state["val_initial"] = _validate(model, data, val_idx, batch_size, device, grad_weight, mask_weight,
                                         median_depth)
    resumed_from, elapsed_before = state["step"], state["elapsed"]

    def save() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - started
        save_checkpoint(ckpt_path, {"config": config, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                    "rng": rng_state(), "state": state, "epoch": state["step"] // steps_per_epoch})

    model.train()
    bar = tqdm(total=total, initial=state["step"], disable=not progress, desc="local depth", unit="step")
    train_pos = torch.as_tensor(train_idx)
    while state["step"] < total:
        step = state["step"]
        epoch, i = divmod(step, steps_per_epoch)
        perm, flips = _epoch_order(len(train_idx), seed, epoch)
        sel = perm[i * batch_size:(i + 1) * batch_size]
        x, d = _batch(data, train_pos[sel], device, flips[sel])
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, total, lr)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = _loss(model, x, d, grad_weight, mask_weight)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        state["step"] = step + 1
        loss_value = float(loss.detach())
        state["epoch_loss"][0] += loss_value
        state["epoch_loss"][1] += 1
        bar.update(1)
        bar.set_postfix(epoch=epoch, loss=f"{loss_value:.4f}")
        if i == steps_per_epoch - 1:  # epoch done: validate, record, reset the running loss
            val = _validate(model, data, val_idx, batch_size, device, grad_weight, mask_weight, median_depth)
            state["history"].append({"epoch": epoch, "step": state["step"],
                                     "train_loss": state["epoch_loss"][0] / state["epoch_loss"][1],
                                     "val_loss": val["loss"], "val_abs_rel": val["abs_rel"],
                                     "val_rel_rmse": val["rel_rmse"], "val_mask_iou": val["mask_iou"],
                                     "val_background_abs_rel": val["background_abs_rel"]})
            state["epoch_loss"] = [0.0, 0]
        if state["step"] < total and (state["step"] % checkpoint_every == 0 or state["step"] == stop_after):
            save()
        if stop_after is not None and state["step"] >= stop_after and state["step"] < total:
            bar.close()
            return {"stopped": True, "step": state["step"], "total_steps": total, "resumed_from": resumed_from}
    bar.close()

    far_scale = fit_far_scale(model, data, train_idx, batch_size, device)
    final = _validate(model, data, val_idx, batch_size, device, grad_weight, mask_weight, median_depth, far_scale)
    state["elapsed"] = elapsed_before + time.perf_counter() - started
    result: dict[str, Any] = {
        "stopped": False, "step": state["step"], "total_steps": total, "resumed_from": resumed_from,
        "epochs": epochs, "n_train": len(train_idx), "n_val": len(val_idx), "train_median_depth": median_depth,
        "far_scale": far_scale,
        "parameters": sum(p.numel() for p in model.parameters()), "seconds": state["elapsed"],
        "train_loss": state["history"][-1]["train_loss"] if state["history"] else float("nan"),
        "val_loss_initial": state["val_initial"]["loss"], "val_loss": final.pop("loss"),
        **{f"val_{k}": v for k, v in final.items()}, "history": state["history"],
    }
    with atomic_path(out) as tmp:
        torch.save({"format": WEIGHTS_FORMAT, "state_dict": model.state_dict(),
                    "arch": {"base_channels": base_channels, "levels": levels}, "image_size": image_size,
                    "train_median_depth": median_depth, "far_scale": far_scale, "config": config,
                    "metrics": {k: v for k, v in result.items() if k != "history"}}, tmp)
    ckpt_path.unlink(missing_ok=True)  # the final weights supersede it; a rerun would retrain from scratch
    return result


def load_local_depth(path: Path, device: str | torch.device = "cpu") -> tuple[DepthUNet, dict[str, Any]]:
    """The trained network (eval mode) and its metadata (image size, training median depth, metrics).

    Weights of an older format (``robust3d.local_depth/1``: no foreground head) are refused with the fix: retrain.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"local depth weights {path} do not exist; train them with train_local_depth")
    blob = torch.load(path, map_location=device, weights_only=True)
    if blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a local depth model of format {WEIGHTS_FORMAT} (got {blob.get('format')}); "
                         "retrain it with `python -m robust3d train-depth` (or delete it and rerun the workflow)")
    model = DepthUNet(**blob["arch"]).to(device)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, {k: v for k, v in blob.items() if k != "state_dict"}
