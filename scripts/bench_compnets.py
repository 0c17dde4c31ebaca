"""Benchmark of 3D-CompNets' training efficiency against NOVUM (issue 5, "Must show"), in one run.

1. Contrastive-loss GFLOPs per training step (forward + backward of the loss alone, FlopCounterMode) of 3D-CompNets
   (N = 32) and NOVUM at the config's class count (12 by default) and at 100 classes, for omega = 1 (before the first
   calibration), a sparse omega (10% of class pairs kept) and omega = 0 (no pair confused above the threshold), at
   the config's sizes (K, N_b) and at the paper's (NOVUM* with 1000 vertices, 3D-CompNets K = 500, N_b = 2560; there
   also at the paper's 188 classes, beside the paper's Table 1 ratio as a reference).
   Goal: ratio <= 7% at the default class count and <= 5% at 100 classes.
2. The same ratio on the embedded benchmark's geometry: the first training batch of epoch 0 (the batch Table 1
   counts) with the real class cuboids of each model (NOVUM's and 3D-CompNets' own K; real cuboids have more
   vertices than K) and their real visibility, for omega = 1, the trained omega of the config's N = 32 ResNet model
   (``<results>/compnets/models/<model>/train.json``, key ``omega``) and omega = 0; and, from both train.json, the
   ratio of the loss GFLOPs averaged over training (``loss_gflops_mean``: each epoch's first batch, its omega).
3. The slope of log(training step time) against log(number of classes) for NOVUM (each K of
   ``compnets.scaling.novum_vertices``) and 3D-CompNets, from ``compnets-scaling``'s timed steps (backbone + loss on a
   fixed batch, random banks), and the same slope for the loss alone (forward + backward), where the backbone's
   constant cost does not hide the loss's growth.

Usage: ``python scripts/bench_compnets.py [--config config.yaml] [--results DIR] [--classes 10 20 50 100]
[--device cpu] [--skip-geometry] [--skip-timing]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: ImageNet3D classes in the paper, and its Table 1 ratio of 3D-CompNets (N = 32) to NOVUM* loss GFLOPs (2.71 / 61.2),
#: printed as a labelled reference beside the ratio we count at the same sizes.
PAPER_CLASSES = 188
PAPER_TABLE1_RATIO = 2.71 / 61.2


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def _novum_model(cfg: dict) -> str | None:
    """The id of the config's NOVUM model, if it has one."""
    return next((name for name, m in cfg["compnets"]["models"].items() if m.get("loss") == "novum"), None)


def _novum_vertices(cfg: dict, default: int) -> int:
    """K of the config's NOVUM model (its own vertices_per_class), or ``default`` when it has none."""
    novum = _novum_model(cfg)
    return _vertices(cfg, novum) if novum else default


def _vertices(cfg: dict, model: str) -> int:
    """K of a neural mesh model of the config's compnets section."""
    from robust3d.models.neural_mesh.options import MeshOptions
    from robust3d.models.registry import model_spec

    return MeshOptions.of(model_spec(cfg["compnets"], model), cfg["compnets"]).n_vertices


def _mark(ratio: float, goal: float) -> str:
    return "ok" if ratio <= goal else f"> {goal:.0%}"


def flop_section(cfg: dict) -> None:
    from robust3d.models.neural_mesh.flops import omega_with_density, synthetic_loss_gflops

    c = cfg["compnets"]
    mesh = c["mesh"]
    default_classes = len(set(cfg["synthetic"]["categories"]) - set(cfg["synthetic"]["unseen_categories"]))
    batch, d = int(c["train"]["batch_size"]), int(c["feature_dim"])
    k, n_b = int(mesh["vertices_per_class"]), int(mesh["background_features"])
    k_novum = _novum_vertices(cfg, k)
    settings = [
        (f"config: NOVUM K={k} = CompNets K, N_b={n_b}", k, k, n_b),
        *([(f"config: NOVUM K={k_novum}, CompNets K={k}, N_b={n_b}", k_novum, k, n_b)] if k_novum != k else []),
        (f"config CompNets K={k} vs NOVUM* K=1000, N_b={n_b}", 1000, k, n_b),
        ("paper: NOVUM* K=1000, CompNets K=500, N_b=2560", 1000, 500, 2560),
    ]
    print(f"\n== Contrastive-loss GFLOPs per step (batch {batch}, D = {d}, half of each image's vertices visible, "
          "N = 32) ==")
    print(f"{'setting':50s} {'Y':>4s} {'NOVUM':>9s} {'omega':>7s} {'CompNets':>9s} {'ratio':>7s}")
    for label, k_novum, k_comp, n_b in settings:
        # The paper's own class count (188, Table 1) only at the paper's sizes: its reduction can be set beside ours.
        for y in (default_classes, 100, *((PAPER_CLASSES,) if label.startswith("paper") else ())):
            novum = synthetic_loss_gflops("novum", y, k_novum, d, n_b, batch)
            for name, density in (("1", 1.0), ("0.1", 0.1), ("0", 0.0)):
                omega = omega_with_density(y, density)
                comp = synthetic_loss_gflops("compnets", y, k_comp, d, n_b, batch, 32, omega)
                if y == PAPER_CLASSES:
                    mark = f"(paper's Table 1, reference: {PAPER_TABLE1_RATIO:.1%})"
                else:
                    mark = _mark(comp / novum, 0.07 if y == default_classes else 0.05)
                print(f"{label:50s} {y:4d} {novum:9.3f} {name:>7s} {comp:9.3f} {comp / novum:7.2%} {mark}")


def _train_metrics(path: Path, key: str) -> tuple[dict[str, Any] | None, str]:
    """A model's train.json when it has ``key``; else None and why not (which file, what makes it)."""
    if not path.is_file():
        return None, f"{path} is missing: `make run` makes it"
    data = json.loads(path.read_text())
    if data.get(key) is None:
        return None, (f"{path} has no `{key}` (written before train.py stored it): delete it and `make run` "
                      "retrains the model")
    return data, ""


def geometry_section(cfg: dict, results: str) -> None:
    """Section 2: the FLOP ratio on the benchmark's real cuboids and visibility, with the trained omega."""
    import torch

    from robust3d.models.neural_mesh.flops import real_batch
    from robust3d.papers.compnets.plan import CompnetsPlan
    from robust3d.papers.compnets.scaling import compnets_model

    c = cfg["compnets"]
    plan = CompnetsPlan({**cfg, "results": results}, config_file="")
    manifest = Path(plan.manifest("train"))
    print("\n== Contrastive-loss GFLOPs per step on the embedded benchmark's geometry (goal: ratio <= 7%) ==")
    if not manifest.is_file():
        print(f"the embedded benchmark's train split {manifest} does not exist: `make run` or "
              f"`snakemake {manifest}` builds it")
        return
    novum_id, comp_id = _novum_model(cfg), compnets_model(c, 32)
    k = _vertices(cfg, comp_id)
    k_novum = _novum_vertices(cfg, k)
    novum_batch, comp_batch = (real_batch(c, manifest, kk, cfg["seed"]) for kk in (k_novum, k))
    y = len(comp_batch.classes)
    print(f"first batch of epoch 0 of {manifest} ({c['train']['batch_size']} images, {y} classes), random unit "
          f"features, D = {c['feature_dim']}, N_b = {c['mesh']['background_features']}")
    for name, kk, batch in (("NOVUM", k_novum, novum_batch), (f"3D-CompNets ({comp_id}, N = 32)", k, comp_batch)):
        print(f"  {name}: K = {kk} -> {batch.n_vertices.float().mean():.0f} vertices per class on average "
              f"({int(batch.n_vertices.min())}-{int(batch.n_vertices.max())}), {len(batch.f)} visible in the batch")
    novum = novum_batch.gflops("novum")
    trained, why = _train_metrics(Path(plan.train_metrics(comp_id)), "omega")
    if trained is not None and trained["classes"] != comp_batch.classes:
        trained, why = None, (f"{plan.train_metrics(comp_id)} was trained on classes {trained['classes']}, not the "
                              f"split's {comp_batch.classes}")
    omegas = [("1 (before the first calibration)", torch.ones(y, y)),
              (f"trained ({comp_id})", torch.tensor(trained["omega"]) if trained is not None else None),
              ("0 (no class pair confused)", torch.zeros(y, y))]
    print(f"{'omega':40s} {'nonzero':>8s} {'NOVUM':>9s} {'CompNets':>9s} {'ratio':>8s}")
    for label, omega in omegas:
        if omega is None:
            print(f"{label:40s} {why}")
            continue
        off = omega[~torch.eye(y, dtype=torch.bool)]
        comp = comp_batch.gflops("compnets", omega, 32)
        print(f"{label:40s} {float((off > 0).float().mean()):8.1%} {novum:9.3f} {comp:9.3f} {comp / novum:8.2%} "
              f"{_mark(comp / novum, 0.07)}")

    means = [_train_metrics(Path(plan.train_metrics(m)), "loss_gflops_mean") if m else (None, "no NOVUM model")
             for m in (novum_id, comp_id)]
    if all(data is not None for data, _ in means):
        novum_mean, comp_mean = (data["loss_gflops_mean"] for data, _ in means)
        print(f"{'averaged over training (train.json)':40s} {'':8s} {novum_mean:9.3f} {comp_mean:9.3f} "
              f"{comp_mean / novum_mean:8.2%} {_mark(comp_mean / novum_mean, 0.07)}")
    else:
        print("averaged over training: " + "; ".join(why for data, why in means if data is None))


def timing_section(cfg: dict, classes: list[int], device: str) -> None:
    from robust3d.tables.routes import data_route

    from robust3d.models.neural_mesh.flops import synthetic_loss_seconds
    from robust3d.papers.compnets.scaling import scaling_rows

    c = cfg["compnets"]
    size = "x".join(map(str, data_route(cfg).image_hw))
    print(f"\n== Training step time vs number of classes ({device}; backbone "
          f"{c['backbones']['resnet50']['arch']}, image {size} px, scaling batch "
          f"{c['scaling'].get('batch_size', 2)}, omega = 1) ==")
    rows = scaling_rows(cfg, device, classes)
    by_model: dict[str, list[dict]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    for model, rs in by_model.items():
        s = slope([r["n_classes"] for r in rs], [r["step_seconds"] for r in rs])
        print(f"{model:12s} slope of log(step time) vs log(Y): {s:.2f}   "
              + "  ".join(f"Y={r['n_classes']}: {r['step_seconds']:.3f}s" for r in rs))

    mesh = c["mesh"]
    n_b, d, batch = int(mesh["background_features"]), int(c["feature_dim"]), int(c["scaling"].get("batch_size", 2))
    print(f"\n== Loss alone (forward + backward), batch {batch}, omega = 1 ==")
    variants = [(f"NOVUM-{k}", "novum", int(k), None) for k in c["scaling"]["novum_vertices"]]
    variants.append(("3D-CompNets", "compnets", int(min(c["scaling"]["novum_vertices"])), 32))
    for name, loss, k, n in variants:
        times = [synthetic_loss_seconds(loss, y, k, d, n_b, batch, n) for y in classes]
        print(f"{name:12s} slope of log(loss time) vs log(Y): {slope(classes, times):.2f}   "
              + "  ".join(f"Y={y}: {t:.3f}s" for y, t in zip(classes, times, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--classes", type=int, nargs="+", help="class counts to time (default: compnets.scaling)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, help="timed steps per point (default: compnets.scaling.steps)")
    parser.add_argument("--results", help="the results folder with models/<model>/train.json (default: the "
                        "config's `results`)")
    parser.add_argument("--skip-geometry", action="store_true", help="skip the FLOPs on the benchmark's geometry")
    parser.add_argument("--skip-timing", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from robust3d.papers import load_config

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    if args.steps:
        cfg["compnets"]["scaling"]["steps"] = args.steps
    started = time.perf_counter()
    flop_section(cfg)
    if not args.skip_geometry:
        geometry_section(cfg, args.results or cfg["results"])
    if not args.skip_timing:
        timing_section(cfg, args.classes or list(cfg["compnets"]["scaling"]["classes"]), args.device)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
