"""The stored NTDM model: per class a deformable mesh (Psi, s) and its neural textures, a background bank and the
backbone; everything inference needs, in one file loadable with ``weights_only=True``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from robust3d.models.model_file import BackboneModelFile

FORMAT = "robust3d.ntdm/1"


@dataclass
class NTDMModel(BackboneModelFile):
    FORMAT: ClassVar[str] = FORMAT
    WHAT: ClassVar[str] = "NTDM model"
    TRAIN_HINT: ClassVar[str] = "robust3d ntdm-train"

    classes: list[str]
    meshes: list[dict]  # per class: deform.deform_state(DeformNet)
    cad_indices: list[list[int]]  # per class: the training CAD behind each latent dimension (one-hot k)
    textures: torch.Tensor  # (Y, b, d, q, q) unit along d
    background: torch.Tensor  # (N_b, d) unit
    backbone_entry: dict
    feature_dim: int
    stride: int
    texture: dict  # bins, bin_angle_deg, temperature (Eq. 5's T), size
    backbone_state: dict = field(repr=False)
    meta: dict = field(default_factory=dict)

    def bank(self, device: str | torch.device = "cpu"):
        """The :class:`~robust3d.models.ntdm.inference.TexturedMeshes` of this model."""
        from robust3d.models.ntdm.deform import deform_from_state
        from robust3d.models.ntdm.inference import TexturedMeshes
        from robust3d.render.uv import bin_rotations

        meshes = [deform_from_state(s).to(device).eval().requires_grad_(False) for s in self.meshes]
        return TexturedMeshes(self.classes, meshes, self.textures.to(device), self.background.to(device),
                              bin_rotations(int(self.texture["bins"]), float(self.texture["bin_angle_deg"])).to(device),
                              float(self.texture["temperature"]))
