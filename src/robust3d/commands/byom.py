"""`python -m robust3d byom-predict` / `byom-features`: a brought model (config ``byom:``) over one split.

The model's label set is the paper's training split's classes (``--train``), which its ``fit`` (if any) also
learns from; what it returns is checked against what its entry provides (:mod:`robust3d.byom.interface`).
"""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _common(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--name", required=True, help="the entry of the config's byom: section")
    p.add_argument("--train", required=True, help="the paper's train manifest: the classes, and fit()'s data")
    p.add_argument("--manifest", required=True, help="manifest of the split to run on")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _predict_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="predictions CSV to write (one row per sample)")
    p.add_argument("--unseen", action="store_true", help="the split's classes may lie outside the training classes")


def _features_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--out", required=True, help="features .npz to write (features (N, D), sample_id (N,))")


def _entry(args: argparse.Namespace) -> tuple[dict, list[str]]:
    from robust3d.errors import ConfigError
    from robust3d.models.data import manifest_classes
    from robust3d.papers import load_config

    config = load_config(args.config)
    entries = config.get("byom") or {}
    if args.name not in entries:
        raise ConfigError(f"key 'byom.{args.name}': no such entry (entries: {', '.join(entries) or 'none'})")
    return entries[args.name], manifest_classes(args.train)


@command("byom-predict", "predict a split with a brought model (config byom:)", _predict_args)
def byom_predict(args: argparse.Namespace) -> None:
    from robust3d.byom.run import predict_split

    entry, classes = _entry(args)
    out = predict_split(args.name, entry, args.manifest, args.out, classes, args.train, unseen=args.unseen,
                        progress=not args.no_progress)
    print(f"byom {args.name}: predictions of {args.manifest} -> {out}")


@command("byom-features", "a brought model's features of a split (config byom:, provides features)",
         _features_args)
def byom_features(args: argparse.Namespace) -> None:
    from robust3d.byom.run import extract_features

    entry, classes = _entry(args)
    out = extract_features(args.name, entry, args.manifest, args.out, classes, args.train,
                           progress=not args.no_progress)
    print(f"byom {args.name}: features of {args.manifest} -> {out}")
