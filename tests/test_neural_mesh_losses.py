"""Neural mesh core: NOVUM and 3D-CompNets losses against hand computations (NOVUM's background weight, background
regulariser and near-vertex removal in the image as its release trains it), their exact relation, omega's effect on
gradients and FLOPs, Eq. 7 classification and the feature bank's updates."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from robust3d.models.neural_mesh.bank import FeatureBank, sample_background_cells
from robust3d.models.neural_mesh.classify import classify
from robust3d.models.neural_mesh.flops import count_flops
from robust3d.models.neural_mesh.losses import (
    compnets_loss,
    contrastive_loss,
    novum_loss,
    omega_from_confusion,
    sample_cross_vertices,
)
from robust3d.models.neural_mesh.mesh import near_in_image, near_threshold
from robust3d.models.neural_mesh.options import MeshOptions
from robust3d.models.registry import model_spec


def unit(angle: float) -> list[float]:
    return [math.cos(angle), math.sin(angle)]


# The tiny case: 2 classes x 3 vertices on the unit circle (D = 2), one background feature, kappa = 2.
C_ANGLES = [[0.0, 0.5, 1.0], [2.0, 2.5, 3.0]]
B_ANGLE = 4.0
KAPPA = 2.0


@pytest.fixture
def tiny():
    features = torch.tensor([[unit(a) for a in row] for row in C_ANGLES], dtype=torch.float64)
    background = torch.tensor([unit(B_ANGLE)], dtype=torch.float64)
    # Row 0: class 0, vertex 1, feature at angle 0.4. Row 1: class 1, vertex 2, at angle 2.9.
    f = torch.tensor([unit(0.4), unit(2.9)], dtype=torch.float64)
    near = torch.zeros(2, 3, dtype=torch.bool)  # one row per visible vertex (row of f)
    near[0, 0] = True  # vertex 0 of class 0 is "near" row 0's vertex 1: out of row 0's denominator
    return dict(f=f, cls=torch.tensor([0, 1]), vertex=torch.tensor([1, 2]), features=features,
                n_vertices=torch.tensor([3, 3]), background=background, temperature=1 / KAPPA, near=near)


def e(a: float, b: float) -> float:
    """exp(kappa * cos(a - b)): the vMF likelihood of a feature at angle a under a vertex at angle b."""
    return math.exp(KAPPA * math.cos(a - b))


def test_in_class_and_cross_terms_match_a_hand_computation(tiny):
    omega = torch.tensor([[1.0, 0.5], [0.0, 1.0]])  # class 1 is never confused with class 0
    terms = compnets_loss(**tiny, omega=omega, cross_samples=None, reduction="none")
    # Row 0 (class 0, vertex 1, angle 0.4): in-class over vertices 1, 2 (vertex 0 is near) and the background.
    s = KAPPA * math.cos(0.4 - 0.5)
    l_in = -s + math.log(e(0.4, 0.5) + e(0.4, 1.0) + e(0.4, B_ANGLE))
    l_cross = -s + math.log(math.exp(s) + 0.5 * sum(e(0.4, a) for a in C_ANGLES[1]))
    assert terms["in_class"][0].item() == pytest.approx(l_in, rel=1e-12)
    assert terms["cross"][0].item() == pytest.approx(l_cross, rel=1e-12)
    # Row 1 (class 1, vertex 2, angle 2.9): omega_{1,0} = 0 leaves the cross term -log(e^s / e^s) = 0.
    s1 = KAPPA * math.cos(2.9 - 3.0)
    l_in1 = -s1 + math.log(sum(e(2.9, a) for a in C_ANGLES[1]) + e(2.9, B_ANGLE))
    assert terms["in_class"][1].item() == pytest.approx(l_in1, rel=1e-12)
    assert terms["cross"][1].item() == 0.0
    mean = compnets_loss(**tiny, omega=omega, cross_samples=None)
    assert mean.item() == pytest.approx((l_in + l_cross + l_in1) / 2, rel=1e-12)


def test_cross_term_uses_only_the_sampled_vertices(tiny):
    omega = torch.ones(2, 2)
    sample = (torch.tensor([[2], [0]]), torch.tensor([[True], [True]]))  # S_1(C_0) = {C_0,2}, S_1(C_1) = {C_1,0}
    terms = compnets_loss(**tiny, omega=omega, cross_samples=1, sample=sample, reduction="none")
    s0, s1 = KAPPA * math.cos(0.4 - 0.5), KAPPA * math.cos(2.9 - 3.0)
    assert terms["cross"][0].item() == pytest.approx(-s0 + math.log(math.exp(s0) + e(0.4, 2.0)), rel=1e-12)
    assert terms["cross"][1].item() == pytest.approx(-s1 + math.log(math.exp(s1) + e(2.9, 1.0)), rel=1e-12)
    # The sampler draws N distinct vertices of each class, and all of them when N >= K.
    index, ok = sample_cross_vertices(torch.tensor([3, 2]), 2, 3, torch.Generator().manual_seed(0))
    assert index.shape == (2, 2) and ok.all() and index[1].sort().values.tolist() == [0, 1]
    assert len(set(index[0].tolist())) == 2


def test_novum_matches_a_hand_computation(tiny):
    terms = novum_loss(**tiny, reduction="none")
    s = KAPPA * math.cos(0.4 - 0.5)
    denom = e(0.4, 0.5) + e(0.4, 1.0) + sum(e(0.4, a) for a in C_ANGLES[1]) + e(0.4, B_ANGLE)
    assert terms[0].item() == pytest.approx(-s + math.log(denom), rel=1e-12)
    no_near = novum_loss(**{**tiny, "near": None}, reduction="none")
    assert no_near[0].item() == pytest.approx(-s + math.log(denom + e(0.4, 0.0)), rel=1e-12)


def test_novum_background_weight_matches_a_hand_computation(tiny):
    """NOVUM's release weighs every background term of its softmax 0.005 (weight_noise); Eq. 2 weighs them 1."""
    w = 0.005
    terms = novum_loss(**tiny, reduction="none", background_weight=w)
    s = KAPPA * math.cos(0.4 - 0.5)
    vertices = e(0.4, 0.5) + e(0.4, 1.0) + sum(e(0.4, a) for a in C_ANGLES[1])
    assert terms[0].item() == pytest.approx(-s + math.log(vertices + w * e(0.4, B_ANGLE)), rel=1e-12)
    s1 = KAPPA * math.cos(2.9 - 3.0)
    all1 = sum(e(2.9, a) for row in C_ANGLES for a in row)
    assert terms[1].item() == pytest.approx(-s1 + math.log(all1 + w * e(2.9, B_ANGLE)), rel=1e-12)
    # The weight enters only the background terms: weight 1 is the unweighted loss, a lower weight a lower loss.
    unweighted = novum_loss(**tiny, reduction="none")
    assert torch.equal(novum_loss(**tiny, reduction="none", background_weight=1.0), unweighted)
    assert (terms < unweighted).all()
    terms_c = compnets_loss(**tiny, omega=torch.ones(2, 2), cross_samples=None, reduction="none", background_weight=w)
    l_in = -s + math.log(e(0.4, 0.5) + e(0.4, 1.0) + w * e(0.4, B_ANGLE))
    assert terms_c["in_class"][0].item() == pytest.approx(l_in, rel=1e-12)
    with pytest.raises(ValueError, match="background weight"):
        novum_loss(**tiny, background_weight=0.0)


def test_novum_background_regularizer_matches_a_hand_computation():
    """+ 0.1 x the mean cosine between the batch's background features and every real vertex feature, with its
    gradient on the background features (the bank takes none); padding rows stay out of the mean."""
    case = random_case(seed=3)  # classes of 5, 4 and 6 vertices: the bank pads to 6
    g = torch.Generator().manual_seed(7)
    clutter = F.normalize(torch.randn(4, case["f"].shape[1], generator=g, dtype=torch.float64), dim=-1)
    leaf = clutter.clone().requires_grad_(True)
    total = contrastive_loss("novum", **case, background_weight=0.005, clutter=leaf, regularizer=0.1)
    real = [case["features"][y, j] for y in range(3) for j in range(int(case["n_vertices"][y]))]
    mean_cos = sum(float(b @ c) for b in clutter for c in real) / (len(clutter) * len(real))
    base = novum_loss(**case, background_weight=0.005)
    assert total.item() == pytest.approx(base.item() + 0.1 * mean_cos, rel=1e-12)
    assert len(real) == 15 < 3 * 6  # the mean is over the 15 real vertices, not the 18 bank rows
    total.backward()
    expected = 0.1 * torch.stack(real).sum(0) / (len(clutter) * len(real))
    torch.testing.assert_close(leaf.grad, expected.expand_as(clutter), rtol=1e-12, atol=1e-15)
    # Without the weight nothing is added; with it, the batch's background features are required.
    assert contrastive_loss("novum", **case, background_weight=0.005, clutter=leaf).item() == pytest.approx(
        base.item(), rel=1e-15)
    with pytest.raises(ValueError, match="background features"):
        contrastive_loss("novum", **case, regularizer=0.1)


def test_novum_options_are_its_releases_and_compnets_keeps_eq5(smoke_config):
    """The novum loss takes NOVUM's background weight and regulariser from the config; Eq. 5 has neither."""
    section = smoke_config["compnets"]
    mesh = section["mesh"]
    novum = MeshOptions.of(model_spec(section, "novum_resnet50"), section)
    comp = MeshOptions.of(model_spec(section, "compnets_resnet50_n32"), section)
    assert (novum.background_weight, novum.regularizer) == (mesh["novum_background_weight"], mesh["novum_regularizer"])
    assert (mesh["novum_background_weight"], mesh["novum_regularizer"]) == (0.005, 0.1)  # the release's defaults
    assert (comp.background_weight, comp.regularizer) == (1.0, 0.0)


def test_near_vertices_are_removed_by_their_distance_in_the_image(tiny):
    """NOVUM's mask_remove_near: same-class vertices projected within 48 px (at 800 px wide) of a vertex leave its
    denominator, whatever their distance in 3D; invisible vertices are measured too, padding never."""
    mesh = {"remove_near_px": 48, "remove_near_width": 800}
    assert near_threshold(mesh, 800) == 48.0 and near_threshold(mesh, 128) == pytest.approx(7.68, rel=1e-12)
    nan = float("nan")
    # One image, 5 bank slots: vertices 0 and 1 10 px apart, vertex 2 100 px from both, vertex 3 invisible (a back
    # vertex projected 20 px from vertex 1), slot 4 padding.
    uv = torch.tensor([[[100.0, 100.0], [110.0, 100.0], [200.0, 100.0], [110.0, 120.0], [nan, nan]]])
    visible = torch.tensor([[True, True, True, False, False]])
    near = near_in_image(uv, visible, near_threshold(mesh, 800))
    assert near.tolist() == [[False, True, False, True, False],  # vertex 0: 10 px to 1, 22.4 px to 3
                             [True, False, False, True, False],  # vertex 1
                             [False, False, False, False, False]]  # vertex 2: 90 px and more from every other
    # At 128 px wide the same positions are 10 px > 7.68 px apart: nothing is near.
    assert not near_in_image(uv, visible, near_threshold(mesh, 128)).any()
    # In the loss: the masked vertex leaves exactly its term (tiny: row 0 is vertex 1 of class 0, 3 vertices).
    uv_tiny = torch.tensor([[[100.0, 100.0], [110.0, 100.0], [200.0, 100.0]], [[0.0, 0.0], [300.0, 0.0], [0.0, 300.0]]])
    rows = near_in_image(uv_tiny, torch.tensor([[False, True, False], [False, False, True]]), 48.0)
    assert rows.tolist() == [[True, False, False], [False, False, False]]
    terms = novum_loss(**{**tiny, "near": rows}, reduction="none")
    s = KAPPA * math.cos(0.4 - 0.5)
    denom = e(0.4, 0.5) + e(0.4, 1.0) + sum(e(0.4, a) for a in C_ANGLES[1]) + e(0.4, B_ANGLE)
    assert terms[0].item() == pytest.approx(-s + math.log(denom), rel=1e-12)


def random_case(seed: int = 0, n_vertices=(5, 4, 6), d: int = 8, n_rows: int = 12):
    g = torch.Generator().manual_seed(seed)
    y, kmax = len(n_vertices), max(n_vertices)
    nv = torch.tensor(n_vertices)
    features = F.normalize(torch.randn(y, kmax, d, generator=g, dtype=torch.float64), dim=-1)
    features = features * (torch.arange(kmax)[None, :] < nv[:, None])[..., None]  # zero padding rows
    cls = torch.randint(0, y, (n_rows,), generator=g)
    vertex = (torch.rand(n_rows, generator=g, dtype=torch.float64) * nv[cls]).long()
    near = torch.rand(n_rows, kmax, generator=g) < 0.3
    near[torch.arange(n_rows), vertex] = False  # a vertex is never near itself
    return dict(f=F.normalize(torch.randn(n_rows, d, generator=g, dtype=torch.float64), dim=-1), cls=cls,
                vertex=vertex, features=features, n_vertices=nv,
                background=F.normalize(torch.randn(7, d, generator=g, dtype=torch.float64), dim=-1),
                temperature=0.07, near=near)


def test_merged_split_with_all_vertices_and_unit_omega_is_exactly_novum():
    case = random_case()
    ones = torch.ones(3, 3)
    novum = novum_loss(**case, reduction="none")
    merged = compnets_loss(**case, omega=ones, cross_samples=None, merged=True, reduction="none")["total"]
    torch.testing.assert_close(merged, novum, rtol=1e-12, atol=1e-12)
    # ... and only then: a partial sample or an omega below 1 changes the merged loss.
    partial = compnets_loss(**case, omega=ones, cross_samples=2, merged=True, reduction="none",
                            generator=torch.Generator().manual_seed(0))["total"]
    assert (partial < novum - 1e-9).all()
    halved = compnets_loss(**case, omega=ones * 0.5, cross_samples=None, merged=True, reduction="none")["total"]
    assert (halved < novum - 1e-9).all()


def test_eq5_sum_of_two_logs_brackets_novum_but_is_not_novum():
    """max(L_in, L_cross) <= L_novum <= L_in + L_cross (all vertices sampled, omega = 1): Eq. 5 is an upper bound."""
    case = random_case(seed=1)
    terms = compnets_loss(**case, omega=torch.ones(3, 3), cross_samples=None, reduction="none")
    novum = novum_loss(**case, reduction="none")
    assert (novum <= terms["total"] + 1e-12).all()
    assert (novum >= torch.maximum(terms["in_class"], terms["cross"]) - 1e-12).all()
    assert (terms["total"] - novum > 1e-6).all()  # strictly above: the sum is not NOVUM's softmax
    # The gap is exactly log(1 + X e^{-s}) - log(1 + X / A): A = in-class + background sum, X = cross-class sum.
    kappa = 1 / case["temperature"]
    for r in range(len(novum)):
        y, k = int(case["cls"][r]), int(case["vertex"][r])
        sims = torch.einsum("d,ykd->yk", case["f"][r], case["features"]) * kappa
        s = sims[y, k]
        own = [sims[y, j] for j in range(int(case["n_vertices"][y])) if not case["near"][r, j]]
        a = torch.stack(own).exp().sum() + (case["background"] @ case["f"][r] * kappa).exp().sum()
        x = sum(sims[o, : int(case["n_vertices"][o])].exp().sum() for o in range(3) if o != y)
        gap = torch.log1p(x * torch.exp(-s)) - torch.log1p(x / a)
        assert (terms["total"][r] - novum[r]).item() == pytest.approx(gap.item(), rel=1e-9)


def test_zero_omega_removes_a_class_from_gradients_and_flops():
    case = random_case(seed=2, n_rows=10)
    case["cls"] = case["cls"] % 2  # no image of class 2 in the batch
    case["vertex"] = torch.minimum(case["vertex"], case["n_vertices"][case["cls"]] - 1)
    omega = torch.ones(3, 3)
    omega_cut = omega.clone()
    omega_cut[:, 2] = 0.0  # nobody is confused with class 2

    def grad_on_bank(om):
        feats = case["features"].clone().requires_grad_(True)
        compnets_loss(**{**case, "features": feats}, omega=om, cross_samples=3,
                      generator=torch.Generator().manual_seed(0)).backward()
        return feats.grad

    assert grad_on_bank(omega)[2].abs().sum() > 0
    assert torch.equal(grad_on_bank(omega_cut)[2], torch.zeros_like(case["features"][2]))

    def flops(om):
        leaf = case["f"].clone().requires_grad_(True)
        return count_flops(lambda: compnets_loss(**{**case, "f": leaf}, omega=om, cross_samples=3,
                                                 generator=torch.Generator().manual_seed(0)))

    # Every row's cross-class product with class 2's 3 samples is gone: forward 2 r D N, backward to f the same.
    rows, d = len(case["cls"]), case["f"].shape[1]
    assert flops(omega) - flops(omega_cut) == 4 * rows * d * 3


def test_omega_is_the_thresholded_row_normalised_confusion():
    conf = torch.tensor([[90, 8, 2], [30, 70, 0], [0, 0, 0]])
    omega = omega_from_confusion(conf, 0.05)
    expected = torch.tensor([[0.9, 0.08, 0.0], [0.3, 0.7, 0.0], [1.0, 1.0, 1.0]])
    torch.testing.assert_close(omega, expected)


def test_classification_is_eq7_and_ignores_padding():
    d = 4
    feats = torch.zeros(2, 3, d)
    feats[0, 0] = torch.tensor([1.0, 0, 0, 0])
    feats[0, 1] = torch.tensor([0, 1.0, 0, 0])
    feats[1, 0] = torch.tensor([0, 0, 1.0, 0])
    feats[1, 2] = torch.tensor([0.0, 0, 0, 1])  # padding row (class 1 has 2 vertices) that would match cell 1
    background = torch.tensor([[0.6, 0.0, 0.8, 0.0]])
    cells = F.normalize(torch.tensor([[1.0, 0.2, 0.0, 0.0], [0.0, 0.0, 0.1, 1.0]]), dim=-1)  # (2 cells, D)
    fmap = cells.T.reshape(1, d, 1, 2)
    scores = classify(fmap, feats, torch.tensor([2, 2]), background)
    expected = []
    for y, rows in ((0, [0, 1]), (1, [0, 1])):
        total = 0.0
        for cell in cells:
            best = max(float(cell @ feats[y, k]) for k in rows)
            total += max(best, float(cell @ background[0]))
        expected.append(total)
    torch.testing.assert_close(scores[0], torch.tensor(expected))
    assert scores.argmax(1).item() == 0  # with the padding row counted, class 1 would win
    assert classify(fmap, feats, torch.tensor([2, 3]), background).argmax(1).item() == 1


def test_bank_momentum_update_and_background_fifo():
    bank = FeatureBank([3, 2], feature_dim=2, n_background=4, momentum=0.9, generator=torch.Generator().manual_seed(0))
    before = bank.features.clone()
    assert torch.equal(bank.features[1, 2], torch.zeros(2))  # padding
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    bank.update_vertices(f, cls=torch.tensor([0, 0, 0]), vertex=torch.tensor([1, 1, 2]))
    mean = torch.tensor([0.5, 0.5])
    torch.testing.assert_close(bank.features[0, 1], F.normalize(0.9 * before[0, 1] + 0.1 * mean, dim=0))
    torch.testing.assert_close(bank.features[0, 2], F.normalize(0.9 * before[0, 2] + 0.1 * f[2], dim=0))
    assert torch.equal(bank.features[0, 0], before[0, 0])  # vertex not seen: unchanged
    assert torch.equal(bank.features[1], before[1])  # class absent: unchanged
    old = bank.background.clone()
    bank.push_background(torch.tensor([[0.0, 2.0], [3.0, 0.0], [0.0, -1.0]]))
    torch.testing.assert_close(bank.background[:3], torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0]]))
    assert torch.equal(bank.background[3], old[3])
    bank.push_background(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))  # oldest first: slot 3, then wrap to slot 0
    torch.testing.assert_close(bank.background[[3, 0]], torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))


def test_background_cells_are_drawn_only_where_allowed():
    allowed = torch.zeros(3, 10, dtype=torch.bool)
    allowed[0, [1, 4, 7, 8]] = True
    allowed[1, [2]] = True
    img, cells = sample_background_cells(allowed, 3, torch.Generator().manual_seed(0))
    assert allowed[img, cells].all()
    assert img.tolist().count(0) == 3 and img.tolist().count(1) == 1 and 2 not in img.tolist()
    assert len(set(cells[img == 0].tolist())) == 3


# --- NeMo: the in-class term only (NTDM paper's baseline) ----------------------------------------------------------


def test_nemo_matches_a_hand_written_within_class_cross_entropy(tiny):
    """NeMo's softmax: the own class's vertices (less the near ones) and the weighted background, nothing else."""
    from robust3d.models.neural_mesh.losses import nemo_loss

    w = 0.005
    terms = nemo_loss(**tiny, reduction="none", background_weight=w)
    s0 = KAPPA * math.cos(0.4 - 0.5)  # row 0: class 0, vertex 1; vertex 0 is near
    l0 = -s0 + math.log(e(0.4, 0.5) + e(0.4, 1.0) + w * e(0.4, B_ANGLE))
    s1 = KAPPA * math.cos(2.9 - 3.0)  # row 1: class 1, vertex 2; nothing near
    l1 = -s1 + math.log(sum(e(2.9, a) for a in C_ANGLES[1]) + w * e(2.9, B_ANGLE))
    assert terms.tolist() == pytest.approx([l0, l1], rel=1e-12)
    assert nemo_loss(**tiny, background_weight=w).item() == pytest.approx((l0 + l1) / 2, rel=1e-12)
    # It is Eq. 5 with omega = 0 (the cross term vanishes), and the loss registry ignores omega and N for it.
    zero = compnets_loss(**tiny, omega=torch.zeros(2, 2), cross_samples=None, reduction="none", background_weight=w)
    torch.testing.assert_close(zero["total"], terms, rtol=1e-12, atol=0)
    assert torch.equal(zero["cross"], torch.zeros(2, dtype=torch.float64))
    via_registry = contrastive_loss("nemo", **tiny, omega=torch.ones(2, 2), cross_samples=1,
                                    generator=torch.Generator().manual_seed(0), background_weight=w)
    assert via_registry.item() == pytest.approx((l0 + l1) / 2, rel=1e-12)


def test_nemo_ignores_other_classes_vertices_in_value_gradient_and_flops():
    from robust3d.models.neural_mesh.losses import nemo_loss

    case = random_case(seed=4)
    base = nemo_loss(**case, reduction="none", background_weight=0.005)
    g = torch.Generator().manual_seed(9)
    for y in range(3):  # scramble every class but y: the rows of class y do not move, the others do
        other = case["features"].clone()
        others = torch.arange(3) != y
        other[others] = F.normalize(torch.randn(other[others].shape, generator=g, dtype=torch.float64), dim=-1)
        rows = case["cls"] == y
        moved = nemo_loss(**{**case, "features": other}, reduction="none", background_weight=0.005)
        torch.testing.assert_close(moved[rows], base[rows], rtol=0, atol=0)
        assert rows.any() and not torch.allclose(moved[~rows], base[~rows])
    # Gradient on the bank of a class-0 row reaches class 0's vertices only.
    feats = case["features"].clone().requires_grad_(True)
    row = int((case["cls"] == 0).nonzero()[0])
    nemo_loss(**{**case, "features": feats}, reduction="none")[row].backward()
    assert feats.grad[0].abs().sum() > 0 and feats.grad[1:].abs().sum() == 0
    # FLOPs: each row multiplies its own class's K_y vertices and the N_b background features (forward and the
    # backward to f), no other class's, while the compnets loss with omega = 1 adds the cross-class samples.
    leaf = case["f"].clone().requires_grad_(True)
    d, n_bg = case["f"].shape[1], case["background"].shape[0]
    expected = sum(4 * d * (int(case["n_vertices"][c]) + n_bg) for c in case["cls"].tolist())
    assert count_flops(lambda: nemo_loss(**{**case, "f": leaf})) == expected
    assert count_flops(lambda: compnets_loss(**{**case, "f": leaf}, omega=torch.ones(3, 3), cross_samples=3,
                                             generator=torch.Generator().manual_seed(0))) > expected


def test_nemo_options_take_nemos_clutter_weight_and_check_prediction_options(smoke_config):
    """MeshOptions accepts loss nemo with NeMo's clutter weight and regulariser (NOVUM's config values, NeMo's
    lineage), refuses cross_samples, and checks pose_from and classify."""
    from robust3d.models.neural_mesh.options import prediction_options
    from robust3d.models.spec import ModelSpec

    section = smoke_config["compnets"]
    mesh = section["mesh"]

    def spec(**options):
        return ModelSpec(name="nemo_test", family="neural_mesh", backbone="resnet50",
                         options={"loss": "nemo", **options})

    opt = MeshOptions.of(spec(classify=False, pose_from="gt"), section)
    assert opt.loss == "nemo" and opt.cross_samples is None and opt.n_vertices == mesh["vertices_per_class"]
    assert (opt.background_weight, opt.regularizer) == (mesh["novum_background_weight"], mesh["novum_regularizer"])
    assert prediction_options(spec(classify=False, pose_from="gt")) == ("gt", False)
    assert prediction_options(spec()) == ("predicted", True)  # today's behaviour by default
    assert MeshOptions.of(spec(vertices_per_class=32), section).n_vertices == 32
    with pytest.raises(ValueError, match="cross_samples"):
        MeshOptions.of(spec(cross_samples=32), section)
    with pytest.raises(ValueError, match="pose_from"):
        MeshOptions.of(spec(pose_from="oracle"), section)
    with pytest.raises(ValueError, match="pose_from: gt"):
        MeshOptions.of(spec(classify=False), section)
