"""Config checks of one backbone entry (``kind``, ``arch``, ``weights``, ViT sizes), shared by every stage that
builds backbones (the pretraining stage, each paper). Without torch or timm: names come from the snapshot in
:mod:`robust3d.models.backbone_shapes`."""

from __future__ import annotations

from typing import Any

from robust3d.errors import ConfigError
from robust3d.models.backbone_shapes import (
    DINOV2_SHAPES,
    VIT_SIZE_KEYS,
    family_of,
    unknown_architecture,
    unknown_weights,
)
from robust3d.models.ssl_weights import ssl_name

__all__ = ["VIT_SIZE_KEYS", "check_backbone_entry", "check_ssl_source"]

def check_backbone_entry(key: str, entry: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming ``key`` (the entry's config path) when the entry cannot be built."""
    given = [k for k in VIT_SIZE_KEYS if k in entry]
    weights = entry.get("weights")
    if entry["kind"] == "resnetext":
        if given:
            raise ConfigError(f"key '{key}.{given[0]}': only vit backbones take {', '.join(VIT_SIZE_KEYS)}")
        if entry.get("upsample") not in (None, 1, 1.0):
            raise ConfigError(f"key '{key}.upsample': only vit backbones resize their input (a ResNetExt has stride 8)")
        if not entry["arch"].startswith("resnet"):
            raise ConfigError(f"key '{key}.arch': resnetext needs a ResNet architecture (resnet18, resnet50, ...), "
                              f"got '{entry['arch']}'")
        _check_names(key, entry)
        return
    if family_of(entry["arch"]) != "vit":
        raise ConfigError(f"key '{key}.arch': vit backbones are patch-14 (DINOv2) or patch-16 (DINO) ViTs, "
                          f"got '{entry['arch']}'")
    if given and len(given) != len(VIT_SIZE_KEYS):
        missing = next(k for k in VIT_SIZE_KEYS if k not in entry)
        raise ConfigError(f"key '{key}.{missing}': give all of {', '.join(VIT_SIZE_KEYS)} or none (the arch's own)")
    if given and entry["embed_dim"] % entry["num_heads"]:
        raise ConfigError(f"key '{key}.num_heads': {entry['num_heads']} does not divide embed_dim {entry['embed_dim']}")
    _check_names(key, entry)
    _check_upsample(key, entry)
    known = DINOV2_SHAPES.get(entry["arch"])
    released = weights is not None and ssl_name(weights) is None  # ssl: weights have the pretrained entry's sizes
    if released and given and known and tuple(entry[k] for k in VIT_SIZE_KEYS) != known:
        raise ConfigError(f"key '{key}.depth': pretrained {entry['arch']} weights need depth, embed_dim, num_heads "
                          f"= {known}, got {tuple(entry[k] for k in VIT_SIZE_KEYS)}")


def _check_names(key: str, entry: dict[str, Any]) -> None:
    """timm can build the architecture and the weights exist by name (checked before any job, without timm)."""
    why = unknown_architecture(entry["arch"])
    if why:
        raise ConfigError(f"key '{key}.arch': {why}")
    weights = entry.get("weights")
    why = unknown_weights(entry["kind"], entry["arch"], weights) if weights is not None else None
    if why:
        raise ConfigError(f"key '{key}.weights': {why}")


def _check_upsample(key: str, entry: dict[str, Any]) -> None:
    """``patch / upsample`` must be whole image pixels: the feature cells are the image's ``stride``-pixel squares."""
    factor = entry.get("upsample")
    if factor is None:
        return
    patch = 14 if "patch14" in entry["arch"] else 16
    stride = patch / float(factor)
    if abs(stride - round(stride)) > 1e-9:
        whole = ", ".join(f"{patch / s:g} (stride {s})" for s in (8, patch // 2, patch))
        raise ConfigError(f"key '{key}.upsample': {factor} makes {stride:g}-pixel cells of a patch-{patch} ViT; "
                          f"use a factor giving whole pixels: {whole}")


def check_ssl_source(key: str, entry: dict[str, Any], pretrained: dict[str, dict[str, Any]]) -> None:
    """A ``weights: ssl:<name>`` entry needs ``pretrain.backbones.<name>`` of the same kind, arch and ViT sizes (the
    stage's weights load strictly): said before any job runs, not when a training job first opens the file."""
    weights = entry.get("weights")
    name = ssl_name(weights) if weights is not None else None
    if name is None:
        return
    if name not in pretrained:
        raise ConfigError(f"key '{key}.weights': '{weights}' needs pretrain.backbones.{name} (the pretraining stage "
                          f"makes it; configured: {', '.join(pretrained) or 'none'})")
    source = pretrained[name]
    ours = (entry["kind"], entry["arch"], *(entry.get(k) for k in VIT_SIZE_KEYS))
    theirs = (source["kind"], source["arch"], *(source.get(k) for k in VIT_SIZE_KEYS))
    if ours != theirs:
        fields = ("kind", "arch", *VIT_SIZE_KEYS)
        diff = ", ".join(f"{f} {a} vs {b}" for f, a, b in zip(fields, ours, theirs, strict=True) if a != b)
        raise ConfigError(f"key '{key}.weights': '{weights}' was pretrained as another architecture ({diff}); give "
                          f"this entry pretrain.backbones.{name}'s kind, arch and sizes")
