"""InfoNCE fine-tuning of a template matcher on (query, positive template, template mask) triples.

Two schedules, as the reference code trains each backbone:

- ``adamw`` (TraM3D's ViT): AdamW, per-step cosine learning rate ``lr -> final_lr`` after a linear warm-up of
  ``warmup_steps``, and per-step cosine weight decay ``weight_decay -> final_weight_decay`` (DINO's recipe);
- ``adam`` (template-pose's ResNet-50): Adam with L2 ``weight_decay``, a linear warm-up over ``warmup_steps``, then
  the constant ``lr`` (its milestones start at epoch 20, past the embedded run).

Each epoch ends with a checkpoint (``<out>.ckpt``: model, optimiser, RNG, the epoch's records) so a killed job
resumes where it stopped and replays exactly; batch order is a function of ``(seed, epoch)``. An optional
``evaluate(model, epoch)`` callback scores the model after every epoch (the reference's per-epoch test, from
which it keeps the best value per metric): its results go into the record beside the loss.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from robust3d.models.runtime import (
    checkpoint_path,
    epoch_order,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    training_settings,
    write_json,
)
from robust3d.models.templates.similarity import info_nce

SCHEDULES = ("adamw", "adam")


def cosine(start: float, end: float, step: int, total: int) -> float:
    """DINO's cosine schedule value at ``step`` of ``total`` (``start`` at 0, ``end`` at the last step)."""
    if total <= 1:
        return start
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * step / (total - 1)))


class Schedule:
    """The optimiser of a ``templates.schedules`` entry and its per-step learning rate and weight decay."""

    def __init__(self, params, schedule: dict[str, Any], total_steps: int) -> None:
        kind = schedule["optimizer"]
        if kind not in SCHEDULES:
            raise ValueError(f"schedule optimizer must be one of {', '.join(SCHEDULES)}, got {kind!r}")
        self.kind, self.s, self.total = kind, schedule, total_steps
        cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
        self.optimizer = cls(params, lr=float(schedule["lr"]), weight_decay=float(schedule["weight_decay"]))

    def values(self, step: int) -> tuple[float, float]:
        """(lr, weight decay) of global step ``step``."""
        s = self.s
        lr, wd = float(s["lr"]), float(s["weight_decay"])
        warmup = int(s.get("warmup_steps", 0))
        if self.kind == "adamw":
            lr = cosine(lr, float(s.get("final_lr", lr)), max(step - warmup, 0), max(self.total - warmup, 1))
            wd = cosine(wd, float(s.get("final_weight_decay", wd)), step, self.total)
        if warmup and step < warmup:
            lr = lr * (step + 1) / warmup
        return lr, wd

    def step(self, step: int) -> tuple[float, float]:
        lr, wd = self.values(step)
        for group in self.optimizer.param_groups:
            group["lr"], group["weight_decay"] = lr, wd
        return lr, wd


def finetune(model: torch.nn.Module, queries: torch.Tensor, positives: torch.Tensor, masks: torch.Tensor,
             schedule: dict[str, Any], seed: int, out: str | Path, record: str | Path, *, temperature: float = 0.1,
             num_threads: int = 1, run_config: dict | None = None, name: str = "",
             evaluate: Callable[[torch.nn.Module, int], dict] | None = None, progress: bool = True,
             record_extra: dict | None = None) -> dict:
    """Fine-tune ``model`` with InfoNCE on uint8 ``queries`` / ``positives`` ``(N, 3, H, W)`` and the positives'
    cell masks ``(N, h, w)``; write the weights to ``out`` and the record (per-epoch loss, lr, seconds and the
    ``evaluate`` results, and ``record_extra``) to ``record``. Returns the record."""
    from tqdm.auto import tqdm

    epochs, batch = int(schedule["epochs"]), int(schedule["batch_size"])
    n = queries.shape[0]
    if n < 2 or batch < 2:
        raise ValueError(f"InfoNCE needs at least 2 queries and a batch of 2 (got {n} queries, batch {batch})")
    steps_per_epoch = n // batch if n >= batch else 1  # the last partial batch is dropped, as a DataLoader would
    run_config = {"schedule": dict(schedule), "temperature": temperature, "seed": seed, "n": n,
                  **(run_config or {})}
    with training_settings(num_threads):
        torch.manual_seed(seed)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = Schedule(params, schedule, epochs * steps_per_epoch)
        ckpt_path = checkpoint_path(out)
        ckpt = load_checkpoint(ckpt_path, run_config)
        epochs_done: list[dict] = []
        start = 0
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.optimizer.load_state_dict(ckpt["optimizer"])
            set_rng_state(ckpt["rng"])
            epochs_done, start = list(ckpt["epochs"]), int(ckpt["epoch"])
        bar = tqdm(total=epochs * steps_per_epoch, initial=start * steps_per_epoch, disable=not progress,
                   desc=f"finetune {name}", unit="step")
        for epoch in range(start, epochs):
            model.train()
            t0, cpu0 = time.perf_counter(), time.process_time()
            order = epoch_order(n, seed, epoch)
            losses = []
            for k in range(steps_per_epoch):
                idx = order[k * batch:(k + 1) * batch] if n >= batch else order
                lr, wd = opt.step(epoch * steps_per_epoch + k)
                q = model(queries[idx].float() / 255.0)
                t = model(positives[idx].float() / 255.0)
                loss = info_nce(q, t, masks[idx], temperature)
                opt.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                opt.optimizer.step()
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
            entry = {"epoch": epoch + 1, "loss": float(sum(losses) / len(losses)), "lr": lr, "weight_decay": wd,
                     "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - cpu0}
            if evaluate is not None:
                model.eval()
                entry["evaluation"] = evaluate(model, epoch + 1)
            epochs_done.append(entry)
            save_checkpoint(ckpt_path, {"config": run_config, "model": model.state_dict(),
                                        "optimizer": opt.optimizer.state_dict(), "rng": rng_state(),
                                        "epochs": epochs_done, "epoch": epoch + 1})
        bar.close()
    model.eval()
    from robust3d.data.io import atomic_path

    with atomic_path(out) as tmp:
        torch.save(model.state_dict(), tmp)
    result = {"model": name, "epochs": epochs_done, "steps_per_epoch": steps_per_epoch, "n_queries": n,
              "seconds": sum(e["seconds"] for e in epochs_done), "config": run_config, **(record_extra or {})}
    write_json(record, result)
    checkpoint_path(out).unlink(missing_ok=True)
    return result
