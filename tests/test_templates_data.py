"""The template-matching data: template objects no other split contains, and icosphere views dense enough for a
perfect matcher to reach 100% Acc15 (geometry.viewpoints.covering_radius_deg, the config check)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from robust3d.data.format import read_manifest
from robust3d.errors import ConfigError
from robust3d.geometry.viewpoints import ACC15_DEG, covering_radius_deg, viewpoint_error
from robust3d.synth.plan import SPLITS, TEMPLATE_SPLITS, plan_split, template_cad_index

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_config() -> dict:
    from robust3d.papers import validate_config

    return validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))


def test_covering_radius_of_the_icosphere_levels():
    # level 0: the icosahedron face circumradius, 37.38 degrees; the probes are a dense sample, so a lower bound
    assert [covering_radius_deg(level) for level in range(4)] == pytest.approx([37.38, 20.9, 10.8, 5.45], abs=0.1)


def test_config_refuses_a_template_level_that_cannot_reach_full_acc15(smoke_config):
    from robust3d.papers import validate_config

    cfg = copy.deepcopy(smoke_config)
    cfg["synthetic"]["templates"]["icosphere_level"] = 1
    with pytest.raises(ConfigError, match=r"icosphere_level': level 1 .* 20\.9 degrees"):
        validate_config(cfg)
    cfg["synthetic"]["templates"].update(categories=[], unseen_categories=[])  # no templates: no check
    with pytest.raises(ConfigError, match="templates.enabled: false"):  # but the templates stage needs them
        validate_config(cfg)
    cfg["templates"]["enabled"] = False
    validate_config(cfg)


def _oracle_errors(config: dict) -> np.ndarray:
    """Each query's viewpoint error (degrees) to its own object's nearest template (a perfect matcher)."""
    templates, queries = plan_split(config, "templates"), plan_split(config, "queries")
    errors = []
    for obj in {s.category for s in queries}:
        views = [s for s in templates if s.category == obj]
        t_az, t_el = (torch.tensor([getattr(s, k) for s in views], dtype=torch.float64)
                      for k in ("azimuth", "elevation"))
        for q in (s for s in queries if s.category == obj):
            q_az, q_el = torch.full_like(t_az, q.azimuth), torch.full_like(t_el, q.elevation)
            errors.append(float(viewpoint_error(q_az, q_el, t_az, t_el).min()))
    return np.degrees(errors)


def test_nearest_template_oracle_reaches_full_acc15_at_the_default_level(default_config):
    errors = _oracle_errors(default_config)
    assert len(errors) == len(plan_split(default_config, "queries")) and (errors <= ACC15_DEG).all(), errors.max()
    coarse = copy.deepcopy(default_config)
    coarse["synthetic"]["templates"]["icosphere_level"] = 1  # the old default, planned without the check
    assert (_oracle_errors(coarse) > ACC15_DEG).any()


def test_template_objects_are_in_no_other_split(default_config):
    cfg = default_config["synthetic"]
    objects = {(s.category, s.cad_index) for s in plan_split(default_config, "templates")}
    textures = {s.texture for s in plan_split(default_config, "templates")}
    assert {i for _, i in objects} == {template_cad_index(cfg)}
    assert {c for c, _ in objects} == set(cfg["templates"]["categories"])
    for split in SPLITS:
        if split in TEMPLATE_SPLITS:
            continue
        specs = plan_split(default_config, split)
        assert not objects & {(s.category, s.cad_index) for s in specs}, split
        assert not textures & {s.texture for s in specs}, split
    for split in ("queries", "queries_occluded"):
        queries = plan_split(default_config, split)
        assert {(s.category, s.cad_index) for s in queries} == objects and {s.texture for s in queries} == textures
    train = {(s.category, s.cad_index) for s in plan_split(default_config, "queries_train")}
    assert train == {o for o in objects if o[0] not in cfg["templates"]["unseen_categories"]}


def test_rendered_manifests_keep_the_template_objects_apart(smoke_config, smoke_dataset):
    index = template_cad_index(smoke_config["synthetic"])
    seen = {}
    for manifest in smoke_dataset.glob("*/manifest.csv"):
        df = read_manifest(manifest)
        seen[manifest.parent.name] = set(zip(df["class"], df["cad_index"].astype(int), strict=True))
    objects = seen.pop("templates")
    assert objects == {(c, index) for c in smoke_config["synthetic"]["templates"]["categories"]}
    assert seen.pop("queries") == seen.pop("queries_occluded") == objects and seen.pop("queries_train") < objects
    assert all(not objects & pairs for pairs in seen.values()), seen
    meta = yaml.safe_load((smoke_dataset / "cad" / "meta.json").read_text())
    assert meta["template_objects"] == {c: index for c in smoke_config["synthetic"]["templates"]["categories"]}
    assert all(index not in entry["cad_indices"] for entry in meta["cuboids"].values())  # no cuboid pools them
