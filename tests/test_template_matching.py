"""Template matching's pieces (build notes §4 tests 1-5, 8): the masked cosine similarity (batched against the
per-template reference), the occlusion-aware cut, InfoNCE, the viewpoint error with symmetries, the accuracies, the
descriptor grids of both backbones, and the schedules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from robust3d.evaluate.template_metrics import chance_of_group, hits, summary, viewpoint_errors
from robust3d.models.templates.matcher import TemplateMatcher
from robust3d.models.templates.similarity import cell_mask, info_nce, masked_cosine, masked_cosine_loop
from robust3d.models.templates.train import Schedule, cosine


def _maps(seed: int, n: int, c: int = 5, h: int = 2, w: int = 2) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_masked_cosine_is_the_mean_cosine_over_the_template_mask_cells():
    q, t = _maps(0, 1), _maps(1, 1)
    mask = torch.tensor([[[True, False], [True, True]]])
    cells = [(0, 0), (1, 0), (1, 1)]
    expected = sum(float(F.cosine_similarity(q[0, :, i, j], t[0, :, i, j], dim=0)) for i, j in cells) / 3
    assert float(masked_cosine(q, t, mask)) == pytest.approx(expected, abs=1e-12)
    assert float(masked_cosine_loop(q, t, mask)) == pytest.approx(expected, abs=1e-12)


def test_query_features_outside_the_template_mask_do_not_matter():
    q, t = _maps(2, 1), _maps(3, 1)
    mask = torch.tensor([[[True, False], [False, True]]])
    changed = q.clone()
    changed[0, :, 0, 1] = 100.0
    changed[0, :, 1, 0] = -7.0
    assert torch.equal(masked_cosine(q, t, mask), masked_cosine(changed, t, mask))
    assert torch.equal(masked_cosine(q, t, mask, 0.2), masked_cosine(changed, t, mask, 0.2))


def test_a_zero_feature_cell_contributes_nothing_but_counts_in_the_mask():
    t = _maps(4, 1)
    q = t.clone()
    q[0, :, 0, 0] = 0.0  # cosine 0 (the reference's eps), still one of the 4 mask cells
    mask = torch.ones(1, 2, 2, dtype=torch.bool)
    assert float(masked_cosine(q, t, mask)) == pytest.approx(3 / 4, abs=1e-12)
    assert float(masked_cosine_loop(q, t, mask)) == pytest.approx(3 / 4, abs=1e-12)


@pytest.mark.parametrize("threshold", [None, 0.2])
def test_the_batched_similarity_equals_the_per_template_loop(threshold):
    q, t = _maps(5, 7, c=6, h=4, w=3), _maps(6, 11, c=6, h=4, w=3)
    masks = torch.rand(11, 4, 3, generator=torch.Generator().manual_seed(7)) > 0.4
    masks[0] = False  # an empty mask scores 0, not NaN
    batched = masked_cosine(q.float(), t.float(), masks, threshold, chunk=3)
    loop = masked_cosine_loop(q.float(), t.float(), masks, threshold)
    assert batched.shape == (7, 11)
    torch.testing.assert_close(batched, loop, atol=1e-5, rtol=0)
    assert torch.all(batched[:, 0] == 0)


def test_the_cut_zeroes_cosines_at_or_below_the_threshold_only_at_test_time():
    t = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 4, 1, 1)
    q = torch.tensor([1.0, 1.0, 1.0, 1.0]).view(1, 4, 1, 1)  # cosine exactly 0.5 (1 / 2, exact in binary)
    mask = torch.ones(1, 1, 1, dtype=torch.bool)
    assert float(masked_cosine(q, t, mask, 0.5)) == 0.0  # inclusive: a cosine equal to the cut counts 0
    assert float(masked_cosine_loop(q, t, mask, 0.5)) == 0.0
    assert float(masked_cosine(q, t, mask, 0.49)) == 0.5
    assert float(masked_cosine(q, t, mask)) == 0.5  # training: no cut
    assert float(info_nce(q, t, mask)) == pytest.approx(0.0)  # one pair: the unthresholded logit, CE 0


def test_the_cut_keeps_more_of_the_true_templates_score_under_half_noise():
    g = torch.Generator().manual_seed(8)
    template = torch.randn(1, 16, 6, 6, generator=g)
    query = template.clone()
    noise = torch.rand(6, 6, generator=g) < 0.5  # half of the cells occluded by unrelated features
    query[0][:, noise] = torch.randn(16, int(noise.sum()), generator=g)
    mask = torch.ones(1, 6, 6, dtype=torch.bool)
    clean_plain, clean_cut = float(masked_cosine(template, template, mask)), float(masked_cosine(template, template,
                                                                                                  mask, 0.2))
    plain, cut = float(masked_cosine(query, template, mask)), float(masked_cosine(query, template, mask, 0.2))
    assert clean_plain == pytest.approx(1.0) and clean_cut == pytest.approx(1.0)
    assert clean_cut - cut < clean_plain - plain


def test_info_nce_is_cross_entropy_over_the_similarity_matrix_over_tau():
    q, t = _maps(9, 2), _maps(10, 2)
    masks = torch.ones(2, 2, 2, dtype=torch.bool)
    s = torch.tensor([[float(masked_cosine(q[i:i + 1], t[j:j + 1], masks[j:j + 1])) for j in range(2)]
                      for i in range(2)], dtype=torch.float64)
    logits = s / 0.1
    expected = -0.5 * sum(float(logits[i, i] - torch.logsumexp(logits[i], 0)) for i in range(2))
    assert float(info_nce(q, t, masks, 0.1)) == pytest.approx(expected, abs=1e-10)
    # the loss is lower when each query's own template is its most similar
    assert float(info_nce(t, t, masks, 0.1)) < float(info_nce(t, t.flip(0), masks, 0.1))


def test_cell_masks_mark_cells_holding_any_object_pixel():
    m = torch.zeros(1, 8, 8, dtype=torch.bool)
    m[0, 0, 0] = True
    m[0, 7, 5] = True
    got = cell_mask(m, (2, 2))
    assert got.tolist() == [[[True, False], [False, True]]]


@pytest.mark.parametrize("entry", [
    {"kind": "vit", "arch": "vit_small_patch16_224", "weights": None, "depth": 1, "embed_dim": 32, "num_heads": 2},
    {"kind": "resnetext", "arch": "resnet18", "weights": None, "layout": "layer3"},
    {"kind": "resnetext", "arch": "resnet18", "weights": None, "layout": "template_pose"},
])
@pytest.mark.parametrize("size", [32, 128, 224])
@pytest.mark.parametrize("head", ["local", "none"])
def test_the_feature_grid_is_the_mask_grid_for_both_backbones(entry, size, head):
    """TraM3D hard-codes 14 x 14 masks for 28 x 28 ResNet features; here the mask grid is the features' own."""
    torch.manual_seed(0)
    model = TemplateMatcher(entry, head, 8).eval()
    with torch.no_grad():
        feats = model(torch.rand(2, 3, size, size))
    assert tuple(feats.shape[-2:]) == model.grid((size, size))
    assert feats.shape[1] == model.descriptor
    masks = cell_mask(torch.ones(2, size, size, dtype=torch.bool), model.grid((size, size)))
    assert masked_cosine(feats, feats, masks).shape == (2, 2)


def test_template_pose_layout_is_stride_8_and_the_patch_embedding_is_frozen():
    res = TemplateMatcher({"kind": "resnetext", "arch": "resnet18", "weights": None, "layout": "template_pose"})
    assert res.stride == 8 and res.grid((224, 224)) == (28, 28)
    vit = TemplateMatcher({"kind": "vit", "arch": "vit_small_patch16_224", "weights": None, "depth": 1,
                           "embed_dim": 32, "num_heads": 2})
    assert not any(p.requires_grad for p in vit.cells.net.vit.patch_embed.parameters())
    assert all(p.requires_grad for p in vit.proj.parameters())


def test_viewpoint_error_and_symmetries():
    az, el = np.array([0.3, 0.3, 1.0]), np.array([0.5, 0.5, 0.2])
    turned = az + math.pi
    none = viewpoint_errors(turned, el, az, el)
    assert none == pytest.approx(np.degrees(np.pi - 2 * el), abs=1e-9)  # opposite azimuths: the angle over the top
    assert viewpoint_errors(turned, el, az, el, "z180") == pytest.approx(0.0, abs=1e-6)
    # z_continuous: any azimuth, the elevation difference only
    assert viewpoint_errors(az + 1.0, el + 0.1, az, el, "z_continuous") == pytest.approx(np.degrees(0.1))
    # the reference's quirk: 0 degrees for flagged objects whatever was retrieved; off by default
    quirk = viewpoint_errors(turned, el, az, el, "none", quirk_zero=[True, False, False])
    assert quirk[0] == 0.0 and quirk[1] == pytest.approx(none[1])
    with pytest.raises(ValueError, match="unknown symmetry"):
        viewpoint_errors(az, el, az, el, "mirror")


def test_accuracies_are_inclusive_and_class_and_pose_needs_both():
    df = pd.DataFrame({"object": ["a", "a", "a", "b"], "pred_object": ["a", "a", "b", "b"],
                       "error_deg": [15.0, 15.0001, 1.0, 3.0]})
    assert hits(df, "acc15").tolist() == [True, False, False, True]
    assert hits(df, "pose_acc15").tolist() == [True, False, True, True]
    assert hits(df, "recognition").tolist() == [True, True, False, True]
    assert hits(df, "acc3").tolist() == [False, False, False, True]
    s = summary(df)
    assert s["acc15"] == 50.0 and s["pose_acc15"] == 75.0 and s["mean_err"] == pytest.approx(8.500025)


def test_the_chance_row_is_the_share_of_hitting_templates():
    templates = pd.DataFrame({"object": ["a", "a", "b", "b"], "azimuth": [0.0, math.pi, 0.0, math.pi],
                              "elevation": [0.3] * 4})
    queries = pd.DataFrame({"sample_id": ["q"], "object": ["a"], "azimuth": [0.01], "elevation": [0.3]})
    row = chance_of_group(queries, templates, {}).iloc[0]
    assert row["acc15"] == 25.0 and row["pose_acc15"] == 50.0 and row["recognition"] == 50.0
    sym = chance_of_group(queries, templates, {"a": "z180"}).iloc[0]
    assert sym["acc15"] == 50.0  # both of a's templates are right under its symmetry


def test_the_schedules_follow_the_reference_recipes():
    assert cosine(1.0, 0.1, 0, 10) == 1.0 and cosine(1.0, 0.1, 9, 10) == pytest.approx(0.1)
    params = [torch.nn.Parameter(torch.zeros(1))]
    vit = Schedule(params, {"optimizer": "adamw", "lr": 1e-4, "final_lr": 1e-5, "weight_decay": 0.04,
                            "final_weight_decay": 0.4}, 10)
    assert vit.values(0) == pytest.approx((1e-4, 0.04)) and vit.values(9) == pytest.approx((1e-5, 0.4))
    assert isinstance(vit.optimizer, torch.optim.AdamW)
    res = Schedule(params, {"optimizer": "adam", "lr": 1e-4, "weight_decay": 5e-4, "warmup_steps": 4}, 10)
    assert res.values(0) == pytest.approx((2.5e-5, 5e-4)) and res.values(3) == pytest.approx((1e-4, 5e-4))
    assert res.values(9) == pytest.approx((1e-4, 5e-4)) and type(res.optimizer) is torch.optim.Adam


def test_an_interrupted_finetuning_resumes_to_the_same_weights(tmp_path):
    """A job killed after an epoch's checkpoint resumes there and ends with the uninterrupted run's weights."""
    from robust3d.models.templates.train import finetune

    entry = {"kind": "vit", "arch": "vit_small_patch16_224", "weights": None, "depth": 1, "embed_dim": 16,
             "num_heads": 2}
    g = torch.Generator().manual_seed(0)
    queries = torch.randint(0, 256, (8, 3, 32, 32), generator=g, dtype=torch.uint8)
    positives = torch.randint(0, 256, (8, 3, 32, 32), generator=g, dtype=torch.uint8)
    masks = torch.ones(8, 2, 2, dtype=torch.bool)
    schedule = {"optimizer": "adamw", "epochs": 3, "batch_size": 4, "lr": 1e-3, "final_lr": 1e-4,
                "weight_decay": 0.04, "final_weight_decay": 0.4}

    def run(folder, evaluate=None):
        torch.manual_seed(1)
        model = TemplateMatcher(entry, "local", 8)
        record = finetune(model, queries, positives, masks, schedule, 0, folder / "m.pt", folder / "r.json",
                          evaluate=evaluate, progress=False)
        return torch.load(folder / "m.pt", weights_only=True), record

    straight, _ = run(tmp_path / "a")

    def killed_at_epoch_2(model, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return {}

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", killed_at_epoch_2)
    assert (tmp_path / "b" / "m.pt.ckpt").exists() and not (tmp_path / "b" / "m.pt").exists()
    seen = []
    resumed, record = run(tmp_path / "b", lambda model, epoch: seen.append(epoch) or {})
    assert seen == [2, 3]  # resumed after epoch 1, not restarted
    assert [e["epoch"] for e in record["epochs"]] == [1, 2, 3]
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not (tmp_path / "b" / "m.pt.ckpt").exists()
