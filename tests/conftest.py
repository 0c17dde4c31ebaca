"""Shared fixtures: configs, and a small synthetic dataset rendered once per test session."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smoke_config() -> dict:
    from robust3d.papers import validate_config

    return validate_config(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()))


@pytest.fixture
def raw_smoke_config() -> dict:
    return copy.deepcopy(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()))


@pytest.fixture(scope="session")
def smoke_dataset(tmp_path_factory, smoke_config) -> Path:
    """CAD models plus the train, ood_pose and style splits of the smoke config, rendered once."""
    from robust3d.data.format import merge_manifests
    from robust3d.synth.dataset import build_cad, render_chunk
    from robust3d.synth.plan import n_chunks
    from robust3d.variants.weather import apply_weather

    root = tmp_path_factory.mktemp("synthetic")
    build_cad(smoke_config, root / "cad")
    for split in ("train", "ood_pose", "ood_weather", "style", "unseen", "templates", "queries", "queries_occluded",
                  "queries_train", "cars", "cars_train", "faces", "faces_train"):
        chunks = [root / split / f"chunk{i:03d}" for i in range(n_chunks(smoke_config, split))]
        for i, chunk in enumerate(chunks):
            render_chunk(smoke_config, split, i, root / "cad", chunk, weather=apply_weather)
        merge_manifests(chunks, root / split / "manifest.csv")
    return root
