"""Backbone facts needed before torch is imported (config checks): the kinds, the shapes of released weights and
the architecture and weight names timm / torchvision know (a snapshot: importing timm takes seconds)."""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path

from robust3d.models.ssl_weights import RELEASED_SSL, ssl_name

#: Backbone kinds (:data:`robust3d.models.backbones.BACKBONES` builds each).
KINDS = ("resnetext", "vit")
#: The ViT size keys a backbone entry may give (all or none: the arch's own).
VIT_SIZE_KEYS = ("depth", "embed_dim", "num_heads")


def vit_sizes(entry: dict) -> dict[str, int]:
    """The ViT sizes an entry gives (``depth``, ``embed_dim``, ``num_heads``), as ints; absent or null ones left out."""
    return {k: int(entry[k]) for k in VIT_SIZE_KEYS if entry.get(k) is not None}


#: Shapes of the DINOv2 ViTs with released weights (timm `<arch>.lvd142m`): depth, embed_dim, num_heads.
DINOV2_SHAPES = {
    "vit_small_patch14_dinov2": (12, 384, 6),
    "vit_base_patch14_dinov2": (12, 768, 12),
    "vit_large_patch14_dinov2": (24, 1024, 16),
    "vit_giant_patch14_dinov2": (40, 1536, 24),
}

#: Names a config may use, snapshotted from the pinned timm / torchvision (robust3d.devtools.backbone_names).
BACKBONE_NAMES_PATH = Path(__file__).with_name("backbone_names.json")
#: Architecture families each backbone kind builds (ResNet-style CNNs; patch-14 (DINOv2) and patch-16 (DINO) ViTs).
_FAMILIES = {"resnetext": ("resnet", "resnext", "wide_resnet", "seresnet", "seresnext"), "vit": ("vit_",)}
_VIT_PATCHES = ("patch14", "patch16")


def family_of(arch: str) -> str | None:
    """The backbone kind that can build ``arch`` (by name), or None."""
    for kind, prefixes in _FAMILIES.items():
        if arch.startswith(prefixes) and (kind != "vit" or any(p in arch for p in _VIT_PATCHES)):
            return kind
    return None


@functools.cache
def backbone_names() -> dict:
    return json.loads(BACKBONE_NAMES_PATH.read_text())


def unknown_architecture(arch: str) -> str | None:
    """Why timm cannot build ``arch`` (with the closest names), or None when it can."""
    known = backbone_names()["timm_architectures"]
    if arch in known:
        return None
    close = difflib.get_close_matches(arch, known, n=3)
    hint = f" (closest: {', '.join(close)})" if close else ""
    return f"timm {backbone_names()['timm']} has no architecture '{arch}'{hint}"


def unknown_weights(kind: str, arch: str, weights: str) -> str | None:
    """Why ``weights`` cannot be loaded into ``arch`` by name (``ssl:<name>``, the released self-supervised names of
    :mod:`robust3d.models.ssl_weights`, torchvision ``IMAGENET1K_V*`` names for ResNets, timm pretrained tags
    otherwise), or None when they can. ``ssl:`` weights are made by the pretrain rule, so they need not exist yet."""
    try:
        if ssl_name(weights) is not None:
            return None
    except ValueError as err:
        return str(err)
    released = RELEASED_SSL.get(weights)
    if released is not None:
        if (kind, arch) == (released.kind, released.arch):
            return None
        return f"'{weights}' are weights for {released.kind} '{released.arch}', not {kind} '{arch}'"
    names = backbone_names()
    if kind == "resnetext" and weights.startswith("IMAGENET1K_V"):
        allowed = names["torchvision_weights"].get(arch, [])
        if weights in allowed:
            return None
        return (f"torchvision has no weights '{weights}' for '{arch}'"
                + (f" (allowed: {', '.join(allowed)})" if allowed else " (use a timm tag instead)"))
    tag = f"{arch}.{weights}"
    if tag in names["timm_pretrained"]:
        return None
    tags = [t.split(".", 1)[1] for t in names["timm_pretrained"] if t.split(".")[0] == arch]
    return (f"timm {names['timm']} has no pretrained weights '{tag}'"
            + (f" (tags for {arch}: {', '.join(tags)})" if tags else f" (none for {arch})"))
