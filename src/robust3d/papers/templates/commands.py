"""Template matching's CLI commands (registered into robust3d.cli): fine-tune a matcher on the seen objects'
training queries, evaluate a row model (retrieval over the template bank), check the template objects' symmetries."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument

MANIFESTS = ("templates", "queries", "queries_occluded")


def _manifests(p: argparse.ArgumentParser) -> None:
    for key in MANIFESTS:
        p.add_argument(f"--{key.replace('_', '-')}", required=True, help=f"the {key} split's manifest")


def _train_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--model", required=True, help="a key of templates.models with a schedule")
    p.add_argument("--train", required=True, help="the training queries' manifest (seen objects only)")
    _manifests(p)
    p.add_argument("--out", required=True, help="model weights (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--record", required=True, help="training record JSON (per-epoch loss and test accuracy)")


@command("templates-train", "InfoNCE-fine-tune a template matcher on the seen objects' training queries",
         _train_args)
def templates_train(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.papers.templates.fit import fit

    config = load_config(args.config)
    manifests = {k: getattr(args, k) for k in MANIFESTS}
    record = fit(config, args.model, args.train, manifests, args.out, args.record)
    last = record["epochs"][-1]
    print(f"templates {args.model}: {len(record['epochs'])} epochs, loss {last['loss']:.4f}; last-epoch Acc15 "
          + ", ".join(f"{k} {v:.1f}" for k, v in last.get("evaluation", {}).items()))


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--model", required=True, help="a key of templates.models, or oracle / chance / pixels")
    _manifests(p)
    p.add_argument("--checkpoint", help="fine-tuned weights (templates-train); without: the seeded initial matcher")
    p.add_argument("--out-predictions", required=True, help="one row per query, group and query set")
    p.add_argument("--out-metrics", required=True, help="tidy metrics CSV of this row model")


@command("templates-evaluate", "retrieve every query's template with a row model; predictions and metrics",
         _evaluate_args)
def templates_evaluate(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.papers.templates.fit import evaluate_row

    config = load_config(args.config)
    manifests = {k: getattr(args, k) for k in MANIFESTS}
    rows = evaluate_row(config, args.model, manifests, args.checkpoint, args.out_predictions, args.out_metrics)
    acc = {f"{r['split']}/{r['variant']}": r["value"] for r in rows if r["metric"] == "acc15"}
    print(f"templates {args.model}: Acc15 " + ", ".join(f"{k} {v:.1f}" for k, v in acc.items()))


def _symmetry_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", required=True, help="the templates split's manifest")
    p.add_argument("--size", type=int, default=64, help="compare the renders at this size (px)")


@command("templates-symmetry", "how alike each template object looks from opposite and from all azimuths",
         _symmetry_args)
def templates_symmetry(args: argparse.Namespace) -> None:
    from robust3d.papers.templates.symmetry import symmetry_report

    print(symmetry_report(args.templates, args.size).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _figures_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--metrics", required=True, help="the stage's gathered metrics.csv")
    p.add_argument("--predictions", required=True, help="the stage's gathered predictions.csv")
    _manifests(p)
    p.add_argument("--out-dir", required=True, help="figures go here (templates_thresholds.png, _retrievals.png)")


@command("templates-figures", "template matching's figures: accuracy against the threshold, retrieval examples",
         _figures_args)
def templates_figures(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.papers.templates.figures import draw

    config = load_config(args.config)
    written = draw(config, args.metrics, args.predictions, {k: getattr(args, k) for k in MANIFESTS}, args.out_dir)
    print("templates figures: " + ", ".join(str(p) for p in written))
