"""CLI commands that fetch and convert the real datasets (registered into robust3d.cli).

`fetch-dataset` makes sure one raw dataset is unpacked under a data root (downloading it when allowed) and
`convert-dataset` turns one split of an enabled `datasets` block into the shared sample format, with the
converter options of the config. Both print the registry's instructions and exit non-zero when raw data is
missing, instead of a traceback. `subset-manifest` writes class subsets of a converted split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robust3d.cli_registry import command, config_argument
from robust3d.data.datasets.plan import DATASET_BLOCKS

# ---------------------------------------------------------------------------------------------- fetch-dataset

def _fetch_args(p: argparse.ArgumentParser) -> None:
    from robust3d.data.datasets.registry import RAW_DATASETS

    p.add_argument("--name", required=True, choices=sorted(RAW_DATASETS), help="raw dataset of the registry")
    p.add_argument("--raw-root", required=True, help="data root holding (or receiving) the unpacked dataset")
    p.add_argument("--check-only", action="store_true",
                   help="do not download: only check that the unpacked dataset is there")
    p.add_argument("--marker", help="file to write (the dataset's folder) once the dataset is there")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request")


@command("fetch-dataset", "download, unpack and check one raw dataset (or only check it)", _fetch_args)
def fetch_dataset(args: argparse.Namespace) -> int:
    from robust3d.data.datasets.registry import DatasetUnavailable, fetch, require_raw
    from robust3d.data.io import atomic_path

    try:
        folder = (require_raw(args.name, args.raw_root) if args.check_only
                  else fetch(args.name, args.raw_root, timeout=args.timeout))
    except DatasetUnavailable as err:
        print(f"robust3d: dataset unavailable: {err}", file=sys.stderr)
        return 1
    print(f"{args.name}: {folder.resolve()}")
    if args.marker:
        with atomic_path(args.marker) as tmp:
            tmp.write_text(f"{args.name}\t{folder.resolve()}\n")
    return 0


# ---------------------------------------------------------------------------------------------- convert-dataset

def _convert_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--dataset", required=True, choices=DATASET_BLOCKS, help="block of the config's `datasets`")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True,
                   help="the dataset's root: the split goes to OUT/SPLIT/ (replaced atomically), CAD models to OUT/CAD")


@command("convert-dataset", "convert one split of a real dataset (config `datasets`) to the sample format",
         _convert_args)
def convert_dataset(args: argparse.Namespace) -> int:
    from robust3d.data.datasets import ConversionError, DatasetUnavailable
    from robust3d.data.datasets.plan import convert_split
    from robust3d.papers import load_config

    config = load_config(args.config)
    try:
        df = convert_split(config, args.dataset, args.split, args.out)
    except (DatasetUnavailable, ConversionError) as err:
        print(f"robust3d: {args.dataset} {args.split} not converted: {err}", file=sys.stderr)
        return 1
    skipped = len(df.attrs.get("skipped", ()))
    print(f"{args.dataset} {args.split}: {len(df)} samples -> {Path(args.out) / args.split} "
          f"({skipped} skipped, see skipped.csv)")
    return 0


# ---------------------------------------------------------------------------------------------- class subsets

def _subset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="manifest of a converted split (or of a variant of one)")
    p.add_argument("--out", required=True, help="manifest to write; its paths point at the original files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--classes", nargs="+", help="keep only these classes (each must have samples)")
    which.add_argument("--exclude-classes", nargs="+", help="drop these classes")
    p.add_argument("--held-out", help="also hold out part of every class's images into this manifest")
    p.add_argument("--fraction", type=float, help="share of each class's images held out (with --held-out)")
    p.add_argument("--seed", type=int, default=0)


@command("subset-manifest", "write a class subset of a split (and a held-out part) as manifests in other folders",
         _subset_args)
def subset_manifest(args: argparse.Namespace) -> int:
    from robust3d.data.subsets import subset_manifest as run

    if (args.held_out is None) != (args.fraction is None):
        print("robust3d: --held-out and --fraction go together", file=sys.stderr)
        return 2
    try:
        counts = run(args.manifest, args.out, keep=args.classes, drop=args.exclude_classes, held_out=args.held_out,
                     fraction=args.fraction, seed=args.seed)
    except (FileNotFoundError, ValueError) as err:
        print(f"robust3d: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {counts['samples']} samples of {counts['classes']} classes"
          + (f"; held out {counts['held_out']} into {args.held_out}" if "held_out" in counts else ""))
    return 0
