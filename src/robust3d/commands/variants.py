"""CLI commands that build nuisance variants of a split (registered into robust3d.cli)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _variant_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--manifest", required=True, help="manifest.csv of the clean split")
    p.add_argument("--variant", required=True, nargs="+",
                   help="occlusion, a 2D/3D corruption name, or a style; one per level, or one for all levels")
    p.add_argument("--level", required=True, nargs="+",
                   help="occlusion level (e.g. L2), severity 1-5, or 1 for styles; several build several folders")
    p.add_argument("--out", required=True, nargs="+", help="folder to write per level (each replaced atomically)")
    p.add_argument("--sheet", nargs="*", default=[], help="contact sheet PNG per level (needs --cad-root)")
    p.add_argument("--cad-root", help="folder holding CAD/<class>/<cad_index:02d>.off, for --sheet")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the job's share of the machine)")


@command("make-variant", "build a nuisance variant (occlusion, corruption, style) of a split", _variant_args)
def make_variant_command(args: argparse.Namespace) -> None:
    """One process for several (variant, level) folders: the imports cost seconds per process."""
    import torch

    from robust3d.papers import load_config
    from robust3d.variants.registry import make_variant

    if len(args.out) != len(args.level):
        raise SystemExit(f"robust3d: {len(args.level)} levels need as many --out folders, got {len(args.out)}")
    if len(args.variant) not in (1, len(args.level)):
        raise SystemExit(f"robust3d: give one --variant or one per level ({len(args.level)}), got {len(args.variant)}")
    variants = args.variant * len(args.level) if len(args.variant) == 1 else args.variant
    if args.sheet and (len(args.sheet) != len(args.level) or not args.cad_root):
        raise SystemExit("robust3d: --sheet needs one PNG per level and --cad-root")
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    for i, (variant, level, out) in enumerate(zip(variants, args.level, args.out, strict=True)):
        df = make_variant(args.manifest, variant, level, out, seed=config["seed"], variants_cfg=config["variants"])
        print(f"{len(df)} samples of {variant} level {level} -> {out}")
        if "in_level_range" in df:
            share = df["in_level_range"].astype(bool).mean()
            print(f"occluded object {df['occluded_object'].mean():.3f}, background "
                  f"{df['occluded_background'].mean():.3f}, {share:.1%} inside the level's range")
        if args.sheet:
            from pathlib import Path

            from robust3d.figures.contact_sheet import contact_sheet

            contact_sheet(Path(out) / "manifest.csv", args.cad_root, args.sheet[i])
