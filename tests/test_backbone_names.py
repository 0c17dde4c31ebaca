"""The snapshot of timm / torchvision names that config checks use (no timm import) matches the installed libraries."""

from __future__ import annotations

from robust3d.devtools.backbone_names import collect
from robust3d.models.backbone_shapes import backbone_names, family_of


def test_snapshot_equals_the_installed_libraries():
    """Fails after a timm or torchvision upgrade: rerun `python -m robust3d.devtools.backbone_names`."""
    assert backbone_names() == collect()


def test_families_cover_the_configured_architectures():
    names = backbone_names()
    for arch in ("resnet18", "resnet50", "vit_small_patch14_dinov2", "vit_base_patch14_dinov2"):
        assert arch in names["timm_architectures"] and family_of(arch)
    assert family_of("vit_small_patch16_224") == "vit"  # DINO's ViT-S/16 (weights: dino_vits16)
    assert family_of("vit_base_patch32_224") is None and family_of("convnext_tiny") is None
    assert "vit_base_patch14_dinov2.lvd142m" in names["timm_pretrained"]
    assert "IMAGENET1K_V1" in names["torchvision_weights"]["resnet50"]
