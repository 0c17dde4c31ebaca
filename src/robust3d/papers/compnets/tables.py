"""3D-CompNets (paper 1): Tables 1-4 and the data behind Figures 1-2, as specs of the generic table engine.

Row keys are our model ids (``compnets.models``), labelled as the paper prints them; the paper's numbers for the
same keys live in ``reference.yaml`` beside this file. On the embedded default our setting differs from the paper's in
ways the tables state: the synthetic benchmark instead of ImageNet3D, the ``style`` split instead of
diffusion-generated images, our unseen procedural classes instead of the paper's 10 ImageNet3D classes, and smaller
backbones. With ``compnets.data.source: imagenet3d`` the data are the paper's (no Synthetic column).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from robust3d.evaluate.stats import bootstrap_replicates, loglog_slope, loglog_slopes
from robust3d.papers.compnets.routes import data_route
from robust3d.synth.plan import SPLIT_OWN_VARIANTS
from robust3d.tables.cell import Cell
from robust3d.tables.spec import (
    CLEAN,
    Column,
    MeanColumn,
    MetricColumn,
    MetricMeanColumn,
    ReductionColumn,
    Row,
    TableSpec,
    TrainColumn,
    replicate_seed,
)

if TYPE_CHECKING:
    import pandas as pd

    from robust3d.tables.sources import Sources

PAPER = "compnets"
OCCLUSION = ("L1", "L2", "L3")
CORRUPTIONS = ("brightness", "frost", "snow", "fog")
CORRUPTION_LEVEL = "4"
CLASS, POSE = "class_accuracy", "pose_acc_pi6"
STYLE = SPLIT_OWN_VARIANTS["style"]  # the `style` split's cartoon renders stand in for the paper's synthetic data
#: The paper's unseen ImageNet3D classes (Table 3), by ImageNet3D id, with the printed column labels.
PAPER_UNSEEN = {"tricycle": "tricycle", "unicycle": "unicycle", "laptop": "laptop", "go_kart": "go kart",
                "recreational_vehicle": "RV", "suitcase": "suitcase", "teapot": "teapot",
                "filing_cabinet": "filing cabinet", "sofa": "sofa", "projector": "projector"}
#: Model id -> (paper's label, paper's backbone label).
LABELS = {
    "resnet50": ("ResNet50", "resnet50"),
    "novum_resnet50": ("NOVUM", "resnet50"),
    "compnets_resnet50_n64": ("3D-CompNets (N = 64)", "resnet50"),
    "compnets_resnet50_n32": ("3D-CompNets", "resnet50"),
    "dinov2_vitb14": ("DINOv2", "vit-b-14"),
    "compnets_vitb14": ("3D-CompNets", "vit-b-14"),
}
TABLE4_MODELS = ("resnet50", "novum_resnet50", "dinov2_vitb14", "compnets_vitb14")
COMPNETS_SERIES = "3D-CompNets"
SLOPE_TEXT = ("§5.1: 'the training time of our model increases approximately linearly with the number of "
              "categories Y, while the original NOVUM scales quadratically' (Figure 2 prints no numbers)")


#: Why a dual-head model's train.json has no loss FLOPs (the note of its Table 1 cell).
NULL_NOTES = (("dual_head", "a dual-head model has no contrastive loss"),)


# ---------------------------------------------------------------------------------------------- 3D-CompNets columns

@dataclass(frozen=True)
class PoseClassColumn(Column):
    """Pose accuracy at pi/6 of one class of the unseen split, from the per-sample predictions."""

    class_name: str = ""
    split: str = "unseen"

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [(self.split, *CLEAN)]

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        return sources.class_metric(row.model, self.split, self.class_name, POSE)


def scaling_series(df: pd.DataFrame) -> pd.Series:
    """Series name of each scaling row: NOVUM-<vertices> (no cross-class sampling) or 3D-CompNets."""
    import pandas as pd

    def name(row) -> str:
        n = row.get("cross_samples")
        if n is None or n == "" or (isinstance(n, float) and math.isnan(n)):
            return f"NOVUM-{int(row['vertices_per_class'])}"
        return COMPNETS_SERIES

    return df.apply(name, axis=1) if len(df) else pd.Series([], dtype=str)


def _series(sources: Sources, series: str) -> pd.DataFrame | None:
    df = sources.extra.get("scaling")
    if df is None or not len(df):
        return None
    return df[scaling_series(df) == series]


def scaling_classes(sources: Sources) -> list[int]:
    """The class counts of the scaling CSV (Figure 2's x axis), when the config names none."""
    df = sources.extra.get("scaling")
    return [] if df is None or not len(df) else sorted({int(v) for v in df["n_classes"]})


@dataclass(frozen=True)
class ScalingColumn(Column):
    """A field of the scaling CSV for one series (the row) at one class count, or the log-log slope."""

    n_classes: int | None = None  # None: the slope of log(field) against log(n_classes)
    field_name: str = "step_seconds"

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        df = _series(sources, row.model)
        if df is None:
            return Cell(None, None, "no scaling CSV given")
        if self.n_classes is None:
            slope = loglog_slope(df["n_classes"], df[self.field_name])
            if math.isnan(slope):
                return Cell(None, None, f"fewer than 2 positive {row.model} points")
            return Cell(slope, len(df), "")
        hit = df[df["n_classes"] == self.n_classes]
        if not len(hit):
            return Cell(None, None, f"no {row.model} point at {self.n_classes} classes in the scaling CSV")
        value = float(hit[self.field_name].iloc[0])
        return Cell(None if math.isnan(value) else value, None, "")

    def replicates(self, row: Row, sources: Sources, n_resamples: int = 2000) -> np.ndarray | None:
        """Step times only: each point's median over its repeated steps (``step_seconds_repeats``) resampled with
        replacement, and the slope of those resampled medians (a point's replicates when ``n_classes`` is set)."""
        from robust3d.models.neural_mesh.flops import upper_median  # the scaling run's median (torch: imported late)

        df = _series(sources, row.model)
        if self.field_name != "step_seconds" or df is None or "step_seconds_repeats" not in df:
            return None
        if self.n_classes is not None:
            df = df[df["n_classes"] == self.n_classes]
        if not len(df) or df["step_seconds_repeats"].isna().any():
            return None
        repeats = [[float(t) for t in str(times).split()] for times in df["step_seconds_repeats"]]
        if any(len(r) < 2 for r in repeats):
            return None  # a step timed once has no spread to resample
        points = [bootstrap_replicates(r, upper_median, n_resamples, seed=replicate_seed(row.model, int(n)))
                  for n, r in zip(df["n_classes"], repeats, strict=True)]
        if self.n_classes is not None:
            return points[0]
        return loglog_slopes(df["n_classes"], np.stack(points)) if len(points) >= 2 else None



# ---------------------------------------------------------------------------------------------- tables

def _row(model: str, key: str | None = None, **kwargs) -> Row:
    label, backbone = LABELS.get(model, (model, ""))
    return Row(key or model, model, kwargs.pop("label", label), kwargs.pop("backbone", backbone), **kwargs)


def _test(variant: str, level: str) -> tuple[str, str, str]:
    return ("test", variant, level)


def table1() -> TableSpec:
    rows = [_row("novum_resnet50", label="NOVUM* (N full)"),
            _row("compnets_resnet50_n64", label="3D-CompNets (N = 64)"),
            _row("compnets_resnet50_n32", label="3D-CompNets (N = 32)")]
    columns = [
        TrainColumn("loss_gflops", "loss GFLOPs per step", field_name="loss_gflops_per_step", null_notes=NULL_NOTES),
        ReductionColumn("loss_gflops_reduction", "GFLOPs reduction vs NOVUM (%)", percent=True, of="loss_gflops",
                        base_row="novum_resnet50"),
        TrainColumn("train_hours", "training time (h)", field_name="train_seconds", scale=1 / 3600, timing=True,
                    null_notes=NULL_NOTES, epoch_repeats="seconds"),
        MetricColumn("accuracy", "IID accuracy (%)", percent=True, metric=CLASS),
    ]
    notes = ["GFLOPs: the contrastive loss alone on one batch (torch.utils.flop_counter), as the paper's column.",
             "Paper: NOVUM* is trained 100 epochs (full convergence), 3D-CompNets 12; ours: compnets.train.epochs "
             "and compnets.train.novum_epochs."]
    return TableSpec(PAPER, "table1", "Table 1: efficiency of the contrastive loss (ResNet50 backbones)", rows,
                     columns, notes)


def table2() -> TableSpec:
    models = ("resnet50", "novum_resnet50", "compnets_resnet50_n32", "dinov2_vitb14", "compnets_vitb14")
    columns = [MetricColumn("iid", "IID", percent=True, metric=CLASS),
               MetricColumn("synthetic", "Synthetic", percent=True, split="style",
                            variant=STYLE[0], level=STYLE[1], metric=CLASS)]
    notes = ["Classification accuracy (%). Synthetic: the paper's 50 classes x 500 images from a 3D-controlled "
             "diffusion model (§4.1); ours: the `style` split (cartoon renderings of the training classes)."]
    return TableSpec(PAPER, "table2", "Table 2: classification, IID and synthetic", [_row(m) for m in models],
                     columns, notes)


def table3(classes: list[str] | tuple[str, ...] = ()) -> TableSpec:
    """Per-class columns: our unseen classes first, then the paper's (each source fills its own)."""
    ours = [c for c in classes if c not in PAPER_UNSEEN]
    columns = [PoseClassColumn(c, c, percent=True, class_name=c) for c in ours]
    columns += [PoseClassColumn(c, label, percent=True, class_name=c) for c, label in PAPER_UNSEEN.items()]
    columns.append(MetricColumn("average", "Average", percent=True, split="unseen", metric=POSE))
    paired = bool(classes) and not ours
    pairing = ("Our unseen classes are the paper's ImageNet3D classes: per-class columns pair up." if paired
               else "Our unseen classes are procedural synthetic categories, the paper's are 10 ImageNet3D classes, so "
               "per-class columns never pair up; compare the averages.")
    notes = [f"Pose accuracy at pi/6 (%) on categories never seen in training. {pairing}",
             "Average (ours): pooled over all unseen samples (metrics.csv). The paper's Average is not the mean of "
             "its 10 columns either (3D-CompNets: mean 47.4, printed 45.5), presumably sample-weighted."]
    rows = [_row("resnet50"), _row("dinov2_vitb14"), _row("compnets_vitb14")]
    return TableSpec(PAPER, "table3", "Table 3: pose on unseen categories (accuracy at pi/6)", rows, columns, notes)


def table4() -> TableSpec:
    rows = [_row(m, key=f"{block}:{m}", group=group, metric=metric)
            for block, group, metric in (("class", "Class.", CLASS), ("pose", "Pose Est.", POSE))
            for m in TABLE4_MODELS]
    occ = [MetricColumn(f"occ_{lv.lower()}", lv, "Occlusion", True, *_test("occlusion", lv)) for lv in OCCLUSION]
    corr = [MetricColumn(c, c, "Corruption", True, *_test(c, CORRUPTION_LEVEL)) for c in CORRUPTIONS]
    columns = [MetricColumn("iid", "IID", percent=True), *occ,
               MeanColumn("occ_avg", "Average", "Occlusion", True, members=tuple(c.key for c in occ)), *corr,
               MeanColumn("corr_avg", "Average", "Corruption", True, members=tuple(c.key for c in corr))]
    notes = ["Class.: classification accuracy (%); Pose Est.: pose accuracy at pi/6 (%). Occlusion L1-L3: object "
             "and background shares (0.1, 0.3), (0.3, 0.5), (0.5, 0.7); corruptions at severity 4.",
             "Averages are plain means over the levels, as the paper's (except its ResNet50 classification "
             "occlusion average: printed 33.9, mean 34.9)."]
    return TableSpec(PAPER, "table4", "Table 4: classification and pose under occlusion and corruption", rows,
                     columns, notes)


#: Figure 1's tasks: key -> (label, evaluations, metric).
RADAR_TASKS = {
    "iid_cls": ("IID cls", (_test(*CLEAN),), CLASS),
    "occlusion_cls": ("occlusion cls", tuple(_test("occlusion", lv) for lv in OCCLUSION), CLASS),
    "corruption_cls": ("corruption cls", tuple(_test(c, CORRUPTION_LEVEL) for c in CORRUPTIONS), CLASS),
    "synthetic_cls": ("synthetic cls", (("style", *STYLE),), CLASS),
    "iid_pose": ("IID pose", (_test(*CLEAN),), POSE),
    "occlusion_pose": ("occlusion pose", tuple(_test("occlusion", lv) for lv in OCCLUSION), POSE),
    "corruption_pose": ("corruption pose", tuple(_test(c, CORRUPTION_LEVEL) for c in CORRUPTIONS), POSE),
    "unseen_pose": ("unseen pose", (("unseen", *CLEAN),), POSE),
}


def figure1(extra_models: list[str] | tuple[str, ...] = ()) -> TableSpec:
    """The radar's data: Table 4's models (plus any other configured model) over every task."""
    rows = [_row(m) for m in (*TABLE4_MODELS, *extra_models)]
    columns = [MetricMeanColumn(key, label, percent=True, evaluations=evals, metric=metric)
               for key, (label, evals, metric) in RADAR_TASKS.items()]
    notes = ["Accuracy (%) per task (cls: classification, pose: pose accuracy at pi/6); occlusion and corruption "
             "are means over their levels. The paper's Figure 1 prints no numbers."]
    return TableSpec(PAPER, "figure1", "Figure 1 data: performance over tasks", rows, columns, notes)


def figure2(classes: list[int] | tuple[int, ...], novum_vertices: list[int] | tuple[int, ...]) -> TableSpec:
    """The scaling run: seconds per training step and loss GFLOPs per class count, and their log-log slopes."""
    rows = [Row(f"NOVUM-{k}", f"NOVUM-{k}", f"NOVUM-{k}", source="scaling") for k in novum_vertices]
    rows.append(Row(COMPNETS_SERIES, COMPNETS_SERIES, COMPNETS_SERIES, source="scaling"))
    columns = [ScalingColumn(f"sec_{y}", f"Y={y}", "s/step", n_classes=y, timing=True) for y in classes]
    columns.append(ScalingColumn("slope", "log-log slope", "s/step", timing=True))
    columns += [ScalingColumn(f"gflops_{y}", f"Y={y}", "loss GFLOPs", n_classes=y, field_name="loss_gflops")
                for y in classes]
    columns.append(ScalingColumn("gflops_slope", "log-log slope", "loss GFLOPs", field_name="loss_gflops"))
    notes = ["Timed training steps (backbone + loss on a fixed batch) with random banks of Y synthetic classes; "
             "slope of log(value) against log(Y): ~1 linear, ~2 quadratic. " + SLOPE_TEXT]
    return TableSpec(PAPER, "figure2", "Figure 2 data: training time against the number of classes", rows, columns,
                     notes)


def scaling_points(config: dict | None, sources: Sources | None = None) -> tuple[list[int], list[int]]:
    """Figure 2's class counts and NOVUM sizes: the config's ``compnets.scaling``, else the scaling CSV's counts."""
    scaling = (config or {}).get("compnets", {}).get("scaling", {})
    classes = list(scaling.get("classes") or (scaling_classes(sources) if sources else []))
    return classes, list(scaling.get("novum_vertices") or [1000, 500])


def table_specs(config: dict | None = None, sources: Sources | None = None) -> list[TableSpec]:
    """Every table and figure table, shaped by the config (unseen classes, scaling points, extra models)."""
    cfg = (config or {}).get("compnets", {})
    unseen = data_route(config).unseen_classes if config else []
    if sources is not None:
        unseen += [c for c in sources.classes(None, "unseen") if c not in unseen]
    classes, novum_vertices = scaling_points(config, sources)
    specs = [table1(), table2(), table3(unseen), table4()]
    in_tables = {row.model for spec in specs for row in spec.rows}
    extra = [m for m in cfg.get("models", {}) if m not in in_tables]
    return [*specs, figure1(extra), figure2(classes, novum_vertices)]


def figures() -> dict[str, str]:
    """Figure file stem -> the figure table its data come from (PNG files ``<paper>_<stem>.png``)."""
    return {"figure1": "figure1", "figure2": "figure2"}
