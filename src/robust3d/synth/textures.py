"""Solid (3D) procedural textures, evaluated per pixel on the object-space surface point.

Evaluating a texture on the 3D point under each pixel needs no UV maps and stays sharp on low-poly
meshes. A category owns a texture *family* and a palette, so texture predicts the class as it does in
natural images (the shape-bias and cue-conflict experiments rely on this); instances jitter the palette
and frequency; held-out families never seen in training make the texture OOD split.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where textures are evaluated, so planning stays light
    import torch

FAMILIES = ("stripes", "checker", "dots", "marble", "rings", "bands", "speckle", "zigzag", "cells", "waves")
#: Families reserved for the ood_texture split (never used for a training category).
HELD_OUT_FAMILIES = ("cells", "waves")


@dataclass(frozen=True)
class Texture:
    """A concrete texture: a family, two colours, a spatial frequency and a direction."""

    family: str
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    frequency: float
    direction: tuple[float, float, float]
    phase: float = 0.0
    symmetric: bool = False  # evaluate on |x|: left-right symmetric albedo (Unsup3D's assumption)

    def shade(self, points: torch.Tensor) -> torch.Tensor:
        """RGB albedo ``(N, 3)`` at object-space points ``(N, 3)``."""
        return shade_texture(self, points)


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1)))


def category_style(category_index: int, n_categories: int) -> tuple[str, float]:
    """The (family, hue) a category owns: families cycle over the training families, hues spread out."""
    train_families = [f for f in FAMILIES if f not in HELD_OUT_FAMILIES]
    family = train_families[category_index % len(train_families)]
    hue = (category_index * 0.618034) % 1.0  # golden-ratio spacing keeps neighbouring categories apart
    return family, hue


def sample_texture(family: str, hue: float, rng: np.random.Generator) -> Texture:
    """An instance of a family around a hue: palette, frequency and direction jittered."""
    h = hue + rng.normal(0, 0.03)
    color_a = _hsv(h, rng.uniform(0.55, 0.9), rng.uniform(0.65, 0.95))
    color_b = _hsv(h + rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.5))
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    return Texture(family, color_a, color_b, float(rng.uniform(5.0, 9.0)), tuple(direction.tolist()),
                   float(rng.uniform(0, 2 * np.pi)))


def _pattern(family: str, p: torch.Tensor, freq: float, direction: torch.Tensor, phase: float) -> torch.Tensor:
    """Mix weight in [0, 1] between the two colours for surface points ``p`` ``(N, 3)``."""
    import torch

    s = p @ direction
    if family == "solid":
        return torch.zeros(len(p), dtype=p.dtype)
    if family == "stripes":
        return (torch.sin(freq * 2 * s + phase) > 0).float()
    if family == "checker":
        q = torch.floor(p * freq * 0.6 + phase)
        return torch.remainder(q.sum(-1), 2.0)
    if family == "dots":
        q = p * freq * 0.8 + phase
        return ((q - torch.round(q)).norm(dim=-1) < 0.3).float()
    if family == "marble":
        turb = torch.sin(3.1 * p[:, 0] * freq) * torch.sin(2.3 * p[:, 1] * freq + 1.0) * torch.sin(
            1.7 * p[:, 2] * freq + 2.0
        )
        return 0.5 + 0.5 * torch.sin(freq * s + 2.5 * turb + phase)
    if family == "rings":
        r = torch.linalg.vector_norm(p - (p @ direction)[:, None] * direction, dim=-1)
        return (torch.sin(freq * 3 * r + phase) > 0).float()
    if family == "bands":
        return (torch.sin(freq * 1.2 * p[:, 2] + phase) > 0.3).float()
    if family == "speckle":
        h = torch.sin((p * freq * 13.0) @ torch.tensor([12.9898, 78.233, 37.719], dtype=p.dtype)) * 43758.5453
        return (torch.frac(h.abs()) > 0.7).float()
    if family == "zigzag":
        return (torch.sin(freq * 2 * s + 2.0 * torch.abs(torch.sin(freq * 2 * p[:, 2])) + phase) > 0).float()
    if family == "cells":
        q = p * freq * 0.7 + phase
        f = q - torch.floor(q)
        return (torch.minimum(f, 1 - f).min(-1).values < 0.08).float()
    if family == "waves":
        return 0.5 + 0.5 * torch.sin(freq * 2 * s + 1.5 * torch.sin(freq * 2 * p[:, 2] + phase))
    raise ValueError(f"unknown texture family '{family}' (known: solid, {', '.join(FAMILIES)})")


def shade_texture(texture: Texture, points: torch.Tensor) -> torch.Tensor:
    """RGB albedo ``(N, 3)`` of the texture at object-space points ``(N, 3)``."""
    import torch

    if texture.symmetric:
        points = torch.cat([points[:, :1].abs(), points[:, 1:]], dim=1)
    direction = torch.tensor(texture.direction, dtype=points.dtype)
    w = _pattern(texture.family, points, texture.frequency, direction, texture.phase)[:, None]
    a = torch.tensor(texture.color_a, dtype=points.dtype)
    b = torch.tensor(texture.color_b, dtype=points.dtype)
    return a * (1 - w) + b * w
