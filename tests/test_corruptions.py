"""2D (ImageNet-C) and depth-aware 3D (ImageNet-3DCC) corruptions: shapes, determinism, severity, depth-awareness."""

from __future__ import annotations

import numpy as np
import pytest
from imagecorruptions import get_corruption_names
from PIL import Image, ImageOps

from robust3d.geometry.backdrop import BACKDROP_DEPTH_FACTOR, backdrop_depth
from robust3d.variants.corruptions import (
    COMPNETS_CORRUPTIONS,
    CORRUPTIONS_2D,
    CORRUPTIONS_2D_COMMON,
    CORRUPTIONS_2D_EXTRA,
    corrupt_2d,
)
from robust3d.variants.corruptions3d import CORRUPTIONS_3D, corrupt_3d, fill_background_depth

NEAR, FAR = 4.0, 8.0
# Corruptions that draw random numbers: a different seed must give a different image.
STOCHASTIC_2D = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "speckle_noise",
    "glass_blur",
    "motion_blur",
    "snow",
    "frost",
    "fog",
    "spatter",
    "elastic_transform",
)
STOCHASTIC_3D = ("iso_noise", "low_light", "xy_motion_blur", "z_motion_blur")
# frost is ``c0 * x + c1 * frost`` with c0 falling (1 -> 0.6) and c1 rising (0.4 -> 0.75): darkening the image partly
# cancels the added frost, so its mean absolute difference is not monotone (sev 5 < sev 1 on most images); what does
# grow is how much of the clean image is lost, checked as a falling correlation instead.
NON_MONOTONE_MAD = ("frost",)


def make_scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Textured background at depth 8 and a textured square (central half) at depth 4.

    Both textures have the same colour statistics (stripes plus per-pixel noise), so region-wise differences come
    from depth alone.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    base = np.array([0.45, 0.5, 0.55])
    image = base + 0.08 * np.sin(2 * np.pi * (6 * xx + 3 * yy))[..., None] + rng.normal(0, 0.1, (size, size, 3))
    square = slice(size // 4, 3 * size // 4)
    stripes = 0.08 * np.sin(2 * np.pi * (3 * xx[square, square] - 6 * yy[square, square]))[..., None]
    image[square, square] = base + stripes + rng.normal(0, 0.1, stripes.shape[:2] + (3,))
    depth = np.full((size, size), FAR, np.float32)
    depth[square, square] = NEAR
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), depth


def regions(size: int, margin: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the near square's interior and of the far background away from the square's edges."""
    near = np.zeros((size, size), bool)
    near[size // 4 + margin : 3 * size // 4 - margin, size // 4 + margin : 3 * size // 4 - margin] = True
    far = np.ones((size, size), bool)
    far[size // 4 - margin : 3 * size // 4 + margin, size // 4 - margin : 3 * size // 4 + margin] = False
    return near, far


def mad(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference in grey levels (optionally over a pixel mask)."""
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(diff.mean() if mask is None else diff[mask].mean())


SCENES = {size: make_scene(size) for size in (128, 64)}


def test_name_lists_match_the_library() -> None:
    assert tuple(get_corruption_names("all")) == CORRUPTIONS_2D
    assert tuple(get_corruption_names("common")) == CORRUPTIONS_2D_COMMON
    assert CORRUPTIONS_2D_EXTRA == ("speckle_noise", "gaussian_blur", "spatter", "saturate")
    assert set(COMPNETS_CORRUPTIONS) <= set(CORRUPTIONS_2D)
    assert set(CORRUPTIONS_3D) == {
        "near_focus",
        "far_focus",
        "fog_3d",
        "flash",
        "color_quant",
        "low_light",
        "xy_motion_blur",
        "z_motion_blur",
        "iso_noise",
    }


@pytest.mark.parametrize("name", CORRUPTIONS_2D)
def test_2d_runs_changes_and_grows_with_severity(name: str) -> None:
    for size, (image, _) in SCENES.items():
        diffs, corr = {}, {}
        for severity in (1, 5):
            out = corrupt_2d(image, name, severity, seed=0)
            assert out.shape == (size, size, 3) and out.dtype == np.uint8
            diffs[severity] = mad(out, image)
            assert diffs[severity] > 0.5, (size, severity, diffs)
            corr[severity] = np.corrcoef(out.ravel(), image.ravel())[0, 1]
        if name in NON_MONOTONE_MAD:
            assert corr[5] < corr[1], (size, corr)
        else:
            assert diffs[5] >= diffs[1], (size, diffs)


@pytest.mark.parametrize("exact", [True, False], ids=["3dcc", "ours"])
@pytest.mark.parametrize("name", CORRUPTIONS_3D)
def test_3d_runs_changes_and_grows_with_severity(name: str, exact: bool) -> None:
    for size, (image, depth) in SCENES.items():
        diffs = {}
        for severity in (1, 5):
            out = corrupt_3d(image, depth, name, severity, seed=0, reference_exact=exact)
            assert out.shape == (size, size, 3) and out.dtype == np.uint8
            diffs[severity] = mad(out, image)
            if exact and size == 64 and severity == 1 and name in ("near_focus", "far_focus"):
                # 3DCC's int(3 sigma)-tap kernel is a single tap for every layer here: no blur at all.
                assert diffs[severity] == 0.0, diffs
                continue
            assert diffs[severity] > 0.5, (size, severity, diffs)
        assert diffs[5] >= diffs[1], (size, diffs)


@pytest.mark.parametrize("name", CORRUPTIONS_2D)
def test_2d_is_deterministic_per_seed(name: str) -> None:
    image, _ = SCENES[64]
    first = corrupt_2d(image, name, 3, seed=7)
    np.testing.assert_array_equal(first, corrupt_2d(image, name, 3, seed=7))
    if name in STOCHASTIC_2D:
        assert not np.array_equal(first, corrupt_2d(image, name, 3, seed=8))


@pytest.mark.parametrize("name", CORRUPTIONS_3D)
def test_3d_is_deterministic_per_seed(name: str) -> None:
    image, depth = SCENES[64]
    first = corrupt_3d(image, depth, name, 3, seed=7)
    np.testing.assert_array_equal(first, corrupt_3d(image, depth, name, 3, seed=7))
    if name in STOCHASTIC_3D:
        assert not np.array_equal(first, corrupt_3d(image, depth, name, 3, seed=8))


def test_2d_restores_the_global_rng() -> None:
    image, _ = SCENES[64]
    np.random.seed(123)  # noqa: NPY002 - checking that the legacy global state survives
    expected = np.random.rand(3)  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    corrupt_2d(image, "gaussian_noise", 2, seed=5)
    np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002


def test_2d_small_and_grey_images_keep_their_shape() -> None:
    """Below the library's 32 px minimum the image is upsampled, corrupted and resized back."""
    image, _ = make_scene(24)
    for name in ("frost", "glass_blur", "zoom_blur", "motion_blur", "elastic_transform", "spatter"):
        out = corrupt_2d(image[:, :20], name, 5, seed=0)
        assert out.shape == (24, 20, 3) and out.dtype == np.uint8
        assert mad(out, image[:, :20]) > 0.5
    grey = SCENES[64][0][..., 1]
    assert corrupt_2d(grey, "fog", 2, seed=0).shape == grey.shape
    assert corrupt_2d(grey[..., None], "fog", 2, seed=0).shape == (64, 64, 1)


def test_fog_3d_hides_far_pixels_more() -> None:
    image, depth = SCENES[128]
    near, far = regions(128)
    # At severity 5 near and far are both all but fully fogged; truncation then leaves them < 1 grey level apart.
    for severity, exact in ((1, True), (3, True), (5, False)):
        out = corrupt_3d(image, depth, "fog_3d", severity, seed=0, reference_exact=exact)
        assert mad(out, image, far) > mad(out, image, near) + 1.0, severity


def test_near_focus_blurs_the_background_and_far_focus_the_square() -> None:
    image, depth = SCENES[128]
    near, far = regions(128)
    focused_near = corrupt_3d(image, depth, "near_focus", 3, seed=0)
    assert mad(focused_near, image, far) > 5.0 > 0.5 > mad(focused_near, image, near)
    focused_far = corrupt_3d(image, depth, "far_focus", 3, seed=0)
    assert mad(focused_far, image, near) > 5.0 > 0.5 > mad(focused_far, image, far)


def test_flash_lights_near_pixels_more() -> None:
    image, depth = SCENES[128]
    near, far = regions(128)
    out = corrupt_3d(image, depth, "flash", 3, seed=0)
    assert mad(out, image, near) > 2 * mad(out, image, far)


def test_zero_depth_is_far_background() -> None:
    image, depth = SCENES[64]
    holes = np.where(depth == FAR, 0.0, depth)
    np.testing.assert_array_equal(fill_background_depth(holes),
                                  np.where(depth == FAR, BACKDROP_DEPTH_FACTOR * NEAR, depth))
    assert backdrop_depth(holes) == BACKDROP_DEPTH_FACTOR * NEAR and backdrop_depth(np.zeros((4, 4))) is None
    np.testing.assert_array_equal(fill_background_depth(np.zeros((4, 4))), np.ones((4, 4)))
    for name in ("fog_3d", "near_focus", "xy_motion_blur"):
        expected = corrupt_3d(image, depth, name, 4, seed=1)
        got = corrupt_3d(image, holes, name, 4, seed=1, background_depth=FAR)
        np.testing.assert_array_equal(got, expected)


def test_depth_is_scale_free() -> None:
    """Camera units do not matter: depth in millimetres gives the same corruption as depth in metres."""
    image, depth = SCENES[64]
    for name in ("near_focus", "far_focus", "fog_3d", "flash", "xy_motion_blur", "z_motion_blur"):
        metres = corrupt_3d(image, depth, name, 3, seed=2)
        millimetres = corrupt_3d(image, depth * 1000.0, name, 3, seed=2)
        assert mad(metres, millimetres) < 0.05, name


def test_color_quant_matches_pil_posterize() -> None:
    image, depth = SCENES[64]
    for severity in (1, 5):
        expected = np.asarray(ImageOps.posterize(Image.fromarray(image), 6 - severity))
        np.testing.assert_array_equal(corrupt_3d(image, depth, "color_quant", severity, seed=0), expected)


@pytest.mark.parametrize("severity", [0, 6, 2.5, True, "3"])
def test_invalid_severity_raises(severity: object) -> None:
    image, depth = SCENES[64]
    with pytest.raises(ValueError, match="severity"):
        corrupt_2d(image, "fog", severity, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="severity"):
        corrupt_3d(image, depth, "fog_3d", severity, seed=0)  # type: ignore[arg-type]


def test_invalid_name_raises_with_the_valid_names() -> None:
    image, depth = SCENES[64]
    with pytest.raises(ValueError, match="gaussian_noise.*saturate"):
        corrupt_2d(image, "fog_3d", 1, seed=0)
    with pytest.raises(ValueError, match="near_focus.*iso_noise"):
        corrupt_3d(image, depth, "fog", 1, seed=0)


def test_invalid_inputs_raise() -> None:
    image, depth = SCENES[64]
    with pytest.raises(ValueError, match="depth shape"):
        corrupt_3d(image, depth[:32], "fog_3d", 1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        corrupt_2d(image, "fog", 1, seed=-1)
    with pytest.raises(TypeError, match="uint8"):
        corrupt_3d(image.astype(np.float32), depth, "fog_3d", 1, seed=0)
