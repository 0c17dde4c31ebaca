"""Loss GFLOPs on real geometry (``flops.real_batch``): the count follows, exactly, the vertices visible in the first
training batch of epoch 0 on the classes' real cuboids, and omega = 0 drops exactly the cross-class products.

FlopCounterMode counts the matrix products only (2 m n k each). Per visible vertex (V of them, D-dimensional) the
forward pass multiplies it with a set of bank rows and the backward pass multiplies the logits' gradient with the
same rows (the bank takes no gradient), so each loss costs ``4 D sum_v rows(v)``:
- NOVUM: every real vertex of every class, ``sum_y K_y`` (not the bank's padding rows), plus the ``N_b``
  background features;
- 3D-CompNets: its class's ``K_y`` rows, ``N`` sampled rows of each other class with omega > 0, and ``N_b``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from robust3d.data.format import load_annotation
from robust3d.models.data import ManifestDataset, camera_batch, manifest_classes
from robust3d.models.neural_mesh.flops import real_batch
from robust3d.models.neural_mesh.mesh import class_cuboid, find_cad_root, project_vertices
from robust3d.models.runtime import epoch_order


@pytest.fixture(scope="module")
def config(smoke_config) -> dict:
    cfg = copy.deepcopy(smoke_config)
    cfg["compnets"]["train"]["batch_size"] = 3
    return cfg


def _first_batch(config: dict, manifest: Path, k: int) -> tuple[list[int], list[int], list[int]]:
    """Worked out apart from ``real_batch``: per image of epoch 0's first batch, its class and visible vertex count;
    and K_y of every class's cuboid."""
    classes = manifest_classes(manifest)
    ds = ManifestDataset(manifest, classes)
    root = find_cad_root(manifest)
    cuboids = [tuple(torch.from_numpy(a) for a in class_cuboid(root, c, k)) for c in classes]
    image_hw = tuple(ds[0]["image"].shape[-2:])
    cls, visible = [], []
    for i in epoch_order(len(ds), int(config["seed"]), 0)[: config["compnets"]["train"]["batch_size"]].tolist():
        ann = load_annotation(ds.root / ds.rows[i]["annotation"])
        y = ds.class_index[i]
        cls.append(y)
        visible.append(int(project_vertices(*cuboids[y], camera_batch([ann]), image_hw, 8).visible.sum()))
    return cls, visible, [len(v) for v, _ in cuboids]


def test_novum_count_is_four_d_v_times_all_real_vertices_plus_background(config, smoke_dataset):
    manifest = smoke_dataset / "train" / "manifest.csv"
    k = 2 * config["compnets"]["mesh"]["vertices_per_class"]
    cls, visible, k_y = _first_batch(config, manifest, k)
    batch = real_batch(config["compnets"], manifest, k, config["seed"])
    d, n_b = config["compnets"]["feature_dim"], config["compnets"]["mesh"]["background_features"]
    assert batch.n_vertices.tolist() == k_y and max(k_y) > k  # real cuboids: about K vertices, not exactly
    assert len(batch.f) == sum(visible) > 0 and torch.bincount(batch.cls, minlength=len(k_y)).tolist() == [
        sum(v for c, v in zip(cls, visible, strict=True) if c == y) for y in range(len(k_y))]
    assert len(set(k_y)) > 1  # padding exists, and is not counted
    assert batch.gflops("novum") == 4 * d * sum(visible) * (sum(k_y) + n_b) / 1e9


def test_compnets_count_and_omega_zero_skips_the_cross_class_products(config, smoke_dataset):
    manifest = smoke_dataset / "train" / "manifest.csv"
    k, n = config["compnets"]["mesh"]["vertices_per_class"], 32
    cls, visible, k_y = _first_batch(config, manifest, k)
    batch = real_batch(config["compnets"], manifest, k, config["seed"])
    d, n_b, y_count = config["compnets"]["feature_dim"], config["compnets"]["mesh"]["background_features"], len(k_y)
    assert min(k_y) > n  # N distinct vertices are drawn from every class

    def expected(kept: int) -> float:  # kept: other classes with omega > 0, the same for every class here
        return 4 * d * sum(v * (k_y[c] + n * kept + n_b) for c, v in zip(cls, visible, strict=True)) / 1e9

    dense = batch.gflops("compnets", None, n)
    none = batch.gflops("compnets", torch.zeros(y_count, y_count), n)
    assert dense == expected(y_count - 1)
    assert none == expected(0) and none < dense
    assert batch.gflops("compnets", torch.ones(y_count, y_count), n) == dense  # None is omega = 1
    # One kept pair per class (a ring): one N-row block per class instead of Y - 1.
    ring = torch.roll(torch.eye(y_count), 1, dims=1)
    assert batch.gflops("compnets", ring, n) == expected(1)
