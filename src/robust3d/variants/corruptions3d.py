"""Depth-aware 3D common corruptions after ImageNet-3DCC.

Kar et al., "3D Common Corruptions and Data Augmentation", CVPR 2022 (code: EPFL-VILAB/3DCommonCorruptions,
``create_3dcc/``). The formulas are written from the project notes (shared/research/3d-prior-depth-shape-bias.md,
Sec. 7) with the severity tables of the 3DCC scripts; these are the nine corruptions the 3D-Prior paper reports
(its Table 2). 3DCC's codec corruptions (bit_error, h265_crf, h265_abr) need ffmpeg video encoding and are left out.

Depth conventions:

* ``depth`` is z-depth in the camera's units. Pixels with ``depth <= 0`` or non-finite (background where nothing was
  rendered) are *far*: they get ``background_depth``, by default the project's one backdrop depth
  (:mod:`robust3d.geometry.backdrop`: 4 x the largest valid depth; 3DCC's Taskonomy loader fills invalid depth with
  the largest valid one, i.e. a factor of 1).
* Every corruption depends on depth *ratios* only, so the camera's unit is irrelevant: defocus and motion parallax
  are ratios by construction (``d_focus / d``, ``d_near / d``); fog and flash normalise depth per image (see each
  function).
* Pixel-sized parameters (blur std, camera shift) are defined at 3DCC's working size (224 px for the ImageNet-3DCC
  depth-of-field images, 512 px for the motion script) and scaled with the image's short side, so a corruption
  looks alike at 64, 128 or 224 px.

Each corruption takes a float image in [0, 1] of shape (H, W, C), the filled depth (H, W), the severity and a numpy
``Generator`` (only the noise and motion corruptions draw from it) and returns a float image.

``reference_exact`` (the default) follows the 3DCC scripts where they make arbitrary choices, so our corruptions
equal ImageNet-3DCC's given the same image and depth: the result is truncated to uint8 (``np.uint8`` and
``ToPILImage`` both truncate; rounding is +0.5 grey levels brighter on average), the outer depth quantiles are
widened by 1e-4 (in the depth's units: 3DCC's depth lies in [0, 1]) and the defocus kernel is ``int(3 sigma)``
taps wide, made odd (1.5 sigma each side). ``reference_exact=False`` rounds, keeps the quantiles and lets the kernel
reach 3 sigma each side, so small blurs of small images are not cut to a single tap: at 64 px 3DCC's kernel leaves
near/far focus at severities 1-2 all but unblurred.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from robust3d.variants.corruptions import as_channels_last, check_severity_and_seed

CORRUPTIONS_3D: tuple[str, ...] = (
    "near_focus",
    "far_focus",
    "fog_3d",
    "flash",
    "color_quant",
    "low_light",
    "xy_motion_blur",
    "z_motion_blur",
    "iso_noise",
)
"""ImageNet-3DCC corruptions (download-script order, codec corruptions excluded)."""

DEPTH_CORRUPTIONS: tuple[str, ...] = ("near_focus", "far_focus", "fog_3d", "flash", "xy_motion_blur", "z_motion_blur")
"""The subset that uses depth (3DCC computes flash from a reshading image; here it comes from depth)."""

Corruption = Callable[[np.ndarray, np.ndarray, int, np.random.Generator], np.ndarray]

# Depth of field (create_dof.py): 8 quantile intervals, aperture severity + 2, far focus with aperture - 1.5.
_DOF_QUANTILES = 8
_DOF_APERTURE_OFFSET = 2.0
_FAR_FOCUS_APERTURE_CUT = 1.5
_NEAR_FOCUS_INDEX, _FAR_FOCUS_INDEX = 0, 7
_DOF_REFERENCE_SIZE = 224.0
_MIN_SIGMA = 0.1
_DOF_QUANTILE_EPS = 1e-4  # 3DCC compute_quantiles(eps=0.0001)
# Fog (create_fog.py) and flash (create_flash.py).
_FOG_ALPHA = (4.0, 8.0, 12.0, 16.0, 20.0)
_FOG_FAR_DEPTH = 0.5
_FLASH_SCALER = (2.4, 1.4, 0.9, 0.6, 0.4)
_NEAR_PERCENTILE = 1.0
# Sensor noise (create_non3d.py).
_GAUSS_STD = (0.08, 0.12, 0.18, 0.26, 0.38)
_ISO_PHOTONS = 25.0
_ISO_GAUSS_FACTOR = 0.7
_LOW_LIGHT_MAX = (0.6, 0.5, 0.4, 0.3, 0.2)
_LOW_LIGHT_GAMMA = 2.0
_LOW_LIGHT_PHOTONS = 10.0 * 12.0  # poisson_gaussian_noise at severity 3: 10 * [60, 25, 12, 5, 3][2]
_LOW_LIGHT_GAUSS = 0.1 * 0.18  # ... and 0.1 * [.08, .12, .18, .26, .38][2]
# Camera motion (motion_video/create_motion.py): a 60-frame 3D Ken Burns trajectory, the first N frames averaged.
_MOTION_STEPS = 60
_XY_FRAMES = (20, 30, 40, 50, 60)
_Z_FRAMES = (20, 25, 30, 35, 38)
_MOTION_REFERENCE_SIZE = 512.0
_XY_SHIFT_U = (50.0, 75.0)  # |horizontal| shift of the nearest point (px at 512), random sign
_XY_SHIFT_V = 75.0  # vertical shift in [-75, 75)
_Z_CROP = (0.5, 0.6)  # final crop fraction: the camera advances (1 - crop) x the nearest depth
_Z_SHIFT = 30.0  # lateral drift in [-30, 30) px at 512
_MAX_MOTION_SAMPLES = 64


def corrupt_3d(
    image: np.ndarray,
    depth: np.ndarray,
    name: str,
    severity: int,
    seed: int,
    *,
    background_depth: float | None = None,
    reference_exact: bool = True,
) -> np.ndarray:
    """Apply the 3DCC corruption ``name`` at ``severity`` (1..5); same seed, same output.

    ``image`` is uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; ``depth`` is ``(H, W)`` in camera units with 0 for
    background (see :func:`fill_background_depth`). Returns uint8 of the image's shape. ``reference_exact``: see the
    module docstring.
    """
    _check_args(name, severity, seed)
    x = _to_float(image)
    filled = fill_background_depth(depth, background_depth)
    if filled.shape != x.shape[:2]:
        raise ValueError(f"depth shape {filled.shape} does not match image shape {x.shape[:2]}")
    rng = np.random.default_rng(int(seed))
    if name in _DEFOCUS:
        out = _DEFOCUS[name](x, filled, int(severity), reference_exact=reference_exact)
    else:
        out = _CORRUPTIONS[name](x, filled, int(severity), rng)
    return to_uint8(out, reference_exact).reshape(np.shape(image))


def to_uint8(x: np.ndarray, truncate: bool = True) -> np.ndarray:
    """Float image in [0, 1] to uint8: truncated as the 3DCC scripts save images, or rounded."""
    scaled = np.clip(x, 0.0, 1.0) * 255.0
    return (np.floor(scaled) if truncate else np.rint(scaled)).astype(np.uint8)


def fill_background_depth(depth: np.ndarray, background_depth: float | None = None) -> np.ndarray:
    """Depth with background (``<= 0`` or non-finite) pixels set to a far value, by default the backdrop depth
    (:func:`robust3d.geometry.backdrop.fill_backdrop`); a depth-free map becomes flat (1)."""
    from robust3d.geometry.backdrop import fill_backdrop

    return fill_backdrop(depth, background_depth)


# ---------------------------------------------------------------------------------------------- depth of field


def near_focus(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator | None = None, *,
               reference_exact: bool = True) -> np.ndarray:
    """Focus on the nearest depth quantile; aperture ``severity + 2`` (3DCC ``defocus_blur_3D``)."""
    return _defocus(x, depth, severity + _DOF_APERTURE_OFFSET, _NEAR_FOCUS_INDEX, reference_exact)


def far_focus(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator | None = None, *,
              reference_exact: bool = True) -> np.ndarray:
    """Focus on the 7/8 depth quantile; 3DCC narrows the aperture by 1.5 for far focus."""
    return _defocus(x, depth, severity + _DOF_APERTURE_OFFSET - _FAR_FOCUS_APERTURE_CUT, _FAR_FOCUS_INDEX,
                    reference_exact)


def _defocus(x: np.ndarray, depth: np.ndarray, aperture: float, focus_index: int, reference_exact: bool) -> np.ndarray:
    """Layered depth of field: one Gaussian blur per depth quantile, blended per pixel between neighbouring layers.

    The blur std of a layer is 3DCC's circle of confusion (in px at 224 px, rescaled to this image). The quantile eps
    and the kernel width follow ``reference_exact`` (module docstring).
    """
    if reference_exact:  # 3DCC works in float32 throughout, which decides how its truncation falls
        depth = depth.astype(np.float32)
    levels = np.quantile(depth, np.arange(_DOF_QUANTILES + 1) / _DOF_QUANTILES).astype(depth.dtype)
    if reference_exact:
        levels[0] -= _DOF_QUANTILE_EPS
        levels[-1] += _DOF_QUANTILE_EPS
    sigmas = _circle_of_confusion(levels, aperture, levels[focus_index]) * _pixel_scale(x, _DOF_REFERENCE_SIZE)
    stack = np.stack([_gaussian_blur(x, float(sigma), reference_exact) for sigma in sigmas])
    left, w_left, w_right = _blend_weights(depth, levels)
    rows, cols = np.indices(depth.shape)
    return stack[left, rows, cols] * w_left[..., None] + stack[left + 1, rows, cols] * w_right[..., None]


def _circle_of_confusion(depths: np.ndarray, aperture: float, focus: float) -> np.ndarray:
    """Thin-lens blur without magnification, ``c = A |d - d_focus| / d`` (3DCC); a depth ratio, so unit-free."""
    return aperture * np.abs(depths - focus) / depths


def _blend_weights(depth: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left layer index and the normalised 3DCC weights ``1 - dist^2`` of the two layers bracketing each depth."""
    left = np.clip(np.searchsorted(levels, depth, side="right") - 1, 0, len(levels) - 2)
    low, high = levels[left], levels[left + 1]
    width = high - low
    # Both distances from their own end, as 3DCC computes them (1 - t would round differently in float32).
    t = np.clip(np.divide(depth - low, width, out=np.zeros_like(depth), where=width > 0), 0.0, 1.0)
    u = np.clip(np.divide(high - depth, width, out=np.ones_like(depth), where=width > 0), 0.0, 1.0)
    w_left, w_right = 1.0 - t**2, 1.0 - u**2
    total = w_left + w_right
    return left, w_left / total, w_right / total


def _gaussian_blur(x: np.ndarray, sigma: float, reference_exact: bool = True) -> np.ndarray:
    """Separable Gaussian blur with replicated borders (as 3DCC); no-op below 0.1 px like 3DCC.

    The kernel has ``int(3 sigma)`` taps made odd (3DCC ``cutoff_multiplier=3``) or, otherwise, ``2 ceil(3 sigma) + 1``.
    """
    if sigma < _MIN_SIGMA:
        return x
    if reference_exact:
        size = int(3.0 * sigma)
        size += 1 - size % 2
        if size == 1:
            return x
    else:
        size = 2 * max(1, math.ceil(3.0 * sigma)) + 1
    return cv2.GaussianBlur(x, (size, size), sigma, sigma, borderType=cv2.BORDER_REPLICATE).reshape(x.shape)


# -------------------------------------------------------------------------------------------- fog and flash


def fog_3d(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Koschmieder fog ``t x + I_s (1 - t)`` with ``t = exp(-alpha d)``, ``alpha = 4..20`` (3DCC ``fog_3d``).

    ``d`` is depth scaled per image so that the farthest pixel sits at 0.5, the clamp of ImageNet-3DCC's depth
    (MiDaS-derived, ``clamp(0, 0.5)``); the atmospheric light ``I_s`` is the image mean, as in 3DCC.
    """
    scaled = _FOG_FAR_DEPTH * depth / depth.max()
    transmission = np.exp(-_FOG_ALPHA[severity - 1] * scaled)[..., None]
    return transmission * x + x.mean() * (1.0 - transmission)


def flash(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Camera flash ``x + x * shading / k``, ``k = 2.4..0.4``, clipped at 1 (3DCC ``flash``).

    3DCC's shading is a reshading render; here it is a point light at the camera, ``(d_near / d)^2`` with ``d_near``
    the 1st depth percentile (inverse-square falloff, no normal term, so no intrinsics are needed).
    """
    near = np.percentile(depth, _NEAR_PERCENTILE)
    shading = np.minimum((near / depth) ** 2, 1.0)[..., None]
    return np.minimum(x + x * shading / _FLASH_SCALER[severity - 1], 1.0)


# ------------------------------------------------------------------------------------------- sensor effects


def iso_noise(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Fixed photon noise (Poisson, 25 photons at white) plus growing read noise ``0.7 * [.08 .. .38]`` (3DCC)."""
    return _poisson_gaussian(x, _ISO_PHOTONS, _ISO_GAUSS_FACTOR * _GAUSS_STD[severity - 1], rng)


def low_light(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Under-exposure: stretch to [0, max] with ``max = .6 .. .2`` and gamma 2 (``imadjust``), then sensor noise.

    The noise is 3DCC's ``poisson_gaussian_noise`` at severity 3 for every severity (120 photons, std 0.018).
    """
    low, high = float(x.min()), float(x.max())
    dark = ((x - low) / max(high - low, 1e-6)) ** _LOW_LIGHT_GAMMA * _LOW_LIGHT_MAX[severity - 1]
    return _poisson_gaussian(dark, _LOW_LIGHT_PHOTONS, _LOW_LIGHT_GAUSS, rng)


def color_quant(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Bit-depth reduction to ``6 - severity`` bits per channel, like ``PIL.ImageOps.posterize`` (3DCC)."""
    bits = 6 - severity
    mask = (0xFF << (8 - bits)) & 0xFF
    return (np.rint(x * 255.0).astype(np.uint8) & np.uint8(mask)) / 255.0


def _poisson_gaussian(x: np.ndarray, photons: float, std: float, rng: np.random.Generator) -> np.ndarray:
    """Shot noise with ``photons`` at white, clipped, then additive Gaussian noise, clipped (3DCC's order)."""
    shot = np.clip(rng.poisson(x * photons) / photons, 0.0, 1.0)
    return np.clip(shot + rng.normal(scale=std, size=x.shape), 0.0, 1.0)


# ------------------------------------------------------------------------------------------- camera motion


def xy_motion_blur(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Exposure during a sideways camera move: the average of views along the path (3DCC ``create_motion``).

    As in 3DCC the nearest point (1st depth percentile) moves by a random shift, |u| in [50, 75) and v in [-75, 75)
    px at 512 px, over the full trajectory; a pixel at depth ``d`` moves ``d_near / d`` times as far (parallax).
    Severity averages the first 20/30/40/50/60 of 60 frames. Simplified: instead of 3DCC's point-cloud rendering
    with inpainting, each view is a backward warp by the pixel's own depth (no occlusion reasoning).
    """
    scale = _pixel_scale(x, _MOTION_REFERENCE_SIZE)
    shift = np.array([rng.choice((-1.0, 1.0)) * rng.uniform(*_XY_SHIFT_U), rng.uniform(-_XY_SHIFT_V, _XY_SHIFT_V)])
    shift *= scale
    parallax = _parallax(depth)
    cols, rows = _pixel_grid(depth.shape)

    def view(step: float) -> tuple[np.ndarray, np.ndarray]:
        return cols + step * shift[0] * parallax, rows + step * shift[1] * parallax

    return _average_views(x, view, _XY_FRAMES[severity - 1], float(np.hypot(*shift)))


def z_motion_blur(x: np.ndarray, depth: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Exposure while the camera moves forward: depth-dependent zoom blur (3DCC ``create_motion``, zoom variant).

    Over the full trajectory the camera advances ``(1 - crop) * d_near`` with crop in [0.5, 0.6) and drifts sideways
    by [-30, 30) px at 512 px (at the nearest depth). A pixel at depth ``d`` samples the source at
    ``c + (p - c) (1 - s dz / d) + s drift d_near / d``, so near content streaks more. Severity averages the first
    20/25/30/35/38 of 60 frames. Simplified like :func:`xy_motion_blur` (backward warp by the pixel's own depth).
    """
    scale = _pixel_scale(x, _MOTION_REFERENCE_SIZE)
    advance = 1.0 - rng.uniform(*_Z_CROP)
    drift = rng.uniform(-_Z_SHIFT, _Z_SHIFT, size=2) * scale
    parallax = _parallax(depth)
    cols, rows = _pixel_grid(depth.shape)
    centre_col, centre_row = (depth.shape[1] - 1) / 2.0, (depth.shape[0] - 1) / 2.0

    def view(step: float) -> tuple[np.ndarray, np.ndarray]:
        zoom = 1.0 - step * advance * parallax
        return (
            centre_col + (cols - centre_col) * zoom + step * drift[0] * parallax,
            centre_row + (rows - centre_row) * zoom + step * drift[1] * parallax,
        )

    reach = advance * float(np.hypot(centre_col, centre_row)) + float(np.hypot(*drift))
    return _average_views(x, view, _Z_FRAMES[severity - 1], reach)


def _parallax(depth: np.ndarray) -> np.ndarray:
    """``d_near / d`` in (0, 1]: how far a pixel moves relative to the nearest surface (1st depth percentile)."""
    return np.minimum(np.percentile(depth, _NEAR_PERCENTILE) / depth, 1.0)


def _pixel_grid(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Column and row coordinates of every pixel."""
    rows, cols = np.indices(shape[:2], dtype=np.float64)
    return cols, rows


def _average_views(
    x: np.ndarray, view: Callable[[float], tuple[np.ndarray, np.ndarray]], frames: int, reach: float
) -> np.ndarray:
    """Mean of the views at trajectory steps ``0 .. (frames - 1) / 59``, sampled about one per pixel of motion."""
    last = (frames - 1) / (_MOTION_STEPS - 1)
    n_views = int(np.clip(math.ceil(reach * last) + 1, 2, _MAX_MOTION_SAMPLES))
    total = np.zeros_like(x)
    for step in np.linspace(0.0, last, n_views):
        map_x, map_y = view(float(step))
        warped = cv2.remap(
            x, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
        total += warped.reshape(x.shape)
    return total / n_views


# ---------------------------------------------------------------------------------------------------- helpers


def _pixel_scale(x: np.ndarray, reference: float) -> float:
    """Factor taking pixel sizes at 3DCC's working size to this image (short side)."""
    return min(x.shape[:2]) / reference


def _to_float(image: np.ndarray) -> np.ndarray:
    """float32 ``(H, W, C)`` in [0, 1] from a uint8 grey or RGB image."""
    return as_channels_last(image).astype(np.float32) / 255.0


def _check_args(name: str, severity: int, seed: int) -> None:
    if name not in _CORRUPTIONS:
        raise ValueError(f"unknown 3D corruption {name!r}; valid names: {', '.join(CORRUPTIONS_3D)}")
    check_severity_and_seed(severity, seed)


_DEFOCUS = {"near_focus": near_focus, "far_focus": far_focus}
_CORRUPTIONS: dict[str, Corruption] = {
    **_DEFOCUS,
    "fog_3d": fog_3d,
    "flash": flash,
    "color_quant": color_quant,
    "low_light": low_light,
    "xy_motion_blur": xy_motion_blur,
    "z_motion_blur": z_motion_blur,
    "iso_noise": iso_noise,
}
