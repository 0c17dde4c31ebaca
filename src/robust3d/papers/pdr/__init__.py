"""PDR / LOOCC (paper 4): Unsup3D de-renderers with and without the leave-one-out cycle contrastive loss, and a
VQ-VAE, trained from scratch; identity and car-type clustering of their features (Table 1), the correlation of the
four feature groups, and a shape check against the true depth (see docs/papers/pdr.md)."""

from __future__ import annotations

from robust3d.papers.pdr.checks import check_config
from robust3d.papers.pdr.claims import REFERENCE, claims
from robust3d.papers.pdr.plan import PdrPlan as Plan
from robust3d.papers.pdr.report import build, write
from robust3d.papers.pdr.tables import PAPER, evaluated_models, table_specs

__all__ = ["PAPER", "REFERENCE", "TITLE", "Plan", "build", "check_config", "claims", "models", "report_files",
           "seeds", "table_specs", "unavailable", "write"]

TITLE = "PDR / LOOCC: physically disentangled representations by de-rendering (paper 4)"


def models(config: dict) -> list[str]:
    """The row models this config evaluates (trained ones and the ours-only sanity rows)."""
    return evaluated_models(config)


def seeds(config: dict) -> list[int] | None:
    return None


def unavailable(config: dict, split: str, variant: str, level: str) -> str | None:
    if split not in config[PAPER]["datasets"]:
        return f"dataset '{split}' is not in pdr.datasets"
    return None


def report_files(config: dict) -> dict:
    return Plan(config, "").report_files(TITLE)
