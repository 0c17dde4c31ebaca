"""DINO's multi-crop augmentation as batched tensor ops: every crop of a batch in one ``grid_sample`` call.

Each view follows DINO's recipe (Caron et al. 2021, ``DataAugmentationDINO``): a random resized crop with a
horizontal flip, colour jitter (probability 0.8), grayscale (0.2), Gaussian blur (1.0 on the first global view, 0.1
on the second, 0.5 on local views) and solarisation (0.2, second global view only). The jitter's four operations
run in one fixed order (brightness, contrast, saturation, hue) rather than torchvision's random order: one less
draw, and the order is not part of the method.

Every random number comes from the ``torch.Generator`` the caller passes (one per training step), so a resumed run
replays the same views. Images are ``(B, 3, H, W)`` floats in [0, 1]; views come out at their crop size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["MultiCrop", "gaussian_blur", "random_resized_crop"]

_LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))
#: RGB -> YIQ; a hue shift is a rotation of the (I, Q) chroma plane.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_GRAY = torch.tensor([0.299, 0.587, 0.114])


def _uniform(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def random_resized_crop(images: torch.Tensor, size: int, scale: tuple[float, float], gen: torch.Generator,
                        flip: bool = True) -> torch.Tensor:
    """``(B, 3, H, W) -> (B, 3, size, size)``: a crop of area ``U(scale)`` x the image and aspect ratio in [3/4, 4/3]
    (log-uniform), anywhere inside the image, resized bilinearly, mirrored with probability 0.5 when ``flip``."""
    b = images.shape[0]
    area = _uniform(b, *scale, gen)
    ratio = torch.exp(_uniform(b, *_LOG_RATIO, gen))
    w = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the image side
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (2 * torch.rand(b, generator=gen) - 1) * (1 - w)  # centre in [-1, 1] coordinates, crop inside the image
    cy = (2 * torch.rand(b, generator=gen) - 1) * (1 - h)
    sign = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0) if flip else torch.ones(b)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = w * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = h, cy
    grid = F.affine_grid(theta.to(images), [b, 3, size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _colour_jitter(x: torch.Tensor, p: float, strength: tuple[float, float, float, float], gen: torch.Generator
                   ) -> torch.Tensor:
    b = x.shape[0]
    bright, contrast, sat, hue = strength
    apply = (torch.rand(b, generator=gen) < p).to(x).view(b, 1, 1, 1)
    fb = _uniform(b, 1 - bright, 1 + bright, gen).to(x).view(b, 1, 1, 1)
    fc = _uniform(b, 1 - contrast, 1 + contrast, gen).to(x).view(b, 1, 1, 1)
    fs = _uniform(b, 1 - sat, 1 + sat, gen).to(x).view(b, 1, 1, 1)
    angle = (2 * math.pi * _uniform(b, -hue, hue, gen)).to(x)
    y = (x * fb).clamp(0, 1)
    gray = torch.einsum("c,bchw->bhw", _GRAY.to(x), y).unsqueeze(1)
    y = (gray.mean(dim=(2, 3), keepdim=True) + fc * (y - gray.mean(dim=(2, 3), keepdim=True))).clamp(0, 1)
    gray = torch.einsum("c,bchw->bhw", _GRAY.to(x), y).unsqueeze(1)
    y = (gray + fs * (y - gray)).clamp(0, 1)
    yiq = torch.einsum("dc,bchw->bdhw", _YIQ.to(x), y)
    cos, sin = torch.cos(angle).view(b, 1, 1), torch.sin(angle).view(b, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    y = torch.einsum("dc,bchw->bdhw", torch.linalg.inv(_YIQ).to(x), yiq).clamp(0, 1)
    return apply * y + (1 - apply) * x


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-image ``sigma`` ``(B,)`` in pixels (reflect padding); sigma 0 = identity."""
    b, c, h, w = x.shape
    radius = min(max(1, math.ceil(3 * float(sigma.max()))), min(h, w) - 1)  # reflect padding needs r < side
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    s = sigma.to(x).clamp(min=1e-3).view(b, 1)
    k = torch.exp(-0.5 * (t / s) ** 2)
    k = k / k.sum(1, keepdim=True)
    k = k.repeat_interleave(c, 0)  # (B * C, 2r + 1): one kernel per channel of each image
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(y, k.view(b * c, 1, -1, 1), groups=b * c)
    return y.view(b, c, h, w)


@dataclass(frozen=True)
class MultiCrop:
    """The views of one batch: ``n_global`` crops at ``global_size`` then ``n_local`` at ``local_size``.

    ``blur_sigma`` is DINO's (0.1, 2.0) pixel range at 224 px, scaled to each view's size.
    """

    global_size: int
    local_size: int
    n_local: int = 4
    global_scale: tuple[float, float] = (0.4, 1.0)
    local_scale: tuple[float, float] = (0.05, 0.4)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_p: float = 0.2
    n_global: int = 2

    def view(self, images: torch.Tensor, size: int, scale: tuple[float, float], blur_p: float, solarize_p: float,
             gen: torch.Generator) -> torch.Tensor:
        x = random_resized_crop(images, size, scale, gen)
        b = x.shape[0]
        x = _colour_jitter(x, self.jitter_p, self.jitter, gen)
        gray = (torch.rand(b, generator=gen) < self.grayscale_p).to(x).view(b, 1, 1, 1)
        x = gray * torch.einsum("c,bchw->bhw", _GRAY.to(x), x).unsqueeze(1).expand_as(x) + (1 - gray) * x
        blur = torch.rand(b, generator=gen) < blur_p
        sigma = _uniform(b, *self.blur_sigma, gen) * size / 224 * blur
        if bool(blur.any()):
            x = torch.where(blur.view(b, 1, 1, 1), gaussian_blur(x, sigma), x)
        sol = (torch.rand(b, generator=gen) < solarize_p).view(b, 1, 1, 1)
        return torch.where(sol & (x >= 0.5), 1 - x, x)

    def __call__(self, images: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, 3, H, W)`` -> (global views ``(n_global * B, 3, G, G)``, local views ``(n_local * B, 3, L, L)`` or
        None), crop-major (all images of view 0, then view 1, ...), as :class:`~.dino.DINOLoss` expects."""
        blur_p = [1.0, 0.1] + [0.5] * max(0, self.n_global - 2)
        sol_p = [0.0, self.solarize_p] + [0.0] * max(0, self.n_global - 2)
        glob = torch.cat([self.view(images, self.global_size, self.global_scale, blur_p[i], sol_p[i], gen)
                          for i in range(self.n_global)])
        if self.n_local == 0:
            return glob, None
        loc = torch.cat([self.view(images, self.local_size, self.local_scale, 0.5, 0.0, gen)
                         for _ in range(self.n_local)])
        return glob, loc
