"""The de-rendering paper's data: BBT-like evaluation face tracks, training faces and cars disjoint from the
evaluation ones, and cars in the view range Unsup3D's flip prior assumes (synth.plan)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from robust3d.errors import ConfigError
from robust3d.synth.plan import plan_split, split_size

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_config() -> dict:
    from robust3d.papers import validate_config

    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def _wrapped_deg(radians: float) -> float:
    """An angle in degrees in (-180, 180]."""
    d = math.degrees(radians) % 360.0
    return d - 360.0 if d > 180.0 else d


@pytest.mark.parametrize("split", ["cars", "cars_train"])
def test_cars_azimuth_and_elevation_span_the_configured_ranges(default_config, split):
    cc = default_config["synthetic"]["cars"]
    specs = plan_split(default_config, split)
    assert len(specs) == split_size(default_config, split) > 0
    for key, values in (("azimuth", [_wrapped_deg(s.azimuth) for s in specs]),
                        ("elevation", [math.degrees(s.elevation) for s in specs])):
        lo, hi = cc[key]
        assert lo <= min(values) and max(values) <= hi, (key, min(values), max(values))
        assert min(values) < lo + 10 and max(values) > hi - 10, (key, min(values), max(values))  # spans it
    assert all(0 <= s.azimuth < 2 * math.pi for s in specs)  # stored in [0, 2 pi), as every split


def test_training_cars_and_faces_are_other_instances_and_identities(default_config):
    cars, cars_train = plan_split(default_config, "cars"), plan_split(default_config, "cars_train")
    assert not {(s.category, s.cad_index) for s in cars} & {(s.category, s.cad_index) for s in cars_train}
    assert {s.category for s in cars} == {s.category for s in cars_train}
    faces, faces_train = plan_split(default_config, "faces"), plan_split(default_config, "faces_train")
    assert {s.category for s in faces} == {"face"} and {s.category for s in faces_train} == {"face_train"}
    assert not {s.texture for s in faces} & {s.texture for s in faces_train}  # no shared identity
    fc = default_config["synthetic"]["faces"]
    assert len({s.texture for s in faces_train}) == fc["train_identities"]
    assert not {s.sample_id for s in faces} & {s.sample_id for s in faces_train}


def test_evaluation_faces_are_bbt_shaped_tracks(default_config):
    fc = default_config["synthetic"]["faces"]
    faces = plan_split(default_config, "faces")
    tracks: dict[str, list] = {}
    for s in faces:
        tracks.setdefault(s.extra["track"], []).append(s)
    assert (fc["identities"], len(tracks)) == (5, 5 * fc["tracks_per_identity"])
    for frames in tracks.values():
        yaw = np.unwrap([s.azimuth for s in frames])
        assert len({s.extra["identity"] for s in frames}) == 1 and len(frames) == fc["frames_per_track"]
        assert np.allclose(np.diff(yaw, 2), 0, atol=1e-9)  # pose moves linearly within a track


def test_car_view_ranges_are_checked(smoke_config):
    from robust3d.papers import validate_config

    for key, value, message in (("azimuth", [40, -40], "min 40 is larger"), ("azimuth", [-200, 200], "360"),
                                ("elevation", [45, 95], r"\[-90, 90\]")):
        cfg = copy.deepcopy(smoke_config)
        cfg["synthetic"]["cars"][key] = value
        with pytest.raises(ConfigError, match=message):
            validate_config(cfg)
