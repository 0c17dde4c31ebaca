"""3D-CompNets' own CLI command (registered into robust3d.cli): the Figure 2 scaling measurement."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument

#: The scaling CSV: one row per (series, class count); each timed step's seconds in ``step_seconds_repeats``.
SCALING_COLUMNS = ["model", "n_classes", "vertices_per_class", "cross_samples", "step_seconds", "loss_gflops",
                   "step_seconds_repeats", "step_cpu_seconds", "step_cpu_seconds_repeats"]


def _scaling_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--out", required=True, help="CSV: " + ", ".join(SCALING_COLUMNS))


@command("compnets-scaling", "time training steps of NOVUM and 3D-CompNets against the number of classes "
         "(synthetic random banks)", _scaling_args)
def compnets_scaling(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from robust3d.data.io import atomic_path
    from robust3d.models.runtime import resolve_device
    from robust3d.papers import load_config
    from robust3d.papers.compnets.scaling import scaling_rows

    cfg = load_config(args.config)
    torch.set_num_threads(int(cfg["compnets"]["train"]["num_threads"]))
    rows = scaling_rows(cfg, resolve_device(cfg["device"]))
    with atomic_path(args.out) as tmp:
        pd.DataFrame(rows, columns=SCALING_COLUMNS).to_csv(tmp, index=False)
