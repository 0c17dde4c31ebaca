"""NTDM's texture-space loss (Eq. 7-8 as InfoNCE) and the textures' momentum update, on hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from robust3d.models.ntdm.loss import LossWeights, ntdm_loss, sample_negatives
from robust3d.models.ntdm.texture import NeuralTextures, texel_directions, texture_bytes


def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64), dim=-1)


def test_texel_directions_are_unit_and_follow_the_polar_uv():
    dirs = texel_directions(4)
    assert torch.allclose(dirs.norm(dim=-1), torch.ones(4, 4))
    # Row 0 is near the +z pole, the last row near -z; column j has azimuth 2 pi (j + 0.5) / q about +z.
    assert (dirs[0, :, 2] > 0.9).all() and (dirs[-1, :, 2] < -0.9).all()
    phi = torch.atan2(dirs[1, :, 1], dirs[1, :, 0]).remainder(2 * math.pi)
    assert torch.allclose(phi, 2 * math.pi * (torch.arange(4) + 0.5) / 4, atol=1e-6)


def test_loss_equals_a_hand_computed_two_positive_three_negative_case():
    """Two positives of one class, 3 same-class candidates (one too near the first positive), 1 background
    feature; W_Con = 1, W_BG = 0.1 as log-weights inside the logsumexp."""
    q, d, b = 2, 3, 2
    tex = F.normalize(torch.randn(1, b, d, q, q, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                      dim=2)
    bg = _unit(1, d, seed=2)
    f = _unit(2, d, seed=3)
    alpha = torch.tensor([[0.7, 0.3], [0.2, 0.8]], dtype=torch.float64)
    texel = torch.tensor([0, 3])
    dirs = texel_directions(q).reshape(-1, 3).double()
    negatives = torch.tensor([1, 2, 3])
    tau = 1.0  # radians: on a 2 x 2 texture the other texels are pi/2, pi/2 and pi away; texel 3 is a candidate too
    loss = ntdm_loss(f, alpha, torch.tensor([0, 0]), texel, tex, bg, dirs, temperature=0.5, tau=tau,
                     negatives=negatives, class_negatives=None, weights=LossWeights(1.0, 1.0, 0.1),
                     reduction="none")

    def mixed(p, t):
        return sum(alpha[p, k] * (f[p] @ tex[0, k, :, t // q, t % q]) for k in range(b))

    expected, kept = [], []
    for p in range(2):
        s_pos = 2.0 * mixed(p, int(texel[p]))
        angles = [float(torch.acos((dirs[texel[p]] @ dirs[n]).clamp(-1, 1))) for n in negatives.tolist()]
        terms = [s_pos] + [2.0 * mixed(p, n) for n, a in zip(negatives.tolist(), angles, strict=True) if a > tau]
        terms.append(2.0 * (f[p] @ bg[0]) + math.log(0.1))
        expected.append(torch.logsumexp(torch.stack([torch.as_tensor(t) for t in terms]), 0) - s_pos)
        kept.append(sum(a > tau for a in angles))
    assert kept == [3, 2]  # the second positive's own texel is a candidate, and is dropped
    assert torch.allclose(loss, torch.stack(expected), atol=1e-12)


def test_near_negatives_are_excluded_and_class_negatives_of_the_own_class_too():
    q, d, b = 8, 4, 1
    tex = F.normalize(torch.randn(2, b, d, q, q, dtype=torch.float64), dim=2)
    f = F.normalize(torch.randn(1, d, dtype=torch.float64), dim=-1)
    alpha = torch.ones(1, 1, dtype=torch.float64)
    dirs = texel_directions(q).reshape(-1, 3).double()
    bg = F.normalize(torch.randn(1, d, dtype=torch.float64), dim=-1)
    kw = dict(temperature=0.1, background=bg, texel_dirs=dirs, textures=tex)
    empty = torch.tensor([], dtype=torch.long)
    # A same-class negative at the positive's own texel is always within tau: identical to having no negative.
    with_own = ntdm_loss(f, alpha, torch.tensor([0]), torch.tensor([5]), tau=0.2, negatives=torch.tensor([5]),
                         class_negatives=None, **kw)
    none = ntdm_loss(f, alpha, torch.tensor([0]), torch.tensor([5]), tau=0.2, negatives=empty,
                     class_negatives=None, **kw)
    assert torch.allclose(with_own, none)
    # Class negatives drawn from the positive's own class are dropped; another class's are not.
    own = ntdm_loss(f, alpha, torch.tensor([0]), torch.tensor([5]), tau=0.2, negatives=empty,
                    class_negatives=(torch.tensor([0]), torch.tensor([40])), **kw)
    other = ntdm_loss(f, alpha, torch.tensor([0]), torch.tensor([5]), tau=0.2,
                      negatives=empty,
                      class_negatives=(torch.tensor([1]), torch.tensor([40])), **kw)
    assert torch.allclose(own, none) and other > none


def test_gradient_reaches_only_the_image_features():
    q, d, b = 4, 8, 7
    tex = F.normalize(torch.randn(2, b, d, q, q), dim=2).requires_grad_(True)
    bg = F.normalize(torch.randn(5, d), dim=-1).requires_grad_(True)
    f = F.normalize(torch.randn(6, d), dim=-1).requires_grad_(True)
    alpha = torch.softmax(torch.randn(6, b), 1)
    neg, cneg = sample_negatives(2, q, 8, 8, torch.Generator().manual_seed(0))
    loss = ntdm_loss(f, alpha, torch.tensor([0, 0, 0, 1, 1, 1]), torch.arange(6), tex, bg,
                     texel_directions(q).reshape(-1, 3), temperature=0.07, tau=0.2, negatives=neg,
                     class_negatives=cneg)
    loss.backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    assert tex.grad is None and bg.grad is None


def test_a_feature_matching_its_texel_has_lower_loss_than_a_random_one():
    q, d, b = 8, 16, 7
    gen = torch.Generator().manual_seed(0)
    tex = F.normalize(torch.randn(3, b, d, q, q, generator=gen), dim=2)
    alpha = torch.softmax(torch.randn(20, b, generator=gen), 1)
    cls, texel = torch.randint(0, 3, (20,), generator=gen), torch.randint(0, q * q, (20,), generator=gen)
    right = F.normalize(torch.einsum("pb,pbd->pd", alpha, tex.reshape(3, b, d, -1)[cls, :, :, texel]), dim=-1)
    wrong = F.normalize(torch.randn(20, d, generator=gen), dim=-1)
    neg, cneg = sample_negatives(3, q, 32, 32, gen)
    kw = dict(textures=tex, background=F.normalize(torch.randn(8, d, generator=gen), dim=-1),
              texel_dirs=texel_directions(q).reshape(-1, 3), temperature=0.07, tau=0.2, negatives=neg,
              class_negatives=cneg)
    assert ntdm_loss(right, alpha, cls, texel, **kw) < ntdm_loss(wrong, alpha, cls, texel, **kw) - 1.0


@pytest.mark.parametrize("update", ["weighted_mean", "literal"])
def test_momentum_moves_seen_texels_towards_the_feature_and_keeps_the_rest(update):
    tex = NeuralTextures(n_classes=2, bins=2, dim=4, size=3, momentum=0.9, generator=torch.Generator().manual_seed(0),
                         update=update)
    before = tex.textures.clone()
    feat = torch.zeros(1, 4, 3, 3)
    feat[0, 0] = 1.0  # every texel's image feature is e0
    alpha = torch.zeros(1, 2, 3, 3)
    alpha[0, 0], alpha[0, 1] = 0.9, 0.1
    covered = torch.zeros(1, 3, 3, dtype=torch.bool)
    covered[0, 1, 1] = True
    tex.update(feat, alpha, covered, torch.tensor([1]))
    after = tex.textures
    assert torch.allclose(after.norm(dim=2), torch.ones(2, 2, 3, 3), atol=1e-6)
    changed = (after != before).any(2)  # (Y, b, q, q)
    assert changed[1, :, 1, 1].all() and changed.sum() == 2  # only the seen texel of class 1, both bins
    e0 = torch.tensor([1.0, 0, 0, 0])
    if update == "literal":  # the plain mean of alpha_b f: the heavier-weighted bin moves more
        for b, a in ((0, 0.9), (1, 0.1)):
            expected = F.normalize(0.9 * before[1, b, :, 1, 1] + 0.1 * a * e0, dim=0)
            assert torch.allclose(after[1, b, :, 1, 1], expected, atol=1e-6)
    else:  # the alpha-weighted mean: one image, so each bin moves 10% of the way towards its feature
        for b in (0, 1):
            expected = F.normalize(0.9 * before[1, b, :, 1, 1] + 0.1 * e0, dim=0)
            assert torch.allclose(after[1, b, :, 1, 1], expected, atol=1e-6)


def test_the_alpha_weighted_mean_weighs_images_by_their_alpha():
    tex = NeuralTextures(n_classes=1, bins=1, dim=2, size=1, momentum=0.5, generator=torch.Generator().manual_seed(0))
    tex.textures[:] = torch.tensor([1.0, 0.0])[None, None, :, None, None]
    feats = torch.tensor([[0.0, 1.0], [0.0, -1.0]])[:, :, None, None]  # two images with opposite features
    alpha = torch.tensor([0.75, 0.25])[:, None, None, None]
    tex.update(feats, alpha, torch.ones(2, 1, 1, dtype=torch.bool), torch.tensor([0, 0]))
    # mean = (0.75 * (0, 1) + 0.25 * (0, -1)) / 1.0 = (0, 0.5); 0.5 * (1, 0) + 0.5 * (0, 0.5) = (0.5, 0.25)
    assert torch.allclose(tex.textures[0, 0, :, 0, 0], F.normalize(torch.tensor([0.5, 0.25]), dim=0), atol=1e-6)


def test_texture_memory_at_the_papers_size():
    assert texture_bytes(1, 7, 128, 256) == 7 * 256 * 256 * 128 * 4  # 235 MB a class
    with pytest.raises(ValueError, match="momentum"):
        NeuralTextures(1, 1, 2, 2, momentum=1.0)
    with pytest.raises(ValueError, match="update"):
        NeuralTextures(1, 1, 2, 2, momentum=0.5, update="median")
