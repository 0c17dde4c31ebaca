"""Unsup3D's networks (Wu et al., CVPR 2020, ``elliottwu/unsup3d``) with PDR's feature outputs.

PDR (``tzofi/physically-disentangled-representations``, ``pdr/networks.py``) changes Unsup3D's modules so that each
returns ``(output, features)``: the *physically disentangled features* are the 1x1 bottleneck of the depth and
albedo auto-encoders and the last hidden layer of the light and view encoders. Shapes (B batch, S = ``size``):

- :class:`Encoder` (light ``cout=4``, view ``cout=6``): ``(B, cin, S, S) -> (out (B, cout) in (-1, 1),
  features (B, 8·nf) >= 0)``.
- :class:`EDDeconv` (depth ``cout=1, activation=None``, albedo ``cout=3``): ``(B, cin, S, S) -> (out (B, cout, S,
  S), features (B, zdim) >= 0)``.
- :class:`ConfNet` (photometric/perceptual uncertainty): ``(B, cin, S, S) -> (conf (B, cout, S, S) > 0,
  conf_perc (B, cout, S/4, S/4) > 0)``; S/4 is VGG16 relu3_3's resolution.

Conventions (as the reference unless said):

- Every convolution has ``bias=False``; Unsup3D's default PyTorch initialisation.
- **GroupNorm groups.** The reference normalises ``k·nf`` channels with ``16·k`` groups (``nf`` 64: 4 channels per
  group), which only divides when 16 | nf. We use ``k·gcd(16, nf)`` groups: exactly the reference's for every nf
  that is a multiple of 16 (64 and the embedded 16, where each group is one channel), and still a divisor of the
  channel count for any other nf.
- **Size.** The reference is 64-only (4 stride-2 stages + a 4x4 valid conv reach 1x1). ``size=32`` removes one
  stage on each side, the deepest, so that channel widths and the 1x1 feature sizes are unchanged: the encoders skip
  the ``4nf -> 8nf`` stride-2 conv (8x8 -> 4x4 at 64), so their 4x4 valid conv reads ``4nf`` channels; the
  :class:`EDDeconv` decoder skips the parameter-free nearest x2 upsampling (its last refinement convs then run at
  32x32 instead of 64x64); the :class:`ConfNet` trunk skips its ``8nf -> 4nf`` transposed conv so that it still ends
  at S/4 with ``2nf`` channels. Any other size raises ``ValueError``.
- **Where the Tanh of** :class:`Encoder` **goes.** ``pdr/networks.py`` appends the activation to the trunk list,
  i.e. after the last ReLU, so there the features are ``tanh(relu(.))`` and the light/view output is the unbounded
  1x1 conv of them. Unsup3D has the Tanh on the output, which the model's rescaling (x60 degrees, light ranges)
  assumes; we keep Unsup3D's placement and return the last ReLU as the features (the build notes' reading).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

SIZES = (32, 64)


def _check_size(size: int) -> None:
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES} (the reference is 64-only; 32 drops one stage), got {size}")


def _down_widths(nf: int, size: int) -> list[int]:
    """Output widths of the stride-2 stages: S -> 4x4 (``[nf, 2nf, 4nf, 8nf]`` at 64, ``[nf, 2nf, 4nf]`` at 32)."""
    _check_size(size)
    return [nf, 2 * nf, 4 * nf, 8 * nf][: 4 if size == 64 else 3]


def group_norm(nf: int, k: int) -> nn.GroupNorm:
    """GroupNorm over ``k·nf`` channels with ``k·gcd(16, nf)`` groups (the reference's ``16·k`` when 16 | nf)."""
    return nn.GroupNorm(k * math.gcd(16, nf), k * nf)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int | None = None) -> nn.Conv2d:
    """Bias-free conv; ``padding`` defaults to 'same' for odd kernels."""
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2 if padding is None else padding, bias=False)


def _deconv(cin: int, cout: int, stride: int = 2) -> nn.ConvTranspose2d:
    """Bias-free 4x4 transposed conv: x2 (stride 2, padding 1) or 1x1 -> 4x4 (stride 1, padding 0)."""
    return nn.ConvTranspose2d(cin, cout, 4, stride=stride, padding=1 if stride == 2 else 0, bias=False)


def _gn_encoder(cin: int, nf: int, zdim: int, size: int) -> nn.Sequential:
    """Unsup3D's normalised encoder (EDDeconv, ConfNet): ``(B, cin, S, S) -> (B, zdim, 1, 1)``, ReLU at the end.

    Conv4x4 s2 + GroupNorm + LeakyReLU(0.2) for every stage below ``8nf``; the ``8nf`` stage (64 only) has no norm;
    a 4x4 valid conv to ``zdim`` and ReLU.
    """
    layers: list[nn.Module] = []
    c = cin
    for width in _down_widths(nf, size):
        layers.append(_conv(c, width, 4, stride=2, padding=1))
        if width < 8 * nf:
            layers.append(group_norm(nf, width // nf))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        c = width
    layers += [_conv(c, zdim, 4, padding=0), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _up_stage(nf: int, cin: int, k: int) -> list[nn.Module]:
    """EDDeconv decoder stage: ConvT4x4 s2 (``cin -> k·nf``) + GN + ReLU, Conv3x3 + GN + ReLU."""
    c = k * nf
    return [_deconv(cin, c), group_norm(nf, k), nn.ReLU(inplace=True),
            _conv(c, c, 3), group_norm(nf, k), nn.ReLU(inplace=True)]


class Encoder(nn.Module):
    """Unsup3D's light/view encoder: ``x (B, cin, S, S) -> (out (B, cout) tanh, features (B, 8·nf))``.

    Conv4x4 s2 + ReLU stages (``nf, 2nf, 4nf, 8nf``; no ``8nf`` stage at S = 32), a 4x4 valid conv to ``8nf`` +
    ReLU (the features, PDR's change), then a 1x1 conv to ``cout`` and Tanh.
    """

    def __init__(self, cin: int, cout: int, nf: int = 64, size: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = cin
        for width in _down_widths(nf, size):
            layers += [_conv(c, width, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
            c = width
        layers += [_conv(c, 8 * nf, 4, padding=0), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*layers)
        self.head = _conv(8 * nf, cout, 1)
        self.size = size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(x)  # (B, 8nf, 1, 1)
        out = torch.tanh(self.head(features))
        return out.flatten(1), features.flatten(1)


class EDDeconv(nn.Module):
    """Unsup3D's depth/albedo auto-encoder: ``x (B, cin, S, S) -> (out (B, cout, S, S), features (B, zdim))``.

    Encoder :func:`_gn_encoder` to a 1x1 ``zdim`` bottleneck after ReLU (the features, PDR's change). Decoder:
    ConvT4x4 (1 -> 4) + ReLU, Conv3x3 + ReLU at ``8nf``; ConvT s2 + Conv3x3 stages with GN for ``4nf`` (8x8),
    ``2nf`` (16x16), ``nf`` (32x32); nearest x2 (64 only); Conv3x3 + GN + ReLU, Conv5x5 + GN + ReLU, Conv5x5 to
    ``cout``, then ``activation`` (Tanh for albedo; ``None`` for depth, whose raw output the model normalises).
    """

    def __init__(self, cin: int, cout: int, nf: int = 64, zdim: int = 128,
                 activation: type[nn.Module] | None = nn.Tanh, size: int = 64) -> None:
        super().__init__()
        self.encoder = _gn_encoder(cin, nf, zdim, size)
        layers: list[nn.Module] = [_deconv(zdim, 8 * nf, stride=1), nn.ReLU(inplace=True),
                                   _conv(8 * nf, 8 * nf, 3), nn.ReLU(inplace=True)]
        layers += _up_stage(nf, 8 * nf, 4) + _up_stage(nf, 4 * nf, 2) + _up_stage(nf, 2 * nf, 1)
        if size == 64:
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [_conv(nf, nf, 3), group_norm(nf, 1), nn.ReLU(inplace=True),
                   _conv(nf, nf, 5), group_norm(nf, 1), nn.ReLU(inplace=True),
                   _conv(nf, cout, 5)]
        if activation is not None:
            layers.append(activation())
        self.decoder = nn.Sequential(*layers)
        self.size = size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.encoder(x)  # (B, zdim, 1, 1)
        return self.decoder(features), features.flatten(1)


class ConfNet(nn.Module):
    """Unsup3D's confidence network: ``x (B, cin, S, S) -> (conf (B, cout, S, S), conf_perc (B, cout, S/4, S/4))``.

    Both Softplus (> 0): channel 0 is sigma of the original reconstruction, channel 1 of the flipped one; ``conf``
    weights the photometric L1, ``conf_perc`` the perceptual loss at relu3_3 (S/4). Encoder :func:`_gn_encoder`;
    trunk ConvT (1 -> 4, ``8nf``) + ReLU, ConvT s2 + GN + ReLU to ``4nf`` (64 only) and ``2nf`` (S/4); the full-size
    head two ConvT s2 + GN + ReLU at ``nf`` and a Conv5x5; the S/4 head a Conv3x3. The reference hard-codes 2
    output channels and ignores ``cout``; here both heads have ``cout`` (default 2, the same).
    """

    def __init__(self, cin: int = 3, cout: int = 2, nf: int = 64, zdim: int = 128, size: int = 64) -> None:
        super().__init__()
        self.encoder = _gn_encoder(cin, nf, zdim, size)
        trunk: list[nn.Module] = [_deconv(zdim, 8 * nf, stride=1), nn.ReLU(inplace=True)]
        c = 8 * nf
        for k in (4, 2) if size == 64 else (2,):
            trunk += [_deconv(c, k * nf), group_norm(nf, k), nn.ReLU(inplace=True)]
            c = k * nf
        self.trunk = nn.Sequential(*trunk)
        self.head_full = nn.Sequential(
            _deconv(2 * nf, nf), group_norm(nf, 1), nn.ReLU(inplace=True),
            _deconv(nf, nf), group_norm(nf, 1), nn.ReLU(inplace=True),
            _conv(nf, cout, 5), nn.Softplus())
        self.head_perc = nn.Sequential(_conv(2 * nf, cout, 3), nn.Softplus())
        self.size = size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(self.encoder(x))  # (B, 2nf, S/4, S/4)
        return self.head_full(h), self.head_perc(h)
