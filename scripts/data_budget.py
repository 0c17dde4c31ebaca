"""Sum the shared data stages' job time from Snakemake's benchmark files, against the issue's 8-minute share.

    python scripts/data_budget.py [benchmarks] [--limit-min 8] [--top 5] [--stages synth variants depth]

Reads the first ``s`` (wall seconds) of every ``<benchmarks>/<stage>/**/*.tsv`` (one per job) and prints per
stage: jobs, summed minutes and the slowest jobs. Exits 1 when the total is above ``--limit-min``. Run
``snakemake --cores all data`` first (the data stages alone, so other stages' jobs do not share the cores). The
pretraining stage's 7-minute share: ``snakemake --cores all pretrain_all``, then
``python scripts/data_budget.py --stages pretrain --limit-min 7``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from robust3d.report.metadata import benchmark_seconds

STAGES = ("synth", "variants", "depth")


def job_seconds(root: Path, stages: tuple[str, ...] = STAGES) -> pd.DataFrame:
    """One row per benchmark file: stage, job (its path under the stage) and seconds (read as the report's
    :func:`robust3d.report.metadata.job_times` reads them, which sums them per stage instead)."""
    rows = []
    for stage in stages:
        for tsv in sorted((root / stage).rglob("*.tsv")):
            if (seconds := benchmark_seconds(tsv)) is not None:
                rows.append({"stage": stage, "job": tsv.relative_to(root / stage).with_suffix("").as_posix(),
                             "seconds": seconds})
    return pd.DataFrame(rows, columns=["stage", "job", "seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="benchmarks", help="the benchmarks/ folder of a run")
    parser.add_argument("--limit-min", type=float, default=8.0, help="fail above this many summed minutes")
    parser.add_argument("--top", type=int, default=5, help="slowest jobs to list per stage")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), help="benchmark folders to sum")
    args = parser.parse_args(argv)
    jobs = job_seconds(Path(args.root), tuple(args.stages))
    if jobs.empty:
        print(f"no benchmark files under {args.root}/{{{','.join(args.stages)}}}; run their stage first",
              file=sys.stderr)
        return 1
    for stage, part in jobs.groupby("stage", sort=False):
        slow = ", ".join(f"{r.job} {r.seconds:.1f} s" for r in part.nlargest(args.top, "seconds").itertuples())
        print(f"{stage:<9} {len(part):>4} jobs {part['seconds'].sum() / 60:>6.2f} min   slowest: {slow}")
    total = jobs["seconds"].sum() / 60
    print(f"{'total':<9} {len(jobs):>4} jobs {total:>6.2f} min   (limit {args.limit_min:g} min)")
    return 0 if total <= args.limit_min else 1


if __name__ == "__main__":
    sys.exit(main())
