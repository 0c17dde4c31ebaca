"""NTDM's claims (build notes 5.4) as machine-checkable statements on ours and on the paper's numbers, and the
stage's gates (ours only).

Some claims are false on the paper's own numbers (e.g. its L3 pose pi/6 against MT Mask R-CNN, 40.2 < 47.3, and
"all components contribute" on Seg IoU); they are kept, so the claims file says so. Claims about rows this config
does not build (Res50, MT Mask R-CNN) are untestable on our side and still judged on the paper's.
"""

from __future__ import annotations

from pathlib import Path

from robust3d.papers.ntdm.tables import ABLATION_ROWS, NUISANCES
from robust3d.tables.claims import Claim, Ref

REFERENCE = Path(__file__).parent / "reference.yaml"
BASELINES = ("res50_pose", "nemo", "mt_maskrcnn")


def _t1(row: str, column: str) -> Ref:
    return Ref("table1", row, column)


def _t2(row: str, column: str) -> Ref:
    return Ref("table2", row, column)


def _t3(row: str, column: str) -> Ref:
    return Ref("table3", row, column)


def table1_claims() -> list[Claim]:
    out = [
        Claim("iid_pose18_best", "NTDM has the highest IID pose accuracy at pi/18", "greater",
              (_t1("ntdm", "pose18_l0"),), tuple(_t1(m, "pose18_l0") for m in BASELINES),
              paper_right=tuple(_t1(m, "pose18_l0") for m in (*BASELINES, "starmap"))),
        Claim("iid_pose6_competitive", "NTDM's IID pose accuracy at pi/6 is within 5 points of the best single-task "
              "pose model's (ours: Res50-Pose; the paper's best is StarMap)", "within", (_t1("ntdm", "pose6_l0"),),
              (_t1("res50_pose", "pose6_l0"),), threshold=5.0, paper_right=(_t1("starmap", "pose6_l0"),)),
        Claim("iid_cls_competitive", "NTDM's IID classification is within 5 points of Res50-Class's", "within",
              (_t1("ntdm", "cls_l0"),), (_t1("res50_class", "cls_l0"),), threshold=5.0),
    ]
    for p in ("pose6", "pose18"):
        out.append(Claim(f"iid_{p}_vs_mt", f"NTDM beats MT Mask R-CNN on IID pose ({p.replace('pose', 'pi/')})",
                         "greater", (_t1("ntdm", f"{p}_l0"),), (_t1("mt_maskrcnn", f"{p}_l0"),)))
    for k in (1, 2, 3):
        for p in ("pose6", "pose18"):
            out.append(Claim(f"occ_{p}_vs_res50_l{k}", f"NTDM beats Res50-Pose on pose {p.replace('pose', 'pi/')} at "
                             f"L{k}", "greater", (_t1("ntdm", f"{p}_l{k}"),), (_t1("res50_pose", f"{p}_l{k}"),)))
            out.append(Claim(f"occ_{p}_vs_mt_l{k}", f"NTDM beats MT Mask R-CNN on pose {p.replace('pose', 'pi/')} at "
                             f"L{k}", "greater", (_t1("ntdm", f"{p}_l{k}"),), (_t1("mt_maskrcnn", f"{p}_l{k}"),)))
        out.append(Claim(f"occ_pose6_vs_starmap_l{k}", f"NTDM beats StarMap under occlusion (pose pi/6, L{k}; StarMap "
                         "is not reproduced: paper side only)", "greater", (_t1("ntdm", f"pose6_l{k}"),),
                         (_t1("starmap", f"pose6_l{k}"),)))
        out.append(Claim(f"occ_iou_best_l{k}", f"NTDM has the best amodal IoU at L{k}", "greater",
                         (_t1("ntdm", f"iou_l{k}"),), (_t1("mt_maskrcnn", f"iou_l{k}"),),
                         paper_right=(_t1("mt_maskrcnn", f"iou_l{k}"), _t1("bayesian_amodal", f"iou_l{k}"))))
        out.append(Claim(f"occ_cls_vs_mt_l{k}", f"NTDM beats MT Mask R-CNN on classification at L{k}", "greater",
                         (_t1("ntdm", f"cls_l{k}"),), (_t1("mt_maskrcnn", f"cls_l{k}"),)))
    out += [
        Claim("occ_cls_l3_best", "NTDM has the best classification at L3", "greater", (_t1("ntdm", "cls_l3"),),
              (_t1("res50_class", "cls_l3"), _t1("mt_maskrcnn", "cls_l3"))),
        Claim("occ_cls_drop", "NTDM's classification drops less from w/o to L3 than Res50-Class's", "drop_less",
              (_t1("ntdm", "cls_l0"), _t1("ntdm", "cls_l3")), (_t1("res50_class", "cls_l0"), _t1("res50_class",
                                                                                                    "cls_l3"))),
        Claim("occ_pose6_drop", "NTDM's pose pi/6 drops less from w/o to L3 than Res50-Pose's", "drop_less",
              (_t1("ntdm", "pose6_l0"), _t1("ntdm", "pose6_l3")),
              (_t1("res50_pose", "pose6_l0"), _t1("res50_pose", "pose6_l3"))),
        Claim("occ_pose6_drop_vs_nemo", "NTDM's pose pi/6 drops less from w/o to L3 than NeMo's (not claimed by the "
              "paper: its numbers say the opposite; the mesh-against-cuboid question)", "drop_less",
              (_t1("ntdm", "pose6_l0"), _t1("ntdm", "pose6_l3")), (_t1("nemo", "pose6_l0"), _t1("nemo", "pose6_l3"))),
    ]
    return out


def table2_claims() -> list[Claim]:
    others = tuple(_t2(m, "pose18_mean") for m in BASELINES)
    out = [
        Claim("ood_pose18_mean_best", "NTDM has the best mean pose pi/18 over the five nuisances", "greater",
              (_t2("ntdm", "pose18_mean"),), others),
        Claim("ood_pose6_mean_comparable", "NTDM's mean pose pi/6 is within 3 points of the best model's (Res50-Pose "
              "on the paper's numbers)", "within", (_t2("ntdm", "pose6_mean"),), (_t2("res50_pose", "pose6_mean"),),
              threshold=3.0),
        Claim("ood_pose6_vs_nemo", "NTDM beats NeMo on mean pose pi/6", "greater", (_t2("ntdm", "pose6_mean"),),
              (_t2("nemo", "pose6_mean"),)),
    ]
    for nuisance in ("shape", "pose"):
        out.append(Claim(f"ood_{nuisance}_pose_best", f"NTDM has the best pose pi/6 on the {nuisance} nuisance",
                         "greater", (_t2("ntdm", f"pose6_{nuisance}"),),
                         tuple(_t2(m, f"pose6_{nuisance}") for m in BASELINES)))
    for nuisance in (*NUISANCES, "mean"):
        out.append(Claim(f"ood_iou_vs_mt_{nuisance}", f"NTDM beats MT Mask R-CNN on amodal IoU ({nuisance})",
                         "greater", (_t2("ntdm", f"iou_{nuisance}"),), (_t2("mt_maskrcnn", f"iou_{nuisance}"),)))
        if nuisance != "mean":
            out.append(Claim(f"ood_pose6_vs_mt_{nuisance}", f"NTDM beats MT Mask R-CNN on pose pi/6 ({nuisance})",
                             "greater", (_t2("ntdm", f"pose6_{nuisance}"),),
                             (_t2("mt_maskrcnn", f"pose6_{nuisance}"),)))
    return out


def table3_claims() -> list[Claim]:
    rest = [r for r in ABLATION_ROWS if r != "ntdm_abl_full"]
    out = []
    for col, what in (("pose6", "pose pi/6"), ("pose18", "pose pi/18"), ("iou", "Seg IoU")):
        out.append(Claim(f"abl_full_{col}_best", f"The full NTDM has the highest {what} of the ablation rows "
                         "(\"all introduced components contribute\")", "greater", (_t3("ntdm_abl_full", col),),
                         tuple(_t3(r, col) for r in rest)))
        out.append(Claim(f"abl_fix_shape_{col}_worst", f"Fixing the shape gives the lowest {what} of the ablation "
                         "rows", "less", (_t3("ntdm_abl_fix_shape", col),),
                         tuple(_t3(r, col) for r in ABLATION_ROWS if r != "ntdm_abl_fix_shape")))
    return out


def gates(sources=None) -> list[Claim]:
    """The issue's gates, ours only: above-chance IID pose, an amodal IoU of at least 60%, training beats a
    from-scratch backbone."""
    chance = None
    if sources is not None:
        levels = sources.chance("test") or {}
        chance = levels.get("pose_acc_pi6", (None, None))[0]
    out = [Claim("gate_ntdm_iid_iou_60", "NTDM's IID amodal IoU is at least 60% (ours only)", "above",
                 (_t1("ntdm", "iou_l0"),), (), threshold=60.0),
           Claim("gate_ntdm_beats_random_init", "NTDM from the pretrained start beats NTDM from scratch on IID pose "
                 "pi/6 (ours only)", "greater", (_t1("ntdm", "pose6_l0"),), (_t1("ntdm_random", "pose6_l0"),))]
    if chance is not None:
        for model in ("ntdm", "nemo"):
            out.append(Claim(f"gate_{model}_iid_pose_above_chance", f"{model}'s IID pose pi/6 is above chance "
                             f"({chance:.1f}%, a pose drawn from the split's own poses; ours only)", "above",
                             (_t1(model, "pose6_l0"),), (), threshold=float(chance)))
    return out


def claims(config: dict | None = None, sources=None) -> list[Claim]:
    return [*table1_claims(), *table2_claims(), *table3_claims(), *gates(sources)]
