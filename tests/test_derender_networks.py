"""Unsup3D/PDR networks: output and feature shapes at 64 and 32 px (embedded and reference widths), ranges,
bias-free convolutions, the features being what the output head reads, GroupNorm groups, parameter counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from robust3d.models.derender.networks import ConfNet, EDDeconv, Encoder, group_norm

# (nf of D/A/C, nf of L/V, zdim of D/A, zdim of C): the embedded default and the reference (pdr/model.py).
WIDTHS = {"embedded": (16, 16, 128, 128), "reference": (64, 32, 256, 128)}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def image(size: int, batch: int = 2) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1


def assert_bias_free(module: nn.Module) -> None:
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert convs and all(m.bias is None for m in convs)


@pytest.mark.parametrize("size", [64, 32])
@pytest.mark.parametrize("widths", sorted(WIDTHS))
def test_encoder_shapes_range_and_features(size: int, widths: str) -> None:
    _, nf, _, _ = WIDTHS[widths]
    torch.manual_seed(0)
    for cout in (4, 6):
        net = Encoder(3, cout, nf=nf, size=size)
        out, feats = net(image(size))
        msg = f"Encoder(cout={cout}, nf={nf}, size={size}): {n_params(net):,} parameters"
        assert out.shape == (2, cout) and feats.shape == (2, 8 * nf), msg
        assert out.abs().max() < 1 and feats.min() >= 0, msg
        # The features are the last ReLU, the input of the 1x1 output conv (PDR's change).
        torch.testing.assert_close(torch.tanh(net.head(feats[:, :, None, None])).flatten(1), out)
        assert_bias_free(net)


@pytest.mark.parametrize("size", [64, 32])
@pytest.mark.parametrize("widths", sorted(WIDTHS))
def test_eddeconv_shapes_range_and_features(size: int, widths: str) -> None:
    nf, _, zdim, _ = WIDTHS[widths]
    torch.manual_seed(0)
    x = image(size)
    albedo = EDDeconv(3, 3, nf=nf, zdim=zdim, size=size)
    depth = EDDeconv(3, 1, nf=nf, zdim=zdim, activation=None, size=size)
    out_a, feats_a = albedo(x)
    out_d, feats_d = depth(x)
    msg = f"EDDeconv(nf={nf}, zdim={zdim}, size={size}): {n_params(albedo):,} parameters"
    assert out_a.shape == (2, 3, size, size) and out_d.shape == (2, 1, size, size), msg
    assert feats_a.shape == (2, zdim) and feats_d.shape == (2, zdim), msg
    assert out_a.abs().max() < 1 and feats_a.min() >= 0 and feats_d.min() >= 0, msg
    assert not isinstance(depth.decoder[-1], nn.Tanh)
    # The features are the bottleneck the decoder reads.
    torch.testing.assert_close(albedo.decoder(feats_a[:, :, None, None]), out_a)
    assert_bias_free(albedo)


@pytest.mark.parametrize("size", [64, 32])
@pytest.mark.parametrize("widths", sorted(WIDTHS))
def test_confnet_shapes_and_positive(size: int, widths: str) -> None:
    nf, _, _, zdim = WIDTHS[widths]
    torch.manual_seed(0)
    net = ConfNet(3, 2, nf=nf, zdim=zdim, size=size)
    conf, conf_perc = net(image(size))
    msg = f"ConfNet(nf={nf}, zdim={zdim}, size={size}): {n_params(net):,} parameters"
    assert conf.shape == (2, 2, size, size) and conf_perc.shape == (2, 2, size // 4, size // 4), msg
    assert conf.min() > 0 and conf_perc.min() > 0, msg
    assert_bias_free(net)


def test_size_32_is_smaller_and_other_sizes_fail() -> None:
    for make in (lambda s: Encoder(3, 4, nf=16, size=s), lambda s: EDDeconv(3, 3, nf=16, size=s),
                 lambda s: ConfNet(nf=16, size=s)):
        small, full = n_params(make(32)), n_params(make(64))
        assert small < full, f"{small:,} parameters at 32 vs {full:,} at 64"
        with pytest.raises(ValueError, match="size"):
            make(48)


def test_group_norm_groups_match_reference_and_always_divide() -> None:
    assert [group_norm(64, k).num_groups for k in (1, 2, 4)] == [16, 32, 64]  # the reference's 16*k
    assert [group_norm(16, k).num_groups for k in (1, 2, 4)] == [16, 32, 64]  # one channel per group
    for nf in (8, 24, 40):
        for k in (1, 2, 4):
            gn = group_norm(nf, k)
            assert gn.num_channels == k * nf and gn.num_channels % gn.num_groups == 0
    out, _ = EDDeconv(3, 3, nf=24, zdim=32, size=32)(image(32))
    assert out.shape == (2, 3, 32, 32)
