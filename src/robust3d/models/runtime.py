"""The runtime every training and inference loop shares (depth U-Net, dual head, neural mesh): device resolution,
deterministic settings, sample order and per-step generators, RNG state, checkpoints.

A run's randomness is a function of ``(seed, epoch, step)`` (batch order, per-step draws), so a run resumed from
an epoch checkpoint replays exactly what an uninterrupted run does; the global RNG states are saved as well.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from robust3d.data.io import atomic_path, write_json

__all__ = ["Convergence", "checkpoint_path", "epoch_order", "load_checkpoint", "make_optimizer", "resolve_device",
           "rng_state", "save_checkpoint", "set_rng_state", "step_generator", "training_settings", "write_json"]


def resolve_device(device: str) -> torch.device:
    """``auto`` takes a GPU when torch sees one; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"config asks for device '{device}' but torch sees no GPU (use 'cpu' or 'auto')")
    return torch.device(device)


def rng_state() -> dict[str, Any]:
    """Global RNG states (numpy's global one is never used: every split draws from its own seeded Generator)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def training_settings(num_threads: int) -> Iterator[None]:
    """``num_threads`` CPU threads and deterministic kernels for one training run; the previous settings after.

    Without deterministic kernels, the backward pass of gathering features at vertex cells (advanced indexing)
    sums with atomic adds on the CPU, in whatever order the threads run: two runs of the same job differed after
    one epoch and ended up to 10 accuracy points apart after 12. ``warn_only``: an op without a deterministic
    version warns instead of failing; cuBLAS needs its workspace setting for determinism on a GPU.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(num_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def checkpoint_path(out: str | Path) -> Path:
    """``<out>.ckpt``: beside the declared output, never mistaken for it."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: a permutation fixed by ``(seed, epoch)``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def step_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    """A CPU generator for the random draws of one step (background cells, cross-class samples)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 100_003 + step)


def save_checkpoint(path: Path, blob: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if any; one written with another ``config`` is an error, not a silent restart."""
    if not path.exists():
        return None
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # RNG states must stay on the CPU
    if ckpt.get("config") != config:
        raise ValueError(f"checkpoint {path} was written with another configuration ({ckpt.get('config')}); "
                         "delete it to start over")
    return ckpt


@dataclass(frozen=True)
class Convergence:
    """Stop training when the calibration score (percent) gained less than ``min_gain`` points over the last
    ``patience`` evaluations: their best is below the best before them + ``min_gain``. ``None`` settings (the
    paper configs) train the fixed number of epochs."""

    patience: int = 3
    min_gain: float = 0.5

    @classmethod
    def of(cls, train: dict) -> Convergence | None:
        c = train.get("convergence")
        return None if c is None else cls(int(c.get("patience", 3)), float(c.get("min_gain", 0.5)))

    def reached(self, scores: list[float]) -> bool:
        if len(scores) <= self.patience:
            return False
        return max(scores[-self.patience:]) < max(scores[:-self.patience]) + self.min_gain


def make_optimizer(params, train: dict, steps_per_epoch: int
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The section's optimiser (``optimizer``: adam, or adamw as DINOv2 fine-tunes ViTs) and a per-step schedule:
    a linear warm-up over ``warmup_epochs`` epochs, then the constant ``lr`` (both in the checkpoint)."""
    lr, wd = float(train["lr"]), float(train["weight_decay"])
    kind = train.get("optimizer", "adam")
    if kind not in ("adam", "adamw"):
        raise ValueError(f"optimizer must be adam or adamw, got {kind!r}")
    optimizer = (torch.optim.AdamW if kind == "adamw" else torch.optim.Adam)(params, lr=lr, weight_decay=wd)
    warmup = max(int(round(float(train.get("warmup_epochs", 0)) * steps_per_epoch)), 0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup)
                                                 if warmup else 1.0)
    return optimizer, schedule
