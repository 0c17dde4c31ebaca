"""3D-CompNets (paper 1): Tables 1-4 and the data behind Figures 1-2, as specs of the generic table engine.

Row keys are our model ids (``compnets.models``), labelled as the paper prints them; the paper's numbers for the
same keys live in ``reference.yaml`` beside this file. On the embedded default our setting differs from the paper's in
ways the tables state: the synthetic benchmark instead of ImageNet3D, the ``style`` split instead of
diffusion-generated images, synthetic classes held out by this stage (and the procedural ones) instead of the
paper's 10 ImageNet3D classes, and smaller backbones. With ``compnets.data.source: imagenet3d`` the data are the
paper's (no Synthetic column).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from robust3d.byom import entries_for, entry_name, model_id
from robust3d.evaluate.stats import bootstrap_replicates, loglog_slope, loglog_slopes
from robust3d.papers.compnets.routes import (
    PROCEDURAL,
    HeldOutSyntheticRoute,
    data_route,
    declared_siblings,
    seen_classes,
    unseen_set_id,
)
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
    TrainTimeColumn,
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
TABLE3_MODELS = ("resnet50", "dinov2_vitb14", "compnets_vitb14")
#: The table of the seen classes each unseen image borrowed (``<paper>_table3_borrowed``).
BORROWED = "table3_borrowed"
#: The neural mesh models of the default config (the borrow claim's rows without a config).
NEURAL_MESH_MODELS = ("novum_resnet50", "compnets_resnet50_n64", "compnets_resnet50_n32", "compnets_vitb14")
COMPNETS_SERIES = "3D-CompNets"
SLOPE_TEXT = ("§5.1: 'the training time of our model increases approximately linearly with the number of "
              "categories Y, while the original NOVUM scales quadratically' (Figure 2 prints no numbers)")
#: The 3D-CompNets models whose grouping weights Figure 4 illustrates (its data table's rows).
OMEGA_MODELS = ("compnets_resnet50_n32", "compnets_resnet50_n64", "compnets_vitb14")
#: Table 4's ours-only row: 3D-CompNets on ResNet50 (N = 32) beside the ResNet50 dual head, for the same-backbone
#: occlusion-drop claim; it reads only the columns that claim needs, so nothing else is predicted for it.
OCCLUSION_DROP_COLUMNS = ("iid", "occ_l1", "occ_l2", "occ_l3", "occ_avg")


#: Why a dual-head model's train.json has no loss FLOPs (the note of its Table 1 cell).
NULL_NOTES = (("dual_head", "a dual-head model has no contrastive loss"),)


# ---------------------------------------------------------------------------------------------- 3D-CompNets columns

def twin_row(row: Row, twin: bool) -> Row:
    """``row`` reading the model set trained without the unseen classes (``<model>@unseen``) when ``twin``: with
    ``compnets.data.separate_unseen_models`` Table 3's cells come from that set, the other tables' from ``<model>``."""
    return replace(row, model=unseen_set_id(row.model)) if twin and entry_name(row.model) is None else row


@dataclass(frozen=True)
class PoseClassColumn(Column):
    """Pose accuracy at pi/6 of one class of an unseen split, from the per-sample predictions."""

    class_name: str = ""
    split: str = "unseen"
    twin: bool = False  # read <model>@unseen (separate model sets)

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [(self.split, *CLEAN)]

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        return sources.class_metric(twin_row(row, self.twin).model, self.split, self.class_name, POSE)


class _ReadsTwin:
    """Mixin for a metric column with a ``twin`` field: its cells and per-sample values are ``<model>@unseen``'s when
    ``twin`` is set."""

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        return super().resolve(twin_row(row, self.twin), sources, cells)

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        return super().per_sample(twin_row(row, self.twin), sources, spec)


@dataclass(frozen=True)
class TwinMetricColumn(_ReadsTwin, MetricColumn):
    """A metric of metrics.csv, of ``<model>@unseen`` when ``twin`` (an unseen split with separate model sets)."""

    twin: bool = False


@dataclass(frozen=True)
class TwinMetricMeanColumn(_ReadsTwin, MetricMeanColumn):
    """:class:`MetricMeanColumn` of ``<model>@unseen`` when ``twin`` (Figure 1's unseen pose, separate sets)."""

    twin: bool = False


def borrowed_rows(sources: Sources, model: str, split: str = "unseen") -> pd.DataFrame | None:
    """The clean ``split`` predictions of ``model`` (in this seed view), whose ``pose_class`` is the seen class the
    model borrowed: the class mesh that explains the image best (neural mesh models, §5.3) or the classification
    head's answer (dual heads, whose pose head ignores the class); None when there are none."""
    from robust3d.models.seeds import seeded_id

    df = sources.predictions
    if df is None:
        return None
    model = model if sources.seed is None else seeded_id(model, sources.seed)
    df = df[(df["model"] == model) & (df["split"] == split) & (df["variant"] == "clean")]
    df = df[df["pose_class"].astype(str) != ""]
    return df if len(df) else None


@dataclass(frozen=True)
class BorrowColumn(Column):
    """How many images of one unseen class took their pose from one seen class (``n``: the class's images)."""

    unseen_class: str = ""
    borrowed: str = ""
    twin: bool = False

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [("unseen", *CLEAN)]

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        model = twin_row(row, self.twin).model
        found = sources.class_metric(model, "unseen", self.unseen_class, POSE)  # availability and its reasons
        if found.missing:
            return Cell(None, None, found.note)
        df = borrowed_rows(sources, model)
        df = None if df is None else df[df["class"] == self.unseen_class]
        if df is None or not len(df):
            return Cell(None, None, f"no unseen {self.unseen_class} images with a borrowed class")
        return Cell(float((df["pose_class"] == self.borrowed).sum()), len(df), "")


@dataclass(frozen=True)
class SiblingColumn(Column):
    """Of the unseen images whose class has declared siblings (``compnets.data.siblings``): the share whose
    borrowed class is one of them (``chance`` False), or the share a class drawn uniformly from the model's seen
    classes would reach (``chance`` True: siblings among them / their number, per image). Per image, so the claim
    "unseen classes borrow similar seen classes" is a paired bootstrap over the unseen images."""

    siblings: tuple[tuple[str, tuple[str, ...]], ...] = ()
    seen: tuple[str, ...] | None = None  # the seen classes when the model's train.json does not list them
    chance: bool = False
    twin: bool = False

    def needs(self, row: Row) -> list[tuple[str, str, str]]:
        return [("unseen", *CLEAN)]

    def _seen(self, model: str, sources: Sources) -> list[str] | None:
        run = sources.train_run(model)
        classes = (run or {}).get("classes") or self.seen
        return None if classes is None else list(classes)

    def values(self, row: Row, sources: Sources) -> tuple[pd.Series | None, str]:
        """The per-image values (100 for a sibling, 0 otherwise; or the chance share), or None and why."""
        import pandas as pd

        if not self.siblings:
            return None, "no unseen class has declared siblings (compnets.data.siblings)"
        model = twin_row(row, self.twin).model
        df = borrowed_rows(sources, model)
        if df is None:
            return None, f"no unseen predictions of {model} with a borrowed class"
        similar = dict(self.siblings)
        df = df[df["class"].isin(list(similar))]
        if not len(df):
            return None, f"no unseen images of {', '.join(similar)} (the classes with declared siblings)"
        if not self.chance:
            hits = [100.0 * (b in similar[c]) for c, b in zip(df["class"], df["pose_class"], strict=True)]
            return pd.Series(hits, index=df["sample_id"].to_numpy(), name=self.key), ""
        seen = self._seen(model, sources)
        if not seen:
            return None, f"the seen classes of {model} are unknown (no train.json classes)"
        share = {c: 100.0 * len(set(s) & set(seen)) / len(seen) for c, s in similar.items()}
        return pd.Series([share[c] for c in df["class"]], index=df["sample_id"].to_numpy(), name=self.key), ""

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        series, why = self.values(row, sources)
        return Cell(None, None, why) if series is None else Cell(float(series.mean()), len(series), "")

    def per_sample(self, row: Row, sources: Sources, spec: TableSpec | None = None) -> pd.Series | None:
        return self.values(row, sources)[0]


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
        if self.field_name not in df:
            return Cell(None, None, f"the scaling CSV has no {self.field_name} column")
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
        """Step times only (wall or CPU): each point's median over its repeated steps (``<field>_repeats``, e.g.
        ``step_seconds_repeats``) resampled with replacement, and the slope of those resampled medians (a point's
        replicates when ``n_classes`` is set)."""
        from robust3d.models.neural_mesh.flops import upper_median  # the scaling run's median (torch: imported late)

        df = _series(sources, row.model)
        column = f"{self.field_name}_repeats"
        if df is None or column not in df:
            return None
        if self.n_classes is not None:
            df = df[df["n_classes"] == self.n_classes]
        if not len(df) or df[column].isna().any():
            return None
        repeats = [[float(t) for t in str(times).split()] for times in df[column]]
        if any(len(r) < 2 for r in repeats):
            return None  # a step timed once has no spread to resample
        points = [bootstrap_replicates(r, upper_median, n_resamples, seed=replicate_seed(row.model, int(n)))
                  for n, r in zip(df["n_classes"], repeats, strict=True)]
        if self.n_classes is not None:
            return points[0]
        return loglog_slopes(df["n_classes"], np.stack(points)) if len(points) >= 2 else None


@dataclass(frozen=True)
class OmegaColumn(Column):
    """Share (%) of a 3D-CompNets model's cross-class grouping weights omega_{y,y'} (y != y') that are nonzero, from
    its train.json: the final omega (the ``omega`` matrix; ``omega_nonzero`` where an older file has no matrix), or
    the first calibration's (``first``: the first history record with ``omega_nonzero``), to show it thinning out.
    ``n``: the number of off-diagonal pairs, where the matrix gives it."""

    first: bool = False

    def resolve(self, row: Row, sources: Sources, cells: dict[str, Cell]) -> Cell:
        run = sources.train_run(row.model)
        if run is None:
            return Cell(None, None, f"no training metrics (train.json) of {row.model}")
        if run.get("family") == "dual_head" or run.get("loss") == "novum":
            return Cell(None, None, "no grouping weights (only 3D-CompNets' loss weighs class pairs)")
        omega = run.get("omega")
        pairs = len(omega) * (len(omega) - 1) if omega is not None else None
        if pairs == 0:
            return Cell(None, None, "one class: no cross-class weights")
        if self.first:
            share = next((h["omega_nonzero"] for h in run.get("history") or [] if h.get("omega_nonzero") is not None),
                         None)
            return (Cell(None, None, "no calibration in the history (omega stayed 1)") if share is None
                    else Cell(100.0 * float(share), pairs, ""))
        if omega is not None:
            matrix = np.asarray(omega, dtype=np.float64)
            off = ~np.eye(len(matrix), dtype=bool)
            return Cell(100.0 * float((matrix[off] > 0).mean()), pairs, "")
        share = run.get("omega_nonzero")
        return Cell(None, None, "train.json has no omega") if share is None else Cell(100.0 * float(share), None, "")



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
        TrainTimeColumn("train_hours", "CPU time to stop (h)", scale=1 / 3600, timing=True, null_notes=NULL_NOTES),
        MetricColumn("accuracy", "IID accuracy (%)", percent=True, metric=CLASS),
    ]
    notes = ["GFLOPs: the contrastive loss alone on one batch (torch.utils.flop_counter), as the paper's column.",
             "Time (ours): the process CPU hours of training until it stopped (train.json train_cpu_seconds: the "
             "CPU time of every thread, which other jobs sharing the cores do not stretch as they stretch wall "
             "time, so scheduling cannot make N = 64 look faster than N = 32; on a GPU it leaves out device time). "
             "A run stops when its calibration score stops improving (converged) or at its epoch cap; '≥' marks a "
             "run that hit the cap, whose time to convergence is at least the value. A train.json without CPU "
             "time falls back to wall-clock train_seconds (noted).",
             "Paper: time to full convergence, NOVUM* 100 epochs, 3D-CompNets 12; ours: up to "
             "compnets.train.epochs and compnets.train.novum_epochs epochs, stopping earlier on convergence."]
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


def table3(classes: list[str] | tuple[str, ...] = (), procedural: list[str] | tuple[str, ...] = (),
           held_out: bool = False, twin: bool = False, siblings: dict[str, list[str]] | None = None) -> TableSpec:
    """Per-class columns: our unseen classes first, then the paper's (each source fills its own), the average; then
    the procedural classes' columns (``unseen_procedural``), when this stage holds classes out (``held_out``).
    ``twin``: the rows read the model set trained without the unseen classes (separate model sets)."""
    ours = [c for c in classes if c not in PAPER_UNSEEN]
    columns = [PoseClassColumn(c, c, percent=True, class_name=c, twin=twin) for c in ours]
    columns += [PoseClassColumn(c, label, percent=True, class_name=c, twin=twin) for c, label in PAPER_UNSEEN.items()]
    columns.append(TwinMetricColumn("average", "Average", percent=True, split="unseen", metric=POSE, twin=twin))
    columns += [PoseClassColumn(f"{PROCEDURAL}:{c}", c, "procedural", True, class_name=c, split=PROCEDURAL,
                                twin=twin) for c in procedural]
    if procedural:
        columns.append(TwinMetricColumn(f"{PROCEDURAL}:average", "Average", "procedural", True, split=PROCEDURAL,
                                        metric=POSE, twin=twin))
    paired = bool(classes) and not ours
    if paired:
        pairing = "Our unseen classes are the paper's ImageNet3D classes: per-class columns pair up."
    elif held_out:
        declared = "; ".join(f"{c} -> {', '.join(s)}" for c, s in (siblings or {}).items()) or "none declared"
        pairing = (f"Our unseen classes ({', '.join(ours)}) are synthetic classes of the PASCAL3D+ convention (front "
                   "at -y, so a frame-aligned seen class can lend its pose) held out of training by this stage; "
                   f"their similar seen classes, as the paper's unicycle has bicycle: {declared}. The paper's are 10 "
                   "ImageNet3D classes, so per-class columns never pair up; compare the averages.")
    else:
        pairing = ("Our unseen classes are procedural synthetic categories, the paper's are 10 ImageNet3D classes, "
                   "so per-class columns never pair up; compare the averages.")
    notes = [f"Pose accuracy at pi/6 (%) on categories never seen in training. {pairing}",
             "Average (ours): pooled over all unseen samples (metrics.csv). The paper's Average is not the mean of "
             "its 10 columns either (3D-CompNets: mean 47.4, printed 45.5), presumably sample-weighted."]
    if procedural:
        notes.append("procedural (split unseen_procedural, not in the paper): the synthetic benchmark's random "
                     "procedural shapes (synthetic.unseen_categories), whose front directions are arbitrary, so no "
                     "model can transfer a pose to them; an extra column group, outside the paper's comparison.")
    if twin:
        notes.append("Rows: the models trained without the unseen classes (ids <model>@unseen), a second set beside "
                     "the all-class models of Tables 1, 2 and 4, as the paper (178 against 188 classes).")
    elif held_out:
        notes.append("One model set for every table: each model is trained on the seen classes only, so Tables 1, "
                     "2 and 4 cover the seen classes too; a second, all-class set "
                     "(compnets.data.separate_unseen_models, the paper's 188 against 178 classes) would double the "
                     "stage's training time.")
    notes.append(f"Which seen class each unseen image borrowed its pose from: {PAPER}_{BORROWED}.")
    rows = [_row(m) for m in TABLE3_MODELS]
    return TableSpec(PAPER, "table3", "Table 3: pose on unseen categories (accuracy at pi/6)", rows, columns, notes)


def table3_borrowed(classes: list[str] | tuple[str, ...] = (), siblings: dict[str, list[str]] | None = None,
                    borrowed: dict[str, list[str]] | None = None, models: list[str] | tuple[str, ...] = (),
                    seen: list[str] | None = None, twin: bool = False) -> TableSpec:
    """Which seen class each unseen image borrowed (its pose's class): per unseen class, a count per seen class
    (declared siblings first, then every class some model borrowed), and the sibling share against chance, the
    cells of the claim "unseen classes borrow similar seen classes" (one per neural mesh model)."""
    siblings = {c: list(s) for c, s in (siblings or {}).items() if c in classes}
    borrowed = borrowed or {}
    pairs = tuple((c, tuple(s)) for c, s in siblings.items())
    columns: list[Column] = [
        SiblingColumn("sibling_share", "borrowed a declared sibling (%)", percent=True, siblings=pairs,
                      seen=None if seen is None else tuple(seen), twin=twin),
        SiblingColumn("sibling_chance", "chance share (%)", percent=True, siblings=pairs,
                      seen=None if seen is None else tuple(seen), chance=True, twin=twin)]
    for c in classes:
        declared = siblings.get(c, [])
        for b in [*declared, *sorted(set(borrowed.get(c, ())) - set(declared))]:
            columns.append(BorrowColumn(f"{c}:{b}", b, f"{c} ->", unseen_class=c, borrowed=b, twin=twin))
    declared = "; ".join(f"{c} -> {', '.join(s)}" for c, s in siblings.items()) or "none"
    notes = ["Counts: images of each unseen class whose pose came from each seen class (n: the class's images): "
             "for neural mesh models the class mesh that explains the image best (lowest feature reconstruction "
             "loss, §3.4 / §5.3), for dual-head models the classification head's answer (their pose head ignores "
             "the class). Columns: the declared siblings first, then every other class some model borrowed.",
             f"borrowed a declared sibling: share of the unseen images of classes with declared siblings "
             f"(compnets.data.siblings: {declared}) whose borrowed class is one of them; chance share: the same for "
             "a class drawn uniformly from the model's seen classes (its siblings among them / their number). The "
             "paper reports such shares in its text only (§5.3), not in a table."]
    if twin:
        notes.append("Rows: the models trained without the unseen classes (ids <model>@unseen).")
    rows = [_row(m) for m in models]
    return TableSpec(PAPER, BORROWED, "Table 3 (borrowed classes): the seen class each unseen image took its pose "
                     "from", rows, columns, notes)


def table4() -> TableSpec:
    rows = [_row(m, key=f"{block}:{m}", group=group, metric=metric)
            for block, group, metric in (("class", "Class.", CLASS), ("pose", "Pose Est.", POSE))
            for m in TABLE4_MODELS]
    rows.insert(len(TABLE4_MODELS), _row("compnets_resnet50_n32", key="class:compnets_resnet50_n32", group="Class.",
                                         metric=CLASS, label="3D-CompNets, ours only",
                                         columns=OCCLUSION_DROP_COLUMNS))
    occ = [MetricColumn(f"occ_{lv.lower()}", lv, "Occlusion", True, *_test("occlusion", lv)) for lv in OCCLUSION]
    corr = [MetricColumn(c, c, "Corruption", True, *_test(c, CORRUPTION_LEVEL)) for c in CORRUPTIONS]
    columns = [MetricColumn("iid", "IID", percent=True), *occ,
               MeanColumn("occ_avg", "Average", "Occlusion", True, members=tuple(c.key for c in occ)), *corr,
               MeanColumn("corr_avg", "Average", "Corruption", True, members=tuple(c.key for c in corr))]
    notes = ["Class.: classification accuracy (%); Pose Est.: pose accuracy at pi/6 (%). Occlusion L1-L3: object "
             "and background shares (0.1, 0.3), (0.3, 0.5), (0.5, 0.7); corruptions at severity 4.",
             "Averages are plain means over the levels, as the paper's (except its ResNet50 classification "
             "occlusion average: printed 33.9, mean 34.9).",
             "Class. 3D-CompNets, ours only (resnet50): the N = 32 ResNet50 model on IID and occlusion only (the "
             "paper's Table 4 has no such row), so the occlusion-drop claim also compares it with the ResNet50 "
             "dual head on the same backbone."]
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


def figure1(extra_models: list[str] | tuple[str, ...] = (), twin: bool = False) -> TableSpec:
    """The radar's data: Table 4's models (plus any other configured model) over every task; ``twin``: the unseen
    task from the models trained without the unseen classes (separate model sets), as Table 3."""
    rows = [_row(m) for m in (*TABLE4_MODELS, *extra_models)]
    columns = [TwinMetricMeanColumn(key, label, percent=True, evaluations=evals, metric=metric,
                                    twin=twin and all(e[0] == "unseen" for e in evals))
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
    columns += [ScalingColumn(f"sec_cpu_{y}", f"Y={y}", "CPU s/step", n_classes=y, field_name="step_cpu_seconds",
                              timing=True) for y in classes]
    columns.append(ScalingColumn("slope_cpu", "log-log slope", "CPU s/step", field_name="step_cpu_seconds",
                                 timing=True))
    columns += [ScalingColumn(f"gflops_{y}", f"Y={y}", "loss GFLOPs", n_classes=y, field_name="loss_gflops")
                for y in classes]
    columns.append(ScalingColumn("gflops_slope", "log-log slope", "loss GFLOPs", field_name="loss_gflops"))
    notes = ["Timed training steps (backbone forward, loss, backward and Adam step on a fixed batch) with random "
             "banks of Y synthetic classes, the median of the timed steps: s/step is wall-clock time, CPU s/step the "
             "process's CPU time (time.process_time, every thread; other jobs on the machine do not stretch it). "
             "Both measure the cost of one step against Y, not the time to convergence the paper's Figure 2 "
             "reports ('the training time for each model to best converge'), which also counts how many steps "
             "each model needs. Slope of log(value) against log(Y): ~1 linear, ~2 quadratic. " + SLOPE_TEXT]
    return TableSpec(PAPER, "figure2", "Figure 2 data: time per training step against the number of classes", rows,
                     columns, notes)


def figure4() -> TableSpec:
    """The grouping weights omega of each 3D-CompNets model: how many cross-class pairs still count at the end."""
    columns = [OmegaColumn("omega_nonzero_first", "after the first calibration", "nonzero omega (%)", True,
                           first=True),
               OmegaColumn("omega_nonzero", "final", "nonzero omega (%)", True)]
    notes = ["Share of the cross-class grouping weights omega_{y,y'} (y != y', from the calibration confusion, "
             "zeroed below compnets.mesh.confusion_threshold) that are nonzero, in train.json; n: the number of "
             "class pairs. The paper's Figure 4 illustrates omega becoming sparse and prints no numbers."]
    return TableSpec(PAPER, "figure4", "Figure 4 data: the grouping weights omega", [_row(m) for m in OMEGA_MODELS],
                     columns, notes)


def scaling_points(config: dict | None, sources: Sources | None = None) -> tuple[list[int], list[int]]:
    """Figure 2's class counts and NOVUM sizes: the config's ``compnets.scaling``, else the scaling CSV's counts."""
    scaling = (config or {}).get("compnets", {}).get("scaling", {})
    classes = list(scaling.get("classes") or (scaling_classes(sources) if sources else []))
    return classes, list(scaling.get("novum_vertices") or [1000, 500])


def table_specs(config: dict | None = None, sources: Sources | None = None) -> list[TableSpec]:
    """Every table and figure table, shaped by the config (unseen classes, scaling points, extra models)."""
    cfg = (config or {}).get("compnets", {})
    route = data_route(config) if config else None
    unseen = route.unseen_classes if route else []
    procedural = route.procedural_classes if route else []
    borrowed: dict[str, list[str]] = {}
    if sources is not None:
        unseen += [c for c in sources.classes(None, "unseen") if c not in unseen]
        if procedural:
            procedural += [c for c in sources.classes(None, PROCEDURAL) if c not in procedural]
        borrowed = borrowed_classes(sources)
    twin = bool(route and route.separate)
    classes, novum_vertices = scaling_points(config, sources)
    siblings = declared_siblings(config) if config else {}
    held_out = isinstance(route, HeldOutSyntheticRoute)
    specs = [table1(), table2(), table3(unseen, procedural, held_out, twin, siblings), table4()]
    in_tables = {row.model for spec in specs for row in spec.rows}
    extra = [m for m in cfg.get("models", {}) if m not in in_tables]
    borrowing = [*TABLE3_MODELS, *(m for m in neural_mesh_models(config) if m not in TABLE3_MODELS)]
    specs.append(table3_borrowed(unseen, siblings, borrowed, borrowing, seen_classes(config) if config else None,
                                 twin))
    specs = [*specs, figure1(extra, twin), figure2(classes, novum_vertices), figure4()]
    brought = byom_provides(config)
    return [with_byom_rows(spec, brought) for spec in specs] if brought else specs


# ---------------------------------------------------------------------------------------------- brought models
#: What each output of a brought model fills: the metrics of its rows' cells.
BYOM_METRICS = {"class": (CLASS,), "pose": (POSE,)}
#: The tables a brought model's rows join (the others read training records, timings or the scaling run).
BYOM_TABLES = ("table2", "table3", "table4", "figure1")


def byom_provides(config: dict | None) -> dict[str, set[str]]:
    """Model id -> the metrics a brought model (config ``byom:``) can fill in this paper's tables."""
    return {model_id(name): {m for out in entry["provides"] for m in BYOM_METRICS.get(out, ())}
            for name, entry in entries_for(config or {}, PAPER).items()}


def _column_metric(spec: TableSpec, row: Row, column: Column) -> str | None:
    """The metric a cell reads (a mean column: its members' when they all read one)."""
    if isinstance(column, MeanColumn):
        members = {_column_metric(spec, row, spec.column(k)) for k in column.members}
        return members.pop() if len(members) == 1 else None
    if isinstance(column, PoseClassColumn):
        return POSE
    return getattr(column, "metric", None) or row.metric


def with_byom_rows(spec: TableSpec, brought: dict[str, set[str]]) -> TableSpec:
    """``spec`` with a row per brought model (per block for Table 4) holding the columns its outputs fill; its
    other cells stay empty with the reason. A table none of whose columns it can fill gets no row."""
    if spec.name not in BYOM_TABLES:
        return spec
    blocks: dict[tuple[str, str | None], str] = {}  # (group, metric) -> the block's key prefix ("class:")
    for r in spec.rows:
        if r.source == "model":
            blocks.setdefault((r.group, r.metric), r.key.split(":")[0] + ":" if ":" in r.key else "")
    rows = list(spec.rows)
    for model, metrics in brought.items():
        for (group, metric), prefix in blocks.items():
            probe = Row("", model, "", group=group, metric=metric)
            fills = tuple(c.key for c in spec.columns if _column_metric(spec, probe, c) in metrics)
            if not fills:
                continue
            missing = sorted({_column_metric(spec, probe, c) for c in spec.columns if c.key not in fills} - {None})
            last = max(i for i, r in enumerate(rows) if r.source == "model" and (r.group, r.metric) == (group, metric))
            rows.insert(last + 1, Row(f"{prefix}{model}", model, f"{entry_name(model)} (brought model)", "", group,
                                      metric, columns=None if len(fills) == len(spec.columns) else fills,
                                      absent=f"the brought model provides no {', '.join(missing) or 'value here'}"))
    return replace(spec, rows=rows)


def neural_mesh_models(config: dict | None) -> list[str]:
    """The config's neural mesh models (the borrow claim's rows), or the default config's without one."""
    if not config:
        return list(NEURAL_MESH_MODELS)
    return [m for m, spec in config[PAPER]["models"].items() if spec.get("family") == "neural_mesh"]


def borrowed_classes(sources: Sources) -> dict[str, list[str]]:
    """Unseen class -> the seen classes some model's unseen predictions borrowed (``pose_class``), sorted."""
    df = sources.predictions
    if df is None:
        return {}
    df = df[(df["split"] == "unseen") & (df["pose_class"].astype(str) != "")]
    return {c: sorted(set(g["pose_class"])) for c, g in df.groupby("class", sort=False)}


def figures() -> dict[str, str]:
    """Figure file stem -> the figure table its data come from (PNG files ``<paper>_<stem>.png``)."""
    return {"figure1": "figure1", "figure2": "figure2"}
