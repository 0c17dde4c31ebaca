"""Counting the contrastive loss's FLOPs (Table 1) and timing training steps against the class count (Figure 2).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products; the element-wise exp/log are
not counted, as in the usual GFLOPs figures) on the loss alone: its forward pass and its backward pass to the image
features, i.e. what the loss adds to one training step.

The scaling measurement (``compnets-scaling``) uses synthetic random banks of Y classes: unit random vertex and
background features, a fixed batch of random images, and in every image half of its class's vertices visible at
random cells. It times full training steps (backbone forward, loss, backward, Adam step; the median of
``scaling.steps`` after one warm-up) for NOVUM with each of ``scaling.novum_vertices`` vertices per class and for
3D-CompNets with K = the smallest of those (the paper's Figure 2: "both 3D-CompNets and NOVUM 500 learn ... 500")
and omega = 1 everywhere (the densest, most expensive case, before any calibration). No real data are involved:
the costs depend only on the sizes. The batch is ``scaling.batch_size`` images (default 2: NOVUM's logits at
K = 1000 and 100 classes take 0.4 GB per image).

On real geometry (:func:`real_batch`): the class cuboids a model trains on (about its K vertices each, not exactly)
and the vertices visible in the first training batch of epoch 0 (as ``train`` counts Table 1's GFLOPs), with random
unit features in place of trained ones: the count depends on the sizes only, so this gives a trained model's loss
GFLOPs without training it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from robust3d.models.neural_mesh.losses import compnets_loss, novum_loss


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
                omega: torch.Tensor | None = None, cross_samples: int | None = None, seed: int = 0) -> float:
    """GFLOPs of one step's contrastive loss on the visible-vertex features ``f`` of one batch."""
    leaf = f.detach().clone().requires_grad_(True)

    def run() -> torch.Tensor:
        if loss == "novum":
            return novum_loss(leaf, cls, vertex, features, n_vertices, background, temperature, near)
        return compnets_loss(leaf, cls, vertex, features, n_vertices, background, temperature, omega, cross_samples,
                             near, generator=torch.Generator().manual_seed(seed))

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
    near: torch.Tensor  # (Y, Kmax, Kmax) NOVUM's near-vertex mask
    temperature: float

    def gflops(self, loss: str, omega: torch.Tensor | None = None, cross_samples: int | None = None) -> float:
        """The loss's GFLOPs on this batch, counted as ``train`` counts them; ``omega`` None: 1 everywhere."""
        y_count = len(self.classes)
        omega = torch.ones(y_count, y_count) if omega is None else omega
        return loss_gflops(loss, self.f, self.cls, self.vertex, self.features, self.n_vertices, self.background,
                           self.temperature, self.near, omega, cross_samples)


def real_batch(cfg: dict, train_manifest: str | Path, n_vertices: int) -> RealBatch:
    """Epoch 0's first batch of ``train_manifest`` (``compnets.train.batch_size`` images in ``train``'s order) on the
    cuboids of a model with K = ``n_vertices``: the batch whose loss ``train`` counts for Table 1."""
    from robust3d.models.data import ManifestDataset
    from robust3d.models.neural_mesh.bank import FeatureBank
    from robust3d.models.neural_mesh.train import class_meshes, sample_geometry  # (train imports this module)
    from robust3d.models.training import epoch_order

    c = cfg["compnets"]
    mesh, d = c["mesh"], int(c["feature_dim"])
    meshes = class_meshes(Path(train_manifest), n_vertices, float(mesh["remove_near"]))
    ds = ManifestDataset(train_manifest, meshes.classes)
    first = epoch_order(len(ds), int(cfg.get("seed", 0)), 0)[: int(c["train"]["batch_size"])]
    # Visibility does not depend on the feature stride (only the cells do): stride 1 needs no backbone.
    geom = sample_geometry(ds, meshes.vertices, meshes.faces, tuple(ds[0]["image"].shape[-2:]), 1, first)
    img, vertex = geom.visible.nonzero(as_tuple=True)
    g = torch.Generator().manual_seed(0)
    bank = FeatureBank([len(v) for v in meshes.vertices], d, int(mesh["background_features"]),
                       float(mesh["momentum"]), generator=g)
    f = F.normalize(torch.randn(len(vertex), d, generator=g), dim=-1)
    return RealBatch(meshes.classes, f, torch.as_tensor(ds.class_index)[first][img], vertex, bank.features,
                     bank.n_vertices, bank.background, meshes.near, float(mesh["temperature"]))


def synthetic_batch(n_classes: int, n_vertices: int, feature_dim: int, n_background: int, batch: int,
                    grid: tuple[int, int], seed: int = 0) -> dict[str, torch.Tensor]:
    """A random bank of ``n_classes`` x ``n_vertices`` and the visible vertices of ``batch`` images (half each).

    Image b shows class ``b % n_classes``; its visible vertices sit at random cells of the ``grid``.
    """
    g = torch.Generator().manual_seed(seed)
    features = F.normalize(torch.randn(n_classes, n_vertices, feature_dim, generator=g), dim=-1)
    background = F.normalize(torch.randn(n_background, feature_dim, generator=g), dim=-1)
    visible = n_vertices // 2
    image = torch.arange(batch).repeat_interleave(visible)
    vertex = torch.stack([torch.randperm(n_vertices, generator=g)[:visible] for _ in range(batch)]).reshape(-1)
    cell = torch.randint(0, grid[0] * grid[1], (batch * visible,), generator=g)
    return {"features": features, "background": background, "n_vertices": torch.full((n_classes,), n_vertices),
            "image": image, "cls": image % n_classes, "vertex": vertex, "cell": cell}


def omega_with_density(n_classes: int, density: float, seed: int = 0) -> torch.Tensor:
    """An omega whose off-diagonal entries are nonzero (0.1) for a ``density`` share of class pairs, 1 on the diagonal.

    Stands in for a calibrated omega when only its sparsity matters (FLOPs).
    """
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(n_classes, n_classes, generator=g) < density
    omega = torch.where(keep, torch.full((n_classes, n_classes), 0.1), torch.zeros(n_classes, n_classes))
    return omega.fill_diagonal_(1.0)


def synthetic_loss_gflops(loss: str, n_classes: int, n_vertices: int, feature_dim: int, n_background: int,
                          batch: int, cross_samples: int | None = None, omega: torch.Tensor | None = None) -> float:
    """GFLOPs of the loss (forward + backward) on a synthetic batch of ``batch`` images.

    Every product in both losses is linear in the rows (visible vertices) of each class, so the count is taken one
    image at a time and summed: exact, at the memory of one image.
    """
    data = synthetic_batch(n_classes, n_vertices, feature_dim, n_background, batch, (8, 8))
    f = F.normalize(torch.randn(len(data["cls"]), feature_dim, generator=torch.Generator().manual_seed(2)), dim=-1)
    omega = torch.ones(n_classes, n_classes) if omega is None else omega
    total = 0
    for b in range(batch):
        rows = data["image"] == b
        part = {**data, "cls": data["cls"][rows], "vertex": data["vertex"][rows]}
        leaf = f[rows].clone().requires_grad_(True)
        total += count_flops(lambda part=part, leaf=leaf: _loss(loss, leaf, part, 0.07, omega, cross_samples))
    return total / 1e9


def synthetic_loss_seconds(loss: str, n_classes: int, n_vertices: int, feature_dim: int, n_background: int,
                           batch: int, cross_samples: int | None = None, repeats: int = 3) -> float:
    """Median seconds of the loss's forward + backward on a synthetic batch (omega = 1), after one warm-up."""
    data = synthetic_batch(n_classes, n_vertices, feature_dim, n_background, batch, (8, 8))
    f = F.normalize(torch.randn(len(data["cls"]), feature_dim, generator=torch.Generator().manual_seed(2)), dim=-1)
    omega = torch.ones(n_classes, n_classes)

    def run() -> None:
        _loss(loss, f.clone().requires_grad_(True), data, 0.07, omega, cross_samples).backward()

    run()
    return _median_seconds(run, repeats)


def _median_seconds(fn: Callable[[], object], repeats: int, device: torch.device | None = None) -> float:
    """Median wall time of ``repeats`` calls: robust to other jobs stealing the CPU now and then."""
    times = []
    for _ in range(repeats):
        if device is not None:
            _sync(device)
        t0 = time.perf_counter()
        fn()
        if device is not None:
            _sync(device)
        times.append(time.perf_counter() - t0)
    return float(sorted(times)[len(times) // 2])


def scaling_rows(cfg: dict, device: torch.device | str = "cpu", classes: list[int] | None = None,
                 progress: bool = True) -> list[dict]:
    """One row per (model, number of classes): seconds per training step and the loss's GFLOPs per step."""
    from robust3d.models.backbones import build_backbone
    from robust3d.tables.routes import data_route

    c = cfg["compnets"]
    scaling, mesh = c["scaling"], c["mesh"]
    compnets = c["models"][compnets_model(c)]
    entry = c["backbones"][compnets["backbone"]]
    h, w = data_route(cfg).image_hw  # the training images' size (the synthetic benchmark's, or ImageNet3D's crops)
    batch = int(scaling.get("batch_size", 2))
    d, temperature = int(c["feature_dim"]), float(mesh["temperature"])
    variants = [(f"NOVUM-{k}", "novum", int(k), None) for k in scaling["novum_vertices"]]
    variants.append(("3D-CompNets", "compnets", int(min(scaling["novum_vertices"])), int(compnets["cross_samples"])))
    device = torch.device(device)
    rows = []
    for n_classes in classes or scaling["classes"]:
        for name, loss, k, n in variants:
            torch.manual_seed(0)
            net = build_backbone({**entry, "weights": None}, d).to(device).train()
            grid = (math.ceil(h / net.stride), math.ceil(w / net.stride))
            data = synthetic_batch(n_classes, k, d, int(mesh["background_features"]), batch, grid)
            data = {key: v.to(device) for key, v in data.items()}
            images = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(1)).to(device)
            opt = torch.optim.Adam(net.parameters(), lr=1e-4)
            omega = torch.ones(n_classes, n_classes)

            def step(net=net, data=data, images=images, opt=opt, loss=loss, n=n, omega=omega) -> torch.Tensor:
                fmap = F.normalize(net(images), dim=1).flatten(2)
                f = fmap[data["image"], :, data["cell"]]
                value = _loss(loss, f, data, temperature, omega, n)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                return f.detach()

            f = step()  # warm-up (allocations, kernel selection); also gives features for the FLOP count
            seconds = _median_seconds(step, int(scaling["steps"]), device)
            leaf_flops = count_flops(lambda f=f, data=data, loss=loss, n=n, omega=omega:
                                     _loss(loss, f.clone().requires_grad_(True), data, temperature, omega, n))
            rows.append({"model": name, "n_classes": n_classes, "vertices_per_class": k, "cross_samples": n,
                         "step_seconds": seconds, "loss_gflops": leaf_flops / 1e9})
            if progress:
                print(f"{name:12s} Y={n_classes:4d} K={k:5d} step {seconds:8.3f} s  "
                      f"loss {leaf_flops / 1e9:9.3f} GFLOPs", flush=True)
    return rows


def _loss(loss: str, f: torch.Tensor, data: dict, temperature: float, omega: torch.Tensor, n: int | None
          ) -> torch.Tensor:
    args = (f, data["cls"], data["vertex"], data["features"], data["n_vertices"], data["background"], temperature)
    if loss == "novum":
        return novum_loss(*args)
    return compnets_loss(*args, omega, n, generator=torch.Generator().manual_seed(0))


def compnets_model(c: dict, cross_samples: int | None = None) -> str:
    """The id of the 3D-CompNets model with N = ``cross_samples`` (None: the smallest N; paper: 32), on a ResNet when
    there is one: Figure 2's, and the one the efficiency goal is about (``c`` is the config's compnets section)."""
    models = {name: m for name, m in c["models"].items() if m.get("family") == "neural_mesh"
              and m.get("loss") == "compnets" and cross_samples in (None, m.get("cross_samples"))}
    if not models:
        n = "" if cross_samples is None else f" and cross_samples {cross_samples}"
        raise ValueError(f"compnets.models has no neural_mesh model with loss compnets{n}")
    kinds = {name: entry.get("kind") for name, entry in c["backbones"].items()}
    return min(models, key=lambda name: (models[name]["cross_samples"], kinds.get(models[name]["backbone"])
                                         != "resnetext", models[name]["backbone"], name))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
