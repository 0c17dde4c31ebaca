"""PDR's CLI commands (registered into robust3d.cli): train a model on a dataset, evaluate a row model's features
(clustering, PCC, shape). The evaluations are joined by the shared ``gather-csv`` command."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument

#: One row per evaluation sample (a track or an image) of one model and feature set: what its cluster purity
#: averages (``hit``: the sample's label is its cluster's majority label).
ASSIGNMENT_COLUMNS = ["model", "split", "variant", "sample_id", "label", "cluster", "hit"]


def _dataset_model(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--dataset", required=True, help="a key of pdr.datasets (faces, cars)")
    p.add_argument("--model", required=True, help="a key of pdr.models, or random_init / raw_pixels (evaluation)")


def _train_args(p: argparse.ArgumentParser) -> None:
    _dataset_model(p)
    p.add_argument("--manifest", required=True, help="the dataset's training split manifest")
    p.add_argument("--out", required=True, help="model file (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--metrics", required=True, help="training record JSON")


@command("pdr-train", "train a PDR model (Unsup3D, LOOCC or VQ-VAE) on a dataset's training split", _train_args)
def pdr_train(args: argparse.Namespace) -> None:
    from robust3d.models.derender.data import load_images
    from robust3d.models.derender.train import train
    from robust3d.papers import load_config
    from robust3d.papers.pdr.settings import model_settings

    config = load_config(args.config)
    section = config["pdr"]
    family, settings = model_settings(config, args.dataset, args.model)
    images, _ = load_images(args.manifest, int(section["size"]))
    record = train(family, settings, section["train"], images, args.out, args.metrics, int(config["seed"]),
                   f"{args.dataset}:{args.model}", section["perceptual"] if family == "derender" else "none")
    print(f"pdr {args.dataset}:{args.model}: {record['epochs']} epochs, validation loss {record['val_start']:.4f} "
          f"-> {record['val_end']:.4f}")


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    _dataset_model(p)
    p.add_argument("--manifest", required=True, help="the dataset's evaluation split manifest")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="trained model (pdr-train)")
    source.add_argument("--random-init", metavar="MODEL", help="this de-rendering model's networks, untrained")
    source.add_argument("--raw-pixels", action="store_true", help="the images themselves")
    p.add_argument("--record", help="the trained model's train.json (its validation losses join the metrics)")
    p.add_argument("--out-metrics", required=True, help="tidy metrics CSV of this row")
    p.add_argument("--out-assignments", required=True, help="per-sample cluster assignments CSV")


@command("pdr-evaluate", "cluster a PDR row model's features on a dataset (Table 1, PCC, shape)", _evaluate_args)
def pdr_evaluate(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.papers.pdr.scoring import evaluate_row

    config = load_config(args.config)
    rows = evaluate_row(config, args.dataset, args.model, args.manifest, args.checkpoint, args.random_init,
                        args.raw_pixels, args.record, args.out_metrics, args.out_assignments)
    acc = {r["variant"]: r["value"] for r in rows if r["metric"] == "cluster_acc"}
    print(f"pdr {args.dataset}:{args.model}: cluster accuracy " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
