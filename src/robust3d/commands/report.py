"""`python -m robust3d report`: the one-page HTML report of a run (every paper, the data, the run's metadata)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _report_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--out", required=True, help="HTML file to write (self-contained: images embedded)")
    p.add_argument("--benchmarks", default=None, help="Snakemake's benchmarks/ folder: job time per stage")
    p.add_argument("--repo", default=None, help="git checkout whose commit the report names (default: here)")


@command("report", "write the self-contained HTML report of a run", _report_args)
def report(args: argparse.Namespace) -> None:
    from pathlib import Path

    from robust3d.papers import load_config
    from robust3d.report.build import build_report

    out = build_report(load_config(args.config), args.out, args.repo, args.benchmarks)
    print(f"report: {out} ({Path(out).stat().st_size / 1e6:.1f} MB)")
