"""Nuisance variants of a split: occlusion, ImageNet-C 2D corruptions, depth-aware ImageNet-3DCC corruptions, styles.

This module stays import-light (no numpy/torch): the workflow and the table plans read :func:`variant_pairs`.
"""

from __future__ import annotations


def variant_pairs(variants_cfg: dict) -> list[tuple[str, str]]:
    """(variant, level) pairs the `variants` section builds (both occlusion variants' levels, corruptions, styles at
    level 1)."""
    pairs = [(name, level) for name in ("occlusion", "occlusion_pascal3d")
             for level in variants_cfg.get(name, {}).get("levels", {})]
    for key in ("corruptions", "corruptions_3d"):
        pairs += [(name, str(sev)) for name in variants_cfg[key]["names"] for sev in variants_cfg[key]["severities"]]
    pairs += [(style, "1") for style in variants_cfg["styles"]]
    return pairs
