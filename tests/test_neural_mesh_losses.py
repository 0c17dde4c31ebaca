"""Neural mesh core: NOVUM and 3D-CompNets losses against hand computations, their exact relation, omega's effect
on gradients and FLOPs, Eq. 7 classification and the feature bank's updates."""

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
    novum_loss,
    omega_from_confusion,
    sample_cross_vertices,
)


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
    near = torch.zeros(2, 3, 3, dtype=torch.bool)
    near[0, 1, 0] = True  # vertex 0 of class 0 is "near" vertex 1: out of row 0's denominator
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


def random_case(seed: int = 0, n_vertices=(5, 4, 6), d: int = 8, n_rows: int = 12):
    g = torch.Generator().manual_seed(seed)
    y, kmax = len(n_vertices), max(n_vertices)
    nv = torch.tensor(n_vertices)
    features = F.normalize(torch.randn(y, kmax, d, generator=g, dtype=torch.float64), dim=-1)
    features = features * (torch.arange(kmax)[None, :] < nv[:, None])[..., None]  # zero padding rows
    cls = torch.randint(0, y, (n_rows,), generator=g)
    vertex = (torch.rand(n_rows, generator=g, dtype=torch.float64) * nv[cls]).long()
    near = torch.rand(y, kmax, kmax, generator=g) < 0.3
    near = near & near.transpose(1, 2)
    near[:, torch.arange(kmax), torch.arange(kmax)] = False
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
        own = [sims[y, j] for j in range(int(case["n_vertices"][y])) if not case["near"][y, k, j]]
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
