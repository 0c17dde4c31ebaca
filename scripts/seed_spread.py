"""How much one 3D-CompNets-stage model's test metrics move with the training seed: the noise floor of the claims.

Training is deterministic for a given seed (``models.training.training_settings``), so the spread between models
in one run says nothing about how much of a gap is luck. This trains ``--model`` once per ``--seeds`` value on
the config's train split (calibration split for 3D-CompNets' confusion weights), predicts the test split, and
prints class accuracy, pose accuracy at pi/6 and median pose error per seed, then their mean, standard deviation
and range. Runs are resumable: a seed whose model file exists is not retrained.

    python scripts/seed_spread.py --model compnets_resnet50_n32 --seeds 0 1 2 [--config config.yaml]
                                  [--out results/seed_spread]

Needs the synthetic benchmark's train, calibration and test splits (``make run`` builds them).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--model", required=True, help="a key of compnets.models")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="results/seed_spread", help="models and predictions go here")
    parser.add_argument("--split", default="test", help="the split to evaluate (default: test)")
    args = parser.parse_args(argv)

    from robust3d.evaluate.metrics import group_metrics
    from robust3d.evaluate.predictions import read_predictions
    from robust3d.models.registry import family_module, model_spec
    from robust3d.papers import load_config
    from robust3d.papers.compnets.plan import CompnetsPlan

    cfg = load_config(args.config)
    spec = model_spec(cfg["compnets"], args.model)
    family = family_module(spec)
    plan = CompnetsPlan(cfg, "")
    train, calibration, test = plan.manifest("train"), plan.calibration_manifest, plan.manifest(args.split)
    missing = [p for p in (train, calibration, test) if not Path(p).is_file()]
    if missing:
        print(f"missing {', '.join(missing)}: build them with `make run` (or snakemake <path>)", file=sys.stderr)
        return 1
    rows = []
    for seed in args.seeds:
        run = copy.deepcopy(cfg)
        run["seed"] = seed
        folder = Path(args.out) / args.model / f"seed{seed}"
        model, predictions = folder / "model.pt", folder / f"{args.split}.csv"
        started = time.perf_counter()
        if not model.is_file():
            family.train(run["compnets"], spec, {"train": Path(train), "calibration": Path(calibration)}, model,
                         folder / "train.json", seed=seed, device=run["device"])
        if not predictions.is_file():
            family.predict(run["compnets"], spec, model, Path(test), predictions, device=run["device"])
        metrics = group_metrics(read_predictions(predictions))
        rows.append({"seed": seed, **metrics})
        print(f"seed {seed}: class {metrics['class_accuracy']:.1f}%  pose pi/6 {metrics['pose_acc_pi6']:.1f}%  "
              f"median {metrics['pose_median_deg']:.1f} deg  ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"\n{args.model} on {args.split} over seeds {args.seeds}:")
    markdown = [f"| {args.model} ({args.split}) | " + " | ".join(f"s{r['seed']}" for r in rows) + " | mean | sd |",
                "| --- |" + " --- |" * (len(rows) + 2)]
    for key in ("class_accuracy", "pose_acc_pi6", "pose_median_deg"):
        values = [r[key] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(f"  {key:16s} mean {statistics.mean(values):6.1f}  sd {sd:5.1f}  range {min(values):.1f}-"
              f"{max(values):.1f}")
        markdown.append(f"| {key} | " + " | ".join(f"{v:.1f}" for v in values)
                        + f" | {statistics.mean(values):.1f} | {sd:.1f} |")
    print("\nFor docs/papers/compnets.md:\n\n" + "\n".join(markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
