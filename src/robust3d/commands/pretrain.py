"""CLI command of the self-supervised pretraining stage (registered into robust3d.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from robust3d.cli_registry import command, config_argument


def _args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--name", required=True, help="a key of pretrain.backbones")
    p.add_argument("--pool", nargs="+", required=True, help="manifests of the unlabelled pool (train, depth_train)")
    p.add_argument("--memory-bank", required=True, help="manifest whose labels score the sanity numbers (train)")
    p.add_argument("--scored", required=True, help="manifest the sanity numbers are reported on (test)")
    p.add_argument("--out", required=True, help="teacher weights to write (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--record", required=True, help="train.json: loss, collapse monitors, sanity numbers")


@command("pretrain", "DINO-pretrain one backbone on unlabelled synthetic images (resumable)", _args)
def pretrain(args: argparse.Namespace) -> None:
    from robust3d.data.io import write_json
    from robust3d.models.pretrain.stage import run_stage
    from robust3d.models.runtime import resolve_device
    from robust3d.papers import load_config

    config = load_config(args.config)
    cfg = config["pretrain"]
    if args.name not in cfg["backbones"]:
        raise SystemExit(f"robust3d: pretrain.backbones has no '{args.name}' (has: {', '.join(cfg['backbones'])})")
    entry = {k: v for k, v in cfg["backbones"][args.name].items() if k != "recipe"}
    recipe = {**cfg["recipe"], **cfg["backbones"][args.name].get("recipe", {})}
    record = run_stage(args.name, entry, recipe, [Path(m) for m in args.pool], Path(args.memory_bank),
                       Path(args.scored), Path(args.out), seed=config["seed"],
                       device=str(resolve_device(config["device"])), evaluation=cfg["evaluation"])
    write_json(args.record, record)
    print(json.dumps({"sanity": record.get("sanity"), "gates": record.get("gates"), "seconds": record.get("seconds")},
                     indent=1, default=float))
