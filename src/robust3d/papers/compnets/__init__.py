"""3D-CompNets (paper 1): neural mesh models with a grouped, confusion-weighted contrastive loss, against NOVUM and
dual-head baselines; Tables 1-4, Figures 1-2 and the paper's claims (see docs/papers/compnets.md)."""

from __future__ import annotations

from pathlib import Path

from robust3d.papers.compnets.checks import check_config
from robust3d.papers.compnets.claims import claims
from robust3d.papers.compnets.plan import CompnetsPlan as Plan
from robust3d.papers.compnets.plan import unavailable
from robust3d.papers.compnets.report import REFERENCE, build, write
from robust3d.papers.compnets.tables import PAPER, table_specs

__all__ = ["PAPER", "REFERENCE", "TITLE", "Plan", "build", "check_config", "claims", "models", "report_files", "seeds",
           "table_specs", "unavailable", "write"]


def models(config: dict) -> list[str]:
    """The model ids this config trains (``<model>@s<k>`` per seed when ``compnets.seeds`` is set)."""
    from robust3d.models.seeds import model_ids, paper_seeds

    return model_ids(config[PAPER]["models"], paper_seeds(config[PAPER]))


def seeds(config: dict) -> list[int] | None:
    """The seeds every model is trained with, or None for one run under the plain ids."""
    from robust3d.models.seeds import paper_seeds

    return paper_seeds(config[PAPER])


#: The report's heading of this paper's section.
TITLE = "3D-CompNets: 3D compositional networks for classification and pose (paper 1)"


def report_files(config: dict) -> dict:
    """What the HTML report shows of this stage: its title and doc, its table CSVs (each with its .json), the claims
    (and the brought models' comparison rows), the chance verdicts and the figures with captions."""
    plan = Plan(config, "")
    captions = {"figure1": "Figure 1 (ours): accuracy per task, each axis scaled to its best model",
                "figure2": "Figure 2 (ours): time per training step against the number of classes"}
    return {"title": TITLE, "doc": f"docs/papers/{PAPER}.md",
            "tables": [p for p in plan.table_outputs() if p.endswith(".csv")], "claims": plan.claims,
            "byom_claims": plan.byom_claims, "chance": plan.chance,
            "figures": [(p, captions.get(Path(p).stem.removeprefix(f"{PAPER}_"), Path(p).stem))
                        for p in plan.figures()]}
