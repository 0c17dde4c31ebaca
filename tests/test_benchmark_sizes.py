"""The embedded benchmark's sizes meet what the paper stages need (issue 15's minimums), read from the plans of
config.yaml: a config edit that shrinks a split below a paper's need fails here, not in a paper's table."""

from __future__ import annotations

from collections import Counter

import pytest

from robust3d.papers import load_config
from robust3d.synth.plan import plan_split, train_categories
from robust3d.variants import variant_pairs
from robust3d.variants.corruptions3d import CORRUPTIONS_3D


@pytest.fixture(scope="module")
def config() -> dict:
    return load_config("config.yaml")


def _per_class(config: dict, split: str) -> Counter:
    return Counter(s.category for s in plan_split(config, split))


@pytest.mark.parametrize(("split", "minimum"), [("test", 24), ("style", 24), ("train", 40)])
def test_every_training_class_has_enough_images(config, split, minimum):
    """test and style: 24 per class (3D-CompNets); train: >= 40, the pool of a class held out of training."""
    counts = _per_class(config, split)
    assert set(counts) == set(train_categories(config["synthetic"]))
    assert min(counts.values()) >= minimum, counts


def test_the_first_test_images_are_those_of_the_smaller_test_split(config):
    """Growing a split appends samples (seeded per index): the 12 per class of before are still the first 12."""
    small = {**config, "synthetic": {**config["synthetic"],
                                     "splits": {**config["synthetic"]["splits"], "test": 12}}}
    before = {(s.sample_id, s.azimuth, s.cad_index) for s in plan_split(small, "test")}
    after = {(s.sample_id, s.azimuth, s.cad_index) for s in plan_split(config, "test")}
    assert before < after


def test_all_3dcc_corruptions_at_every_severity(config):
    pairs = set(variant_pairs(config["variants"]))
    assert {(name, str(sev)) for name in CORRUPTIONS_3D for sev in range(1, 6)} <= pairs
