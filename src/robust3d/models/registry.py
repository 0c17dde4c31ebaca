"""Model ids -> specs -> family modules: every table row is a config entry, never an if-chain in code.

A model id (``compnets.models.<id>``) names a family (how it is trained and predicts), a backbone entry
(``compnets.backbones.<name>``) and, for neural mesh models, the contrastive loss and the cross-class
sample size N. Each family module exposes ``train(...)`` and ``predict(...)`` with the signatures of the
3D-CompNets contract, so the CLI dispatches on the spec alone.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

FAMILIES = {"neural_mesh": "robust3d.models.neural_mesh.family", "dual_head": "robust3d.models.dual_head"}
LOSSES = ("novum", "compnets")


@dataclass(frozen=True)
class ModelSpec:
    """One trainable model: ``name`` is the config id (also the results folder name)."""

    name: str
    family: str
    backbone: str
    loss: str | None = None
    cross_samples: int | None = None
    vertices_per_class: int | None = None  # neural_mesh: this model's K (None: compnets.mesh.vertices_per_class)

    def n_vertices(self, cfg: dict) -> int:
        """K of this model's cuboids: its own, or the config's shared one."""
        return int(self.vertices_per_class or cfg["compnets"]["mesh"]["vertices_per_class"])


def model_spec(cfg: dict, name: str) -> ModelSpec:
    """The spec of model ``name`` from ``cfg["compnets"]``; errors name the allowed ids and values."""
    section = cfg.get("compnets", {})
    models = section.get("models", {})
    if name not in models:
        raise ValueError(f"unknown model '{name}' (allowed: {', '.join(sorted(models)) or 'none configured'})")
    entry = models[name]
    family = entry.get("family")
    if family not in FAMILIES:
        raise ValueError(f"model '{name}': unknown family {family!r} (allowed: {', '.join(sorted(FAMILIES))})")
    backbone = entry.get("backbone")
    if backbone not in section.get("backbones", {}):
        raise ValueError(f"model '{name}': unknown backbone {backbone!r} "
                         f"(allowed: {', '.join(sorted(section.get('backbones', {})))})")
    loss = entry.get("loss")
    cross = entry.get("cross_samples")
    if family == "neural_mesh":
        if loss not in LOSSES:
            raise ValueError(f"model '{name}': loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss == "compnets" and (not isinstance(cross, int) or cross < 1):
            raise ValueError(f"model '{name}': the compnets loss needs cross_samples >= 1, got {cross!r}")
    k = entry.get("vertices_per_class")
    return ModelSpec(name=name, family=family, backbone=backbone, loss=loss,
                     cross_samples=int(cross) if cross is not None else None,
                     vertices_per_class=int(k) if k is not None else None)


def family_module(spec: ModelSpec) -> ModuleType:
    """The module implementing ``spec.family`` (imported on demand: families pull in torch)."""
    return importlib.import_module(FAMILIES[spec.family])
