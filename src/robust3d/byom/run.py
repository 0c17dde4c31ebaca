"""Running a brought model over a split: the predictions CSV of the contract, or a features file.

The model sees what a paper's own models see at test time (images and the dataset's camera, never the labels);
``fit`` (when the model has one) sees the paper's train split with its labels first. The CSV has the same
columns as every family's (:mod:`robust3d.evaluate.predictions`), so the shared metrics and tables read it
unchanged; a model that provides no class or no pose leaves those columns empty, and the tables say why.
With ``amodal_mask`` the CSV also has ``amodal_iou``, each sample's IoU (%) with the dataset's amodal mask.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robust3d.byom import model_id
from robust3d.byom.interface import POSE_KEYS, check_features, check_prediction, load_model

INTRINSICS = ("distance", "focal", "viewport", "principal")


def _batches(manifest: Path, classes: list[str], batch_size: int, *, labels: bool, masks: bool = False,
             allow_unknown: bool = False, progress: str = "") -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(what the model sees, the collated batch) over a manifest, in manifest order."""
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from robust3d.models.data import ManifestDataset, collate

    dataset = ManifestDataset(manifest, classes, allow_unknown=allow_unknown, with_masks=masks)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    for batch in tqdm(loader, desc=progress, disable=not progress, unit="batch"):
        shown = {"images": batch["image"], "sample_ids": [str(r["sample_id"]) for r in batch["row"]],
                 "camera": {k: batch["camera"][k] for k in INTRINSICS}}
        if labels:
            shown.update({"class": [str(r["class"]) for r in batch["row"]], "class_index": batch["class_index"],
                          **{k: batch["camera"][k] for k in POSE_KEYS}})
        yield shown, batch


def build(name: str, entry: dict, classes: list[str], train_manifest: Path | None, progress: bool = True) -> Any:
    """The entry's model, fitted on the train split when it has ``fit`` and a train split is given."""
    model = load_model(name, entry, classes)
    if callable(getattr(model, "fit", None)) and train_manifest is not None:
        model.fit(shown for shown, _ in _batches(Path(train_manifest), classes, int(entry["batch_size"]),
                                                 labels=True, progress=f"fit {name}" if progress else ""))
    return model


def _iou(pred: np.ndarray, truth: torch.Tensor | None) -> float:
    from robust3d.evaluate.metrics import mask_iou

    return float("nan") if truth is None else mask_iou(pred, truth.numpy())


def predict_split(name: str, entry: dict, manifest: str | Path, out_csv: str | Path, classes: list[str],
                  train_manifest: str | Path | None = None, unseen: bool = False, progress: bool = True) -> Path:
    """Write the predictions CSV of ``manifest`` for the ``byom:`` entry ``name`` (model id ``byom-<name>``).
    ``classes``: the paper's training classes (the model's label set); with ``unseen`` the manifest's classes may
    lie outside them (the unseen-class splits, scored on pose only)."""
    import pandas as pd

    from robust3d.evaluate.predictions import sample_keys, write_predictions

    manifest = Path(manifest)
    provides = list(entry["provides"])
    model = build(name, entry, classes, None if train_manifest is None else Path(train_manifest), progress)
    masks = "amodal_mask" in provides
    records = []
    for shown, batch in _batches(manifest, classes, int(entry["batch_size"]), labels=False, masks=masks,
                                 allow_unknown=unseen, progress=f"predict {name}" if progress else ""):
        n = len(shown["sample_ids"])
        started = time.perf_counter()
        with torch.no_grad():
            out = check_prediction(name, model.predict(shown), provides, classes, n,
                                   tuple(shown["images"].shape[-2:]))
        seconds = (time.perf_counter() - started) / n
        for i, row in enumerate(batch["row"]):
            camera = batch["camera"]
            record = {"sample_id": row["sample_id"], "class": row["class"],
                      "pred_class": out["class"][i] if "class" in out else "",
                      **{k: float(camera[k][i]) for k in POSE_KEYS},
                      **{f"pred_{k}": float(out[k][i]) if k in out else float("nan") for k in POSE_KEYS},
                      "pose_class": out["class"][i] if "class" in out else "", "seconds": seconds,
                      "model": model_id(name), "_row": row}
            if masks:
                record["amodal_iou"] = _iou(out["amodal_mask"][i], batch["mask_amodal"][i])
            records.append(record)
    df = pd.DataFrame(records)
    keys = sample_keys(pd.DataFrame([r.pop("_row") for r in records]), manifest)
    df = df.drop(columns="_row").assign(split=keys["split"].to_numpy(), variant=keys["variant"].to_numpy(),
                                        level=keys["level"].to_numpy())
    write_predictions(df, out_csv)
    return Path(out_csv)


def extract_features(name: str, entry: dict, manifest: str | Path, out_npz: str | Path, classes: list[str],
                     train_manifest: str | Path | None = None, progress: bool = True) -> Path:
    """``features (N, D)`` and ``sample_id (N,)`` of a split in one ``.npz`` (written atomically), for the papers
    that fit their own probes on a model's features."""
    from robust3d.data.io import atomic_path

    model = build(name, entry, classes, None if train_manifest is None else Path(train_manifest), progress)
    feats, ids = [], []
    for shown, _ in _batches(Path(manifest), classes, int(entry["batch_size"]), labels=False, allow_unknown=True,
                             progress=f"features {name}" if progress else ""):
        with torch.no_grad():
            feats.append(check_features(name, model.features(shown), len(shown["sample_ids"])))
        ids += shown["sample_ids"]
    with atomic_path(out_npz) as tmp, open(tmp, "wb") as f:
        np.savez(f, features=np.concatenate(feats), sample_id=np.asarray(ids))
    return Path(out_npz)
