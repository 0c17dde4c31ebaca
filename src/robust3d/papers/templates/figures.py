"""Template matching's figures from the stage's outputs: Acc at every threshold per model (the ``thresholds`` table
as curves) and retrieval examples (queries of the unseen objects, clean and occluded, and of the seen objects
occluded, each beside what the fine-tuned and frozen matchers retrieved and the template nearest its true view)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from robust3d.papers.templates.tables import GROUPS, PAPER, label

FIGURES = ("thresholds", "retrievals")
CAPTIONS = {"thresholds": "Class-and-pose accuracy against the error threshold (clean queries), per model",
            "retrievals": "Retrieval examples: each query (first column), the template each model retrieved (green: "
                          "right object within 15 degrees, red: wrong) and the template nearest its true view"}
#: (group, queries) shown in the retrieval examples, and queries per block.
EXAMPLE_BLOCKS = (("unseen", "clean"), ("unseen", "occluded"), ("seen", "occluded"))
EXAMPLES_PER_BLOCK = 3


def figure_paths(figures_dir: str | Path) -> list[str]:
    return [f"{figures_dir}/{PAPER}_{name}.png" for name in FIGURES]


def threshold_data(config: dict, metrics: pd.DataFrame) -> dict[str, dict[str, dict[float, float]]]:
    from robust3d.evaluate.template_metrics import THRESHOLDS

    m = metrics[(metrics["variant"] == "clean") & (metrics["level"].astype(str) == "0")]
    curves: dict[str, dict[str, dict[float, float]]] = {}
    models = [x for x in [*config[PAPER]["models"], "pixels", "oracle", "chance"] if x in set(m["model"])]
    for group in GROUPS:
        part = m[m["split"] == group]
        curves[f"{group} objects, clean queries"] = {
            label(config, model): {float(k): float(v) for k in THRESHOLDS
                                   for v in part[(part["model"] == model) & (part["metric"] == f"acc{k}")]["value"]}
            for model in models}
    return curves


def _image(manifest: Path, rows: pd.DataFrame, sample_id: str) -> np.ndarray:
    from robust3d.data.io import read_image

    return read_image(manifest.parent / rows.loc[sample_id, "image"])


def example_rows(config: dict, predictions: pd.DataFrame, manifests: dict[str, str]) -> tuple[list, list[str]]:
    """The retrieval grid's rows and header: for each block, a few queries spread over its objects."""
    from robust3d.data.format import read_manifest

    paths = {k: Path(v) for k, v in manifests.items()}
    frames = {k: read_manifest(p).set_index("sample_id") for k, p in paths.items()}
    templates = frames["templates"].reset_index()
    template_id = {(str(r.object), int(r.view_index)): str(r.sample_id) for r in templates.itertuples(index=False)}
    shown = [m for m in ("vit_ft", "resnet_ft", "vit_frozen", "resnet_frozen", "oracle")
             if m in set(predictions["model"])]
    header = ["query", *[m.replace("_", " ") for m in shown]]
    rows = []
    for group, queries in EXAMPLE_BLOCKS:
        key = "queries" if queries == "clean" else "queries_occluded"
        block = predictions[(predictions["split"] == group) & (predictions["variant"] == queries)]
        ids = sorted(set(block["sample_id"].astype(str)))
        picks = ids[:: max(len(ids) // EXAMPLES_PER_BLOCK, 1)][:EXAMPLES_PER_BLOCK]
        for sid in picks:
            row = [(_image(paths[key], frames[key], sid), f"{group} {queries}", None)]
            for model in shown:
                p = block[(block["model"] == model) & (block["sample_id"].astype(str) == sid)].iloc[0]
                tid = template_id[(str(p["pred_object"]), int(p["pred_view_index"]))]
                hit = str(p["pred_object"]) == str(p["object"]) and float(p["error_deg"]) <= 15
                row.append((_image(paths["templates"], frames["templates"], tid),
                            f"{p['pred_object']} {float(p['error_deg']):.0f}deg", hit))
            rows.append(row)
    return rows, header


def draw(config: dict, metrics_csv: str | Path, predictions_csv: str | Path, manifests: dict[str, str],
         figures_dir: str | Path) -> list[Path]:
    from robust3d.figures.retrieval import retrieval_grid, threshold_curves

    figures_dir = Path(figures_dir)
    metrics, predictions = pd.read_csv(metrics_csv), pd.read_csv(predictions_csv)
    out = [threshold_curves(threshold_data(config, metrics), figures_dir / f"{PAPER}_thresholds.png",
                            "Template matching (ours): accuracy against the threshold")]
    rows, header = example_rows(config, predictions, manifests)
    out.append(retrieval_grid(rows, header, figures_dir / f"{PAPER}_retrievals.png"))
    return out
