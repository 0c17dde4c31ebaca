"""The ``neural_mesh`` family's entry points for the model registry: ``train`` and ``predict``."""

from __future__ import annotations

from pathlib import Path

from robust3d.models.neural_mesh.train import train
from robust3d.models.registry import ModelSpec

__all__ = ["predict", "train"]


def predict(cfg: dict, spec: ModelSpec, checkpoint: Path, manifest: Path, out_csv: Path, *,
            unseen: bool = False) -> None:
    """Classify and estimate poses for a split (render-and-compare; ``models.neural_mesh.predict``)."""
    from robust3d.models.neural_mesh.predict import predict as _predict

    return _predict(cfg, spec, checkpoint, manifest, out_csv, unseen=unseen)
