"""Counting the contrastive loss's FLOPs and timing the loss on synthetic batches of given sizes.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products; the element-wise exp/log are
not counted, as in the usual GFLOPs figures) on the loss alone: its forward pass and its backward pass to the image
features (the visible vertices' and, for NOVUM's background regulariser, the batch's sampled background features),
i.e. what the loss adds to one training step. NOVUM's background weight and near-vertex mask are element-wise
(no products); its regulariser is one product of the ``T`` background features per image with every real vertex.

The synthetic batches (:func:`synthetic_batch`: random banks of Y classes, half of each image's vertices visible at
random cells) serve the FLOP and timing helpers here and 3D-CompNets' scaling experiment
(``robust3d.papers.compnets.scaling``); the costs depend only on the sizes. They carry ``T`` background cells per
image (``clutter_image``, ``clutter_cell``) for NOVUM's regulariser, which counts only when ``regularizer`` > 0.

On real geometry (:func:`real_batch`): the class cuboids a model trains on (about its K vertices each, not exactly)
and the vertices visible in the first training batch of epoch 0 (as ``train`` counts Table 1's GFLOPs), with random
unit features in place of trained ones: the count depends on the sizes only, so this gives a trained model's loss
GFLOPs without training it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from robust3d.models.neural_mesh.losses import contrastive_loss


def count_flops(fn: Callable[[], torch.Tensor]) -> int:
    """FLOPs of ``fn()`` (forward) plus its ``.backward()``, as counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loss = fn()
        if loss.requires_grad:
            loss.backward()
    return int(counter.get_total_flops())


def loss_gflops(loss: str, f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
                n_vertices: torch.Tensor, background: torch.Tensor, temperature: float, near: torch.Tensor | None,
                omega: torch.Tensor | None = None, cross_samples: int | None = None, seed: int = 0, *,
                background_weight: float = 1.0, clutter: torch.Tensor | None = None,
                regularizer: float = 0.0) -> float:
    """GFLOPs of one step's contrastive loss on the visible-vertex features ``f`` of one batch (and, with
    ``regularizer`` > 0, its sampled background features ``clutter``: both take gradients, as in training)."""
    leaf = f.detach().clone().requires_grad_(True)
    clutter_leaf = clutter.detach().clone().requires_grad_(True) if clutter is not None else None

    def run() -> torch.Tensor:
        return contrastive_loss(loss, leaf, cls, vertex, features, n_vertices, background, temperature, near=near,
                                omega=omega, cross_samples=cross_samples, generator=torch.Generator().manual_seed(seed),
                                background_weight=background_weight, clutter=clutter_leaf, regularizer=regularizer)

    return count_flops(run) / 1e9


@dataclass
class RealBatch:
    """The visible vertices of one real training batch, on a bank of random unit features over the classes' cuboids."""

    classes: list[str]
    f: torch.Tensor  # (V, D) unit image features at the visible vertices
    cls: torch.Tensor  # (V,) class of each
    vertex: torch.Tensor  # (V,) vertex index in its class's cuboid
    features: torch.Tensor  # (Y, Kmax, D), zero padding past n_vertices[y]
    n_vertices: torch.Tensor  # (Y,) K_y
    background: torch.Tensor  # (N_b, D)
    near: torch.Tensor  # (V, Kmax) NOVUM's near-vertex mask of each row (in the image, ``SampleGeometry.near``)
    clutter: torch.Tensor  # (M, D) unit features at the batch's T background cells per image
    temperature: float
    mesh: dict  # the config's mesh block (the novum loss's background weight and regulariser)

    def gflops(self, loss: str, omega: torch.Tensor | None = None, cross_samples: int | None = None) -> float:
        """The loss's GFLOPs on this batch, counted as ``train`` counts them; ``omega`` None: 1 everywhere."""
        from robust3d.models.neural_mesh.options import loss_weights

        y_count = len(self.classes)
        omega = torch.ones(y_count, y_count) if omega is None else omega
        weight, reg = loss_weights(loss, self.mesh)
        return loss_gflops(loss, self.f, self.cls, self.vertex, self.features, self.n_vertices, self.background,
                           self.temperature, self.near, omega, cross_samples, background_weight=weight,
                           clutter=self.clutter, regularizer=reg)


def real_batch(c: dict, train_manifest: str | Path, n_vertices: int, seed: int = 0) -> RealBatch:
    """Epoch 0's first batch of ``train_manifest`` (the section's ``train.batch_size`` images in ``train``'s order,
    for this ``seed``) on the cuboids of a model with K = ``n_vertices``: the batch whose loss ``train`` counts for
    Table 1. ``c``: the paper's config section.

    The background features: ``T`` per image (fewer where fewer pixels lie off the object: at the backbone's stride
    an image almost never has fewer than T free cells), drawn as step 0 of epoch 0 draws them.
    """
    from robust3d.models.data import ManifestDataset
    from robust3d.models.neural_mesh.bank import FeatureBank, sample_background_cells
    from robust3d.models.neural_mesh.mesh import class_meshes, sample_geometry
    from robust3d.models.runtime import epoch_order, step_generator

    mesh, d = c["mesh"], int(c["feature_dim"])
    meshes = class_meshes(Path(train_manifest), n_vertices)
    ds = ManifestDataset(train_manifest, meshes.classes)
    first = epoch_order(len(ds), int(seed), 0)[: int(c["train"]["batch_size"])]
    # Visibility and pixel positions do not depend on the feature stride (only the cells do): stride 1 needs no
    # backbone.
    geom = sample_geometry(ds, meshes.vertices, meshes.faces, tuple(ds[0]["image"].shape[-2:]), 1, first)
    img, vertex = geom.visible.nonzero(as_tuple=True)
    bg_img, _ = sample_background_cells(geom.background, int(mesh["background_per_image"]),
                                        step_generator(int(seed), 0, 0))
    g = torch.Generator().manual_seed(0)
    bank = FeatureBank([len(v) for v in meshes.vertices], d, int(mesh["background_features"]),
                       float(mesh["momentum"]), generator=g)
    f = F.normalize(torch.randn(len(vertex), d, generator=g), dim=-1)
    clutter = F.normalize(torch.randn(len(bg_img), d, generator=g), dim=-1)
    return RealBatch(meshes.classes, f, torch.as_tensor(ds.class_index)[first][img], vertex, bank.features,
                     bank.n_vertices, bank.background, geom.near(torch.arange(len(first)), mesh), clutter,
                     float(mesh["temperature"]), dict(mesh))


def synthetic_batch(n_classes: int, n_vertices: int, feature_dim: int, n_background: int, batch: int,
                    grid: tuple[int, int], seed: int = 0, clutter_per_image: int = 5) -> dict[str, torch.Tensor]:
    """A random bank of ``n_classes`` x ``n_vertices`` and the visible vertices of ``batch`` images (half each).

    Image b shows class ``b % n_classes``; its visible vertices sit at random cells of the ``grid``, and its
    ``clutter_per_image`` background cells (NOVUM's regulariser: ``clutter_image``, ``clutter_cell``) too.
    """
    g = torch.Generator().manual_seed(seed)
    features = F.normalize(torch.randn(n_classes, n_vertices, feature_dim, generator=g), dim=-1)
    background = F.normalize(torch.randn(n_background, feature_dim, generator=g), dim=-1)
    visible = n_vertices // 2
    image = torch.arange(batch).repeat_interleave(visible)
    vertex = torch.stack([torch.randperm(n_vertices, generator=g)[:visible] for _ in range(batch)]).reshape(-1)
    cell = torch.randint(0, grid[0] * grid[1], (batch * visible,), generator=g)
    clutter_cell = torch.randint(0, grid[0] * grid[1], (batch * clutter_per_image,), generator=g)
    return {"features": features, "background": background, "n_vertices": torch.full((n_classes,), n_vertices),
            "image": image, "cls": image % n_classes, "vertex": vertex, "cell": cell,
            "clutter_image": torch.arange(batch).repeat_interleave(clutter_per_image), "clutter_cell": clutter_cell}


def omega_with_density(n_classes: int, density: float, seed: int = 0) -> torch.Tensor:
    """An omega whose off-diagonal entries are nonzero (0.1) for a ``density`` share of class pairs, 1 on the diagonal.

    Stands in for a calibrated omega when only its sparsity matters (FLOPs).
    """
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(n_classes, n_classes, generator=g) < density
    omega = torch.where(keep, torch.full((n_classes, n_classes), 0.1), torch.zeros(n_classes, n_classes))
    return omega.fill_diagonal_(1.0)


def synthetic_loss_gflops(loss: str, n_classes: int, n_vertices: int, feature_dim: int, n_background: int,
                          batch: int, cross_samples: int | None = None, omega: torch.Tensor | None = None,
                          regularizer: float = 0.0) -> float:
    """GFLOPs of the loss (forward + backward) on a synthetic batch of ``batch`` images (``regularizer`` > 0: with
    NOVUM's background regulariser on the batch's 5 background features per image).

    Every product in both losses is linear in the rows (visible vertices, background features) of each image, so the
    count is taken one image at a time and summed: exact, at the memory of one image.
    """
    data = synthetic_batch(n_classes, n_vertices, feature_dim, n_background, batch, (8, 8))
    f, clutter = _synthetic_features(data, feature_dim)
    omega = torch.ones(n_classes, n_classes) if omega is None else omega
    total = 0
    for b in range(batch):
        rows = data["image"] == b
        part = {**data, "cls": data["cls"][rows], "vertex": data["vertex"][rows]}
        leaf = f[rows].clone().requires_grad_(True)
        bg = clutter[data["clutter_image"] == b].clone().requires_grad_(True)
        total += count_flops(lambda part=part, leaf=leaf, bg=bg: synthetic_loss(loss, leaf, part, 0.07, omega,
                                                                               cross_samples, bg, regularizer))
    return total / 1e9


def _synthetic_features(data: dict, feature_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random unit features at a synthetic batch's visible vertices and background cells."""
    g = torch.Generator().manual_seed(2)
    f = F.normalize(torch.randn(len(data["cls"]), feature_dim, generator=g), dim=-1)
    return f, F.normalize(torch.randn(len(data["clutter_cell"]), feature_dim, generator=g), dim=-1)


def synthetic_loss_seconds(loss: str, n_classes: int, n_vertices: int, feature_dim: int, n_background: int,
                           batch: int, cross_samples: int | None = None, repeats: int = 3,
                           regularizer: float = 0.0) -> float:
    """Median seconds of the loss's forward + backward on a synthetic batch (omega = 1), after one warm-up."""
    data = synthetic_batch(n_classes, n_vertices, feature_dim, n_background, batch, (8, 8))
    f, clutter = _synthetic_features(data, feature_dim)
    omega = torch.ones(n_classes, n_classes)

    def run() -> None:
        synthetic_loss(loss, f.clone().requires_grad_(True), data, 0.07, omega, cross_samples,
                       clutter.clone().requires_grad_(True), regularizer).backward()

    run()
    return median_seconds(run, repeats)


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device | None = None) -> float:
    """Median wall time of ``repeats`` calls: robust to other jobs stealing the CPU now and then."""
    return float(upper_median(np.asarray(step_seconds(fn, repeats, device))))


def upper_median(values: np.ndarray) -> np.ndarray:
    """The median the timings report: the upper middle value over the last axis (one of the measured times, never an
    average of two), so the scaling run and its bootstrap replicates agree."""
    values = np.asarray(values)
    return np.sort(values, axis=-1)[..., values.shape[-1] // 2]


def timed_steps(fn: Callable[[], object], repeats: int, device: torch.device | None = None
                ) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of each of ``repeats`` calls (the device synchronised around each): the CPU
    time is what the step costs this process whatever else runs on the machine."""
    wall, cpu = [], []
    for _ in range(repeats):
        if device is not None:
            sync_device(device)
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        if device is not None:
            sync_device(device)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def step_seconds(fn: Callable[[], object], repeats: int, device: torch.device | None = None) -> list[float]:
    """Wall time of each of ``repeats`` calls (the device synchronised around each)."""
    return timed_steps(fn, repeats, device)[0]


def synthetic_loss(loss: str, f: torch.Tensor, data: dict, temperature: float, omega: torch.Tensor, n: int | None,
                   clutter: torch.Tensor | None = None, regularizer: float = 0.0,
                   background_weight: float = 1.0) -> torch.Tensor:
    """The loss on a :func:`synthetic_batch` (no near-vertex mask; the cross-class draw seeded with 0);
    ``clutter``: the features at its background cells, for NOVUM's regulariser (``regularizer`` > 0)."""
    return contrastive_loss(loss, f, data["cls"], data["vertex"], data["features"], data["n_vertices"],
                            data["background"], temperature, omega=omega, cross_samples=n,
                            generator=torch.Generator().manual_seed(0), clutter=clutter, regularizer=regularizer,
                            background_weight=background_weight)


def sync_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
