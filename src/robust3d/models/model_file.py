"""What the stored render-and-compare models share (neural meshes, NTDM): one dataclass in one ``torch.save`` file
that ``weights_only=True`` reads back, written atomically, tagged with its format, holding its backbone's weights."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import ClassVar, TypeVar

import torch
import torch.nn as nn

from robust3d.data.io import atomic_path

M = TypeVar("M", bound="BackboneModelFile")


class BackboneModelFile:
    """Mixin for a dataclass with ``backbone_entry``, ``feature_dim`` and ``backbone_state`` fields.

    Subclasses set ``FORMAT`` (the tag ``load`` checks), ``WHAT`` (the model's name in errors) and ``TRAIN_HINT``
    (the command that writes one)."""

    FORMAT: ClassVar[str] = ""
    WHAT: ClassVar[str] = "model"
    TRAIN_HINT: ClassVar[str] = ""

    def save(self, path: str | Path) -> None:
        """Write atomically (a killed job never leaves a file that looks complete)."""
        blob = asdict(self)  # type: ignore[call-overload]
        blob["backbone_state"] = {k: v.detach().cpu() for k, v in self.backbone_state.items()}  # type: ignore[attr-defined]
        blob["format"] = self.FORMAT
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)

    @classmethod
    def load(cls: type[M], path: str | Path, map_location: str | torch.device = "cpu") -> M:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{cls.WHAT} {path} does not exist; train it with `{cls.TRAIN_HINT}`")
        blob = torch.load(path, map_location=map_location, weights_only=True)
        if blob.pop("format", None) != cls.FORMAT:
            raise ValueError(f"{path} is not a {cls.WHAT} ({cls.FORMAT})")
        return cls(**blob)

    def build_backbone(self) -> nn.Module:
        """The trained feature extractor in eval mode (built without fetching pretrained weights)."""
        from robust3d.models.backbones import build_backbone

        net = build_backbone({**self.backbone_entry, "weights": None}, self.feature_dim)  # type: ignore[attr-defined]
        net.load_state_dict(self.backbone_state)  # type: ignore[attr-defined]
        return net.eval()
