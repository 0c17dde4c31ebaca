"""The network a pretraining run trains: exactly the timm module a paper's backbone wraps, plus its pooled output.

``body`` is the module whose state dict the stage saves and :func:`robust3d.models.backbones.build_backbone`
loads for ``weights: ssl:<name>``: for ``vit`` the timm ViT of :class:`~robust3d.models.backbones.PatchViT`
(``num_classes=0``, ``dynamic_img_size``), for ``resnetext`` the ``features_only`` timm ResNet of
:class:`~robust3d.models.backbones.ResNetExt` (strides 8/16/32). The pooled feature is what DINO trains and
evaluates: the class token of a ViT, the global average of a ResNet's last stage.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from robust3d.models.backbones import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["SSLEncoder"]


def _set_layer_scales(vit: nn.Module, value: float) -> None:
    """Every LayerScale ``gamma`` of a timm ViT filled with ``value`` (none when the arch has no LayerScale)."""
    with torch.no_grad():
        for name, param in vit.named_parameters():
            if name.endswith((".ls1.gamma", ".ls2.gamma")):
                param.fill_(value)


class SSLEncoder(nn.Module):
    """``images (B, 3, H, W) in [0, 1]`` -> pooled ``(B, C)``; :meth:`grid` gives the last feature map ``(B, C, h, w)``.

    ViT inputs are zero-padded at the bottom/right to a multiple of the patch size, as ``PatchViT`` does.
    ``layer_scale_init`` replaces a DINOv2 ViT's LayerScale initialisation (1e-5): with it every block starts as
    nearly the identity, every image maps to about the same class token, and a short DINO run spends its steps
    growing the scales. The value only sets the starting weights of the scales the architecture has; the
    architecture (and state dict) is unchanged, and a ViT without LayerScale (DINO's ViT-S/16) gets none.
    """

    def __init__(self, kind: str, arch: str, sizes: dict[str, int] | None = None,
                 layer_scale_init: float | None = None) -> None:
        super().__init__()
        import timm

        self.kind, self.arch = kind, arch
        self.sizes = {k: int(v) for k, v in (sizes or {}).items() if v is not None}
        if kind == "vit":
            self.body = timm.create_model(arch, pretrained=False, dynamic_img_size=True, num_classes=0,
                                          **self.sizes)
            if layer_scale_init is not None:
                _set_layer_scales(self.body, float(layer_scale_init))
            self.stride = int(self.body.patch_embed.patch_size[0])
            self.dim = int(self.body.embed_dim)
        elif kind == "resnetext":
            if self.sizes:
                raise ValueError(f"a resnetext backbone takes no ViT sizes, got {sorted(self.sizes)}")
            self.body = timm.create_model(arch, pretrained=False, features_only=True, out_indices=(2, 3, 4))
            self.stride = 32
            self.dim = int(self.body.feature_info.channels()[-1])
        else:
            raise ValueError(f"unknown backbone kind {kind!r} (allowed: vit, resnetext)")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _tokens(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        h, w = x.shape[-2:]
        gh, gw = math.ceil(h / self.stride), math.ceil(w / self.stride)
        x = F.pad(x, (0, gw * self.stride - w, 0, gh * self.stride - h))
        return self.body.forward_features(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pooled_and_grid(images)[0]

    def grid(self, images: torch.Tensor) -> torch.Tensor:
        """The last feature map: ViT patch tokens on their grid, or the ResNet's stride-32 stage."""
        return self.pooled_and_grid(images)[1]

    def pooled_and_grid(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both of one forward pass: pooled ``(B, C)`` and the last feature map ``(B, C, h, w)``."""
        if self.kind == "vit":
            tokens = self._tokens(images)
            patches = tokens[:, self.body.num_prefix_tokens:]
            gh = math.ceil(images.shape[-2] / self.stride)
            return tokens[:, 0], patches.transpose(1, 2).reshape(patches.shape[0], patches.shape[2], gh, -1)
        last = self.body((images - self.mean) / self.std)[-1]
        return last.mean(dim=(-2, -1)), last
