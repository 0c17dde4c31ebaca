"""NTDM (paper 2; Wang, Ma, Yuille, Kortylewski, WACV 2024): deformable meshes with neural textures; render-and-compare
gives pose, shape, amodal mask and class at once (see docs/papers/ntdm.md)."""

from __future__ import annotations

from robust3d.papers.ntdm.checks import check_config
from robust3d.papers.ntdm.claims import REFERENCE, claims
from robust3d.papers.ntdm.plan import NTDMPlan as Plan
from robust3d.papers.ntdm.report import build, write
from robust3d.papers.ntdm.tables import PAPER, table_specs

__all__ = ["PAPER", "REFERENCE", "TITLE", "Plan", "build", "check_config", "claims", "models", "report_files",
           "seeds", "table_specs", "unavailable", "write"]

TITLE = "NTDM: neural textured deformable meshes for robust analysis-by-synthesis (paper 2)"


def models(config: dict) -> list[str]:
    return list(config[PAPER]["models"])


def seeds(config: dict) -> list[int] | None:
    return None


def unavailable(config: dict, split: str, variant: str, level: str) -> str | None:
    return None


def report_files(config: dict) -> dict:
    return Plan(config, "").report_files(TITLE)
