"""The ``neural_mesh`` family's entry points for the model registry: ``train`` and ``predict``."""

from __future__ import annotations

from pathlib import Path

from robust3d.models.neural_mesh.train import train
from robust3d.models.spec import ModelSpec

__all__ = ["predict", "train"]


def predict(section: dict, spec: ModelSpec, checkpoint: Path, manifest: Path, out_csv: Path, *, device: str = "cpu",
            unseen: bool = False, progress: bool = True) -> None:
    """Classify and estimate poses for a split (render-and-compare; ``models.neural_mesh.predict``); the spec's
    ``pose_from`` (default ``predicted``; ``gt``: NeMo's protocol) says which class's mesh gives the pose."""
    from robust3d.models.neural_mesh.predict import predict as _predict

    return _predict(section, spec, checkpoint, manifest, out_csv, device=device, unseen=unseen, progress=progress,
                    pose_from=spec.options.get("pose_from", "predicted"))
