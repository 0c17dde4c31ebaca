"""One row model of PDR's tables scored on one dataset: tidy metrics (clustering per feature set, the PCC, the
shape check, the validation losses) and the per-sample assignments behind its cluster purity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from robust3d.papers.pdr.tables import PAPER

BENCHMARK = "synthetic"


def _row(model: str, split: str, variant: str, metric: str, value: float, n: int) -> dict[str, Any]:
    return {"benchmark": BENCHMARK, "paper": PAPER, "model": model, "split": split, "variant": variant, "level": "0",
            "metric": metric, "value": float(value), "n": int(n)}


def _network(config: dict, dataset: str, checkpoint: str | None, random_init: str | None
             ) -> tuple[torch.nn.Module | None, str]:
    """The model whose features are scored, and its family (``pixels`` for the raw-pixel row)."""
    from robust3d.models.derender.train import build_model, load_trained
    from robust3d.papers.pdr.settings import model_settings

    if checkpoint:
        model = load_trained(checkpoint)
        return model, "vqvae" if model.__class__.__name__ == "VQCVAE" else "derender"
    if random_init:
        family, settings = model_settings(config, dataset, random_init)
        torch.manual_seed(int(config["seed"]))
        return build_model(family, settings, "none").eval(), family
    return None, "pixels"


def evaluate_row(config: dict, dataset: str, model: str, manifest: str, checkpoint: str | None,
                 random_init: str | None, raw_pixels: bool, record: str | None, out_metrics: str,
                 out_assignments: str) -> list[dict[str, Any]]:
    """Score one row model; write its metrics and assignments CSVs (atomically); return the metric rows."""
    from robust3d.data.io import atomic_path, read_json
    from robust3d.evaluate.clustering import clustering_metrics, group_pcc, track_means, ward_clusters
    from robust3d.models.derender.data import load_depth, load_images
    from robust3d.models.derender.evaluate import feature_sets, group_features, shape_errors, true_camera

    section = config[PAPER]
    data = section["datasets"][dataset]
    split = dataset
    size = int(section["size"])
    images, rows = load_images(manifest, size)
    net, family = _network(config, dataset, checkpoint, random_init)
    with torch.inference_mode():
        groups = group_features(net, family, images)
    labels = rows[data["label"]].astype(str).to_numpy()
    ids = rows[data["group"]].astype(str).to_numpy() if data.get("group") else rows["sample_id"].astype(str).to_numpy()
    metrics, assignments = [], []
    for variant, feats in feature_sets(groups).items():
        means, order = track_means(feats, ids)
        truth = np.asarray([labels[ids == g][0] for g in order])
        clusters = ward_clusters(means, len(set(truth)))
        scores = clustering_metrics(truth, clusters)
        metrics += [_row(model, split, variant, k, v, len(order)) for k, v in scores.items()]
        assignments.append(_assignments(model, split, variant, order, truth, clusters))
    if family == "derender":
        mean, mean_abs = group_pcc([groups[g] for g in ("depth", "albedo", "light", "view")], on_constant="skip")
        metrics += [_row(model, split, "all4", "pcc_mean", mean, len(images)),
                    _row(model, split, "all4", "pcc_abs_mean", mean_abs, len(images))]
        if checkpoint:
            depth, mask = load_depth(manifest, size)
            camera = true_camera(size, _focal_px(manifest))
            with torch.inference_mode():
                shape = shape_errors(net, images, depth, mask, camera)
            metrics += [_row(model, split, "shape", k, v, shape["n"]) for k, v in shape.items() if k != "n"]
    if record:
        run = read_json(record)
        for key in ("val_start", "val_end"):
            if run.get(key) is not None:
                metrics.append(_row(model, split, "train", key, run[key], run["n_val"]))
    with atomic_path(out_metrics) as tmp:
        pd.DataFrame(metrics).to_csv(tmp, index=False)
    with atomic_path(out_assignments) as tmp:
        pd.concat(assignments, ignore_index=True).to_csv(tmp, index=False)
    return metrics


def _assignments(model: str, split: str, variant: str, order: list, truth: np.ndarray, clusters: np.ndarray
                 ) -> pd.DataFrame:
    from robust3d.evaluate.clustering import majority_mapping

    mapped = majority_mapping(truth, clusters)
    return pd.DataFrame({"model": model, "split": split, "variant": variant, "sample_id": [str(g) for g in order],
                         "label": truth, "cluster": clusters, "hit": (mapped == truth).astype(int)})


def _focal_px(manifest: str) -> float:
    """The data renderer's focal length in pixels (focal x viewport) of the split's first annotation, at 64 px."""
    from robust3d.data.format import load_annotation, read_manifest

    first = read_manifest(manifest)["annotation"].iloc[0]
    ann = load_annotation(Path(manifest).parent / first)
    return float(np.asarray(ann["focal"]).reshape(-1)[0]) * float(np.asarray(ann["viewport"]).reshape(-1)[0])
