"""CLI command ``evaluate``: predictions CSVs -> the tidy metrics.csv (registered into robust3d.cli)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--predictions", nargs="+", required=True, help="predictions CSVs (one row per sample)")
    p.add_argument("--benchmark", required=True, help="benchmark name written to every row (e.g. synthetic)")
    p.add_argument("--paper", default=None,
                   help="paper name written to every row (default: each file's, from its path "
                        "<results>/<paper>/predictions/<benchmark>/...)")
    p.add_argument("--out", required=True, help="metrics.csv to write (atomically)")
    p.add_argument("--unseen-splits", nargs="*", default=["unseen"],
                   help="splits of classes the models never saw: no class_accuracy rows for them (default: unseen)")


@command("evaluate", "class and pose accuracy of predictions CSVs -> tidy metrics.csv", _evaluate_args)
def evaluate_command(args: argparse.Namespace) -> int:
    import sys

    from robust3d.evaluate.metrics import evaluate_files

    try:
        metrics = evaluate_files(args.predictions, args.out, args.benchmark, args.paper, args.unseen_splits)
    except (FileNotFoundError, ValueError) as err:
        print(f"robust3d evaluate: {err}", file=sys.stderr)
        return 2
    print(f"{len(metrics)} metric rows from {len(args.predictions)} predictions files -> {args.out}")
    return 0


def _gather_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inputs", nargs="+", required=True, help="CSVs with the same columns (one job's rows each)")
    p.add_argument("--out", required=True, help="their rows in one CSV")


@command("gather-csv", "concatenate CSVs with the same columns (a stage's per-job metrics, predictions, ...)",
         _gather_args)
def gather_csv(args: argparse.Namespace) -> None:
    import pandas as pd

    from robust3d.data.io import atomic_path

    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in args.inputs]
    columns = list(frames[0].columns)
    for path, frame in zip(args.inputs, frames, strict=True):
        if list(frame.columns) != columns:
            raise ValueError(f"{path} has the columns {list(frame.columns)}, the others {columns}")
    with atomic_path(args.out) as tmp:
        pd.concat(frames, ignore_index=True).to_csv(tmp, index=False)
