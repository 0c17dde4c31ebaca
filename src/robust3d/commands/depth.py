"""CLI commands for pseudo-depth: train the local network, extract and evaluate (registered into robust3d.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robust3d.cli_registry import command, config_argument


def _train_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--manifest", nargs="+", required=True, help="split manifests with true depth")
    p.add_argument("--out", required=True, help="weights file to write (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--metrics", required=True, help="JSON file for the final validation metrics")


@command("train-depth", "train the local pseudo-depth network on renders with true depth (resumable)", _train_args)
def train_depth(args: argparse.Namespace) -> None:
    from robust3d.data.io import write_json
    from robust3d.depth.local import train_local_depth
    from robust3d.models.runtime import resolve_device
    from robust3d.papers import load_config

    config = load_config(args.config)
    d = config["depth"]
    metrics = train_local_depth([Path(m) for m in args.manifest], Path(args.out), epochs=d["epochs"],
                                batch_size=d["batch_size"], lr=d["lr"], image_size=d["image_size"],
                                seed=config["seed"], device=resolve_device(config["device"]),
                                checkpoint_every=d["checkpoint_every"], mask_weight=d["mask_weight"])
    write_json(args.metrics, metrics)
    print(json.dumps({k: v for k, v in metrics.items() if isinstance(v, int | float)}, indent=1, default=float))


def _extract_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--manifest", required=True, help="split manifest whose images get pseudo-depth")
    p.add_argument("--out", required=True, help="folder to write (replaced atomically)")
    p.add_argument("--weights", help="weights of the local network (backend local)")
    p.add_argument("--metrics", required=True, help="JSON file: pseudo-depth vs true depth where true depth exists")


@command("extract-depth", "predict pseudo-depth for a split and evaluate it against true depth", _extract_args)
def extract(args: argparse.Namespace) -> None:
    from robust3d.data.io import write_json
    from robust3d.depth.extract import evaluate_depth, extract_depth
    from robust3d.models.runtime import resolve_device
    from robust3d.papers import load_config

    config = load_config(args.config)
    backend = config["depth"]["backend"]
    kwargs = {"device": resolve_device(config["device"])}
    if backend == "local":
        if not args.weights:
            raise SystemExit("robust3d: the local depth backend needs --weights")
        kwargs["weights"] = args.weights
    else:
        kwargs["model"] = config["depth"]["zoedepth_model"]
    extract_depth(Path(args.manifest), backend, Path(args.out), **kwargs)
    baseline = None
    if args.weights:  # the constant baseline: the median depth the network was trained on
        from robust3d.depth.local import load_local_depth

        baseline = load_local_depth(Path(args.weights))[1].get("train_median_depth")
    metrics = evaluate_depth(Path(args.out) / "manifest.csv", baseline_depth=baseline)
    metrics["backend"] = backend
    write_json(args.metrics, metrics)
    print(json.dumps(metrics, indent=1, default=float))
