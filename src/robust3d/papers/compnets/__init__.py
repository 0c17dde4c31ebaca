"""3D-CompNets (paper 1): neural mesh models with a grouped, confusion-weighted contrastive loss, against NOVUM and
dual-head baselines; Tables 1-4, Figures 1-2 and the paper's claims (see docs/papers/compnets.md)."""

from __future__ import annotations

from robust3d.papers.compnets.checks import check_config
from robust3d.papers.compnets.claims import claims
from robust3d.papers.compnets.plan import CompnetsPlan as Plan
from robust3d.papers.compnets.plan import unavailable
from robust3d.papers.compnets.report import REFERENCE, build, write
from robust3d.papers.compnets.tables import PAPER, table_specs

__all__ = ["PAPER", "REFERENCE", "Plan", "build", "check_config", "claims", "models", "seeds", "table_specs",
           "unavailable", "write"]


def models(config: dict) -> list[str]:
    """The model ids this config trains (``<model>@s<k>`` per seed when ``compnets.seeds`` is set)."""
    from robust3d.models.seeds import model_ids, paper_seeds

    return model_ids(config[PAPER]["models"], paper_seeds(config[PAPER]))


def seeds(config: dict) -> list[int] | None:
    """The seeds every model is trained with, or None for one run under the plain ids."""
    from robust3d.models.seeds import paper_seeds

    return paper_seeds(config[PAPER])
