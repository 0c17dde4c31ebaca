"""What one trainable model is: a config entry of some paper's ``models`` section, by name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """``name``: the config id (also the results folder name, under its paper's namespace); ``family``: how it is
    trained and predicts (:data:`robust3d.models.registry.FAMILIES`); ``backbone``: an entry of the paper's
    ``backbones``; ``options``: the family's own settings of this model (each family parses and checks them)."""

    name: str
    family: str
    backbone: str
    options: Mapping[str, Any] = field(default_factory=dict)
