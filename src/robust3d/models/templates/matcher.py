"""Local feature extractors for template matching: a backbone's cell features and TraM3D's descriptor head.

- ViT (TraM3D ``lib/models/vit.py``): the final-norm patch tokens -> BatchNorm1d over all tokens -> Linear to the
  descriptor -> LayerNorm -> the token grid ``(B, descriptor, H / 16, W / 16)``; the patch embedding can be frozen
  (TraM3D's ``PatchEmbed.forward`` runs under ``no_grad``).
- ResNet (template-pose ``lib/models/resnet.py``): a cell map, then the projector ``ReLU -> 1x1 conv to 256 -> ReLU
  -> 1x1 conv to the descriptor``. ``layout: template_pose`` is template-pose's (no max-pool, layer4 at stride 1:
  output stride 8, 28 x 28 at 224 px); ``layout: layer3`` stops after layer3 (stride 16, the embedded default's
  8 x 8 grid at 128 px, the ViT's).
- ``head: none`` returns the backbone's raw cells (the "frozen, no head" rows).

The backbone comes from :func:`robust3d.models.backbones.build_backbone` with its real weight names (``ssl:<name>``,
``dino_vits16``, ``moco_v2_800ep``, ...), so the matcher starts from exactly what the pretraining stage or the
released checkpoint holds. Images are ``(B, 3, H, W)`` in [0, 1]; ImageNet normalisation happens inside.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

HEADS = ("local", "none")
RESNET_LAYOUTS = ("layer3", "template_pose")


class _VitCells(nn.Module):
    """A :class:`~robust3d.models.backbones.PatchViT`'s final-norm patch tokens ``(B, h * w, C)`` and the grid."""

    def __init__(self, entry: dict, ssl_root: str) -> None:
        super().__init__()
        from robust3d.models.backbones import build_backbone

        self.net = build_backbone(entry, 1, ssl_root).embedding_only()  # drop the unused 1x1 projection
        self.dim = int(self.net.vit.embed_dim)
        self.stride = int(self.net.stride)

    def freeze_patch_embedding(self) -> None:
        for p in self.net.vit.patch_embed.parameters():
            p.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        tokens, gh, gw = self.net._tokens(images)
        return tokens[:, self.net.vit.num_prefix_tokens:], gh, gw


class _ResNetCells(nn.Module):
    """A timm ResNet's cell map up to layer3 (stride 16) or template-pose's stride-8 layer4 ``(B, C, h, w)``."""

    def __init__(self, entry: dict, ssl_root: str) -> None:
        super().__init__()
        from robust3d.models.backbones import build_backbone

        layout = entry.get("layout", "layer3")
        if layout not in RESNET_LAYOUTS:
            raise ValueError(f"resnet layout must be one of {', '.join(RESNET_LAYOUTS)}, got {layout!r}")
        net = build_backbone({k: v for k, v in entry.items() if k != "layout"}, 1, ssl_root).embedding_only()
        self.normalize, self.body = net.normalize, net.body  # a timm FeatureListNet: a ModuleDict of the stages
        self.layout = layout
        names = list(self.body.keys())
        self.stages = names[:names.index("layer3") + 1] if layout == "layer3" else names
        if layout == "template_pose":
            self.stages = [n for n in self.stages if n != "maxpool"]
            _unstride(self.body["layer4"])
        channels = dict(zip(("layer2", "layer3", "layer4"), net.body.feature_info.channels(), strict=True))
        self.dim = int(channels[self.stages[-1]])
        self.stride = 16 if layout == "layer3" else 8

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.normalize(images)
        for name in self.stages:
            x = self.body[name](x)
        return x


def _unstride(layer: nn.Module) -> None:
    """A ResNet stage at stride 1 (template-pose's ``layer4``): its first block's strided conv and downsample."""
    for module in layer.modules():
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (1, 1)


class TemplateMatcher(nn.Module):
    """``images (B, 3, H, W) -> local descriptors (B, D, h, w)`` (not normalised; the similarity normalises cells).

    ``entry``: a backbone entry (``kind``, ``arch``, ``weights``, ViT sizes, ResNet ``layout``); ``head``: ``local``
    (TraM3D's / template-pose's descriptor head, new weights) or ``none`` (raw backbone cells); ``descriptor``: D.
    """

    def __init__(self, entry: dict, head: str = "local", descriptor: int = 32, ssl_root: str = "results",
                 freeze_patch_embedding: bool = True) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
        self.kind = entry["kind"]
        self.head_kind = head
        if self.kind == "vit":
            self.cells = _VitCells(entry, ssl_root)
            if freeze_patch_embedding:
                self.cells.freeze_patch_embedding()
            if head == "local":
                self.norm_in = nn.BatchNorm1d(self.cells.dim)
                self.proj = nn.Linear(self.cells.dim, descriptor)
                self.norm_out = nn.LayerNorm(descriptor)
                nn.init.trunc_normal_(self.proj.weight, std=0.02)
                nn.init.zeros_(self.proj.bias)
        elif self.kind == "resnetext":
            self.cells = _ResNetCells(entry, ssl_root)
            if head == "local":
                self.projector = nn.Sequential(nn.ReLU(), nn.Conv2d(self.cells.dim, 256, 1), nn.ReLU(),
                                               nn.Conv2d(256, descriptor, 1))
                for m in self.projector.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                        nn.init.zeros_(m.bias)
        else:
            raise ValueError(f"template matching needs a vit or resnetext backbone, got kind {self.kind!r}")
        self.stride = self.cells.stride
        self.descriptor = descriptor if head == "local" else self.cells.dim
        self.amp = bool(entry.get("amp", False))

    def grid(self, size: tuple[int, int]) -> tuple[int, int]:
        """The feature grid ``(h, w)`` of an image of ``size`` ``(H, W)``."""
        return -(-size[0] // self.stride), -(-size[1] // self.stride)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """With ``amp`` the backbone runs under bfloat16 autocast (the head and the output stay float32)."""
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
            cells = self.cells(images)
        if self.kind == "vit":
            tokens, gh, gw = cells[0].float(), cells[1], cells[2]
            if self.head_kind == "local":
                b, n, c = tokens.shape
                tokens = self.norm_in(tokens.reshape(b * n, c)).reshape(b, n, c)
                tokens = self.norm_out(self.proj(tokens))
            return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, gh, gw)
        x = cells.float()
        return self.projector(x) if self.head_kind == "local" else x


def build_matcher(spec: dict[str, Any], backbones: dict[str, dict], ssl_root: str) -> TemplateMatcher:
    """The matcher of a ``templates.models`` entry (``backbone``, ``head``, ``descriptor``) over the config's
    ``templates.backbones``."""
    entry = backbones[spec["backbone"]]
    return TemplateMatcher(entry, spec.get("head", "local"), int(spec.get("descriptor", 32)), ssl_root,
                           bool(entry.get("freeze_patch_embedding", True)))
