"""Our 3D corruptions against a transcription of the ImageNet-3DCC scripts' uint8 output (EPFL-VILAB/
3DCommonCorruptions, ``create_3dcc/create_dof.py``, ``create_fog.py``, ``create_non3d.py``) on a fixed image and
depth at 3DCC's working size (224 px, where our pixel-size rescaling is the identity)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from robust3d.variants.corruptions3d import corrupt_3d

SIZE = 224


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A noisy striped image; depth in (0, 1] like 3DCC's normalised depth: a tilted plane and a near box."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    image = 0.5 + 0.2 * np.sin(2 * np.pi * (7 * xx + 2 * yy))[..., None] + rng.normal(0, 0.08, (SIZE, SIZE, 3))
    depth = 0.3 + 0.6 * yy + 0.02 * rng.random((SIZE, SIZE))
    depth[60:150, 80:170] = 0.12
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), depth


def _reference_blur(img: torch.Tensor, std: float) -> torch.Tensor:
    """3DCC ``separable_gaussian`` with ``cutoff = int(3 std)`` made odd, replicate padding."""
    if std < 0.1:
        return img
    taps = int(std * 3)
    taps += 1 - taps % 2
    if taps == 1:
        return img
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    kernel = torch.exp(-(n**2) / (2 * std * std)).to(img.dtype)
    kernel = kernel / kernel.sum()
    c = img.shape[1]
    padded = F.pad(img, (taps // 2,) * 4, mode="replicate")
    out = F.conv2d(padded, kernel.repeat(c, 1).view(c, 1, 1, taps), groups=c)
    return F.conv2d(out, kernel.repeat(c, 1).view(c, 1, taps, 1), groups=c)


def _reference_defocus(image: np.ndarray, depth: np.ndarray, severity: int, far: bool) -> np.ndarray:
    """3DCC ``defocus_blur_3D`` for one image, then ``ToPILImage`` (``mul(255).byte()``: truncation)."""
    rgb = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    d = torch.from_numpy(depth).float().reshape(1, -1)
    q = torch.quantile(d, torch.arange(9, dtype=torch.float32) / 8, dim=1)[:, 0]
    q[0] -= 1e-4
    q[-1] += 1e-4
    aperture = severity + 2.0 - (1.5 if far else 0.0)
    focus = q[7] if far else q[0]
    radii = aperture * torch.abs(q - focus) / q
    stack = torch.stack([_reference_blur(rgb, float(r)) for r in radii], 1)  # (1, 9, 3, H, W)
    right = torch.searchsorted(q, d)
    left = right - 1
    ql, qr = q[left], q[right]
    dist_left, dist_right = (d - ql) / (qr - ql), (qr - d) / (qr - ql)
    weights = torch.zeros(1, 9, d.shape[1])
    weights.scatter_(1, left[:, None], (1 - dist_left**2)[:, None])
    weights.scatter_(1, right[:, None], (1 - dist_right**2)[:, None])
    weights = (weights / weights.sum(1, keepdim=True)).view(1, 9, 1, SIZE, SIZE)
    out = (weights * stack).sum(1)[0]
    return out.mul(255).byte().permute(1, 2, 0).numpy()


def _reference_fog(image: np.ndarray, depth: np.ndarray, severity: int) -> np.ndarray:
    """3DCC ``fog_3d`` (``t = exp(-alpha d)``, light = image mean) on depth scaled to end at 0.5, as ours reads it."""
    rgb = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    d = torch.from_numpy(0.5 * depth / depth.max()).float()
    t = torch.exp(-[4, 8, 12, 16, 20][severity - 1] * d)[None]
    return (t * rgb + rgb.mean() * (1 - t)).mul(255).byte().permute(1, 2, 0).numpy()


@pytest.mark.parametrize("severity", [1, 3, 5])
@pytest.mark.parametrize("name", ["near_focus", "far_focus"])
def test_defocus_equals_the_3dcc_transcription(name, severity):
    image, depth = _scene()
    ours = corrupt_3d(image, depth, name, severity, seed=0)
    ref = _reference_defocus(image, depth, severity, far=name == "far_focus")
    diff = np.abs(ours.astype(int) - ref.astype(int))
    # float32 sums in another order may cross a grey level at a handful of pixels, never by more than one.
    assert diff.max() <= 1 and (diff > 0).mean() < 2e-4, (diff.max(), (diff > 0).mean())
    assert not np.array_equal(ours, image)


@pytest.mark.parametrize("severity", [1, 5])
def test_fog_and_color_quant_equal_the_3dcc_transcription(severity):
    image, depth = _scene()
    diff = np.abs(corrupt_3d(image, depth, "fog_3d", severity, seed=0).astype(int)
                  - _reference_fog(image, depth, severity).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
    posterized = np.asarray(ImageOps.posterize(Image.fromarray(image), 6 - severity))
    assert np.array_equal(corrupt_3d(image, depth, "color_quant", severity, seed=0), posterized)


def test_our_variant_rounds_and_blurs_wider():
    """``reference_exact=False``: rounding (brighter on average) and a 3-sigma kernel (more blur at severity 1)."""
    image, depth = _scene()
    exact = corrupt_3d(image, depth, "fog_3d", 3, seed=0)
    ours = corrupt_3d(image, depth, "fog_3d", 3, seed=0, reference_exact=False)
    assert 0.3 < ours.astype(float).mean() - exact.astype(float).mean() < 0.7
    exact = corrupt_3d(image, depth, "near_focus", 1, seed=0)
    ours = corrupt_3d(image, depth, "near_focus", 1, seed=0, reference_exact=False)
    assert np.abs(ours.astype(float) - image).mean() > np.abs(exact.astype(float) - image).mean()
