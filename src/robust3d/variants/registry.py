"""Nuisance variants by name, and building a variant of a whole split in the shared sample format.

A variant maps a clean sample to a new image (and, for occlusion, an occluder mask and a smaller visible
mask). The variant's manifest points back at the clean split's annotations, depth and amodal masks, so
nothing but the changed files is copied.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from robust3d.data.format import read_manifest
from robust3d.data.io import atomic_dir, atomic_path, read_image, read_mask, read_npy, write_image, write_mask


@dataclass
class Sample:
    sample_id: str
    image: np.ndarray  # (H, W, 3) uint8
    mask_amodal: np.ndarray | None
    mask_visible: np.ndarray | None
    depth: np.ndarray | None


@dataclass
class Changed:
    image: np.ndarray
    occluder_mask: np.ndarray | None = None
    stats: dict | None = None  # per-sample measurements written to the manifest (e.g. occluded shares)


@dataclass(frozen=True)
class Variant:
    """``apply(sample, level, rng, context) -> Changed``; ``levels`` lists the valid level names."""

    name: str
    kind: str  # occlusion | corruption2d | corruption3d | style
    levels: tuple[str, ...]
    apply: Callable[[Sample, str, np.random.Generator, dict], Changed]
    needs_depth: bool = False
    needs_mask: bool = False


def _severity(level: str) -> int:
    return int(level)


def _corruption_2d(name: str) -> Variant:
    from robust3d.variants.corruptions import corrupt_2d

    def apply(s: Sample, level: str, rng: np.random.Generator, ctx: dict) -> Changed:
        return Changed(corrupt_2d(s.image, name, _severity(level), seed=int(rng.integers(2**31))))

    return Variant(name, "corruption2d", ("1", "2", "3", "4", "5"), apply)


def _corruption_3d(name: str, reference_exact: bool = True) -> Variant:
    from robust3d.geometry.backdrop import backdrop_depth
    from robust3d.variants.corruptions3d import corrupt_3d

    def apply(s: Sample, level: str, rng: np.random.Generator, ctx: dict) -> Changed:
        background = backdrop_depth(s.depth)  # unrendered pixels: the project's one backdrop (geometry.backdrop)
        return Changed(corrupt_3d(s.image, s.depth, name, _severity(level), seed=int(rng.integers(2**31)),
                                  background_depth=background, reference_exact=reference_exact))

    return Variant(name, "corruption3d", ("1", "2", "3", "4", "5"), apply, needs_depth=True)


def _style(name: str) -> Variant:
    from robust3d.variants.styles import apply_style

    def apply(s: Sample, level: str, rng: np.random.Generator, ctx: dict) -> Changed:
        return Changed(apply_style(s.image, name))

    return Variant(name, "style", ("1",), apply)


def _occlusion(levels: dict[str, tuple[float, float]], tolerance: float, name: str = "occlusion") -> Variant:
    from robust3d.variants.occlusion import OcclusionLevel, occlude_to_level

    targets = {k: OcclusionLevel(k, v[0], v[1], tolerance) for k, v in levels.items()}

    def apply(s: Sample, level: str, rng: np.random.Generator, ctx: dict) -> Changed:
        image, occ, fg, bg = occlude_to_level(s.image, s.mask_amodal, targets[level], ctx["occluders"], rng)
        return Changed(image, occ, {"occluded_object": fg, "occluded_background": bg,
                                    "in_level_range": targets[level].contains(fg, bg)})

    return Variant(name, "occlusion", tuple(levels), apply, needs_mask=True)


def build_registry(variants_cfg: dict | None = None) -> dict[str, Variant]:
    """All variants; occlusion levels come from the config (``variants.occlusion``, ``occlusion_pascal3d``)."""
    from robust3d.variants.corruptions import CORRUPTIONS_2D
    from robust3d.variants.corruptions3d import CORRUPTIONS_3D
    from robust3d.variants.styles import STYLES

    cfg = variants_cfg or {}
    occ = cfg.get("occlusion", {"levels": {"L1": [0.1, 0.3], "L2": [0.3, 0.5], "L3": [0.5, 0.7]}, "tolerance": 0.1})
    reg = {"occlusion": _occlusion({k: tuple(v) for k, v in occ["levels"].items()}, occ["tolerance"])}
    pascal = cfg.get("occlusion_pascal3d", {"levels": {}})  # OccludedPASCAL3D+'s levels (off unless configured)
    if pascal["levels"]:
        reg["occlusion_pascal3d"] = _occlusion({k: tuple(v) for k, v in pascal["levels"].items()},
                                               pascal["tolerance"], "occlusion_pascal3d")
    reg |= {n: _corruption_2d(n) for n in CORRUPTIONS_2D}
    exact = cfg.get("corruptions_3d", {}).get("reference_exact", True)
    reg |= {n: _corruption_3d(n, exact) for n in CORRUPTIONS_3D}
    reg |= {n: _style(n) for n in STYLES}
    return reg


def _load(split_dir: Path, row: pd.Series, variant: Variant) -> Sample:
    def path(col: str) -> Path | None:
        return split_dir / row[col] if row.get(col, "") else None

    depth_path, mask_path = path("depth"), path("mask_amodal")
    if variant.needs_depth and depth_path is None:
        raise ValueError(f"variant '{variant.name}' needs depth, but sample {row['sample_id']} has none")
    if variant.needs_mask and mask_path is None:
        raise ValueError(f"variant '{variant.name}' needs an object mask, but sample {row['sample_id']} has none")
    return Sample(
        sample_id=row["sample_id"],
        image=read_image(split_dir / row["image"]),
        mask_amodal=read_mask(mask_path) if mask_path else None,
        mask_visible=read_mask(path("mask_visible")) if row.get("mask_visible", "") else None,
        depth=read_npy(depth_path) if variant.needs_depth else None,
    )


def make_variant(manifest: str | Path, variant_name: str, level: str, out_dir: str | Path, seed: int,
                 variants_cfg: dict | None = None) -> pd.DataFrame:
    """Apply a variant at ``level`` to every sample of a split; write images and a manifest into ``out_dir``."""
    registry = build_registry(variants_cfg)
    if variant_name not in registry:
        raise ValueError(f"unknown variant '{variant_name}' (known: {', '.join(sorted(registry))})")
    variant = registry[variant_name]
    if level not in variant.levels:
        raise ValueError(f"variant '{variant_name}' has no level '{level}' (levels: {', '.join(variant.levels)})")
    manifest, out_dir = Path(manifest), Path(out_dir)
    split_dir = manifest.parent
    df = read_manifest(manifest)
    context: dict = {}
    if variant.kind == "occlusion":
        from robust3d.variants.occlusion import synthetic_occluders

        context["occluders"] = synthetic_occluders(48, seed=seed)
    rows = []
    with atomic_dir(out_dir) as tmp:
        rel = os.path.relpath(split_dir, out_dir)
        for _, row in tqdm(df.iterrows(), total=len(df), desc=f"{variant_name} {level}", unit="img"):
            rng = np.random.default_rng([seed, zlib.crc32(f"{variant_name}/{level}/{row['sample_id']}".encode())])
            sample = _load(split_dir, row, variant)
            changed = _apply_checked(variant, sample, level, rng, context)
            new = {c: (f"{rel}/{row[c]}" if row[c] else "") for c in ("annotation", "mask_amodal", "depth")}
            new["mask_visible"] = f"{rel}/{row['mask_visible']}" if row["mask_visible"] else ""
            new["image"] = f"images/{row['sample_id']}.png"
            write_image(tmp / new["image"], changed.image)
            if changed.occluder_mask is not None:
                new["occluder_mask"] = f"masks/{row['sample_id']}_occluder.png"
                new["mask_visible"] = f"masks/{row['sample_id']}_visible.png"
                write_mask(tmp / new["occluder_mask"], changed.occluder_mask)
                write_mask(tmp / new["mask_visible"], sample.mask_amodal & ~changed.occluder_mask)
            rows.append({**row.to_dict(), **new, "variant": variant_name, "level": level, **(changed.stats or {})})
        with atomic_path(tmp / "manifest.csv") as m:
            pd.DataFrame(rows).to_csv(m, index=False)
    return pd.DataFrame(rows)


def _apply_checked(variant: Variant, sample: Sample, level: str, rng: np.random.Generator, ctx: dict) -> Changed:
    changed = variant.apply(sample, level, rng, ctx)
    if changed.image.shape != sample.image.shape or changed.image.dtype != np.uint8:
        raise RuntimeError(f"variant '{variant.name}' changed the image's shape or dtype on {sample.sample_id}")
    return changed
