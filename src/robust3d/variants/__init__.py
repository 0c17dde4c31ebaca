"""Nuisance variants of a split: occlusion, ImageNet-C 2D corruptions, depth-aware ImageNet-3DCC corruptions, styles.

This module stays import-light (no numpy/torch): the workflow and the table plans read :func:`variant_pairs`.
"""

from __future__ import annotations


def variant_groups(variants_cfg: dict) -> dict[str, list[tuple[str, str]]]:
    """The (variant, level) pairs the `variants` section builds, by config key: ``occlusion``,
    ``occlusion_pascal3d``, ``corruptions``, ``corruptions_3d``, ``styles`` (styles at level 1). Empty groups are
    left out. One job builds a group: its config section is one unit, and each job's imports cost seconds."""
    groups = {name: [(name, level) for level in variants_cfg.get(name, {}).get("levels", {})]
              for name in ("occlusion", "occlusion_pascal3d")}
    for key in ("corruptions", "corruptions_3d"):
        groups[key] = [(name, str(sev)) for name in variants_cfg[key]["names"]
                       for sev in variants_cfg[key]["severities"]]
    groups["styles"] = [(style, "1") for style in variants_cfg["styles"]]
    return {key: pairs for key, pairs in groups.items() if pairs}


def variant_pairs(variants_cfg: dict) -> list[tuple[str, str]]:
    """(variant, level) pairs the `variants` section builds, in :func:`variant_groups`' order."""
    return [pair for pairs in variant_groups(variants_cfg).values() for pair in pairs]
