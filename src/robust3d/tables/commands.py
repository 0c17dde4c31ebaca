"""`python -m robust3d tables`: a paper's tables (ours beside the paper's), its checked claims and its figures."""

from __future__ import annotations

import argparse

from robust3d.cli import command

PAPERS = ("compnets",)


def _tables_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--paper", required=True, choices=PAPERS)
    p.add_argument("--config", help="resolved config: names the missing values' reasons and the models it trains")
    p.add_argument("--metrics", help="tidy metrics.csv (benchmark, paper, model, split, variant, level, metric, ...)")
    p.add_argument("--benchmark", default=None, help="keep only this benchmark's rows of metrics.csv")
    p.add_argument("--train-metrics", nargs="*", default=[], help="training-metrics JSONs, one per model")
    p.add_argument("--scaling", help="scaling CSV (model, n_classes, vertices_per_class, cross_samples, ...)")
    p.add_argument("--predictions", nargs="*", default=[],
                   help="per-sample predictions CSVs (the unseen split's give Table 3's per-class columns)")
    p.add_argument("--out-dir", required=True, help="tables go here (<paper>_table<N>.csv/.md, <paper>_claims.csv)")
    p.add_argument("--figures-dir", help="figures go here (default: <out-dir>/../figures)")


@command("tables", "build a paper's tables, claims and figures from metrics, training JSONs and predictions",
         _tables_args)
def tables(args: argparse.Namespace) -> int:
    from pathlib import Path

    from robust3d.config import load_config
    from robust3d.tables import compnets
    from robust3d.tables.plan import unavailable
    from robust3d.tables.sources import Sources

    config = load_config(args.config) if args.config else None
    extra = {}
    if config is not None:
        extra = {"models": list(config["compnets"]["models"]),
                 "availability": lambda split, variant, level: unavailable(config, split, variant, level)}
    sources = Sources.load(args.metrics, args.train_metrics, args.scaling, args.predictions,
                           benchmark=args.benchmark, **extra)
    built, claims_df = compnets.build(sources, config)
    figures_dir = Path(args.figures_dir) if args.figures_dir else Path(args.out_dir).parent / "figures"
    written = compnets.write(built, claims_df, args.out_dir, figures_dir)
    counts = claims_df["holds"].value_counts().to_dict()
    print(f"{args.paper}: {len(written)} files under {args.out_dir} and {figures_dir}; claims: "
          + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("true", "false", "untestable")))
    return 0
