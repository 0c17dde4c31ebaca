"""Template matching (paper 5): its tables as specs of the generic table engine.

Rows are row models (``templates.models`` plus the computed ``oracle`` / ``chance`` rows and the ``pixels`` sanity
row); every cell reads the tidy metrics the ``templates-evaluate`` jobs write: split = the object group (``seen``,
``unseen``), variant = the queries (``clean``, ``occluded``; ``*_nothr`` without the occlusion-aware cut). Values are
percent. The paper's printed numbers are not transcribed (reference.yaml says why), so every paper cell gives that
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from robust3d.tables.cell import Cell
from robust3d.tables.spec import Column, Row, TableSpec

if TYPE_CHECKING:
    import pandas as pd

    from robust3d.tables.sources import Sources

PAPER = "templates"
GROUPS = ("seen", "unseen")
QUERIES = ("clean", "occluded")
#: Rows every config gets, computed from the data rather than trained: the nearest template by viewpoint (upper
#: bound), a random template of the group (chance), and masked cosine on raw pixel patches (sanity).
COMPUTED = ("oracle", "chance")
SANITY = ("pixels",)
FAMILY_LABELS = {"vit": "ViT", "resnet": "ResNet"}
ROLE_LABELS = {"finetuned": "fine-tuned (InfoNCE)", "frozen": "frozen, raw features (no head)",
               "frozen_randhead": "frozen, random head (code's epoch 0)", "random_init": "random init (ours only)"}
LABELS = {"oracle": "oracle: nearest template by viewpoint (computed)",
          "chance": "chance: a random template of the group (computed)",
          "pixels": "raw pixels: masked cosine on 16 x 16 RGB patches (ours only)"}


def family_of(config: dict, model: str) -> str:
    """``vit`` or ``resnet``: the backbone kind of a row model."""
    section = config[PAPER]
    kind = section["backbones"][section["models"][model]["backbone"]]["kind"]
    return "vit" if kind == "vit" else "resnet"


def label(config: dict | None, model: str) -> str:
    if model in LABELS or not config:
        return LABELS.get(model, model)
    spec = config[PAPER]["models"][model]
    return f"{FAMILY_LABELS[family_of(config, model)]} {ROLE_LABELS[spec['role']]}"


@dataclass(frozen=True)
class GroupColumn(Column):
    """A metric of one object group (``split``) and query set (``variant``)."""

    split: str = "seen"
    variant: str = "clean"
    metric: str = "acc15"

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [(self.split, self.variant, "0")]

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        return sources.metric(row.model, self.split, self.variant, "0", self.metric)

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        """Each query's hit (100 / 0) from the gathered predictions, so claims resample queries paired by id."""
        from robust3d.evaluate.template_metrics import HIT_METRICS, hits

        df = sources.extra.get("predictions")
        if df is None or self.metric not in HIT_METRICS:
            return None
        part = df[(df["model"] == row.model) & (df["split"] == self.split) & (df["variant"] == self.variant)]
        if not len(part):
            return None
        import pandas as pd

        return pd.Series(100.0 * hits(part, self.metric), index=part["sample_id"].astype(str).to_numpy())


@dataclass(frozen=True)
class EpochColumn(Column):
    """A fine-tuned model's per-epoch evaluation (its train.json): the last epoch's value, the best over epochs
    (the reference's selection on the test sets, per metric independently), or the epoch of that best."""

    split: str = "seen"
    variant: str = "clean"
    metric: str = "acc15"
    which: str = "last"

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        run = sources.train_run(row.model)
        if run is None:
            return Cell(None, None, f"{row.model} is not fine-tuned (no per-epoch evaluation)")
        key = f"{self.split}/{self.variant}/{self.metric}"
        values = [(e["epoch"], e.get("evaluation", {}).get(key)) for e in run["epochs"]]
        values = [(k, v) for k, v in values if v is not None]
        if not values:
            return Cell(None, None, f"no per-epoch {key} in the training record")
        if self.which == "last":
            return Cell(values[-1][1], None)
        best = max(values, key=lambda kv: kv[1])  # the first epoch reaching the best value
        return Cell(best[1] if self.which == "best" else float(best[0]), None)


def _group_label(split: str, variant: str) -> str:
    return f"{split}, {variant.replace('_nothr', ' (no cut)')}"


def _rows(config: dict | None, models: list[str]) -> list[Row]:
    return [Row(m, m, label(config, m)) for m in models]


def main_table(config: dict | None, models: list[str]) -> TableSpec:
    columns = [GroupColumn(f"{g}_{q}", _group_label(g, q), "Acc15 (class and pose)", percent=True, split=g,
                           variant=q) for q in QUERIES for g in GROUPS]
    notes = [
        "Acc15: percent of queries whose retrieved template is of the query's object and within 15 degrees of its "
        "viewing direction (template-pose's class-and-pose accuracy, what TraM3D reports as Acc15). Retrieval is over "
        "the templates of the evaluated group's objects only (seen queries against the seen objects' templates), as "
        "the reference's evaluation does.",
        "Similarity: masked cosine with the template's mask; at test time per-cell cosines <= templates.threshold "
        "count 0 (occlusion-aware). Clean queries are LINEMOD-like (the object in clutter); occluded ones are the same "
        "queries with a pasted occluder (Occlusion-LINEMOD-like).",
        "The oracle row retrieves the template nearest the true view of the true object (the grid's upper bound); the "
        "chance row is the expected accuracy of a template drawn at random from the group. Both are computed from "
        "the data, not assumed.",
        "Embedded stand-ins: the ViT and ResNet start from this pipeline's self-supervised pretraining on unlabelled "
        "synthetic images (the pretrain stage's vit_s16 and resnet) in place of DINO ViT-S/16 and MoCo-v2 "
        "ResNet-50; smaller backbones at 128 px with 8 x 8 grids for both; one fold (4 unseen objects) instead of "
        "three splits; templates and queries rendered by the same renderer, so the domain gap is far smaller than "
        "LINEMOD's real photos against renders.",
    ]
    return TableSpec(PAPER, "table1", "Acc15 on seen / unseen objects, clean / occluded queries (LINEMOD / "
                     "Occlusion-LINEMOD protocol)", _rows(config, models), columns, notes)


def thresholds_table(config: dict | None, models: list[str]) -> TableSpec:
    from robust3d.evaluate.template_metrics import THRESHOLDS

    columns = [GroupColumn(f"{g}_acc{k}", f"{k} deg", f"{g}, clean", percent=True, split=g, metric=f"acc{k}")
               for g in GROUPS for k in THRESHOLDS]
    notes = ["Class-and-pose accuracy at 15, 12, 9, 6 and 3 degrees on clean queries (TraM3D logs these since its "
             "commit 'more rotation thresholds'). The template grid (templates.icosphere_level of the data) caps the "
             "finer thresholds: below the grid's covering radius even the oracle misses."]
    return TableSpec(PAPER, "thresholds", "Accuracy at finer thresholds (clean queries)", _rows(config, models),
                     columns, notes)


def details_table(config: dict | None, models: list[str]) -> TableSpec:
    columns = []
    for q in QUERIES:
        for g in GROUPS:
            columns += [GroupColumn(f"{g}_{q}_pose", "pose Acc15", _group_label(g, q), percent=True, split=g,
                                    variant=q, metric="pose_acc15"),
                        GroupColumn(f"{g}_{q}_recognition", "recognition", _group_label(g, q), percent=True,
                                    split=g, variant=q, metric="recognition"),
                        GroupColumn(f"{g}_{q}_mean_err", "mean error (deg)", _group_label(g, q), split=g,
                                    variant=q, metric="mean_err")]
    notes = ["Pose Acc15 ignores the object (the viewpoint of the retrieved template, whatever its object); "
             "recognition ignores the pose; the mean error is over all queries, in degrees."]
    return TableSpec(PAPER, "details", "Pose-only accuracy, recognition and mean error", _rows(config, models),
                     columns, notes)


def ablation_table(config: dict | None, models: list[str]) -> TableSpec:
    columns = [GroupColumn(f"{g}_{v}", "with the cut" if v == "occluded" else "without", f"{g}, occluded",
                           percent=True, split=g, variant=v) for g in GROUPS for v in ("occluded", "occluded_nothr")]
    threshold = config[PAPER]["threshold"] if config else 0.2
    notes = [f"The occlusion-aware similarity (per-cell cosines <= {threshold} count 0) against the plain masked "
             "cosine, on occluded queries: Acc15 (class and pose). template-pose's claim, not this paper's."]
    return TableSpec(PAPER, "ablation", "Occlusion-aware threshold: on and off (occluded queries)",
                     _rows(config, models), columns, notes)


def epochs_table(config: dict | None, models: list[str]) -> TableSpec:
    columns = []
    for q in QUERIES:
        for g in GROUPS:
            columns += [EpochColumn(f"{g}_{q}_{w}", {"last": "last epoch", "best": "best epoch",
                                                     "best_epoch": "which epoch"}[w], _group_label(g, q),
                                    percent=w != "best_epoch", split=g, variant=q, which=w)
                        for w in ("last", "best", "best_epoch")]
    notes = ["Acc15 of the fine-tuned models evaluated after every epoch: the last epoch's (what every other table "
             "shows) and the best over epochs, the reference's selection (metrics.update_score keeps each metric's "
             "best over epochs on the test sets, possibly from different epochs per column)."]
    return TableSpec(PAPER, "epochs", "Last epoch against the best epoch (the reference selects on the test sets)",
                     _rows(config, models), columns, notes)


def table_specs(config: dict | None = None, sources: Sources | None = None) -> list[TableSpec]:
    rows = evaluated_models(config) if config else [*COMPUTED, *SANITY]
    learned = [m for m in rows if m not in (*COMPUTED, *SANITY)]
    finetuned = [m for m in learned if config and config[PAPER]["models"][m].get("schedule")]
    return [main_table(config, rows), thresholds_table(config, rows), details_table(config, rows),
            ablation_table(config, learned), epochs_table(config, finetuned)]


def evaluated_models(config: dict) -> list[str]:
    """Every row model (the config's models, then the computed and sanity rows), in table order."""
    return [*config[PAPER]["models"], *COMPUTED, *SANITY]
