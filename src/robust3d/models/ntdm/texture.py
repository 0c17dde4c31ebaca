"""Neural textures (NTDM Sec. 3.1-3.3, Eq. 5): per class, ``b`` viewing bins of ``q x q`` unit feature maps on the
template sphere's polar UV, updated by momentum from the image features splatted onto the surface.

The textures take no gradient (as NeMo's vertex bank): after every optimiser step each texel ``t`` that some image
of its class sees (the splat's covered texels ``V``) moves towards the mean alpha-weighted image feature there,
``theta_b(t) <- normalize(m theta_b(t) + (1 - m) mean_n alpha_{b,n}(t) f_n(t))`` with ``m = 0.9``.

Two readings of that mean (``update``):

- ``literal``: the plain mean of ``alpha_b f`` over the images. With the re-normalisation it moves a bin by about
  ``(1 - m) alpha_b``: with 7 bins sharing alpha, a texel seen ten times keeps most of its random start (measured on
  the embedded default: the rendered textures matched their own training features at cosine 0.07-0.25, below every
  background feature, and pose fell to chance; docs/papers/ntdm.md).
- ``weighted_mean`` (default): the alpha-weighted mean ``sum_n alpha_{b,n} f_n / sum_n alpha_{b,n}``, so every bin a
  view weighs at all moves ``1 - m`` of the way towards the features that weigh it, as NeMo's vertices do.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

UPDATES = ("weighted_mean", "literal")


class NeuralTextures:
    """``textures (Y, b, d, q, q)``: unit vectors along ``d``; rows of a map are v (polar angle), columns u."""

    def __init__(self, n_classes: int, bins: int, dim: int, size: int, momentum: float,
                 generator: torch.Generator | None = None, update: str = "weighted_mean") -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"texture momentum must be in [0, 1), got {momentum}")
        if update not in UPDATES:
            raise ValueError(f"texture update must be one of {', '.join(UPDATES)}, got {update!r}")
        self.update_rule = update
        self.textures = F.normalize(torch.randn(n_classes, bins, dim, size, size, generator=generator), dim=2)
        self.momentum = float(momentum)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return tuple(self.textures.shape)  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> NeuralTextures:
        self.textures = self.textures.to(device)
        return self

    @torch.no_grad()
    def update(self, features: torch.Tensor, alpha: torch.Tensor, covered: torch.Tensor, cls: torch.Tensor) -> None:
        """Momentum step from splatted image features.

        Args:
            features: ``(N, d, q, q)`` image features on the surface (the splat), normalised per texel here.
            alpha: ``(N, b, q, q)`` viewing coefficients splatted the same way.
            covered: ``(N, q, q)`` bool, the texels each image sees (``V``).
            cls: ``(N,)`` class index of each image.
        """
        y_count, bins, d, q, _ = self.textures.shape
        f = F.normalize(features.detach(), dim=1)
        weighted = alpha.detach()[:, :, None] * f[:, None]  # (N, b, d, q, q): alpha_b f
        mask = covered.to(f.dtype)[:, None, None]
        sums = torch.zeros(y_count, bins, d, q, q, dtype=f.dtype, device=f.device)
        sums.index_add_(0, cls.to(f.device), weighted * mask)
        if self.update_rule == "literal":
            counts = torch.zeros(y_count, q, q, dtype=f.dtype, device=f.device)
            counts.index_add_(0, cls.to(f.device), covered.to(f.dtype))
            seen = (counts > 0)[:, None, None].expand_as(sums)
            mean = sums / counts.clamp_min(1.0)[:, None, None]
        else:
            weight = torch.zeros(y_count, bins, q, q, dtype=f.dtype, device=f.device)
            weight.index_add_(0, cls.to(f.device), alpha.detach().to(f.dtype) * mask[:, :, 0])
            seen = (weight > 1e-6)[:, :, None].expand_as(sums)
            mean = sums / weight.clamp_min(1e-6)[:, :, None]
        moved = F.normalize(self.momentum * self.textures + (1.0 - self.momentum) * mean.to(self.textures), dim=2)
        self.textures = torch.where(seen, moved, self.textures)

    def nbytes(self) -> int:
        return self.textures.numel() * self.textures.element_size()

    def state_dict(self) -> dict:
        return {"textures": self.textures.cpu(), "momentum": self.momentum}

    def load_state_dict(self, state: dict) -> None:
        self.textures = state["textures"].to(self.textures.device)
        self.momentum = float(state["momentum"])


def texel_directions(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(q, q, 3)`` unit template-sphere points of the texel centres (inverse of ``render.uv.sphere_uv``):
    ``u = (j + 0.5) / q``, ``v = (i + 0.5) / q``, azimuth ``2 pi u`` about +z, polar angle ``pi v`` from +z."""
    centre = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size
    v, u = torch.meshgrid(centre, centre, indexing="ij")
    phi, polar = 2 * math.pi * u, math.pi * v
    return torch.stack([torch.sin(polar) * torch.cos(phi), torch.sin(polar) * torch.sin(phi), torch.cos(polar)], -1)


def texture_bytes(classes: int, bins: int, dim: int, size: int, bytes_per_value: int = 4) -> int:
    """Memory of a class set's textures (the paper's 7 x 256^2 x 128 x 4 B = 235 MB a class)."""
    return classes * bins * dim * size * size * bytes_per_value
