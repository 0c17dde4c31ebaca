"""Training a de-renderer (Unsup3D, optionally with LOOCC) or the VQ-VAE baseline on one training split.

A fixed number of epochs over the split less a held-out validation share (``val_fraction``), whose photometric
loss is measured before the first step and after every epoch (the paper's early stopping reads it; the embedded
default trains a fixed budget and only logs it). Resumable from ``<out>.ckpt`` (written after every epoch), and
deterministic given the seed: the batch order and every LOOCC draw come from ``(seed, epoch, step)``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from robust3d.data.io import atomic_path, write_json
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

WEIGHTS_FORMAT = "robust3d-derender-v1"


def split_validation(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): a fixed ``fraction`` of the split (at least one image) held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    k = max(1, int(round(fraction * n))) if fraction > 0 else 0
    return order[k:].sort().values, order[:k].sort().values


def build_model(family: str, settings: dict[str, Any], perceptual: str = "none") -> torch.nn.Module:
    """A fresh (seeded by the caller) de-renderer or VQ-VAE from its resolved settings."""
    if family == "vqvae":
        from robust3d.models.vqvae import VQCVAE

        return VQCVAE(d=int(settings["d"]), k=int(settings["k"]), size=int(settings["size"]))
    from robust3d.models.derender.model import Derenderer, DerenderSettings
    from robust3d.models.derender.perceptual import perceptual_loss

    return Derenderer(DerenderSettings(**settings), perceptual_loss(perceptual))


def _loss(model: torch.nn.Module, family: str, batch: torch.Tensor, generator: torch.Generator | None
          ) -> dict[str, torch.Tensor]:
    if family == "vqvae":
        out = model(batch)
        return {"total": out["loss"], "mse": out["mse"]}
    return model.losses(batch, generator)


@torch.no_grad()
def validation_loss(model: torch.nn.Module, family: str, images: torch.Tensor, batch_size: int) -> float:
    """Mean photometric (de-renderer) or MSE (VQ-VAE) loss on the held-out images, without LOOCC's draws."""
    if not len(images):
        return float("nan")
    model.eval()
    total = 0.0
    for start in range(0, len(images), batch_size):
        part = images[start:start + batch_size] * 2 - 1
        if family == "vqvae":
            total += float(model(part)["mse"]) * len(part)
        else:
            total += float(_photometric_only(model, part)) * len(part)
    model.train()
    return total / len(images)


def _photometric_only(model, part: torch.Tensor) -> torch.Tensor:
    from robust3d.models.derender.model import photometric_loss

    out = model.reconstruct(part)
    b = len(part)
    return photometric_loss(out["recon"][:b], part, out["mask"][:b], None)


def train(family: str, settings: dict[str, Any], train: dict[str, Any], images: torch.Tensor, out: str | Path,
          metrics: str | Path, seed: int, name: str, perceptual: str = "none", progress: bool = True,
          stop_after_epochs: int | None = None) -> dict[str, Any]:
    """Train on ``images`` (N, 3, S, S) in [0, 1]; write the weights to ``out`` and the record to ``metrics``."""
    from tqdm.auto import tqdm

    out, metrics = Path(out), Path(metrics)
    epochs, batch_size = int(train["epochs"]), int(train["batch_size"])
    run_config = {"family": family, "settings": settings, "train": train, "seed": seed, "perceptual": perceptual,
                  "n_images": len(images)}
    train_idx, val_idx = split_validation(len(images), float(train["val_fraction"]), seed)
    steps_per_epoch = max(1, len(train_idx) // batch_size)
    with training_settings(int(train["num_threads"])):
        torch.manual_seed(seed)
        model = build_model(family, settings, perceptual)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=float(train["lr"]), betas=(0.9, 0.999),
                                     weight_decay=float(train["weight_decay"]))
        ckpt_path = checkpoint_path(out)
        ckpt = load_checkpoint(ckpt_path, run_config)
        if ckpt is None:
            state = {"epoch": 0, "history": [], "seconds": 0.0, "cpu": 0.0,
                     "val_start": validation_loss(model, family, images[val_idx], batch_size)}
            resumed = None
        else:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            set_rng_state(ckpt["rng"])
            state, resumed = ckpt["state"], ckpt["state"]["epoch"]
        wall, cpu = time.perf_counter(), time.process_time()
        bar = tqdm(total=epochs * steps_per_epoch, initial=state["epoch"] * steps_per_epoch, disable=not progress,
                   desc=f"train {name}", unit="step")
        model.train()
        while state["epoch"] < epochs:
            epoch = state["epoch"]
            order = train_idx[epoch_order(len(train_idx), seed, epoch)]
            sums: dict[str, float] = {}
            for step in range(steps_per_epoch):
                batch = images[order[step * batch_size:(step + 1) * batch_size]] * 2 - 1
                if torch.rand(1, generator=step_generator(seed, epoch, step)).item() < 0.5:
                    batch = batch.flip(3)  # Unsup3D's random horizontal flip (training only)
                terms = _loss(model, family, batch, step_generator(seed + 1, epoch, step))
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
                for key, value in terms.items():
                    sums[key] = sums.get(key, 0.0) + float(value.detach())
                bar.update(1)
                bar.set_postfix(loss=f"{float(terms['total'].detach()):.4f}")
            state["epoch"] += 1
            state["history"].append({"epoch": state["epoch"], **{k: v / steps_per_epoch for k, v in sums.items()},
                                     "val": validation_loss(model, family, images[val_idx], batch_size)})
            state["seconds"] += time.perf_counter() - wall
            state["cpu"] += time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            save_checkpoint(ckpt_path, {"config": run_config, "model": model.state_dict(),
                                        "optimizer": optimizer.state_dict(), "rng": rng_state(), "state": state})
            if stop_after_epochs is not None and state["epoch"] >= stop_after_epochs and state["epoch"] < epochs:
                bar.close()
                return state
        bar.close()
    with atomic_path(out) as tmp:
        torch.save({"format": WEIGHTS_FORMAT, "family": family, "settings": settings, "perceptual": perceptual,
                    "state_dict": model.state_dict()}, tmp)
    history = state["history"]
    record = {"model": name, "family": family, "epochs": state["epoch"], "steps": state["epoch"] * steps_per_epoch,
              "batch_size": batch_size, "n_train": len(train_idx), "n_val": len(val_idx),
              "val_start": state["val_start"], "val_end": history[-1]["val"] if history else None,
              "final_loss": history[-1]["total"] if history else None, "train_seconds": state["seconds"],
              "train_cpu_seconds": state["cpu"], "resumed_from": resumed, "settings": settings,
              "perceptual": perceptual, "history": history}
    write_json(metrics, record)
    checkpoint_path(out).unlink(missing_ok=True)
    return record


def load_trained(path: str | Path) -> torch.nn.Module:
    """A trained de-renderer or VQ-VAE in eval mode (no perceptual network: inference never needs it)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; train it with pdr-train")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path} is not a de-rendering model ({WEIGHTS_FORMAT}); got {blob.get('format')}")
    model = build_model(blob["family"], blob["settings"], "none")
    state = {k: v for k, v in blob["state_dict"].items() if not k.startswith("perceptual.")}
    model.load_state_dict(state)
    return model.eval()
