"""ImageNet-C 2D corruptions (Hendrycks & Dietterich, ICLR 2019) via the ``imagecorruptions`` package.

``corrupt_2d`` wraps :func:`imagecorruptions.corrupt` so that it is usable in a reproducible pipeline:

* deterministic per ``seed``: the library draws from numpy's *global* RNG, so it is seeded inside and the caller's
  global state is restored afterwards; ``glass_blur`` (numba RNG) and ``impulse_noise`` (scikit-image RNG) ignore the
  global RNG and get the seed passed explicitly;
* uint8 output of exactly the input's shape (grey or RGB);
* images smaller than the library's 32 px minimum are upsampled to 32 px on the short side, corrupted and resized
  back. That is the only workaround needed: every corruption (frost, glass_blur, zoom_blur, motion_blur,
  elastic_transform, spatter included) runs on 32 to 224 px images, square or not, and keeps their size.
"""

from __future__ import annotations

import functools
import inspect
import math

import cv2
import numpy as np

CORRUPTIONS_2D_COMMON: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
"""The 15 ImageNet-C benchmark corruptions, in ``imagecorruptions.get_corruption_names('common')`` order."""

CORRUPTIONS_2D_EXTRA: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
"""The 4 held-out ("validation") ImageNet-C corruptions."""

CORRUPTIONS_2D: tuple[str, ...] = CORRUPTIONS_2D_COMMON + CORRUPTIONS_2D_EXTRA
"""All 19 names of ``imagecorruptions.get_corruption_names('all')``."""

COMPNETS_CORRUPTIONS: tuple[str, ...] = ("brightness", "frost", "snow", "fog")
"""The 2D corruptions 3D-CompNets evaluates (its Table 4), each at :data:`COMPNETS_SEVERITY` ("on level 4", Sec. 4)."""
COMPNETS_SEVERITY = 4

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
MIN_SIZE = 32
"""``imagecorruptions.corrupt`` rejects images whose height or width is below this."""

@functools.cache
def _seeded_names() -> frozenset[str]:
    """Corruptions that take an explicit seed (imported lazily: the library pulls in scipy and scikit-image)."""
    import imagecorruptions

    return frozenset(
        name for name, fn in imagecorruptions.corruption_dict.items() if "seed" in inspect.signature(fn).parameters
    )


def corrupt_2d(image: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Apply ImageNet-C corruption ``name`` at ``severity`` (1..5); same seed, same output.

    ``image`` is uint8 ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; the result is uint8 of the same shape.
    """
    _check_args(name, severity, seed)
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    work = _upsample_to_min(rgb)
    out = _seeded_corrupt(work, name, severity, seed)
    if out.shape[:2] != (height, width):
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_AREA)
    return _restore_channels(_to_uint8(out), image)


def _check_args(name: str, severity: int, seed: int) -> None:
    if name not in CORRUPTIONS_2D:
        raise ValueError(f"unknown 2D corruption {name!r}; valid names: {', '.join(CORRUPTIONS_2D)}")
    check_severity_and_seed(severity, seed)


def check_severity_and_seed(severity: int, seed: int) -> None:
    """Reject severities outside 1..5 and negative or non-integer seeds (shared with the 3D corruptions)."""
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer) or severity not in SEVERITIES:
        raise ValueError(f"severity must be an integer in 1..5, got {severity!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def as_channels_last(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, C)`` with C in (1, 3) from a grey or RGB uint8 image; rejects anything else."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
    return image


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 3)`` view of a grey or RGB uint8 image."""
    image = as_channels_last(image)
    return np.ascontiguousarray(np.broadcast_to(image, (*image.shape[:2], 3)))


def _upsample_to_min(rgb: np.ndarray) -> np.ndarray:
    """Bilinear upsample so the short side is at least :data:`MIN_SIZE` (the library's minimum)."""
    height, width = rgb.shape[:2]
    if min(height, width) >= MIN_SIZE:
        return rgb
    scale = MIN_SIZE / min(height, width)
    size = (max(MIN_SIZE, math.ceil(width * scale)), max(MIN_SIZE, math.ceil(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)


def _seeded_corrupt(rgb: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """Run the library with numpy's global RNG seeded, then put the caller's RNG state back."""
    import imagecorruptions

    seed32 = int(np.random.SeedSequence(int(seed)).generate_state(1)[0])
    kwargs = {"seed": seed32} if name in _seeded_names() else {}
    state = np.random.get_state()  # noqa: NPY002 - the library only draws from the legacy global RNG
    try:
        np.random.seed(seed32)  # noqa: NPY002
        return imagecorruptions.corrupt(rgb, severity=int(severity), corruption_name=name, **kwargs)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """The library already returns uint8; round and clip anything else (defensive against version changes)."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(np.nan_to_num(image)), 0, 255).astype(np.uint8)


def _restore_channels(rgb: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Give ``rgb`` the channel layout of the input image (grey inputs get the luma of the result)."""
    if like.ndim == 3 and like.shape[2] == 3:
        return rgb
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return grey if like.ndim == 2 else grey[..., None]
