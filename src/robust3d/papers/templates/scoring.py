"""Scoring one row model: encode the template bank and the queries once, retrieve per object group and query set,
write the predictions (one row per query) and the tidy metrics.

Row models: a matcher (trained checkpoint, or at its seeded initialisation), ``pixels`` (16 x 16 RGB patches as
cells), ``oracle`` (the template nearest the true view of the true object) and ``chance`` (the expected accuracy of
a random template of the group; metrics only).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from robust3d.evaluate.template_metrics import chance_of_group, summary, viewpoint_errors
from robust3d.papers.templates.data import Split, load_split, nearest_templates
from robust3d.papers.templates.tables import GROUPS, PAPER

PREDICTION_COLUMNS = ["model", "split", "variant", "sample_id", "object", "seen", "azimuth", "elevation",
                      "pred_object", "pred_view_index", "pred_azimuth", "pred_elevation", "error_deg", "score"]
#: Query sets: (variant, manifest key, use the occlusion-aware cut).
VARIANTS = (("clean", "queries", True), ("occluded", "queries_occluded", True),
            ("occluded_nothr", "queries_occluded", False))
PIXEL_PATCH = 16


def pixel_cells(images: torch.Tensor) -> torch.Tensor:
    """Raw-pixel 'features': each 16 x 16 RGB patch flattened, ``(B, 768, H / 16, W / 16)`` (images in [0, 1])."""
    b, c, h, w = images.shape
    patches = torch.nn.functional.unfold(images, PIXEL_PATCH, stride=PIXEL_PATCH)
    return patches.reshape(b, c * PIXEL_PATCH**2, h // PIXEL_PATCH, w // PIXEL_PATCH)


def symmetries_of(config: dict) -> dict[str, str]:
    return dict(config[PAPER].get("symmetries") or {})


def _errors(config: dict, queries: pd.DataFrame, pred_az: np.ndarray, pred_el: np.ndarray) -> np.ndarray:
    section = config[PAPER]
    sym = [symmetries_of(config).get(o, "none") for o in queries["object"]]
    quirk = None
    if section.get("reference_quirks"):
        quirk = queries["object"].isin(section.get("quirk_objects") or []).to_numpy()
    return viewpoint_errors(pred_az, pred_el, queries["azimuth"], queries["elevation"], sym, quirk)


def _prediction_rows(config: dict, model: str, group: str, variant: str, queries: pd.DataFrame,
                     templates: pd.DataFrame, picked: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    chosen = templates.iloc[picked]
    pred_az, pred_el = chosen["azimuth"].to_numpy(), chosen["elevation"].to_numpy()
    return pd.DataFrame({
        "model": model, "split": group, "variant": variant, "sample_id": queries["sample_id"].astype(str).to_numpy(),
        "object": queries["object"].to_numpy(), "seen": queries["seen"].to_numpy(),
        "azimuth": queries["azimuth"].to_numpy(), "elevation": queries["elevation"].to_numpy(),
        "pred_object": chosen["object"].to_numpy(), "pred_view_index": chosen["view_index"].to_numpy(),
        "pred_azimuth": pred_az, "pred_elevation": pred_el, "error_deg": _errors(config, queries, pred_az, pred_el),
        "score": scores})


def group_of(split: Split, group: str) -> Split:
    return split.where((split.rows["seen"] == (group == "seen")).to_numpy())


def retrieve_all(config: dict, model: str, featurise: Callable[[torch.Tensor], torch.Tensor] | None,
                 templates: Split, queries: dict[str, Split]) -> pd.DataFrame:
    """Predictions of every (group, variant) for a feature function (None: the oracle)."""
    from robust3d.models.templates.retrieval import TemplateBank, encode

    section = config[PAPER]
    bank = None
    if featurise is not None:
        bank = TemplateBank(encode(featurise, templates.images, section["batch_size"]), templates.masks,
                            templates.objects)
    encoded: dict[str, torch.Tensor] = {}
    frames = []
    for variant, key, cut in VARIANTS:
        if featurise is None and variant.endswith("_nothr"):
            continue
        for group in GROUPS:
            q = group_of(queries[key], group)
            if not len(q.rows):
                continue
            objects = sorted(set(templates.rows.loc[templates.rows["seen"] == (group == "seen"), "object"]))
            if featurise is None:
                picked, _ = nearest_templates(q.rows, templates.rows, symmetries_of(config))
                scores = np.ones(len(picked))
            else:
                cache = f"{key}/{group}"
                if cache not in encoded:
                    encoded[cache] = encode(featurise, q.images, section["batch_size"])
                idx, best = bank.retrieve(encoded[cache], objects, section["threshold"] if cut else None)
                picked, scores = idx.numpy(), best.numpy()
            frames.append(_prediction_rows(config, model, group, variant, q.rows, templates.rows, picked, scores))
    return pd.concat(frames, ignore_index=True)


def metric_rows(predictions: pd.DataFrame, benchmark: str = "synthetic") -> list[dict]:
    rows = []
    for (model, group, variant), part in predictions.groupby(["model", "split", "variant"], sort=False):
        for metric, value in summary(part).items():
            rows.append({"benchmark": benchmark, "paper": PAPER, "model": model, "split": group,
                         "variant": variant, "level": "0", "metric": metric, "value": value, "n": len(part)})
    return rows


def chance_rows(config: dict, templates: Split, queries: dict[str, Split], benchmark: str = "synthetic"
                ) -> list[dict]:
    rows = []
    for variant, key, _ in VARIANTS[:2]:
        for group in GROUPS:
            q = group_of(queries[key], group)
            t = group_of(templates, group)
            if not len(q.rows):
                continue
            per_query = chance_of_group(q.rows, t.rows, symmetries_of(config))
            for metric in [c for c in per_query.columns if c not in ("sample_id", "object")]:
                rows.append({"benchmark": benchmark, "paper": PAPER, "model": "chance", "split": group,
                             "variant": variant, "level": "0", "metric": metric,
                             "value": float(per_query[metric].mean()), "n": len(per_query)})
    return rows


def load_eval_splits(config: dict, manifests: dict[str, str]) -> tuple[Split, dict[str, Split]]:
    size = int(config[PAPER]["image_size"])
    templates = load_split(manifests["templates"], size)
    queries = {k: load_split(manifests[k], size) for k in ("queries", "queries_occluded")}
    return templates, queries


def epoch_evaluation(config: dict, templates: Split, queries: dict[str, Split]
                     ) -> Callable[[torch.nn.Module, int], dict]:
    """The per-epoch test of a fine-tuning run: ``{"<group>/<variant>/acc15": percent}`` for clean and occluded."""

    def evaluate(model: torch.nn.Module, epoch: int) -> dict:
        preds = retrieve_all(config, "epoch", model, templates, queries)
        preds = preds[~preds["variant"].str.endswith("_nothr")]
        return {f"{g}/{v}/acc15": float(summary(part)["acc15"])
                for (g, v), part in preds.groupby(["split", "variant"])}

    return evaluate


def write_outputs(predictions: pd.DataFrame | None, metrics: list[dict], out_predictions: str | Path,
                  out_metrics: str | Path) -> None:
    from robust3d.data.io import atomic_path

    with atomic_path(out_predictions) as tmp:
        (predictions if predictions is not None else pd.DataFrame(columns=PREDICTION_COLUMNS)).to_csv(tmp,
                                                                                                      index=False)
    with atomic_path(out_metrics) as tmp:
        pd.DataFrame(metrics).to_csv(tmp, index=False)
