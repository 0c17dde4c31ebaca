"""Print the measured occlusion per level: object and background shares, and the share inside the target box.

    python scripts/occlusion_report.py [results/data/synthetic/variants]

Reads every ``<split>/occlusion/<level>/manifest.csv`` that `snakemake` built.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/data/synthetic/variants")
    manifests = sorted(root.glob("*/occlusion/*/manifest.csv"))
    if not manifests:
        raise SystemExit(f"no occlusion variants under {root}; run `make run` first")
    print(f"{'split':<10} {'level':<6} {'n':>5} {'object':>8} {'(min-max)':>13} {'background':>11} {'in range':>9}")
    for path in manifests:
        df = pd.read_csv(path)
        split, level = path.parts[-4], path.parts[-2]
        fg, bg = df["occluded_object"], df["occluded_background"]
        print(f"{split:<10} {level:<6} {len(df):>5} {fg.mean():>8.3f} {f'({fg.min():.2f}-{fg.max():.2f})':>13} "
              f"{bg.mean():>11.3f} {df['in_level_range'].astype(bool).mean():>9.1%}")


if __name__ == "__main__":
    main()
