"""Print the measured occlusion per variant and level: object and background shares, and the share inside the box.

    python scripts/occlusion_report.py [results/data/synthetic/variants] [--min-in-range 0.9]

Reads every ``<split>/occlusion*/<level>/manifest.csv`` that `snakemake` built (3D-CompNets' levels, `occlusion`, and
OccludedPASCAL3D+'s, `occlusion_pascal3d`). With ``--min-in-range`` it exits 1, naming them, when a level has fewer
images inside its target box than that share.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="results/data/synthetic/variants")
    parser.add_argument("--min-in-range", type=float, default=None,
                        help="fail when a level has a smaller share of images inside its target box")
    args = parser.parse_args(argv)
    root = Path(args.root)
    manifests = sorted(root.glob("*/occlusion*/*/manifest.csv"))
    if not manifests:
        print(f"no occlusion variants under {root}; run `make run` first", file=sys.stderr)
        return 1
    print(f"{'split':<10} {'variant':<19} {'level':<6} {'n':>5} {'object':>8} {'(min-max)':>13} {'background':>11} "
          f"{'in range':>9}")
    failing = []
    for path in manifests:
        df = pd.read_csv(path)
        split, variant, level = path.parts[-4], path.parts[-3], path.parts[-2]
        fg, bg = df["occluded_object"], df["occluded_background"]
        inside = df["in_level_range"].astype(str).str.lower().eq("true").mean()
        print(f"{split:<10} {variant:<19} {level:<6} {len(df):>5} {fg.mean():>8.3f} "
              f"{f'({fg.min():.2f}-{fg.max():.2f})':>13} {bg.mean():>11.3f} {inside:>9.1%}")
        if args.min_in_range is not None and inside < args.min_in_range:
            failing.append(f"{split}/{variant}/{level} ({inside:.1%})")
    if failing:
        print(f"below {args.min_in_range:.0%} inside the target box: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
