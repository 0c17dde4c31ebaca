"""Unsup3D's perceptual loss: VGG16 relu3_3 features with confidence, or none (``pdr.perceptual``).

The choice is explicit, never taken from whatever happens to be cached: ``none`` (the embedded default; no
weights can be fetched here) or ``vgg16``, which loads torchvision's ``VGG16_Weights.IMAGENET1K_V1`` from the
torch hub cache and fails with what to fetch and where when it is missing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

PERCEPTUAL = ("none", "vgg16")
EPS = 1e-7


class VGGPerceptual(nn.Module):
    """``(f1 - f2)^2 / (2 sigma^2) + log sigma`` on relu3_3 (``features[:16]``), the mask average-pooled to the
    feature map's size (Unsup3D's ``PerceptualLoss``); frozen weights."""

    def __init__(self, state_dict: dict) -> None:
        super().__init__()
        import torchvision

        vgg = torchvision.models.vgg16()
        vgg.load_state_dict(state_dict)
        self.features = vgg.features[:16].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, sigma: torch.Tensor | None
                ) -> torch.Tensor:
        """``a, b`` (B, 3, H, W) in [-1, 1]; ``mask`` (B, H, W); ``sigma`` (B, 1, h, w) at relu3_3's size."""
        fa, fb = (self.features(((x + 1) / 2 - self.mean) / self.std) for x in (a, b))
        loss = (fa - fb) ** 2
        if sigma is not None:
            loss = loss / (2 * sigma ** 2 + EPS) + (sigma + EPS).log()
        small = F.adaptive_avg_pool2d(mask.unsqueeze(1), loss.shape[-2:]).expand_as(loss)
        return (loss * small).sum() / small.sum().clamp_min(EPS)


def perceptual_loss(kind: str) -> nn.Module | None:
    """The configured perceptual loss (None for ``none``)."""
    if kind not in PERCEPTUAL:
        raise ValueError(f"perceptual must be one of {PERCEPTUAL}, got {kind!r}")
    if kind == "none":
        return None
    from robust3d.models.backbones import _torchvision_state

    return VGGPerceptual(_torchvision_state("vgg16", "IMAGENET1K_V1"))
