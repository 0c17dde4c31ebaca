"""Print the pretraining stage's sanity numbers and must-show margins from every ``<results>/pretrain/*/train.json``.

    python scripts/pretrain_report.py [results]

One Markdown table of k-NN top-1 (class, pooled features) and azimuth-probe top-1 (patch grid) per backbone and
baseline (random init, raw pixels, colour histogram, majority-class chance), then each backbone's margins against
issue 16's thresholds, its training seconds and its collapse monitors. Exits 1 when a backbone misses a threshold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = ("pretrained", "random_init", "raw_pixels", "colour_histogram", "chance")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "results") / "pretrain"
    records = {p.parent.name: json.loads(p.read_text()) for p in sorted(root.glob("*/train.json"))}
    if not records:
        print(f"no {root}/*/train.json; run `snakemake --cores all pretrain_all` first", file=sys.stderr)
        return 1
    print("| backbone | features | k-NN top-1 (%) | azimuth probe top-1 (%) |")
    print("| --- | --- | --- | --- |")
    for name, rec in records.items():
        for row in ROWS:
            s = rec["sanity"][row]
            print(f"| {name} | {row} | {s['knn_top1']:.1f} | {s['azimuth_probe_top1']:.1f} |")
    met = True
    print()
    for name, rec in records.items():
        g = rec["gates"]
        margins = ", ".join(f"{k} {v:+.1f} (need +{g['required'][k]:g})" for k, v in g["margins"].items())
        low, high = rec["entropy_fraction_range"]
        print(f"{name}: {'met' if g['met'] else 'NOT met'}: {margins}; {rec['step']} steps in {rec['seconds']:.0f} s "
              f"+ {rec['eval_seconds']:.0f} s evaluation; teacher entropy {low:.2f}-{high:.2f} log K, feature std "
              f"min {rec['feature_std_ratio_min']:.2f}x step 0")
        met &= g["met"]
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
