"""A row model from the config: built (seeded), fine-tuned on the training queries with their positive templates,
or loaded, then scored (:mod:`robust3d.papers.templates.scoring`)."""

from __future__ import annotations

from pathlib import Path

import torch

from robust3d.papers.templates.data import load_split, nearest_templates
from robust3d.papers.templates.scoring import (
    chance_rows,
    epoch_evaluation,
    load_eval_splits,
    metric_rows,
    pixel_cells,
    retrieve_all,
    symmetries_of,
    write_outputs,
)
from robust3d.papers.templates.tables import COMPUTED, PAPER, SANITY


def build(config: dict, model: str) -> torch.nn.Module:
    """The matcher of ``templates.models.<model>`` at its seeded initialisation (backbone weights as configured)."""
    from robust3d.models.templates.matcher import build_matcher

    section = config[PAPER]
    torch.manual_seed(int(config["seed"]))
    return build_matcher(section["models"][model], section["backbones"], config["results"])


def fit(config: dict, model: str, train_manifest: str, manifests: dict[str, str], out: str | Path,
        record: str | Path) -> dict:
    """Fine-tune ``model`` (it must have a schedule): training queries of the seen objects, each paired with its
    object's template nearest its view (within the grid's covering radius); Acc15 on the test groups after every
    epoch."""
    from robust3d.models.runtime import training_settings
    from robust3d.models.templates.similarity import cell_mask
    from robust3d.models.templates.train import finetune

    section = config[PAPER]
    spec = section["models"][model]
    if not spec.get("schedule"):
        raise ValueError(f"templates.models.{model} has no schedule: it is not fine-tuned")
    schedule = section["schedules"][spec["schedule"]]
    templates, queries = load_eval_splits(config, manifests)
    train = load_split(train_manifest, int(section["image_size"]))
    if not train.rows["seen"].all():
        unseen = sorted(set(train.rows.loc[~train.rows["seen"], "object"]))
        raise ValueError(f"{train_manifest} has queries of unseen objects ({', '.join(unseen)}): they must never "
                         "reach training")
    positive, angle = nearest_templates(train.rows, templates.rows, symmetries_of(config))
    with training_settings(int(section["num_threads"])):
        net = build(config, model)
    grid = net.grid(tuple(templates.images.shape[-2:]))
    masks = cell_mask(templates.masks[torch.from_numpy(positive)], grid)
    result = finetune(net, train.images, templates.images[torch.from_numpy(positive)], masks, schedule,
                      int(config["seed"]), out, record, temperature=float(section["temperature"]),
                      num_threads=int(section["num_threads"]), name=model,
                      run_config={"model": model, "spec": dict(spec), "image_size": int(section["image_size"])},
                      evaluate=epoch_evaluation(config, templates, queries),
                      record_extra={"positive_angle_deg": {"max": float(angle.max()), "mean": float(angle.mean())}})
    return result


def evaluate_row(config: dict, model: str, manifests: dict[str, str], checkpoint: str | None,
                 out_predictions: str | Path, out_metrics: str | Path) -> list[dict]:
    """Score one row model on every group and query set; write its predictions and metrics; return the metrics."""
    from robust3d.models.runtime import training_settings

    section = config[PAPER]
    known = [*section["models"], *COMPUTED, *SANITY]
    if model not in known:
        raise ValueError(f"unknown templates row model '{model}' (known: {', '.join(known)})")
    templates, queries = load_eval_splits(config, manifests)
    with training_settings(int(section["num_threads"])):
        if model == "chance":
            rows = chance_rows(config, templates, queries)
            write_outputs(None, rows, out_predictions, out_metrics)
            return rows
        featurise = None
        if model == "pixels":
            featurise = pixel_cells
        elif model != "oracle":
            net = build(config, model)
            if section["models"][model].get("schedule"):
                if not checkpoint:
                    raise ValueError(f"templates.models.{model} is fine-tuned: pass its --checkpoint")
                net.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
            elif checkpoint:
                raise ValueError(f"templates.models.{model} is not fine-tuned: it takes no --checkpoint")
            featurise = net.eval()
        predictions = retrieve_all(config, model, featurise, templates, queries)
    rows = metric_rows(predictions)
    write_outputs(predictions, rows, out_predictions, out_metrics)
    return rows
