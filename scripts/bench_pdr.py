"""Benchmark the PDR / LOOCC stage: the Unsup3D depth warp (forward + backward), then the training steps.

    python scripts/bench_pdr.py [--sizes 32 64] [--batch 32] [--repeats 5] [--threads 2] [--pytorch3d-sizes 32]

Prints milliseconds per image of ``DepthWarp.render`` forward + backward (``recon_im.sum().backward()``, gradients
into the canonical depth, image and view), the median of ``--repeats`` timed batches after one warm-up. Inputs:
smooth random canonical depths (Gaussian bumps in [0.9, 1.1] with Unsup3D's 2-pixel border at 1.04), random canonical
images, and views of a trained de-renderer's range (pitch and yaw up to 30 deg, roll up to 10 deg, x/y shifts up to
0.05). A second row per size uses i.i.d. noisy depth (std 0.03), what an untrained depth net may emit: long thin
faces, the rasteriser's worst case. The "pytorch3d" rows use PyTorch3D's ``MeshRasterizer`` for the face index (naive
on the CPU), for comparison with the default CPU scan-line rasteriser.

Per training step the renderer runs on 2B images (original and flipped canonical), LOOCC adds another 2B.
Use ``--threads 1`` on a shared machine: with more threads than free cores every small operation waits on torch's
thread pool, and the figures say more about the other jobs than about this code.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from robust3d.models.derender.renderer import DepthWarp, DerenderCamera


def canonical_inputs(batch: int, size: int, noisy: bool, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """(depth (B, S, S), image (B, 3, S, S), view (B, 6)) as described in the module docstring."""
    g = torch.Generator().manual_seed(seed)
    if noisy:
        depth = 1 + 0.03 * torch.randn(batch, size, size, generator=g)
    else:
        r = torch.linspace(-1, 1, size)
        y, x = torch.meshgrid(r, r, indexing="ij")
        centres = torch.rand(batch, 4, 2, generator=g) * 1.6 - 0.8
        amp = torch.randn(batch, 4, 1, 1, generator=g)
        sq = (x - centres[..., 0, None, None]) ** 2 + (y - centres[..., 1, None, None]) ** 2
        depth = 1 + 0.1 * torch.tanh((amp * torch.exp(-sq / (2 * 0.35**2))).sum(1))  # Unsup3D's tanh into [0.9, 1.1]
    inner = torch.zeros(size, size, dtype=torch.bool)
    inner[2:-2, 2:-2] = True
    depth = torch.where(inner, depth, torch.full_like(depth, 1.04))  # the 2-pixel border at border_depth
    image = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    scale = torch.tensor([math.radians(30), math.radians(30), math.radians(10), 0.05, 0.05, 0.0])
    view = (torch.rand(batch, 6, generator=g) * 2 - 1) * scale
    return depth, image, view


def time_render(warp: DepthWarp, inputs: tuple[torch.Tensor, ...], repeats: int) -> tuple[float, float, float]:
    """Median seconds of one forward and of one forward + backward over ``repeats`` runs (after a warm-up), and the
    fastest forward + backward (less sensitive to other jobs on a shared machine)."""
    fwd, both = [], []
    for i in range(repeats + 1):
        depth, image, view = (x.clone().requires_grad_() for x in inputs)
        t0 = time.perf_counter()
        recon, _, _ = warp.render(depth, image, view)
        t1 = time.perf_counter()
        recon.sum().backward()
        t2 = time.perf_counter()
        if i:
            fwd.append(t1 - t0)
            both.append(t2 - t0)
    return statistics.median(fwd), statistics.median(both), min(both)


def bench_render(sizes: list[int], batch: int, repeats: int, pytorch3d_sizes: list[int]) -> None:
    """Print ms per image of DepthWarp.render for every size, input kind and rasteriser."""
    print(f"DepthWarp.render, batch {batch}, median of {repeats}, {torch.get_num_threads()} threads")
    print(f"{'size':>5} {'depth':>7} {'rasterizer':>10} {'fwd ms/img':>11} {'fwd+bwd ms/img':>15} {'(fastest)':>10}")
    for size in sizes:
        for noisy in (False, True):
            inputs = canonical_inputs(batch, size, noisy)
            for rasterizer in ["torch"] + (["pytorch3d"] if size in pytorch3d_sizes and not noisy else []):
                warp = DepthWarp(DerenderCamera(size), rasterizer=rasterizer)
                fwd, both, fastest = time_render(warp, inputs, repeats if rasterizer == "torch" else 1)
                ms = [t / batch * 1e3 for t in (fwd, both, fastest)]
                kind = "noisy" if noisy else "smooth"
                print(f"{size:>5} {kind:>7} {rasterizer:>10} {ms[0]:>11.2f} {ms[1]:>15.2f} {ms[2]:>10.2f}")


def bench_training_steps(config_path: str, repeats: int) -> None:
    """Seconds per training step (forward, loss, backward, Adam) of every model of ``pdr.models`` at the config's
    size, networks and batch, and the stage's projected training time (steps per epoch x epochs, both datasets)."""
    import math

    from robust3d.models.derender.train import build_model
    from robust3d.papers import load_config
    from robust3d.papers.pdr.settings import model_settings

    config = load_config(config_path)
    section = config["pdr"]
    size, batch, epochs = int(section["size"]), int(section["train"]["batch_size"]), int(section["train"]["epochs"])
    print(f"\ntraining steps ({config_path}: {size} px, batch {batch}, {torch.get_num_threads()} threads)")
    print(f"{'model':>18} {'s/step':>8} {'projected s (both datasets)':>28}")
    total = 0.0
    for name in section["models"]:
        family, settings = model_settings(config, "faces", name)
        torch.manual_seed(0)
        model = build_model(family, settings, "none")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.rand(batch, 3, size, size) * 2 - 1
        times = []
        for step in range(repeats + 1):
            started = time.perf_counter()
            terms = ({"total": model(x)["loss"]} if family == "vqvae"
                     else model.losses(x, torch.Generator().manual_seed(step)))
            optimizer.zero_grad()
            terms["total"].backward()
            optimizer.step()
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times[1:])  # the first step warms up
        steps = sum(max(1, math.floor(0.9 * _split_size(config, d) / batch)) * epochs for d in section["datasets"])
        total += seconds * steps
        print(f"{name:>18} {seconds:>8.3f} {seconds * steps:>28.1f}")
    print(f"{'all models':>18} {'':>8} {total:>28.1f}")


def _split_size(config: dict, dataset: str) -> int:
    import pandas as pd

    split = config["pdr"]["datasets"][dataset]["train_split"]
    path = f"{config['synthetic']['root']}/{split}/manifest.csv"
    try:
        return len(pd.read_csv(path))
    except FileNotFoundError:
        return 300  # the default config's faces_train / cars_train size, before the data stage has run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batch", type=int, default=32, help="the embedded default's batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="the embedded default's 2 cores")
    parser.add_argument("--config", default="config.yaml", help="its pdr section sizes the training steps")
    parser.add_argument("--pytorch3d-sizes", type=int, nargs="*", default=[32],
                        help="sizes also timed with PyTorch3D's rasteriser (slow on the CPU: ~0.3 s/image at 64)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    bench_render(args.sizes, args.batch, args.repeats, args.pytorch3d_sizes)
    bench_training_steps(args.config, args.repeats)


if __name__ == "__main__":
    main()
