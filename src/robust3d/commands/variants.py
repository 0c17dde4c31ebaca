"""CLI commands that build nuisance variants of a split (registered into robust3d.cli)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _variant_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--manifest", required=True, help="manifest.csv of the clean split")
    p.add_argument("--variant", required=True, help="occlusion, a 2D/3D corruption name, or a style")
    p.add_argument("--level", required=True, help="occlusion level (e.g. L2), severity 1-5, or 1 for styles")
    p.add_argument("--out", required=True, help="folder to write (replaced atomically)")


@command("make-variant", "build a nuisance variant (occlusion, corruption, style) of a split", _variant_args)
def make_variant_command(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.variants.registry import make_variant

    config = load_config(args.config)
    df = make_variant(args.manifest, args.variant, args.level, args.out, seed=config["seed"],
                      variants_cfg=config["variants"])
    print(f"{len(df)} samples of {args.variant} level {args.level} -> {args.out}")
    if "in_level_range" in df:
        share = df["in_level_range"].astype(bool).mean()
        print(f"occluded object {df['occluded_object'].mean():.3f}, background {df['occluded_background'].mean():.3f}, "
              f"{share:.1%} inside the level's range")
