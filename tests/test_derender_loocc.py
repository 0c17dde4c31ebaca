"""LOOCC: factor choice, perturbation ranges and what they leave untouched, leave-one-out selection, NT-Xent
against a hand computation and against an independent loop implementation of SupCon (the code's loss)."""

from __future__ import annotations

import math

import pytest
import torch

from robust3d.models.derender.loocc import (
    FACTORS,
    SUPCON_SCALE,
    choose_factor,
    leave_one_out,
    nt_xent,
    perturb,
    perturb_light,
    perturb_view,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def params(n: int, seed: int = 1) -> dict[str, torch.Tensor]:
    g = gen(seed)
    light_dir = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=1)
    return {"depth": torch.rand(n, 8, 8, generator=g), "albedo": torch.rand(n, 3, 8, 8, generator=g),
            "ambient": torch.rand(n, generator=g), "diffuse": torch.rand(n, generator=g), "light_dir": light_dir,
            "view": torch.randn(n, 6, generator=g)}


def test_choose_factor_modes() -> None:
    g = gen()
    state = g.get_state()
    assert {choose_factor("light", g) for _ in range(1000)} == {"light"}
    assert torch.equal(g.get_state(), state)  # Light Only never flips the coin
    draws = [choose_factor("light_view", g) for _ in range(2000)]
    assert set(draws) == set(FACTORS) and abs(draws.count("view") / 2000 - 0.5) < 0.05
    with pytest.raises(ValueError, match="mode"):
        choose_factor("view", g)


def test_choose_factor_is_one_draw_per_batch_and_reproducible() -> None:
    g = gen(3)
    first = choose_factor("light_view", g)
    g2 = gen(3)
    torch.randint(0, 2, (1,), generator=g2)  # exactly one draw
    assert torch.equal(g.get_state(), g2.get_state())
    assert choose_factor("light_view", gen(3)) == first


def test_light_perturbation_leaves_depth_albedo_view_bit_identical() -> None:
    p = params(16)
    q = perturb("light", p, gen())
    for key in ("depth", "albedo", "view"):
        assert q[key] is p[key] and torch.equal(q[key], p[key])
    for key in ("ambient", "diffuse", "light_dir"):
        assert not torch.equal(q[key], p[key])


def test_view_perturbation_leaves_depth_albedo_light_bit_identical() -> None:
    p = params(16)
    p["view"][:, 2:] = torch.tensor([-0.0, 0.0, -0.0, 1e-30])  # signed zeros would not survive "+ 0"
    q = perturb("view", p, gen())
    for key in ("depth", "albedo", "ambient", "diffuse", "light_dir"):
        assert q[key] is p[key]
    assert torch.equal(q["view"][:, 2:].view(torch.int32), p["view"][:, 2:].view(torch.int32))
    assert (q["view"][:, :2] != p["view"][:, :2]).all()


def test_light_mode_never_perturbs_view() -> None:
    g = gen()
    p = params(8)
    for _ in range(200):
        q = perturb(choose_factor("light", g), p, g)
        assert q["view"] is p["view"]


def test_perturbation_ranges_over_10000_draws() -> None:
    n = 10_000
    zeros1, zeros3, zeros6 = torch.zeros(n, dtype=torch.float64), torch.zeros(n, 3, dtype=torch.float64), \
        torch.zeros(n, 6, dtype=torch.float64)
    da, db, dd = perturb_light(zeros1, zeros1, zeros3, gen())
    dv = perturb_view(zeros6, gen())
    for delta, half in ((da, 0.5), (db, 0.5), (dd, math.pi / 8), (dv[:, 0], math.pi / 16), (dv[:, 1], math.pi / 8)):
        assert delta.abs().max() <= half  # within the range ...
        assert delta.max() > 0.99 * half and delta.min() < -0.99 * half  # ... and filling it (not a narrower one)
        assert abs(delta.mean()) < 0.03 * half
    assert torch.equal(dv[:, 2:], zeros6[:, 2:])
    assert not torch.equal(da, db)  # independent draws for ambient and diffuse
    # Not clamped, not renormalised: a unit direction leaves the sphere, the ambient can go below 0.
    unit = torch.nn.functional.normalize(torch.ones(n, 3, dtype=torch.float64), dim=1)
    a, _, d = perturb_light(torch.full((n,), 0.1, dtype=torch.float64), zeros1, unit, gen(1))
    assert a.min() < 0 and (d.norm(dim=1) - 1).abs().max() > 0.1


def test_leave_one_out_selection() -> None:
    g = gen()
    feats = {k: torch.randn(4, 5, 1, 1, generator=g) for k in ("depth", "albedo", "light", "view")}
    flat = {k: v.flatten(1) for k, v in feats.items()}
    expected_light = torch.cat([flat["depth"], flat["albedo"], flat["view"]], dim=1)
    expected_view = torch.cat([flat["depth"], flat["albedo"], flat["light"]], dim=1)
    assert torch.equal(leave_one_out(feats, "light"), expected_light)
    assert torch.equal(leave_one_out(feats, "view"), expected_view)
    with pytest.raises(ValueError):
        leave_one_out(feats, "albedo")


def test_nt_xent_hand_computed_two_pairs() -> None:
    # Views [x1, x2, a1, a2]; cosines: x1.a1 = 1, x1.x2 = x2.a1 = 0, every pair with a2 = c = 1/sqrt(2).
    z_x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    z_aug = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    t, c = 0.5, 1 / math.sqrt(2)
    e = math.exp
    l_x1 = -math.log(e(1 / t) / (e(0) + e(1 / t) + e(c / t)))
    l_x2 = -math.log(e(c / t) / (e(0) + e(0) + e(c / t)))
    l_a1 = -math.log(e(1 / t) / (e(1 / t) + e(0) + e(c / t)))
    l_a2 = -math.log(e(c / t) / (3 * e(c / t)))
    expected = (l_x1 + l_x2 + l_a1 + l_a2) / 4
    assert abs(nt_xent(z_x, z_aug, temperature=t).item() - expected) < 1e-6
    assert abs(nt_xent(z_x, z_aug, temperature=t, scale=2.0).item() - 2 * expected) < 1e-6


def test_nt_xent_lower_when_positives_coincide() -> None:
    z = torch.randn(8, 16, generator=gen())
    swapped = z.roll(1, dims=0)
    assert nt_xent(z, z) < nt_xent(z, swapped)
    assert nt_xent(z, z + 0.01 * torch.randn(8, 16, generator=gen(1))) < nt_xent(z, swapped)


def supcon_loops(views: list[list[list[float]]], temperature: float, base_temperature: float) -> float:
    """SupCon (Khosla et al.) without labels, contrast_mode 'all', written from its formula with plain loops:
    anchors = all 2B views; positives of an anchor = the other views of the same sample; the denominator runs
    over every view but the anchor itself; loss = -(t / t_base) * mean over positives of log p, averaged."""
    anchors = [(i, v) for v in range(len(views[0])) for i in range(len(views))]
    total = 0.0
    for i, v in anchors:
        za = views[i][v]
        dots = {(j, w): sum(p * q for p, q in zip(za, views[j][w], strict=True)) / temperature
                for j, w in anchors if (j, w) != (i, v)}
        log_denominator = math.log(sum(math.exp(s) for s in dots.values()))
        pos = [s - log_denominator for (j, _), s in dots.items() if j == i]
        total += -(temperature / base_temperature) * sum(pos) / len(pos)
    return total / len(anchors)


def test_code_faithful_mode_equals_supcon() -> None:
    g = gen(5)
    z_x = torch.randn(5, 7, generator=g, dtype=torch.float64) * 0.5
    z_aug = z_x + 0.3 * torch.randn(5, 7, generator=g, dtype=torch.float64)
    views = [[z_x[i].tolist(), z_aug[i].tolist()] for i in range(5)]
    expected = supcon_loops(views, temperature=0.5, base_temperature=0.07)
    got = nt_xent(z_x, z_aug, temperature=0.5, normalize=False, scale=SUPCON_SCALE).item()
    assert abs(got - expected) < 1e-9
    assert abs(nt_xent(z_x, z_aug).item() - expected) > 1e-3  # the paper's cosine version differs


def test_nt_xent_gradients_reach_both_views() -> None:
    z_x = torch.randn(4, 6, requires_grad=True)
    z_aug = torch.randn(4, 6, requires_grad=True)
    nt_xent(z_x, z_aug).backward()
    assert z_x.grad.abs().sum() > 0 and z_aug.grad.abs().sum() > 0
