"""The ood_weather split: each sample names its weather, drawn over the render (variants.weather)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from robust3d.data.format import read_manifest
from robust3d.synth.plan import WEATHERS, plan_split
from robust3d.variants.weather import add_rain, apply_weather


def _scene(size: int = 96) -> np.ndarray:
    rng = np.random.default_rng(0)
    image = np.full((size, size, 3), 140, np.uint8)
    image[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = rng.integers(60, 200, (size // 2, size // 2, 3))
    return image


@pytest.mark.parametrize("name", WEATHERS)
def test_weather_is_seeded_and_changes_the_image(name):
    image = _scene()
    out = apply_weather(image, name, 3, seed=5)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out, apply_weather(image, name, 3, seed=5))
    assert np.abs(out.astype(int) - image).mean() > 2


def test_rain_is_slanted_streaks_that_grow_with_severity():
    image = np.full((128, 128, 3), 90, np.uint8)
    light, heavy = add_rain(image, 1, seed=1), add_rain(image, 5, seed=1)
    streaks = [(x.astype(int) - 80).clip(0).sum(axis=2) > 40 for x in (light, heavy)]  # brighter than the scene
    assert 0 < streaks[0].mean() < streaks[1].mean() < 0.5
    ys, xs = np.gradient(heavy.mean(axis=2))
    assert np.abs(xs).sum() > 1.5 * np.abs(ys).sum()  # near-vertical streaks: intensity changes across x
    assert heavy[~streaks[1]].mean() < 90  # an overcast, darker scene between the streaks
    with pytest.raises(ValueError, match="unknown weather"):
        apply_weather(image, "hail", 1, seed=0)


def test_ood_weather_samples_name_their_weather(smoke_config, smoke_dataset):
    specs = plan_split(smoke_config, "ood_weather")
    assert all(s.weather == (s.extra["weather"], smoke_config["synthetic"]["weather"]["severity"]) for s in specs)
    per_class = Counter((s.category, s.extra["weather"]) for s in specs)
    assert set(per_class.values()) == {1} and {w for _, w in per_class} == set(WEATHERS[:2])  # 2 per class here
    df = read_manifest(smoke_dataset / "ood_weather" / "manifest.csv")
    assert len(df) == len(specs) and set(df["weather"]) <= set(WEATHERS) and df["weather"].notna().all()


def test_rendering_weather_needs_the_weather_function(tmp_path, smoke_config, smoke_dataset):
    from robust3d.synth.dataset import render_chunk

    with pytest.raises(ValueError, match="weather=robust3d.variants.weather.apply_weather"):
        render_chunk(smoke_config, "ood_weather", 0, smoke_dataset / "cad", tmp_path / "chunk")
    assert not (tmp_path / "chunk").exists()


def test_class_subsets_point_at_the_split_and_are_checked_as_subsets(tmp_path, smoke_config, smoke_dataset):
    """synthetic.subsets: a subset manifest resolves from its own folder, holds exactly the planned samples of its
    classes (check_manifest passes it, and refuses it with a row dropped)."""
    import copy

    from robust3d.data.format import check_manifest
    from robust3d.data.subsets import subset_manifest
    from robust3d.errors import ConfigError, InputError
    from robust3d.papers import validate_config
    from robust3d.synth.plan import planned_sample_ids, subset_manifest_path

    cfg = copy.deepcopy(smoke_config)
    cfg["synthetic"]["root"] = str(smoke_dataset)
    out = subset_manifest_path(cfg, "two", "ood_weather")
    subset_manifest(smoke_dataset / "ood_weather" / "manifest.csv", out, keep=["aeroplane", "car"])
    expected = planned_sample_ids(cfg, out)
    assert expected and {s.split("_")[2] for s in expected} == {"aeroplane", "car"}
    df = check_manifest(out, expected)
    assert set(df["class"]) == {"aeroplane", "car"} and set(df["weather"]) <= set(WEATHERS)
    df.iloc[1:].to_csv(out, index=False)
    with pytest.raises(InputError, match="lacks 1"):
        check_manifest(out, expected)
    bad = copy.deepcopy(smoke_config)
    bad["synthetic"]["subsets"] = {"x": {"classes": ["proc000"], "splits": ["ood_shape"]}}
    with pytest.raises(ConfigError, match="not training categories"):
        validate_config(bad)
    bad["synthetic"]["subsets"] = {"x": {"classes": ["car"], "splits": ["templates"]}}
    with pytest.raises(ConfigError, match="'templates' is not an object split"):
        validate_config(bad)
