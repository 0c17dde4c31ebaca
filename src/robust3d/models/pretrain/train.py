"""DINO pretraining of one backbone on unlabelled synthetic images, resumable and deterministic.

The student (backbone + :class:`~.dino.DINOHead`) sees every view of :class:`~.augment.MultiCrop`; the teacher, an
EMA of the student, sees the global views; :class:`~.dino.DINOLoss` matches them. The recipe follows DINO's
``main_dino.py``: AdamW at ``lr x batch / 256`` with a linear warm-up then a cosine to ``min_lr``, weight decay on
weights only following a cosine from ``weight_decay`` to ``weight_decay_end``, gradient clipping, the prototype
layer frozen for the first ``freeze_last_layer`` epochs, the EMA momentum on a cosine to 1, the teacher temperature
warmed up linearly. Drop-path is 0 (3D-Prior's student must start with L_dist exactly 0).

A run's randomness is a function of ``(seed, epoch, step)`` (:mod:`robust3d.models.runtime`), so a run killed at any
point and resumed from its checkpoint ``<out>.ckpt`` ends with bit-identical weights. Two collapse monitors are
recorded every ``log_every`` steps on a fixed batch of unaugmented pool images: the mean entropy of the teacher's
centred, sharpened output (DINO's two collapse modes push it to 0 or to log K) and the mean per-dimension standard
deviation of the teacher's L2-normalised pooled features across the batch (0 when every image maps to one point).
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from robust3d.models.backbone_shapes import vit_sizes
from robust3d.models.pretrain.augment import MultiCrop
from robust3d.models.pretrain.dino import DINOHead, DINOLoss, cosine_schedule, ema_update, teacher_temperature
from robust3d.models.pretrain.encoder import SSLEncoder
from robust3d.models.runtime import (
    checkpoint_path,
    epoch_order,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    step_generator,
    training_settings,
)

__all__ = ["DEFAULT_RECIPE", "DINOStudent", "monitor", "pretrain"]

#: DINO's recipe, scaled down (shared/research/prior3d-build-notes.md section 4.3); config overrides any key.
DEFAULT_RECIPE: dict[str, Any] = {
    "epochs": 10, "batch_size": 64, "lr": 5e-4, "min_lr": 1e-6, "warmup_fraction": 0.1,
    "weight_decay": 0.04, "weight_decay_end": 0.4, "momentum": 0.996, "clip_grad": 3.0, "freeze_last_layer": 1,
    "out_dim": 1024, "hidden_dim": 256, "bottleneck_dim": 64, "head_bn": False, "student_temp": 0.1,
    "teacher_temp": 0.04, "warmup_teacher_temp": 0.04, "warmup_teacher_epochs": 0, "center_momentum": 0.9,
    "global_size": 112, "local_size": 56, "n_local": 4, "jitter_p": 0.8, "grayscale_p": 0.2, "solarize_p": 0.2,
    "global_scale": [0.4, 1.0], "local_scale": [0.05, 0.4],
    "layer_scale_init": None, "amp": False, "checkpoint_every": 20, "log_every": 10, "num_threads": 2,
}


class DINOStudent(nn.Module):
    """Backbone + projection head: ``images -> (B, out_dim)`` prototype logits (the teacher is a copy)."""

    def __init__(self, encoder: SSLEncoder, recipe: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = DINOHead(encoder.dim, recipe["out_dim"], recipe["hidden_dim"], recipe["bottleneck_dim"],
                             use_bn=bool(recipe["head_bn"]))

    def forward(self, *views: torch.Tensor | None) -> torch.Tensor:
        """Logits of every view batch (one backbone pass per crop size), concatenated in the given order."""
        feats = [self.encoder(v) for v in views if v is not None]
        return self.head(torch.cat(feats).float())


def _param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """DINO's groups: weight decay on weights, none on biases and norm parameters (1-D tensors)."""
    decay, plain = [], []
    for name, p in model.named_parameters():
        (plain if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [{"params": decay, "apply_wd": True}, {"params": plain, "apply_wd": False}]


def _lr(step: int, total: int, warmup: int, lr: float, min_lr: float) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return cosine_schedule(step - warmup, total - warmup, lr, min_lr)


@torch.no_grad()
def monitor(teacher: DINOStudent, loss: DINOLoss, images: torch.Tensor, temp: float, log_k: float,
            size: int) -> dict[str, float]:
    """Collapse monitors on a fixed batch ``images`` (float, [0, 1]) seen whole at ``size`` px."""
    x = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    was_training = teacher.training
    teacher.eval()  # running statistics: a monitor must not move any buffer
    feats = teacher.encoder(x).float()
    logits = teacher.head(feats)
    teacher.train(was_training)
    q = F.softmax((logits - loss.center) / temp, dim=-1)
    entropy = float(-(q * torch.log(q.clamp_min(1e-12))).sum(-1).mean())
    return {"entropy": entropy, "entropy_fraction": entropy / log_k,
            "feature_std": float(F.normalize(feats, dim=1).std(0).mean())}


def pretrain(images: torch.Tensor, entry: dict[str, Any], recipe: dict[str, Any], out: Path, seed: int = 0,
             device: str | torch.device = "cpu", progress: bool = True, stop_after: int | None = None,
             ) -> tuple[SSLEncoder, dict[str, Any]]:
    """Pretrain ``entry``'s backbone (``kind``, ``arch``, ViT sizes) on ``images`` (uint8 ``(N, 3, H, W)``).

    Resumes from ``<out>.ckpt`` (same configuration required) and checkpoints every ``checkpoint_every`` steps;
    ``stop_after`` stops once that many steps are done, after checkpointing, as a killed job would (tests).
    Returns the teacher's encoder (eval mode) and the training record: the loss per step, the collapse monitors,
    the schedules' end values, seconds. Writing the weights is the caller's (the checkpoint is left in place).
    """
    r = {**DEFAULT_RECIPE, **recipe}
    with training_settings(int(r["num_threads"])):
        return _pretrain(images, entry, r, Path(out), seed, torch.device(device), progress, stop_after)


def _build(entry: dict[str, Any], r: dict[str, Any], seed: int) -> DINOStudent:
    torch.manual_seed(seed)
    return DINOStudent(SSLEncoder(entry["kind"], entry["arch"], vit_sizes(entry), r.get("layer_scale_init")), r)


def random_init_encoder(entry: dict[str, Any], recipe: dict[str, Any], seed: int = 0) -> SSLEncoder:
    """The encoder a run with ``seed`` starts from: the random-init baseline of the sanity numbers."""
    return _build(entry, {**DEFAULT_RECIPE, **recipe}, seed).encoder.eval()


def _pretrain(images: torch.Tensor, entry: dict[str, Any], r: dict[str, Any], out: Path, seed: int,
              device: torch.device, progress: bool, stop_after: int | None) -> tuple[SSLEncoder, dict[str, Any]]:
    n, b = images.shape[0], int(r["batch_size"])
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"pretraining images must be uint8 (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    if n < b:
        raise ValueError(f"the pool has {n} images, fewer than one batch of {b}")
    config = {"entry": {k: entry[k] for k in sorted(entry)}, "recipe": {k: r[k] for k in sorted(r)}, "seed": seed,
              "n_images": n, "image_shape": list(images.shape[1:])}
    ckpt_file = checkpoint_path(out)
    started = time.perf_counter()

    student = _build(entry, r, seed).to(device)
    teacher = copy.deepcopy(student)
    for p in teacher.parameters():
        p.requires_grad_(False)
    loss_fn = DINOLoss(r["out_dim"], 2, r["student_temp"], r["center_momentum"]).to(device)
    lr = r["lr"] * b / 256
    optimizer = torch.optim.AdamW(_param_groups(student), lr=lr)
    views = MultiCrop(r["global_size"], r["local_size"], r["n_local"], tuple(r["global_scale"]),
                      tuple(r["local_scale"]), jitter_p=r["jitter_p"], grayscale_p=r["grayscale_p"],
                      solarize_p=r["solarize_p"])
    steps_per_epoch = n // b  # drop_last, as DINO
    total = int(r["epochs"]) * steps_per_epoch
    warmup = max(1, round(r["warmup_fraction"] * total))
    log_k = math.log(r["out_dim"])
    probe = images[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:min(b, n)]]
    probe = probe.float().div(255).to(device)

    state: dict[str, Any] = {"step": 0, "loss": [], "monitor": [], "elapsed": 0.0}
    ckpt = load_checkpoint(ckpt_file, config)
    if ckpt is not None:
        student.load_state_dict(ckpt["student"])
        teacher.load_state_dict(ckpt["teacher"])
        loss_fn.load_state_dict(ckpt["loss"])
        optimizer.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    resumed_from, elapsed_before = state["step"], state["elapsed"]

    def record(step: int) -> None:
        temp = teacher_temperature(step // steps_per_epoch, r["warmup_teacher_epochs"], r["warmup_teacher_temp"],
                                   r["teacher_temp"])
        state["monitor"].append({"step": step, **monitor(teacher, loss_fn, probe, temp, log_k, r["global_size"])})

    def save() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - started
        save_checkpoint(ckpt_file, {"config": config, "student": student.state_dict(),
                                    "teacher": teacher.state_dict(), "loss": loss_fn.state_dict(),
                                    "optimizer": optimizer.state_dict(), "rng": rng_state(), "state": state})

    if state["step"] == 0:
        record(0)
    student.train()
    teacher.train()
    bar = tqdm(total=total, initial=state["step"], disable=not progress, desc=f"DINO {entry['arch']}", unit="step")
    while state["step"] < total:
        step = state["step"]
        epoch, i = divmod(step, steps_per_epoch)
        sel = epoch_order(n, seed, epoch)[i * b:(i + 1) * b]
        x = images[sel].to(device).float().div(255)
        glob, loc = views(x, step_generator(seed, epoch, step))
        for group in optimizer.param_groups:
            group["lr"] = _lr(step, total, warmup, lr, r["min_lr"])
            group["weight_decay"] = (cosine_schedule(step, total, r["weight_decay"], r["weight_decay_end"])
                                     if group["apply_wd"] else 0.0)
        temp = teacher_temperature(epoch, r["warmup_teacher_epochs"], r["warmup_teacher_temp"], r["teacher_temp"])
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(r["amp"])):
            with torch.no_grad():
                t_logits = teacher(glob).float()
            s_logits = student(glob, loc).float()
        loss = loss_fn(s_logits, t_logits, temp)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"DINO loss is {float(loss)} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if r["clip_grad"]:
            nn.utils.clip_grad_norm_(student.parameters(), r["clip_grad"])
        if epoch < r["freeze_last_layer"]:
            student.head.prototypes.grad = None
        optimizer.step()
        ema_update(teacher, student, cosine_schedule(step, total, r["momentum"], 1.0))
        state["step"] = step + 1
        state["loss"].append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(epoch=epoch, loss=f"{state['loss'][-1]:.3f}")
        if state["step"] % r["log_every"] == 0 or state["step"] == total:
            record(state["step"])
        if state["step"] < total and (state["step"] % r["checkpoint_every"] == 0 or state["step"] == stop_after):
            save()
        if stop_after is not None and state["step"] >= stop_after and state["step"] < total:
            bar.close()
            return teacher.encoder.eval(), {"stopped": True, "step": state["step"], "total_steps": total}
    bar.close()
    state["elapsed"] = elapsed_before + time.perf_counter() - started
    curves = state["monitor"]
    result = {
        "stopped": False, "step": state["step"], "total_steps": total, "steps_per_epoch": steps_per_epoch,
        "resumed_from": resumed_from, "n_images": n, "seconds": state["elapsed"],
        "parameters": sum(p.numel() for p in student.encoder.parameters()), "lr": lr,
        "loss": state["loss"], "monitor": curves, "log_k": log_k,
        "entropy_fraction_range": [min(c["entropy_fraction"] for c in curves),
                                   max(c["entropy_fraction"] for c in curves)],
        "feature_std_ratio_min": min(c["feature_std"] for c in curves) / max(curves[0]["feature_std"], 1e-12),
        "recipe": config["recipe"],
    }
    return teacher.encoder.eval(), result

