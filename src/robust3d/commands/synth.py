"""CLI commands that build the synthetic benchmark (registered into robust3d.cli)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _cad_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--out", required=True, help="dataset root; CAD/ and CAD_single/ are written under it")


@command("synth-cad", "write the synthetic categories' CAD models and cuboids", _cad_args)
def synth_cad(args: argparse.Namespace) -> None:
    from pathlib import Path

    from robust3d.papers import load_config
    from robust3d.synth.dataset import build_cad

    build_cad(load_config(args.config), Path(args.out))


def _render_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--split", required=True)
    p.add_argument("--chunk", type=int, required=True)
    p.add_argument("--cad-root", required=True, help="folder holding CAD/ and CAD_single/")
    p.add_argument("--out", required=True, help="chunk folder to write (replaced atomically)")


@command("synth-render", "render one chunk of a split of the synthetic benchmark", _render_args)
def synth_render(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.synth.dataset import render_chunk
    from robust3d.variants.weather import apply_weather

    n = render_chunk(load_config(args.config), args.split, args.chunk, args.cad_root, args.out, weather=apply_weather)
    print(f"rendered {n} samples of {args.split} chunk {args.chunk} into {args.out}")


def _merge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("chunks", nargs="+", help="chunk folders, each with a manifest.csv")
    p.add_argument("--out", required=True, help="manifest.csv to write")


@command("merge-manifests", "join chunk manifests into a split's manifest.csv", _merge_args)
def merge(args: argparse.Namespace) -> None:
    from robust3d.data.format import merge_manifests

    df = merge_manifests(args.chunks, args.out)
    print(f"{len(df)} samples -> {args.out}")


def _sheet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True)
    p.add_argument("--cad-root", required=True, help="folder holding CAD/<class>/<cad_index:02d>.off")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("-n", type=int, default=36, help="samples to draw")


@command("contact-sheet", "draw samples of a split with their projected CAD vertices", _sheet_args)
def sheet(args: argparse.Namespace) -> None:
    from robust3d.figures.contact_sheet import contact_sheet

    contact_sheet(args.manifest, args.cad_root, args.out, n=args.n)
