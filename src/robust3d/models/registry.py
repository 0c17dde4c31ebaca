"""Model ids -> specs -> family modules: every table row is a config entry, never an if-chain in code.

A model id (``<paper>.models.<id>``) names a family (how it is trained and predicts), a backbone entry
(``<paper>.backbones.<name>``) and the family's options. Each family module exposes

- ``train(section, spec, inputs, out, metrics, *, seed, device, ssl_root)``: ``section`` is the paper's config
  section, ``inputs`` maps input names (``train``, ``calibration``, ...) to manifests, ``ssl_root`` the results
  folder that ``weights: ssl:<name>`` backbones start from;
- ``predict(section, spec, checkpoint, manifest, out_csv, *, device, unseen)``,

so a paper's rules dispatch on the spec alone, whatever the paper.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from robust3d.models.spec import ModelSpec

__all__ = ["FAMILIES", "ModelSpec", "family_module", "model_spec"]

FAMILIES = {"neural_mesh": "robust3d.models.neural_mesh.family", "dual_head": "robust3d.models.dual_head"}
#: Keys of a model entry that every family shares; the rest are the family's options.
COMMON_KEYS = ("family", "backbone")


def model_spec(section: dict, name: str) -> ModelSpec:
    """The spec of model ``name`` of a paper's config ``section``; errors name the allowed ids and values.

    ``name`` may carry a seed (``<model>@s<k>``, :mod:`robust3d.models.seeds`): the spec is the model's, under
    the seeded id, and ``k`` must be one of the section's ``seeds``."""
    from robust3d.models.seeds import UNSEEN_SET, paper_seeds, split_id

    models = section.get("models", {})
    base, seed = split_id(name)
    base = base.removesuffix(UNSEEN_SET)  # the same model, trained without the unseen classes
    seeds = paper_seeds(section)
    if base not in models:
        raise ValueError(f"unknown model '{name}' (allowed: {', '.join(sorted(models)) or 'none configured'})")
    if seed is not None and seed not in (seeds or []):
        raise ValueError(f"model '{name}': seed {seed} is not in this paper's seeds ({seeds or 'none configured'})")
    entry = models[base]
    family = entry.get("family")
    if family not in FAMILIES:
        raise ValueError(f"model '{name}': unknown family {family!r} (allowed: {', '.join(sorted(FAMILIES))})")
    backbone = entry.get("backbone")
    if backbone not in section.get("backbones", {}):
        raise ValueError(f"model '{name}': unknown backbone {backbone!r} "
                         f"(allowed: {', '.join(sorted(section.get('backbones', {})))})")
    options = {k: v for k, v in entry.items() if k not in COMMON_KEYS}
    return ModelSpec(name=name, family=family, backbone=backbone, options=options)


def family_module(spec: ModelSpec) -> ModuleType:
    """The module implementing ``spec.family`` (imported on demand: families pull in torch)."""
    return importlib.import_module(FAMILIES[spec.family])
