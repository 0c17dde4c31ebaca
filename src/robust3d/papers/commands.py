"""`python -m robust3d tables`: a paper's tables (ours beside the paper's), its checked claims and its figures.

Also imports every stage's own commands module (``robust3d.papers.<id>.commands``, where one exists), so they
register with the CLI.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from robust3d.cli_registry import command
from robust3d.papers import PAPERS

if TYPE_CHECKING:
    import pandas as pd

for _module in PAPERS.values():
    if importlib.util.find_spec(f"{_module}.commands") is not None:
        importlib.import_module(f"{_module}.commands")


def _extra(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, path


def _tables_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--paper", required=True, choices=sorted(PAPERS))
    p.add_argument("--config", help="resolved config: names the missing values' reasons and the models it trains")
    p.add_argument("--metrics", help="tidy metrics.csv (benchmark, paper, model, split, variant, level, metric, ...)")
    p.add_argument("--benchmark", default=None, help="keep only this benchmark's rows of metrics.csv")
    p.add_argument("--train-metrics", nargs="*", default=[], help="training-metrics JSONs, one per model")
    p.add_argument("--extra", type=_extra, action="append", default=[], metavar="NAME=CSV",
                   help="a paper's own CSV by name (3D-CompNets: scaling=<results>/compnets/scaling.csv)")
    p.add_argument("--scaling", help="3D-CompNets' scaling CSV (same as --extra scaling=CSV)")
    p.add_argument("--predictions", nargs="*", default=[],
                   help="per-sample predictions CSVs (3D-CompNets: the unseen split gives Table 3 per class)")
    p.add_argument("--out-dir", required=True, help="tables go here (<paper>_table<N>.csv/.md, <paper>_claims.csv)")
    p.add_argument("--figures-dir", help="figures go here (default: --out-dir; nothing is written outside these)")


def write_chance(predictions: pd.DataFrame, path: Path) -> Path:
    """``<paper>_chance.csv``: every evaluation's accuracies against the chance of its samples (above / at / below)."""
    from robust3d.data.io import atomic_path
    from robust3d.evaluate.chance import chance_verdicts

    with atomic_path(path) as tmp:
        chance_verdicts(predictions).to_csv(tmp, index=False)
    return path


@command("tables", "build a paper's tables, claims and figures from metrics, training JSONs and predictions",
         _tables_args)
def tables(args: argparse.Namespace) -> int:
    from robust3d.papers import load_config, stage
    from robust3d.tables.sources import Sources

    paper = stage(args.paper)
    config = load_config(args.config) if args.config else None
    kwargs = {}
    if config is not None:
        from robust3d.byom import entries_for, model_id

        brought = [model_id(name) for name in entries_for(config, args.paper)]
        kwargs = {"models": [*paper.models(config), *brought], "seeds": paper.seeds(config),
                  "availability": lambda split, variant, level: paper.unavailable(config, split, variant, level)}
    extra = dict(args.extra)
    if args.scaling:
        extra["scaling"] = args.scaling
    sources = Sources.load(args.metrics, args.train_metrics, extra, args.predictions, benchmark=args.benchmark,
                           **kwargs)
    built, claims_df = paper.build(sources, config)
    figures_dir = Path(args.figures_dir or args.out_dir)
    written = paper.write(built, claims_df, args.out_dir, figures_dir)
    if sources.predictions is not None:
        written.append(write_chance(sources.predictions, Path(args.out_dir) / f"{args.paper}_chance.csv"))
    counts = claims_df["holds"].value_counts().to_dict()
    print(f"{args.paper}: {len(written)} files under {args.out_dir} and {figures_dir}; claims: "
          + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("true", "false", "untestable")))
    return 0
