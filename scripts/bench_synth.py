"""Benchmark the synthetic renderer: images per second at the configured size, and the default dataset's time.

    python scripts/bench_synth.py [--config config.yaml] [--images 64] [--jobs 2]

Prints single-process throughput (one rendering job), throughput with ``--jobs`` jobs in parallel (as
`snakemake --cores 2` runs them), and the projected time for all splits of the config. Speed targets live
here, not in the tests.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import torch

from robust3d.papers import load_config
from robust3d.synth.dataset import build_cad, render_chunk
from robust3d.synth.plan import SPLITS, plan_split


def _render(args: tuple[dict, str, Path, Path]) -> int:
    torch.set_num_threads(1)
    config, split, cad, out = args
    return render_chunk(config, split, 0, cad, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--images", type=int, default=64, help="images per rendering job")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs for the second measurement")
    args = parser.parse_args()
    config = load_config(args.config)
    config["synthetic"]["chunk_size"] = args.images
    total = sum(len(plan_split(config, s)) for s in SPLITS)
    size = config["synthetic"]["image_size"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        build_cad(config, tmp / "cad")
        cad_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        n = _render((config, "train", tmp / "cad", tmp / "one"))
        single = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        jobs = [(config, "train", tmp / "cad", tmp / f"par{i}") for i in range(args.jobs)]
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            n = sum(pool.map(_render, jobs))
        parallel = n / (time.perf_counter() - t0)
    print(f"image size          : {size} px")
    print(f"CAD models + cuboids: {cad_s:.1f} s")
    print(f"one job             : {single:.1f} images/s (incl. writing PNG/NPZ/NPY files)")
    print(f"{args.jobs} parallel jobs     : {parallel:.1f} images/s")
    print(f"default dataset     : {total} images -> about {total / parallel / 60:.1f} min with {args.jobs} jobs")


if __name__ == "__main__":
    main()
