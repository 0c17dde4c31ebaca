"""3D-CompNets' Figure 2 experiment: training-step time and loss GFLOPs against the number of classes.

It uses synthetic random banks of Y classes (``models.neural_mesh.flops.synthetic_batch``): unit random vertex and
background features, a fixed batch of random images, and in every image half of its class's vertices visible at
random cells. It times full training steps (backbone forward, loss, backward, Adam step; the median of
``scaling.steps`` after one warm-up; every step's time is kept in ``step_seconds_repeats``, the repeats behind
the slope claims' intervals), both in wall-clock seconds (``step_seconds``, the device synchronised around each
step) and in the process's CPU seconds (``step_cpu_seconds`` / ``step_cpu_seconds_repeats``, ``time.process_time``:
every thread's CPU time, which other jobs sharing the cores do not stretch; on a GPU it leaves out device time).
This is the cost of one step against the number of classes, not the time to convergence the paper's Figure 2
plots. It does so for NOVUM with each of ``scaling.novum_vertices`` vertices per class and for
3D-CompNets with K = the smallest of those (the paper's Figure 2: "both 3D-CompNets and NOVUM 500 learn ... 500")
and omega = 1 everywhere (the densest, most expensive case, before any calibration). No real data are involved:
the costs depend only on the sizes. The batch is ``scaling.batch_size`` images (default 2: NOVUM's logits at
K = 1000 and 100 classes take 0.4 GB per image), at the data route's image size.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from robust3d.models.backbones import build_backbone
from robust3d.models.neural_mesh.flops import (
    count_flops,
    synthetic_batch,
    synthetic_loss,
    timed_steps,
    upper_median,
)
from robust3d.models.neural_mesh.options import loss_weights
from robust3d.papers.compnets.routes import data_route


def scaling_rows(cfg: dict, device: torch.device | str = "cpu", classes: list[int] | None = None,
                 progress: bool = True) -> list[dict]:
    """One row per (model, number of classes): seconds per training step and the loss's GFLOPs per step."""

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
            bg_weight, reg = loss_weights(loss, mesh)  # NOVUM's release's (1 and 0 for 3D-CompNets)

            def step(net=net, data=data, images=images, opt=opt, loss=loss, n=n, omega=omega, reg=reg,
                     bg_weight=bg_weight) -> tuple[torch.Tensor, torch.Tensor]:
                fmap = F.normalize(net(images), dim=1).flatten(2)
                f = fmap[data["image"], :, data["cell"]]
                clutter = fmap[data["clutter_image"], :, data["clutter_cell"]]
                value = synthetic_loss(loss, f, data, temperature, omega, n, clutter, reg, bg_weight)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                return f.detach(), clutter.detach()

            f, clutter = step()  # warm-up (allocations, kernel selection); gives features for the FLOP count
            times, cpu_times = timed_steps(step, int(scaling["steps"]), device)
            seconds = float(upper_median(np.asarray(times)))  # robust to other jobs stealing the CPU
            cpu_seconds = float(upper_median(np.asarray(cpu_times)))
            leaf_flops = count_flops(lambda f=f, clutter=clutter, data=data, loss=loss, n=n, omega=omega, reg=reg,
                                     bg_weight=bg_weight:
                                     synthetic_loss(loss, f.clone().requires_grad_(True), data, temperature, omega, n,
                                                    clutter.clone().requires_grad_(True), reg, bg_weight))
            rows.append({"model": name, "n_classes": n_classes, "vertices_per_class": k, "cross_samples": n,
                         "step_seconds": seconds, "loss_gflops": leaf_flops / 1e9,
                         "step_seconds_repeats": " ".join(f"{t:.6g}" for t in times),
                         "step_cpu_seconds": cpu_seconds,
                         "step_cpu_seconds_repeats": " ".join(f"{t:.6g}" for t in cpu_times)})
            if progress:
                print(f"{name:12s} Y={n_classes:4d} K={k:5d} step {seconds:8.3f} s ({cpu_seconds:8.3f} CPU s)  "
                      f"loss {leaf_flops / 1e9:9.3f} GFLOPs", flush=True)
    return rows


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
