"""Feature extractors of the neural mesh models and the dual-head baselines (timm architectures).

Both map RGB images in [0, 1] (``(B, 3, H, W)``; ImageNet mean/std normalisation happens inside) to a feature
map ``(B, D, h, w)`` that is NOT L2-normalised (callers normalise), and both carry ``stride``: the pixel
``(u, v)`` (column, row) falls in cell ``(floor(v / stride), floor(u / stride))`` and ``h = ceil(H / stride)``.

- ``resnetext`` (NeMo's ResNetExt): layers 2-4 of a timm ResNet (``features_only``, strides 8/16/32), two
  bilinear upsampling stages that concatenate the next-finer layer, a 1x1 projection to D: stride 8.
- ``vit``: a timm ViT (DINOv2-style patch 14, or patch 16 such as DINO's ViT-S/16); patch tokens reshaped to
  their grid and projected to D: stride = the patch size. The normalised image is zero-padded at the
  bottom/right to a multiple of the stride, so the cell map above holds exactly and the padding only adds cells
  past the image. With ``upsample: s`` (entry key; 1 by default) the image is first resized by ``s`` (bilinear),
  so a patch-14 ViT reads a finer grid of a small image (128 px x 1.75 = 224 px: a 16 x 16 grid, stride 14 / 1.75
  = 8 image pixels, the ResNetExt's) while keeping the released architecture; ``patch / s`` must be an integer.

Besides the feature map every backbone gives ``global_features(images) -> (B, global_dim)``: the standard
classification embedding of its architecture (a ResNet's pooled final stage, 2048-D for ResNet50; a ViT's class
token), which the dual-head baselines read (3D-CompNets Sec. 5.2: "pooled features + fc", "the CLS linear head").

``entry["weights"]``: ``None`` = random initialisation (the embedded default trains from scratch); otherwise
real weights by name:

- a torchvision weights name for ResNets (``IMAGENET1K_V1`` or ``ResNet50_Weights.IMAGENET1K_V1``);
- a timm pretrained tag (``tv_in1k``, ``lvd142m``, ...);
- ``ssl:<name>``: the project's own pretraining stage, ``<ssl_root>/pretrain/<name>/backbone.pt``;
- a released self-supervised checkpoint: ``dino_vits16`` (vit ``vit_small_patch16_224``, torch.hub
  ``facebookresearch/dino:main``) or ``moco_v2_800ep`` (resnetext ``resnet50``).

The last two are described in :mod:`robust3d.models.ssl_weights`. Weights the project loads itself are loaded
strictly (every tensor of the module, nothing else). Without network and without a cached copy the error says
which file to fetch and where to put it (for ``ssl:``, which command makes it).
"""

from __future__ import annotations

import math
import os
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from robust3d.models.backbone_shapes import KINDS, vit_sizes
from robust3d.models.ssl_weights import (
    RELEASED_SSL,
    WeightsUnavailable,
    load_ssl_weights,
    moco_to_torchvision,
    ssl_name,
    ssl_weights_path,
)

__all__ = ["BACKBONES", "KINDS", "PatchViT", "ResNetExt", "WeightsUnavailable", "build_backbone", "pooled"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _Normalize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """NeMo's DoubleConv: two 3x3 conv + BatchNorm + ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class _Backbone(nn.Module):
    """A feature extractor ``images (B, 3, H, W) in [0, 1] -> (B, D, H/stride, W/stride)``, float32 out.

    With ``amp`` its forward pass runs under bfloat16 autocast (on a GPU: about half the memory and time of the
    backbone); what follows it (normalisation, losses, banks, render-and-compare) stays in float32.
    """

    amp: bool = False

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return self.features(images).float()

    def global_features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, global_dim)``: the architecture's own image embedding (no projection to D)."""
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return self.embedding(images).float()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embedding(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    #: Modules only the feature map uses (dropped by :meth:`embedding_only`).
    dense_modules: tuple[str, ...] = ("head",)

    def embedding_only(self) -> _Backbone:
        """This backbone without the modules only its feature map uses (a classifier's backbone); ``forward`` then
        fails, ``global_features`` works."""
        for name in self.dense_modules:
            delattr(self, name)
        return self


class ResNetExt(_Backbone):
    """NeMo's ResNetExt on a timm ResNet: x4 -> DoubleConv -> up+cat(x3) -> up+cat(x2) -> 1x1 to D (stride 8).

    Channels follow NeMo for ResNet50 (2048/1024/512 -> 1024 -> 512 -> 256 -> D); the last decoder width is
    ``max(c2 // 2, D)`` so small ResNets do not squeeze the features below D dimensions.
    """

    stride = 8
    dense_modules = ("reduce", "up1", "up2", "head")

    def __init__(self, arch: str, feature_dim: int, weights: str | None = None, ssl_root: str = "results") -> None:
        super().__init__()
        import timm

        self.normalize = _Normalize()
        self.body = timm.create_model(arch, pretrained=False, features_only=True, out_indices=(2, 3, 4))
        if weights is not None:
            _load_resnet_weights(self.body, arch, weights, ssl_root)
        c2, c3, c4 = self.body.feature_info.channels()
        mid = max(c2 // 2, feature_dim)
        self.reduce = _double_conv(c4, c3)
        self.up1 = _double_conv(2 * c3, c2)
        self.up2 = _double_conv(2 * c2, mid)
        self.head = nn.Conv2d(mid, feature_dim, 1)
        self.global_dim = int(c4)

    def embedding(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalize(images))[-1].mean(dim=(-2, -1))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x2, x3, x4 = self.body(self.normalize(images))
        x = self.reduce(x4)
        x = F.interpolate(x, size=x3.shape[-2:], mode="bilinear", align_corners=True)
        x = self.up1(torch.cat([x, x3], 1))
        x = F.interpolate(x, size=x2.shape[-2:], mode="bilinear", align_corners=True)
        x = self.up2(torch.cat([x, x2], 1))
        return self.head(x)


class PatchViT(_Backbone):
    """A timm ViT: patch tokens -> grid ``(B, C, H/stride, W/stride)`` -> 1x1 projection to D.

    ``stride`` is in image pixels: the patch size over ``upsample`` (the factor the image is resized by first).
    """

    def __init__(self, arch: str, feature_dim: int, weights: str | None = None, ssl_root: str = "results",
                 upsample: float = 1.0, **overrides: int | None) -> None:
        super().__init__()
        self.normalize = _Normalize()
        self.vit = _vit_body(arch, weights, ssl_root, {k: int(v) for k, v in overrides.items() if v is not None})
        patch = int(self.vit.patch_embed.patch_size[0])
        self.upsample = float(upsample)
        self.patch = patch
        if self.upsample <= 0 or abs(patch / self.upsample - round(patch / self.upsample)) > 1e-9:
            raise ValueError(f"upsample {upsample} must divide the patch size {patch} into whole image pixels "
                             f"(e.g. {patch / 8:g} for stride 8)")
        self.stride = round(patch / self.upsample)
        self.global_dim = int(self.vit.embed_dim)
        self.head = nn.Conv2d(self.vit.embed_dim, feature_dim, 1)

    def _tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        """All tokens of the (resized, padded) image ``(B, prefix + gh * gw, C)`` and the grid ``gh, gw``."""
        x = self.normalize(images)
        h, w = x.shape[-2:]
        gh, gw = math.ceil(h / self.stride), math.ceil(w / self.stride)
        x = F.pad(x, (0, gw * self.stride - w, 0, gh * self.stride - h))  # bottom/right: cells stay floor(p/s)
        if self.upsample != 1.0:  # to exactly gh x gw patches (a scale factor could floor a pixel off)
            x = F.interpolate(x, size=(gh * self.patch, gw * self.patch), mode="bilinear", align_corners=False)
        return self.vit.forward_features(x), gh, gw

    def features(self, images: torch.Tensor) -> torch.Tensor:
        tokens, gh, gw = self._tokens(images)
        patches = tokens[:, self.vit.num_prefix_tokens:]
        grid = patches.transpose(1, 2).reshape(patches.shape[0], -1, gh, gw)
        return self.head(grid)

    def embedding(self, images: torch.Tensor) -> torch.Tensor:
        return self._tokens(images)[0][:, 0]  # the class token, after the final norm (DINOv2's linear head input)


def _resnetext(entry: dict, feature_dim: int, ssl_root: str) -> _Backbone:
    return ResNetExt(entry["arch"], feature_dim, entry.get("weights"), ssl_root)


def _vit(entry: dict, feature_dim: int, ssl_root: str) -> _Backbone:
    return PatchViT(entry["arch"], feature_dim, entry.get("weights"), ssl_root, float(entry.get("upsample", 1.0)),
                    **vit_sizes(entry))


#: Backbone kind (a ``backbones`` entry's ``kind``) -> its builder ``(entry, feature_dim, ssl_root) -> module``.
BACKBONES = {"resnetext": _resnetext, "vit": _vit}


def build_backbone(entry: dict, feature_dim: int, ssl_root: str = "results") -> nn.Module:
    """The feature extractor of a paper's ``backbones`` entry (``kind``, ``arch``, ``weights``, ViT sizes, ``amp``).

    ``ssl_root`` is the results folder that ``weights: ssl:<name>`` is read from (``<ssl_root>/pretrain/<name>``).
    """
    kind = entry.get("kind")
    if kind not in BACKBONES:
        raise ValueError(f"unknown backbone kind {kind!r} (allowed: {', '.join(BACKBONES)})")
    net = BACKBONES[kind](entry, feature_dim, ssl_root)
    net.amp = bool(entry.get("amp", False))
    return net


def pooled(features: torch.Tensor) -> torch.Tensor:
    """Global average ``(B, D, h, w) -> (B, D)``: the image embedding of the dual-head baselines."""
    return features.mean(dim=(-2, -1))


# ---------------------------------------------------------------------------------------------- real weights

def _vit_body(arch: str, weights: str | None, ssl_root: str, sizes: dict[str, int]) -> nn.Module:
    """The timm ViT of a vit entry with its weights: random, ``ssl:<name>``, a released checkpoint or a timm tag.

    The weights the project loads itself are read before the ViT is built, so a missing file fails at once.
    """
    import timm

    kwargs = {"dynamic_img_size": True, "num_classes": 0, **sizes}
    if weights is None:
        return timm.create_model(arch, pretrained=False, **kwargs)
    name = ssl_name(weights)
    if name is not None:
        state = load_ssl_weights(ssl_weights_path(ssl_root, name), "vit", arch, sizes)
    elif _released(weights, "vit"):
        state = _hub_state(weights)
    else:
        return _timm_pretrained(f"{arch}.{weights}", **kwargs)
    vit = timm.create_model(arch, pretrained=False, **kwargs)
    _load_exactly(vit, state, weights, arch)
    return vit


def _load_exactly(module: nn.Module, state: dict, weights: str, arch: str) -> None:
    """``module.load_state_dict(state, strict=True)``, failing in one line that says which tensors do not fit."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or extra or shapes:
        raise ValueError(f"weights '{weights}' do not fit {arch} as configured: missing {missing[:5]}, unexpected "
                         f"{extra[:5]}, other shapes {shapes[:3]} (check the arch and ViT sizes of the entry)")
    module.load_state_dict(state, strict=True)


def _released(weights: str, kind: str) -> bool:
    """Whether ``weights`` names a released self-supervised checkpoint (refused for the other backbone kind)."""
    rel = RELEASED_SSL.get(weights)
    if rel is not None and rel.kind != kind:
        raise ValueError(f"weights '{weights}' are for a {rel.kind} backbone ({rel.arch}), not {kind}")
    return rel is not None


def _one_line(err: BaseException) -> str:
    """``Type: message`` with any line breaks folded, so the error stays one line."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _hub_dir() -> str:
    import torch.hub

    return torch.hub.get_dir()


def _hub_state(weights: str) -> dict:
    """A released ViT's state dict via its torch.hub entry point (DINO: the repo's code plus its checkpoint)."""
    import torch.hub

    rel = RELEASED_SSL[weights]
    owner, repo_ref = rel.hub_repo.split("/")
    repo, ref = repo_ref.split(":")
    hub = _hub_dir()
    repo_dir = os.path.join(hub, f"{owner}_{repo}_{ref}")
    target = os.path.join(hub, "checkpoints", os.path.basename(rel.url))
    try:
        model = torch.hub.load(rel.hub_repo, rel.hub_model, trust_repo=True, skip_validation=True, verbose=False)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise WeightsUnavailable(
            f"cannot load '{weights}' = torch.hub.load('{rel.hub_repo}', '{rel.hub_model}') ({_one_line(err)}). "
            f"Offline? torch.hub needs both the repo and the checkpoint: fetch "
            f"https://github.com/{owner}/{repo}/archive/{ref}.zip and unpack it as {repo_dir}, and fetch {rel.url} "
            f"to {target} (the torch hub cache, which the same torch.hub.load fills when online; set TORCH_HOME to "
            "move it), or set the backbone's weights to null to train from scratch"
        ) from err
    return model.state_dict()


def _moco_state(weights: str) -> dict:
    """A released MoCo checkpoint's query encoder in torchvision names (see :func:`moco_to_torchvision`)."""

    return moco_to_torchvision(_hub_checkpoint(RELEASED_SSL[weights].url, f"the MoCo checkpoint '{weights}'"))


def _hub_checkpoint(url: str, what: str) -> dict:
    """``torch.hub.load_state_dict_from_url`` (cached under the hub's checkpoints/); offline without a cached copy
    -> :class:`WeightsUnavailable` naming the URL and the file to place."""
    import torch.hub

    target = os.path.join(_hub_dir(), "checkpoints", os.path.basename(url))
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, weights_only=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError
        raise WeightsUnavailable(
            f"cannot load {what} ({_one_line(err)}). Offline? Fetch {url} on a machine with network and place it "
            f"at {target} (the torch hub cache; set TORCH_HOME to move it), or set the backbone's weights to null "
            "to train from scratch"
        ) from err


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _timm_pretrained(name: str, **kwargs):
    """``timm.create_model(name, pretrained=True)``; offline without a cached copy -> :class:`WeightsUnavailable`."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001 - timm raises several types for unknown names
        cfg = None
    if cfg is None:
        arch = name.split(".")[0]
        raise ValueError(f"timm has no pretrained weights named '{name}' (see timm.list_pretrained('{arch}*'))")
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except (OSError, RuntimeError) as err:  # LocalEntryNotFoundError is an OSError; URLError too
        where = f"the Hugging Face repo '{cfg.hf_hub_id}'" if cfg.hf_hub_id else f"{cfg.url}"
        raise WeightsUnavailable(
            f"cannot load the pretrained weights '{name}' ({_one_line(err)}). Offline? Fetch {where} "
            f"on a machine with network (e.g. `hf download {cfg.hf_hub_id}`) and copy it into the "
            f"Hugging Face cache {_hf_cache_dir()} (set HF_HOME/HF_HUB_CACHE to point elsewhere), or set the "
            "backbone's weights to null to train from scratch"
        ) from err


def _load_resnet_weights(body: nn.Module, arch: str, weights: str, ssl_root: str = "results") -> None:
    """Load weights into a features_only ResNet: the project's ``ssl:<name>``, MoCo, or torchvision
    (``IMAGENET1K_V1``-style names) or timm (tag) ImageNet weights.

    timm's ResNet uses torchvision's parameter names, so torchvision state dicts load directly (minus ``fc``).
    """
    ssl = ssl_name(weights)
    if ssl is not None:
        _load_exactly(body, load_ssl_weights(ssl_weights_path(ssl_root, ssl), "resnetext", arch, {}), weights, arch)
        return
    if _released(weights, "resnetext"):
        _load_exactly(body, _moco_state(weights), weights, arch)
        return
    name = weights.split(".")[-1]
    if re.fullmatch(r"IMAGENET1K_V\d+", name):
        state = _torchvision_state(arch, name)
    else:
        state = _timm_pretrained(f"{arch}.{weights}", features_only=True, out_indices=(2, 3, 4)).state_dict()
    own = body.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"weights '{weights}' do not fit {arch}: missing {missing[:5]}")
    body.load_state_dict({k: state[k] for k in own})


def _torchvision_state(arch: str, name: str) -> dict:
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(arch)
    except ValueError as err:
        raise ValueError(f"torchvision has no weights for '{arch}' (use a timm tag instead)") from err
    if name not in enum.__members__:
        raise ValueError(f"torchvision {enum.__name__} has no '{name}' (allowed: {', '.join(enum.__members__)})")
    return _hub_checkpoint(enum[name].url, f"torchvision {enum.__name__}.{name}")
