"""CLI commands that build the synthetic benchmark (registered into robust3d.cli)."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument

CHUNK_SHEET = "contact_sheet.png"
"""A chunk's contact sheet, inside its folder; chunk 0's becomes the split's."""


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
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads: the job's share of the machine (two 2-thread jobs on 2 cores thrash)")
    p.add_argument("--sheet", action="store_true",
                   help="also draw the chunk's contact sheet into <out>/contact_sheet.png (the split's, for chunk 0)")


@command("synth-render", "render one chunk of a split of the synthetic benchmark", _render_args)
def synth_render(args: argparse.Namespace) -> None:
    import torch

    from robust3d.papers import load_config
    from robust3d.synth.dataset import render_chunk
    from robust3d.variants.weather import apply_weather

    torch.set_num_threads(args.threads)
    n = render_chunk(load_config(args.config), args.split, args.chunk, args.cad_root, args.out, weather=apply_weather)
    print(f"rendered {n} samples of {args.split} chunk {args.chunk} into {args.out}")
    if args.sheet:  # here, where torch is loaded anyway: a job of its own would spend ~3 s importing it
        from pathlib import Path

        from robust3d.figures.contact_sheet import contact_sheet

        contact_sheet(Path(args.out) / "manifest.csv", args.cad_root, Path(args.out) / CHUNK_SHEET)


def _merge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("chunks", nargs="+", help="chunk folders, each with a manifest.csv")
    p.add_argument("--out", required=True, help="manifest.csv to write")
    p.add_argument("--sheet", help="copy the first chunk's contact sheet (synth-render --sheet) to this PNG")


@command("merge-manifests", "join chunk manifests into a split's manifest.csv", _merge_args)
def merge(args: argparse.Namespace) -> None:
    import shutil
    from pathlib import Path

    from robust3d.data.format import merge_manifests

    df = merge_manifests(args.chunks, args.out)
    print(f"{len(df)} samples -> {args.out}")
    if args.sheet:
        first = Path(args.chunks[0]) / CHUNK_SHEET
        if not first.is_file():
            raise SystemExit(f"robust3d: {first} is missing; render the chunk with synth-render --sheet")
        shutil.copyfile(first, args.sheet)


def _sheet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True)
    p.add_argument("--cad-root", required=True, help="folder holding CAD/<class>/<cad_index:02d>.off")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("-n", type=int, default=36, help="samples to draw")


@command("contact-sheet", "draw samples of a split with their projected CAD vertices", _sheet_args)
def sheet(args: argparse.Namespace) -> None:
    from robust3d.figures.contact_sheet import contact_sheet

    contact_sheet(args.manifest, args.cad_root, args.out, n=args.n)
