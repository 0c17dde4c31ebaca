"""Backbone facts needed before torch is imported (config checks): the kinds and the shapes of released weights."""

#: Backbone kinds (:data:`robust3d.models.backbones.BACKBONES` builds each).
KINDS = ("resnetext", "vit")
#: Shapes of the DINOv2 ViTs with released weights (timm `<arch>.lvd142m`): depth, embed_dim, num_heads.
DINOV2_SHAPES = {
    "vit_small_patch14_dinov2": (12, 384, 6),
    "vit_base_patch14_dinov2": (12, 768, 12),
    "vit_large_patch14_dinov2": (24, 1024, 16),
    "vit_giant_patch14_dinov2": (40, 1536, 24),
}
