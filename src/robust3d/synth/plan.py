"""What each split of the synthetic benchmark contains, decided before anything is rendered.

A split is a list of :class:`SampleSpec`, a pure function of the config and the split name: the same seed
gives the same samples whichever job renders them, so chunks can render in parallel and in any order.

Splits and the nuisance each one shifts (everything else as in training):
    train, calibration, test  training categories, training CAD instances, textures and backgrounds
    unseen                    the held-out categories (never in training)
    ood_shape                 held-out CAD instances of the training categories
    ood_pose                  elevations from ``pose.ood_elevation`` (views never seen in training)
    ood_texture               held-out texture families with random palettes
    ood_context               a held-out background family
    style                     cartoon rendering (flat colours, outlines) on plain backgrounds
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from robust3d.synth.backgrounds import BACKGROUND_FAMILIES, HELD_OUT_BACKGROUNDS
from robust3d.synth.textures import HELD_OUT_FAMILIES, Texture, category_style, sample_texture

SPLITS = ("train", "calibration", "test", "unseen", "ood_shape", "ood_pose", "ood_texture", "ood_context",
          "style")
TRAIN_BACKGROUNDS = tuple(f for f in BACKGROUND_FAMILIES if f != "plain")


@dataclass(frozen=True)
class SampleSpec:
    sample_id: str
    split: str
    category: str
    cad_index: int  # 1-based, as in CAD/<class>/<cad_index:02d>.off
    azimuth: float  # radians
    elevation: float
    theta: float
    distance: float
    texture: Texture
    background: str
    background_seed: int
    light_dir: tuple[float, float, float]
    ambient: float
    diffuse: float
    style: str


def stable_seed(*parts: object) -> list[int]:
    """Seed material that does not depend on Python's randomised ``hash``."""
    return [zlib.crc32(str(p).encode()) for p in parts]


def train_categories(cfg: dict) -> list[str]:
    unseen = set(cfg.get("unseen_categories", []))
    return [c for c in cfg["categories"] if c not in unseen]


def split_categories(cfg: dict, split: str) -> list[str]:
    return list(cfg["unseen_categories"]) if split == "unseen" else train_categories(cfg)


def cad_indices(cfg: dict, split: str) -> list[int]:
    """1-based CAD instances a split draws from: held-out ones only for ood_shape, all for unseen."""
    n, held = cfg["instances_per_category"], cfg["ood_instances_per_category"]
    if split == "ood_shape":
        return list(range(n - held + 1, n + 1))
    if split == "unseen":
        return list(range(1, n + 1))
    return list(range(1, n - held + 1))


def instance_texture(cfg: dict, seed: int, category: str, cad_index: int) -> Texture:
    """The texture a CAD instance wears in training-like splits (fixed per instance)."""
    family, hue = category_style(cfg["categories"].index(category), len(cfg["categories"]))
    return sample_texture(family, hue, np.random.default_rng(stable_seed(seed, "texture", category, cad_index)))


def _uniform_deg(rng: np.random.Generator, lo_hi: list[float]) -> float:
    return math.radians(float(rng.uniform(lo_hi[0], lo_hi[1])))


def plan_split(config: dict, split: str) -> list[SampleSpec]:
    """All samples of ``split`` in a fixed order (category-major)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}' (known: {', '.join(SPLITS)})")
    cfg, seed = config["synthetic"], config["seed"]
    per_category = cfg["splits"].get(split, 0)
    specs = []
    for category in split_categories(cfg, split):
        instances = cad_indices(cfg, split)
        for i in range(per_category):
            rng = np.random.default_rng(stable_seed(seed, split, category, i))
            cad = instances[i % len(instances)]  # cycle, so every instance appears equally often
            elevation_range = cfg["pose"]["ood_elevation"] if split == "ood_pose" else cfg["pose"]["elevation"]
            texture = instance_texture(cfg, seed, category, cad)
            if split == "ood_texture":
                texture = sample_texture(str(rng.choice(HELD_OUT_FAMILIES)), float(rng.uniform()), rng)
            background = str(rng.choice(TRAIN_BACKGROUNDS))
            if split == "ood_context":
                background = str(rng.choice(HELD_OUT_BACKGROUNDS))
            elif split == "style":
                background = "plain"
            light = rng.normal(size=3) * np.array([0.6, 0.4, 0.3]) + np.array([0.0, 0.6, 1.0])
            specs.append(SampleSpec(
                sample_id=f"{split}_{category}_{i:05d}",
                split=split,
                category=category,
                cad_index=cad,
                azimuth=_uniform_deg(rng, cfg["pose"]["azimuth"]),
                elevation=_uniform_deg(rng, elevation_range),
                theta=_uniform_deg(rng, cfg["pose"]["theta"]),
                distance=float(cfg["camera"]["distance"]),
                texture=texture,
                background=background,
                background_seed=int(rng.integers(2**31)),
                light_dir=tuple(float(x) for x in light),
                ambient=float(rng.uniform(0.35, 0.55)),
                diffuse=float(rng.uniform(0.45, 0.7)),
                style="cartoon" if split == "style" else "photo",
            ))
    return specs


def n_chunks(config: dict, split: str) -> int:
    cfg = config["synthetic"]
    n = cfg["splits"].get(split, 0) * len(split_categories(cfg, split))
    return max(1, math.ceil(n / cfg["chunk_size"])) if n else 0


def chunk_of(config: dict, split: str, chunk: int) -> list[SampleSpec]:
    size = config["synthetic"]["chunk_size"]
    return plan_split(config, split)[chunk * size : (chunk + 1) * size]
