"""Template matching of novel objects (paper 5; Thalhammer et al., TraM3D, with template-pose's protocol): local
ViT and ResNet features, frozen or InfoNCE-fine-tuned on seen objects, retrieve the rendered template of a query by
masked cosine similarity; class-and-pose Acc15 on seen / unseen objects and clean / occluded queries (see
docs/papers/templates.md)."""

from __future__ import annotations

from robust3d.papers.templates.checks import check_config
from robust3d.papers.templates.claims import REFERENCE, claims
from robust3d.papers.templates.plan import TemplatesPlan as Plan
from robust3d.papers.templates.report import build, write
from robust3d.papers.templates.tables import PAPER, evaluated_models, table_specs

__all__ = ["PAPER", "REFERENCE", "TITLE", "Plan", "build", "check_config", "claims", "models", "report_files",
           "seeds", "table_specs", "unavailable", "write"]

TITLE = "Template matching of novel objects with self-supervised ViTs vs ResNets (paper 5)"


def models(config: dict) -> list[str]:
    """The row models this config evaluates (its matchers, the computed oracle and chance rows, raw pixels)."""
    return evaluated_models(config)


def seeds(config: dict) -> list[int] | None:
    return None


def unavailable(config: dict, split: str, variant: str, level: str) -> str | None:
    if split not in ("seen", "unseen"):
        return f"'{split}' is not an object group (seen, unseen)"
    return None


def report_files(config: dict) -> dict:
    from pathlib import Path

    from robust3d.papers.templates.figures import CAPTIONS

    plan = Plan(config, "")
    files = plan.report_files(TITLE)
    files["figures"] = [(p, CAPTIONS[Path(p).stem.removeprefix(f"{PAPER}_")]) for p in plan.figures()]
    return files
