"""Vertex count and bounds of every class's cuboid (``class_cuboid``) in a CAD folder, at the given K values.

    python scripts/cuboid_counts.py results/data/synthetic/cad [--k 200 400]

Run it with two source trees (``PYTHONPATH=<tree>/src``) to see what a change to the cuboid code does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from robust3d.models.neural_mesh.mesh import class_cuboid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cad_root", type=Path, help="folder holding CAD/<class>/<NN>.off (and meta.json)")
    parser.add_argument("--k", type=int, nargs="+", default=[200, 400], help="vertices asked for")
    args = parser.parse_args(argv)
    classes = sorted(p.name for p in (args.cad_root / "CAD").iterdir() if p.is_dir())
    for k in args.k:
        counts = []
        for cls in classes:
            verts, _ = class_cuboid(args.cad_root, cls, k)
            counts.append(len(verts))
            lo, hi = np.round(verts.min(0), 3).tolist(), np.round(verts.max(0), 3).tolist()
            print(f"K={k} {cls}: {len(verts)} vertices, bounds {lo} .. {hi}")
        print(f"K={k}: mean {statistics.mean(counts):.1f} vertices over {len(classes)} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
