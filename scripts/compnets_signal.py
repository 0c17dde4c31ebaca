"""Whether 3D-CompNets' embedded run carries signal: issue 17's gates, per model, from a finished run's results.

    python scripts/compnets_signal.py [results] [--benchmark synthetic]

Prints (Markdown) for every trained model: IID (``test``) class accuracy and pose accuracy at pi/6 with their chance
verdicts (``compnets_chance.csv``), the median pose error, the share of front/back flips (azimuth off by more than
150 degrees) among all images and among the pose errors above pi/6, the epochs trained, whether training reached
the calibration plateau and the calibration curve (``train.json``); then the gates: every neural mesh model at
least 40% IID pose at pi/6, every model at least 85% IID class accuracy, the ViT rows within 10 points of the
ResNet rows on classification, every model above chance on IID pose. Exit status 1 when a gate is not met.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: (ViT row, its ResNet counterpart) of the classification gap gate.
VIT_PAIRS = (("dinov2_vitb14", "resnet50"), ("compnets_vitb14", "compnets_resnet50_n32"))
POSE_GATE, CLASS_GATE, VIT_GAP = 40.0, 85.0, 10.0


def flip_shares(pred: pd.DataFrame) -> tuple[float, float]:
    """Share of images whose azimuth is off by more than 150 degrees: of all, and of those with pose error > pi/6."""
    from robust3d.evaluate.metrics import pose_errors

    az = np.degrees(np.abs((pred["pred_azimuth"] - pred["azimuth"] + np.pi) % (2 * np.pi) - np.pi))
    flips = az > 150
    wrong = pose_errors(pred) >= np.pi / 6
    return 100.0 * float(flips.mean()), 100.0 * float(flips[wrong].mean()) if wrong.any() else float("nan")


def model_rows(results: Path, benchmark: str) -> pd.DataFrame:
    metrics = pd.read_csv(results / benchmark / "metrics.csv", dtype={"level": str})
    chance = pd.read_csv(results / "tables" / "compnets_chance.csv", dtype={"level": str})
    iid = metrics[(metrics["split"] == "test") & (metrics["variant"] == "clean")]
    rows = []
    from robust3d.papers.compnets.routes import is_unseen_set

    for train_json in sorted((results / "compnets" / "models").glob("*/train.json")):
        model = train_json.parent.name
        if is_unseen_set(model):  # Table 3's twins (separate model sets) have no IID evaluation
            continue
        stats = json.loads(train_json.read_text())
        value = iid[iid["model"] == model].set_index("metric")["value"]
        verdict = chance[(chance["model"] == model) & (chance["split"] == "test") & (chance["variant"] == "clean")]
        verdict = verdict.set_index("metric")["verdict"]
        pred = results / "compnets" / "predictions" / benchmark / model / "test" / "clean" / "0.csv"
        flips, flips_of_wrong = flip_shares(pd.read_csv(pred)) if pred.is_file() else (np.nan, np.nan)
        curve = [h.get("calibration_score", h.get("score")) for h in stats.get("history", stats.get("calibration", []))]
        rows.append({"model": model, "family": stats["family"], "start": stats.get("weights") or "random",
                     "class": value.get("class_accuracy", np.nan), "class_vs_chance": verdict.get("class_accuracy", ""),
                     "pose_pi6": value.get("pose_acc_pi6", np.nan), "pose_vs_chance": verdict.get("pose_acc_pi6", ""),
                     "median_deg": value.get("pose_median_deg", np.nan), "flips": flips,
                     "flips_of_errors": flips_of_wrong, "epochs": stats["epochs"],
                     "max_epochs": stats.get("max_epochs", stats["epochs"]), "converged": stats.get("converged"),
                     "cpu_min": stats.get("train_cpu_seconds", np.nan) / 60,
                     "curve": " ".join(f"{c:.0f}" for c in curve if c is not None)})
    return pd.DataFrame(rows)


def gates(df: pd.DataFrame) -> list[tuple[str, bool, str]]:
    """(gate, met, the numbers behind it)."""
    mesh = df[df["family"] == "neural_mesh"]
    by = df.set_index("model")
    out = [(f"every neural mesh model >= {POSE_GATE:g}% IID pose at pi/6", bool((mesh["pose_pi6"] >= POSE_GATE).all()),
            ", ".join(f"{m} {v:.1f}" for m, v in zip(mesh["model"], mesh["pose_pi6"], strict=True))),
           (f"every model >= {CLASS_GATE:g}% IID classification", bool((df["class"] >= CLASS_GATE).all()),
            ", ".join(f"{m} {v:.1f}" for m, v in zip(df["model"], df["class"], strict=True)))]
    gaps = [(v, r, by.loc[r, "class"] - by.loc[v, "class"]) for v, r in VIT_PAIRS if v in by.index and r in by.index]
    out.append((f"ViT rows within {VIT_GAP:g} points of the ResNet rows on classification",
                all(abs(g) <= VIT_GAP for *_, g in gaps), ", ".join(f"{r} - {v} = {g:+.1f}" for v, r, g in gaps)))
    out.append(("every model above chance on IID pose", bool((df["pose_vs_chance"] == "above chance").all()),
                ", ".join(f"{m} {v}" for m, v in zip(df["model"], df["pose_vs_chance"], strict=True))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", help="the results folder of a run")
    parser.add_argument("--benchmark", default="synthetic")
    args = parser.parse_args(argv)
    df = model_rows(Path(args.results), args.benchmark)
    if df.empty:
        print(f"no trained 3D-CompNets models under {args.results}/compnets/models", file=sys.stderr)
        return 1
    print(df.to_markdown(index=False, floatfmt=".1f"))
    print()
    met = True
    for name, ok, numbers in gates(df):
        met &= ok
        print(f"- {'met' if ok else 'NOT met'}: {name} ({numbers})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
