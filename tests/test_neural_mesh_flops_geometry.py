"""Loss GFLOPs on real geometry (``flops.real_batch``): the count follows, exactly, the vertices visible in the first
training batch of epoch 0 on the classes' real cuboids, and omega = 0 drops exactly the cross-class products; the
batch's near-vertex mask is NOVUM's, in the image.

FlopCounterMode counts the matrix products only (2 m n k each). Per visible vertex (V of them, D-dimensional) the
forward pass multiplies it with a set of bank rows and the backward pass multiplies the logits' gradient with the
same rows (the bank takes no gradient), so each loss costs ``4 D sum_v rows(v)``:
- NOVUM: every real vertex of every class, ``sum_y K_y`` (not the bank's padding rows), plus the ``N_b``
  background features; and its background regulariser multiplies the batch's ``T`` sampled background features per
  image (they take the gradient too) with the ``sum_y K_y`` real vertices;
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
from robust3d.models.neural_mesh.mesh import class_cuboid, find_cad_root, near_threshold, project_vertices
from robust3d.models.runtime import epoch_order


@pytest.fixture(scope="module")
def config(smoke_config) -> dict:
    cfg = copy.deepcopy(smoke_config)
    cfg["compnets"]["train"]["batch_size"] = 3
    return cfg


def _first_batch(config: dict, manifest: Path, k: int, projections: list | None = None
                 ) -> tuple[list[int], list[int], list[int]]:
    """Worked out apart from ``real_batch``: per image of epoch 0's first batch, its class and visible vertex count;
    and K_y of every class's cuboid. ``projections`` receives each image's ``VertexProjection`` and image size."""
    classes = manifest_classes(manifest)
    ds = ManifestDataset(manifest, classes)
    root = find_cad_root(manifest)
    # float32 vertices, as the model's cuboids (``class_meshes``)
    cuboids = [(torch.from_numpy(v).float(), torch.from_numpy(f).long()) for v, f in (class_cuboid(root, c, k)
                                                                                     for c in classes)]
    image_hw = tuple(ds[0]["image"].shape[-2:])
    cls, visible = [], []
    for i in epoch_order(len(ds), int(config["seed"]), 0)[: config["compnets"]["train"]["batch_size"]].tolist():
        ann = load_annotation(ds.root / ds.rows[i]["annotation"])
        y = ds.class_index[i]
        cls.append(y)
        proj = project_vertices(*cuboids[y], camera_batch([ann]), image_hw, 8)
        visible.append(int(proj.visible.sum()))
        if projections is not None:
            projections.append((proj, image_hw))
    return cls, visible, [len(v) for v, _ in cuboids]


def test_novum_count_is_four_d_v_times_all_real_vertices_plus_background(config, smoke_dataset):
    manifest = smoke_dataset / "train" / "manifest.csv"
    k = 2 * config["compnets"]["mesh"]["vertices_per_class"]
    cls, visible, k_y = _first_batch(config, manifest, k)
    batch = real_batch(config["compnets"], manifest, k, config["seed"])
    mesh = config["compnets"]["mesh"]
    d, n_b, t = config["compnets"]["feature_dim"], mesh["background_features"], mesh["background_per_image"]
    assert batch.n_vertices.tolist() == k_y and max(k_y) > k  # real cuboids: about K vertices, not exactly
    assert len(batch.f) == sum(visible) > 0 and torch.bincount(batch.cls, minlength=len(k_y)).tolist() == [
        sum(v for c, v in zip(cls, visible, strict=True) if c == y) for y in range(len(k_y))]
    assert len(set(k_y)) > 1  # padding exists, and is not counted
    assert mesh["novum_regularizer"] > 0 and len(batch.clutter) == t * len(cls)  # T background features per image
    contrast = 4 * d * sum(visible) * (sum(k_y) + n_b)
    regularizer = 4 * d * t * len(cls) * sum(k_y)
    assert batch.gflops("novum") == (contrast + regularizer) / 1e9
    # Without the regulariser only the contrast is left (the background weight costs no product).
    no_reg = {**config["compnets"], "mesh": {**mesh, "novum_regularizer": 0.0}}
    assert real_batch(no_reg, manifest, k, config["seed"]).gflops("novum") == contrast / 1e9


def test_the_near_mask_is_novums_in_the_image(config, smoke_dataset):
    """Row v of the batch's mask: the vertices of its image's cuboid whose clamped projections lie within 48 px x
    width / 800 of vertex v's (a slow loop over pairs); close pairs exist and are masked, distant ones are not."""
    manifest = smoke_dataset / "train" / "manifest.csv"
    k = config["compnets"]["mesh"]["vertices_per_class"]
    projections: list = []
    _first_batch(config, manifest, k, projections)
    batch = real_batch(config["compnets"], manifest, k, config["seed"])
    mesh = config["compnets"]["mesh"]
    thr = near_threshold(mesh, projections[0][1][1])
    assert thr == pytest.approx(48 * 64 / 800)  # the smoke images are 64 px wide
    expected = []
    for proj, (h, w) in projections:
        uv = proj.uv[0].double()
        uv = torch.stack([uv[:, 0].clamp(0, w - 1), uv[:, 1].clamp(0, h - 1)], 1)
        for a in proj.visible[0].nonzero().squeeze(1).tolist():
            row = [False] * batch.near.shape[1]
            for b in range(len(uv)):
                row[b] = b != a and float(((uv[a] - uv[b]) ** 2).sum().sqrt()) <= thr
            expected.append(row)
    assert batch.near.tolist() == expected
    per_row = batch.near.sum(1)
    assert (per_row > 0).any() and (per_row < batch.n_vertices[batch.cls] - 1).all()


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
