"""3D-CompNets' claims, as checked comparisons between cells of its tables (the generic engine's Claim)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from robust3d.papers.compnets.tables import COMPNETS_SERIES, SLOPE_TEXT, TABLE4_MODELS, scaling_points
from robust3d.tables.claims import Claim, Ref

if TYPE_CHECKING:
    from robust3d.tables.sources import Sources


def claims(config: dict | None = None, sources: Sources | None = None) -> list[Claim]:
    """The paper's claims for a run: the scaling ones at the config's (or the scaling CSV's) points."""
    return paper_claims(*scaling_points(config, sources))


def paper_claims(classes: list[int] | tuple[int, ...] = (100,),
                 novum_vertices: list[int] | tuple[int, ...] = (1000, 500)) -> list[Claim]:
    """The paper's claims; the scaling ones use the largest class count and the NOVUM sizes of the scaling run."""
    max_y = max(classes or [100])

    def t(table: str, row: str, column: str) -> Ref:
        return Ref(table, row, column)

    def beats(id_: str, text: str, table: str, column: str, model: str, others: tuple[str, ...],
              prefix: str = "") -> Claim:
        return Claim(id_, text, "greater", (t(table, prefix + model, column),),
                     tuple(t(table, prefix + o, column) for o in others))

    others4 = tuple(m for m in TABLE4_MODELS if m != "compnets_vitb14")
    out = [
        beats("iid_cls_vs_novum", "3D-CompNets beats NOVUM on IID classification (ResNet50 backbones)", "table2",
              "iid", "compnets_resnet50_n32", ("novum_resnet50",)),
        beats("iid_cls_vs_resnet50", "3D-CompNets beats the ResNet50 dual-head classifier on IID classification",
              "table2", "iid", "compnets_resnet50_n32", ("resnet50",)),
        beats("iid_cls_vit_vs_dinov2", "3D-CompNets (ViT-B/14) beats DINOv2 on IID classification", "table2", "iid",
              "compnets_vitb14", ("dinov2_vitb14",)),
        beats("synthetic_cls_vs_novum", "3D-CompNets beats NOVUM on synthetic-shift classification (ResNet50)",
              "table2", "synthetic", "compnets_resnet50_n32", ("novum_resnet50",)),
        beats("synthetic_cls_vit_vs_dinov2", "3D-CompNets (ViT-B/14) beats DINOv2 on synthetic-shift classification",
              "table2", "synthetic", "compnets_vitb14", ("dinov2_vitb14",)),
        Claim("occlusion_drop_vs_resnet50",
              "3D-CompNets' classification accuracy drops less under occlusion (IID - occlusion average) than "
              "ResNet50's", "drop_less",
              (t("table4", "class:compnets_vitb14", "iid"), t("table4", "class:compnets_vitb14", "occ_avg")),
              (t("table4", "class:resnet50", "iid"), t("table4", "class:resnet50", "occ_avg"))),
        beats("occlusion_cls_best", "3D-CompNets has the best classification under occlusion (average L1-L3)",
              "table4", "occ_avg", "compnets_vitb14", others4, "class:"),
        beats("corruption_cls_best", "3D-CompNets has the best classification under corruption (average)", "table4",
              "corr_avg", "compnets_vitb14", others4, "class:"),
        beats("iid_pose_best", "3D-CompNets has the best IID pose accuracy (pi/6)", "table4", "iid",
              "compnets_vitb14", others4, "pose:"),
        beats("occlusion_pose_best", "3D-CompNets has the best pose accuracy under occlusion (average)", "table4",
              "occ_avg", "compnets_vitb14", others4, "pose:"),
        beats("corruption_pose_best", "3D-CompNets has the best pose accuracy under corruption (average)", "table4",
              "corr_avg", "compnets_vitb14", others4, "pose:"),
        beats("unseen_pose_vs_dinov2", "3D-CompNets beats DINOv2 on unseen-category pose (average)", "table3",
              "average", "compnets_vitb14", ("dinov2_vitb14",)),
        beats("unseen_pose_vs_resnet50", "3D-CompNets beats ResNet50 on unseen-category pose (average)", "table3",
              "average", "compnets_vitb14", ("resnet50",)),
        Claim("loss_gflops_n32_7pct", "3D-CompNets (N = 32) needs <= 7% of NOVUM's contrastive-loss GFLOPs",
              "ratio_at_most", (t("table1", "compnets_resnet50_n32", "loss_gflops"),),
              (t("table1", "novum_resnet50", "loss_gflops"),), threshold=0.07),
        Claim("train_time_7x", "3D-CompNets (N = 32) trains at least 7x faster than NOVUM (NOVUM / 3D-CompNets time)",
              "ratio_at_least", (t("table1", "novum_resnet50", "train_hours"),),
              (t("table1", "compnets_resnet50_n32", "train_hours"),), threshold=7.0),
        beats("n32_beats_n64", "3D-CompNets with N = 32 is more accurate than with N = 64 (IID classification)",
              "table1", "accuracy", "compnets_resnet50_n32", ("compnets_resnet50_n64",)),
        Claim(f"loss_gflops_5pct_at_{max_y}",
              f"3D-CompNets needs <= 5% of NOVUM-{max(novum_vertices)}'s contrastive-loss GFLOPs at {max_y} classes "
              "(paper side: Table 1, 188 classes)", "ratio_at_most",
              (t("figure2", COMPNETS_SERIES, f"gflops_{max_y}"),),
              (t("figure2", f"NOVUM-{max(novum_vertices)}", f"gflops_{max_y}"),), threshold=0.05,
              paper_left=(t("table1", "compnets_resnet50_n32", "loss_gflops"),),
              paper_right=(t("table1", "novum_resnet50", "loss_gflops"),)),
    ]
    out += [Claim(f"time_slope_vs_novum{k}",
                  f"3D-CompNets' training time grows more slowly with the number of classes than NOVUM-{k}'s "
                  "(log-log slope)", "less", (t("figure2", COMPNETS_SERIES, "slope"),),
                  (t("figure2", f"NOVUM-{k}", "slope"),), paper_text=SLOPE_TEXT, paper_text_holds=True)
            for k in novum_vertices]
    return out
