"""The template-matching paper's claims (build notes §4, T1-T8) and the stage's gates, on ours and on the paper's.

The paper's numbers are not transcribed (reference.yaml), so its side comes from the text the summary quotes
(``paper_text``) where the paper states the claim, and is untestable otherwise. Our side: Acc15 (class and pose)
with a paired bootstrap over the queries (clean and occluded queries share ids, so drops pair too); seen against
unseen compares different queries and gets no interval.
"""

from __future__ import annotations

from pathlib import Path

from robust3d.papers.templates.tables import PAPER, family_of
from robust3d.tables.claims import Claim, Ref

REFERENCE = Path(__file__).parent / "reference.yaml"
VIT_TEXT = "ViTs improve in matching accuracy over CNNs (the summary's reading of the paper)"
FROZEN_TEXT = "for some cases pre-trained ViTs do not need fine-tuning (the summary's reading of the paper)"


def _cell(model: str, group: str, queries: str = "clean", table: str = "table1") -> Ref:
    return Ref(table, model, f"{group}_{queries}")


def role_model(config: dict, role: str, family: str) -> str | None:
    """The first row model of ``templates.models`` with this role and backbone family, or None."""
    for name, spec in config[PAPER]["models"].items():
        if spec["role"] == role and family_of(config, name) == family:
            return name
    return None


def claims(config: dict | None = None, sources=None) -> list[Claim]:
    if not config:
        return []
    vit_ft, res_ft = role_model(config, "finetuned", "vit"), role_model(config, "finetuned", "resnet")
    vit_frozen = role_model(config, "frozen", "vit")
    out: list[Claim] = []
    if vit_ft and res_ft:
        for cid, group, queries in (("t1_vit_beats_resnet_unseen", "unseen", "clean"),
                                    ("t2_vit_beats_resnet_unseen_occluded", "unseen", "occluded"),
                                    ("t3_vit_beats_resnet_seen", "seen", "clean")):
            out.append(Claim(cid, f"The fine-tuned ViT beats the fine-tuned ResNet on {group} objects ({queries} "
                             "queries, Acc15)", "greater", (_cell(vit_ft, group, queries),),
                             (_cell(res_ft, group, queries),), paper_text=VIT_TEXT, paper_text_holds=True))
        out.append(Claim("t7_vit_drops_less_under_occlusion", "Occlusion costs the fine-tuned ViT less Acc15 than "
                         "the fine-tuned ResNet (unseen objects)", "drop_less",
                         (_cell(vit_ft, "unseen"), _cell(vit_ft, "unseen", "occluded")),
                         (_cell(res_ft, "unseen"), _cell(res_ft, "unseen", "occluded")),
                         paper_text="not stated by the paper", paper_text_holds=None))
    if vit_frozen and res_ft:
        for cid, queries in (("t4_frozen_vit_beats_resnet_unseen", "clean"),
                             ("t4b_frozen_vit_beats_resnet_unseen_occluded", "occluded")):
            out.append(Claim(cid, f"The frozen ViT (no fine-tuning) beats the fine-tuned ResNet on unseen objects "
                             f"({queries} queries, Acc15)", "greater", (_cell(vit_frozen, "unseen", queries),),
                             (_cell(res_ft, "unseen", queries),), paper_text=FROZEN_TEXT, paper_text_holds=True))
    if vit_ft and vit_frozen:
        out.append(Claim("t5_finetuning_helps_vit_seen", "Fine-tuning improves the ViT on seen objects (clean, "
                         "Acc15)", "greater", (_cell(vit_ft, "seen"),), (_cell(vit_frozen, "seen"),),
                         paper_text="expected, not stated by the paper", paper_text_holds=None))
    for model in (vit_ft, res_ft):
        if model:
            out.append(Claim(f"t6_{model}_seen_above_unseen", f"{model} is more accurate on seen than on unseen "
                             "objects (clean, Acc15; different queries, no interval)", "greater",
                             (_cell(model, "seen"),), (_cell(model, "unseen"),),
                             paper_text="expected, not stated by the paper", paper_text_holds=None))
    if vit_ft:
        for group in ("unseen", "seen"):
            out.append(Claim(f"t8_threshold_helps_{group}_occluded", f"The 0.2 occlusion-aware cut raises the "
                             f"fine-tuned ViT's Acc15 on occluded {group} objects", "greater",
                             (Ref("ablation", vit_ft, f"{group}_occluded"),),
                             (Ref("ablation", vit_ft, f"{group}_occluded_nothr"),),
                             paper_text="template-pose's claim, not this paper's", paper_text_holds=None))
    for family in ("vit", "resnet"):  # the gates, ours only
        ft, random = role_model(config, "finetuned", family), role_model(config, "random_init", family)
        if not ft:
            continue
        right = [_cell("pixels", "seen")] + ([_cell(random, "seen")] if random else [])
        out.append(Claim(f"gate_{ft}_beats_random_and_pixels", f"The fine-tuned {family} beats its random-init row "
                         "and the raw-pixel row on seen objects (clean, Acc15; ours only)", "greater",
                         (_cell(ft, "seen"),), tuple(right)))
    return out
