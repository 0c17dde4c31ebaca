"""Nuisance variants built on a synthetic split: occlusion levels, every corruption, styles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from robust3d.data.format import read_manifest
from robust3d.data.io import read_image, read_mask
from robust3d.variants.corruptions import CORRUPTIONS_2D
from robust3d.variants.corruptions3d import CORRUPTIONS_3D
from robust3d.variants.occlusion import OcclusionLevel, occlude_to_level, synthetic_occluders
from robust3d.variants.registry import build_registry, make_variant
from robust3d.variants.styles import STYLES, apply_style

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def test_split(smoke_dataset):
    """The smoke dataset's train split stands in for a test split (more images than the smoke test split)."""
    return smoke_dataset / "train" / "manifest.csv"


def _images(out_dir, df):
    return [read_image(out_dir / p) for p in df["image"]]


@pytest.mark.parametrize("name", [*CORRUPTIONS_2D, *CORRUPTIONS_3D, *STYLES])
def test_every_corruption_and_style_changes_the_image_and_keeps_shape(tmp_path, test_split, name):
    level = "1" if name in STYLES else "3"
    df = make_variant(test_split, name, level, tmp_path / name, seed=0)
    clean = read_manifest(test_split)
    assert len(df) == len(clean)
    for changed_path, clean_path in zip(df["image"], clean["image"], strict=True):
        a = read_image(tmp_path / name / changed_path)
        b = read_image(test_split.parent / clean_path)
        assert a.shape == b.shape and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b).mean() > 0.5
    # Annotations and depth still resolve from the variant's folder.
    written = read_manifest(tmp_path / name / "manifest.csv")
    assert (tmp_path / name / written["annotation"].iloc[0]).exists()
    assert set(written["variant"]) == {name} and set(written["level"]) == {level}


def test_occlusion_variant_updates_visible_mask_and_keeps_amodal(tmp_path, test_split):
    df = make_variant(test_split, "occlusion", "L2", tmp_path / "occ", seed=0)
    out = tmp_path / "occ"
    for _, row in df.iterrows():
        amodal = read_mask(out / row["mask_amodal"])
        visible = read_mask(out / row["mask_visible"])
        occluder = read_mask(out / row["occluder_mask"])
        assert np.array_equal(visible, amodal & ~occluder)
        assert (amodal & occluder).sum() / amodal.sum() == pytest.approx(float(row["occluded_object"]), abs=1e-6)


@pytest.mark.parametrize("variant", ["occlusion", "occlusion_pascal3d"])
def test_occlusion_hits_its_levels(smoke_dataset, variant):
    """>= 90% of images inside each level's target box (object, background) +- 0.1, for 3D-CompNets' levels and
    OccludedPASCAL3D+'s (config.yaml's)."""
    levels = yaml.safe_load((REPO / "config.yaml").read_text())["variants"][variant]["levels"]
    df = pd.concat([read_manifest(smoke_dataset / s / "manifest.csv").assign(split=s)
                    for s in ("train", "ood_pose", "unseen")])
    occluders = synthetic_occluders(24, seed=0)
    rng = np.random.default_rng(0)
    for level in (OcclusionLevel(name, *box) for name, box in levels.items()):
        inside = []
        for _, row in df.iterrows():
            root = smoke_dataset / row["split"]
            image, mask = read_image(root / row["image"]), read_mask(root / row["mask_amodal"])
            _, occ, fg, bg = occlude_to_level(image, mask, level, occluders, rng)
            assert fg == pytest.approx((occ & mask).sum() / mask.sum())
            inside.append(level.contains(fg, bg))
        assert np.mean(inside) >= 0.9, (level, np.mean(inside))


def test_unknown_variant_and_level_are_refused(tmp_path, test_split):
    with pytest.raises(ValueError, match="unknown variant 'rain'"):
        make_variant(test_split, "rain", "1", tmp_path / "x", seed=0)
    with pytest.raises(ValueError, match="has no level '9'"):
        make_variant(test_split, "fog", "9", tmp_path / "x", seed=0)
    assert not (tmp_path / "x").exists()


def test_registry_takes_occlusion_levels_from_config():
    reg = build_registry({"occlusion": {"levels": {"FGL1": [0.3, 0.1], "FGL2": [0.5, 0.3]}, "tolerance": 0.1}})
    assert reg["occlusion"].levels == ("FGL1", "FGL2") and "occlusion_pascal3d" not in reg
    reg = build_registry({"occlusion_pascal3d": {"levels": {"L1": [0.3, 0.1]}, "tolerance": 0.1}})
    assert reg["occlusion_pascal3d"].levels == ("L1",) and reg["occlusion_pascal3d"].name == "occlusion_pascal3d"


def test_occlusion_report_flags_levels_outside_their_box(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("occlusion_report", REPO / "scripts" / "occlusion_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    for variant, inside in (("occlusion", [True] * 10), ("occlusion_pascal3d", [True] * 8 + [False] * 2)):
        folder = tmp_path / "test" / variant / "L1"
        folder.mkdir(parents=True)
        pd.DataFrame({"occluded_object": 0.3, "occluded_background": 0.1, "in_level_range": inside}).to_csv(
            folder / "manifest.csv", index=False)
    assert report.main([str(tmp_path)]) == 0
    assert report.main([str(tmp_path), "--min-in-range", "0.8"]) == 0
    assert report.main([str(tmp_path), "--min-in-range", "0.9"]) == 1
    assert "test/occlusion_pascal3d/L1 (80.0%)" in capsys.readouterr().err


def test_styles_remove_texture_but_keep_the_silhouette():
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 230, np.uint8)
    image[16:48, 16:48] = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    for style in STYLES:
        out = apply_style(image, style)
        assert out.shape == image.shape and out.dtype == np.uint8
    sketch = apply_style(image, "sketch")
    assert (sketch[:8, :8] > 200).all()  # plain areas stay white in a line drawing
    with pytest.raises(ValueError, match="unknown style"):
        apply_style(image, "oil")


def test_cue_conflict_and_pug_splits(smoke_config):
    from robust3d.synth.plan import PUG_SIZES, plan_split

    cue = plan_split(smoke_config, "cue_conflict")
    assert cue and all(s.extra["shape_class"] == s.category != s.extra["texture_class"] for s in cue)
    sizes = plan_split(smoke_config, "pug_size")
    d = smoke_config["synthetic"]["camera"]["distance"]
    assert all(s.distance == pytest.approx(d / float(s.extra["level"])) for s in sizes)
    assert {float(s.extra["level"]) for s in sizes} <= set(PUG_SIZES)
    assert len({s.texture.family for s in plan_split(smoke_config, "pug_texture")}) > 1


def test_make_variant_command_builds_several_levels_with_their_sheets(tmp_path, test_split, smoke_dataset,
                                                                     smoke_config):
    """One process per variant group (the workflow's layout): each (variant, level) pair gets its folder and sheet."""
    from robust3d.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(smoke_config))
    outs = [tmp_path / "fog" / "1", tmp_path / "fog" / "3", tmp_path / "sketch" / "1"]
    sheets = [p.with_suffix(".png") for p in outs]
    main(["make-variant", "--config", str(config), "--manifest", str(test_split), "--variant", "fog", "fog", "sketch",
          "--level", "1", "3", "1", "--out", *map(str, outs), "--sheet", *map(str, sheets),
          "--cad-root", str(smoke_dataset / "cad")])
    for out, sheet, (variant, level) in zip(outs, sheets, [("fog", "1"), ("fog", "3"), ("sketch", "1")], strict=True):
        df = read_manifest(out / "manifest.csv")
        assert set(df["variant"]) == {variant} and set(df["level"]) == {level}
        assert sheet.stat().st_size > 0
    assert not np.array_equal(read_image(outs[0] / df["image"].iloc[0]), read_image(outs[1] / df["image"].iloc[0]))
    with pytest.raises(SystemExit, match="one --variant or one per level"):
        main(["make-variant", "--config", str(config), "--manifest", str(test_split), "--variant", "fog", "snow",
              "--level", "1", "2", "3", "--out", "a", "b", "c"])
