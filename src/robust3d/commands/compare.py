"""CLI command ``compare``: two results folders -> a Markdown report of moved numbers and changed verdicts."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command


def _compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_a", metavar="RUN_A", help="the first results folder (with tables/), e.g. results/")
    p.add_argument("run_b", metavar="RUN_B", help="the second results folder, compared with RUN_A")
    p.add_argument("--out", default=None, metavar="FILE.md",
                   help="write the report here (atomically) instead of to stdout")
    p.add_argument("--tolerance", type=float, default=1e-9, metavar="T",
                   help="numbers with |B - A| <= T count as unchanged (default: 1e-9)")
    p.add_argument("--ignore-timing", action="store_true",
                   help="skip cells and claims marked as timing (wall-clock values that differ run to run)")


@command("compare", "compare two results folders: which of our numbers moved, which claims changed verdict",
         _compare_args)
def compare_command(args: argparse.Namespace) -> int:
    from robust3d.compare import compare_runs, render_markdown, summary_line, write_report

    report = compare_runs(args.run_a, args.run_b, args.tolerance, args.ignore_timing)
    text = render_markdown(report)
    if args.out is None:
        print(text, end="")
    else:
        write_report(text, args.out)
        print(f"{summary_line(report)} -> {args.out}")
    return 0
