"""Predictions of a trained neural mesh model on a split: class by Eq. 7, pose by render-and-compare (Eq. 8).

Per batch of images: unit feature maps from the model's backbone, class scores of every class in one matrix
product (``classify``), then the pose with the predicted class's features (3D-CompNets Sec. 3.4). With
``unseen=True`` (classes the model was never trained on, Table 3) the class whose best initial pose explains
the feature map best (lowest Eq. 8 loss) gives the features, and is reported as both ``pred_class`` and
``pose_class``. With ``pose_from="gt"`` (NeMo's protocol, the NTDM paper's NeMo row) the pose is estimated with
each image's ground-truth class's features (``pose_class`` = the true class; a class the model does not know is an
error) and ``pred_class`` is Eq. 7's, or empty when the model spec says ``classify: false`` (then no class scores
are computed at all). ``seconds`` is the batch's wall time (backbone, classification, pose; plus the one-off
initial-pose renders of any class a batch is the first to need) divided by its size.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from robust3d.models.spec import ModelSpec

DEFAULT_BATCH = 64  # images per batch; pose refinement gets cheaper per image with bigger batches
DEFAULT_CACHE_MB = 4096  # initial-pose renders kept (schema default of compnets.pose.cache_mb)


def predict(section: dict, spec: ModelSpec, checkpoint: Path, manifest: Path, out_csv: Path, *, device: str = "cpu",
            unseen: bool = False, progress: bool = True, pose_from: str = "predicted") -> None:
    """Write the predictions CSV of ``manifest`` (the contract's columns) atomically to ``out_csv``.

    ``pose_from``: ``"predicted"`` (the pose with the predicted class, or with ``unseen`` the lowest-loss class) or
    ``"gt"`` (with each image's ground-truth class); ``spec.options["classify"]`` false (only with ``"gt"``) leaves
    ``pred_class`` empty."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from robust3d.data.format import read_manifest
    from robust3d.evaluate.predictions import write_predictions
    from robust3d.models.data import ManifestDataset, collate
    from robust3d.models.neural_mesh.classify import classify
    from robust3d.models.neural_mesh.inference import (
        FeatureCamera,
        InitialPoseCache,
        estimate_pose,
        initial_pose_grid,
        lowest_loss_class,
    )
    from robust3d.models.neural_mesh.mesh import NeuralMeshModel
    from robust3d.models.neural_mesh.options import POSE_FROM
    from robust3d.models.runtime import resolve_device

    if pose_from not in POSE_FROM:
        raise ValueError(f"pose_from must be one of {', '.join(POSE_FROM)}, got {pose_from!r}")
    with_classes = bool(spec.options.get("classify", True))
    if not with_classes and pose_from != "gt":
        raise ValueError(f"model '{spec.name}' does not classify (classify: false): its pose needs pose_from='gt'")
    gt_pose = pose_from == "gt"
    pose_cfg = section["pose"]
    steps, lr = int(pose_cfg["refine_steps"]), float(pose_cfg["lr"])
    batch_size = int(pose_cfg.get("batch_size", DEFAULT_BATCH))
    device = resolve_device(device)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(int(section["train"]["num_threads"]))
    try:
        model = NeuralMeshModel.load(checkpoint, map_location=device)
        backbone = model.build_backbone().to(device)
        dataset = ManifestDataset(manifest, model.classes, allow_unknown=unseen)
        if gt_pose and min(dataset.class_index, default=0) < 0:
            unknown = sorted({r["class"] for r, c in zip(dataset.rows, dataset.class_index, strict=True) if c < 0})
            raise ValueError(f"pose_from='gt': {manifest} has classes {unknown} the model has no mesh of "
                             f"(it knows {model.classes})")
        cache_bytes = int(pose_cfg.get("cache_mb", DEFAULT_CACHE_MB)) * 2**20
        cache = InitialPoseCache(initial_pose_grid(pose_cfg), max_bytes=cache_bytes)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
        results: dict[int, dict] = {}
        bar = tqdm(total=len(dataset), disable=not progress, desc=f"predict {spec.name}", unit="img")
        for batch in loader:
            start = time.perf_counter()
            with torch.no_grad():
                fmap = F.normalize(backbone(batch["image"].to(device)), dim=1)
                pred = (classify(fmap, model.features, model.n_vertices, model.background).argmax(1)
                        if with_classes else None)
            cameras = [FeatureCamera.from_annotation(a, model.stride, fmap.shape[-2:]) for a in batch["annotation"]]
            pose_class = batch["class_index"].to(device) if gt_pose else pred.clone()
            poses = torch.zeros(len(cameras), 3, device=device)
            for camera in dict.fromkeys(cameras):  # images of one camera share the cached initial renders
                sel = torch.tensor([c == camera for c in cameras], device=device).nonzero().squeeze(1)
                if unseen and not gt_pose:
                    pose_class[sel] = lowest_loss_class(fmap[sel], model, camera, cache)[0]
                est = estimate_pose(fmap[sel], pose_class[sel], model, camera, cache, steps, lr)
                poses[sel] = torch.stack([est.azimuth, est.elevation, est.theta], 1).to(poses)
            if unseen and not gt_pose:
                pred = pose_class
            seconds = (time.perf_counter() - start) / len(cameras)
            for j, i in enumerate(batch["index"].tolist()):
                ann = batch["annotation"][j]
                results[i] = {"class": batch["row"][j]["class"],
                              "pred_class": model.classes[int(pred[j])] if pred is not None else "",
                              **{k: float(ann[k]) for k in ("azimuth", "elevation", "theta")},
                              **{f"pred_{k}": float(poses[j, n]) for n, k in enumerate(("azimuth", "elevation",
                                                                                        "theta"))},
                              "pose_class": model.classes[int(pose_class[j])], "seconds": seconds}
            bar.update(len(cameras))
        bar.close()
    finally:
        torch.set_num_threads(threads_before)
    write_predictions(_table(results, read_manifest(manifest), manifest, spec.name), out_csv)


def _table(results: dict[int, dict], manifest_df: pd.DataFrame, manifest: Path, model: str) -> pd.DataFrame:
    """Rows in manifest order, with the manifest's ``sample_id`` and ``split/variant/level``."""
    from robust3d.evaluate.predictions import PREDICTION_COLUMNS, sample_keys

    keys = sample_keys(manifest_df, manifest)
    rows = [{"sample_id": manifest_df["sample_id"].iloc[i], **results[i], "model": model,
             **keys.iloc[i].to_dict()} for i in range(len(manifest_df))]
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
