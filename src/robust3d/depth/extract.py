"""Run a depth backend over a split and write its pseudo-depth beside a manifest that still resolves.

``extract_depth`` writes ``<out_dir>/depth/<sample_id>.npy`` (float32, metric) and ``<out_dir>/manifest.csv``: the
input manifest plus a ``pseudo_depth`` column, with every path rewritten relative to ``out_dir``. The folder
appears only when complete (``atomic_dir``). ``evaluate_depth`` scores pseudo-depth against the true depth.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from robust3d.data.format import read_manifest, relocate_manifest
from robust3d.data.io import atomic_dir, read_image, read_npy, write_npy
from robust3d.depth.backends import DepthBackend, get_backend
from robust3d.depth.metrics import aggregate, per_image_background_abs_rel, per_image_depth_metrics

PSEUDO_DEPTH = "pseudo_depth"


def _batches(df: pd.DataFrame, root: Path, batch_size: int):
    """Consecutive rows as ``(rows, images[B,3,H,W] in [0,1])``; a change of image size starts a new batch."""
    rows: list[int] = []
    imgs: list[np.ndarray] = []
    for i, rel in enumerate(df["image"]):
        img = read_image(root / rel)
        if imgs and (img.shape != imgs[0].shape or len(imgs) == batch_size):
            yield rows, torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255
            rows, imgs = [], []
        rows.append(i)
        imgs.append(img)
    if imgs:
        yield rows, torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255


def extract_depth(manifest: Path, backend: DepthBackend | str, out_dir: Path, batch_size: int = 16,
                  progress: bool = True, **backend_kwargs: Any) -> pd.DataFrame:
    """Pseudo-depth for every image of the split ``manifest``; returns the manifest written to ``out_dir``."""
    manifest, out_dir = Path(manifest), Path(out_dir)
    if isinstance(backend, str):
        backend = get_backend(backend, **backend_kwargs)
    src, dst = manifest.parent.resolve(), out_dir.resolve()
    if dst == src or dst in src.parents:
        raise ValueError(f"out_dir {out_dir} would replace the folder of its input {manifest}; choose another")
    df = read_manifest(manifest)
    if not df["sample_id"].is_unique:
        raise ValueError(f"{manifest} repeats sample ids; their depth files would collide")
    if df.empty:
        raise ValueError(f"{manifest} has no samples")
    out = relocate_manifest(df, src, dst)
    out[PSEUDO_DEPTH] = [f"depth/{sid}.npy" for sid in df["sample_id"]]

    with atomic_dir(dst) as tmp:
        bar = tqdm(total=len(df), disable=not progress, desc=f"depth ({backend.name})", unit="img")
        for rows, images in _batches(df, src, batch_size):
            depth = backend.predict(images)
            if depth.shape != (len(rows), *images.shape[-2:]):
                raise RuntimeError(f"backend {backend.name} returned {tuple(depth.shape)} for images "
                                   f"{tuple(images.shape)}")
            for i, d in zip(rows, depth.numpy().astype(np.float32), strict=True):
                write_npy(tmp / out[PSEUDO_DEPTH].iat[i], d)
            bar.update(len(rows))
        bar.close()
        out.to_csv(tmp / "manifest.csv", index=False)
    return out


def evaluate_depth(manifest: Path, column: str = PSEUDO_DEPTH, baseline_depth: float | None = None,
                   batch_size: int = 64) -> dict[str, float]:
    """Depth metrics of ``column`` against the true ``depth`` on valid pixels (true depth > 0), per-image mean, and
    ``background_abs_rel``: its AbsRel on the background pixels against the project's backdrop depth.

    With ``baseline_depth`` (the median of the training depths), the constant baseline's metrics are added with
    the prefix ``baseline_``. A prediction of another resolution is resized (bilinear) to the true depth's.
    """
    manifest = Path(manifest)
    root = manifest.parent
    df = read_manifest(manifest)
    if column not in df.columns:
        raise ValueError(f"{manifest} has no column '{column}'")
    df = df[(df[column] != "") & (df["depth"] != "")]
    if df.empty:
        raise ValueError(f"{manifest} has no sample with both '{column}' and a true depth")
    per_image: list[dict[str, torch.Tensor]] = []
    per_base: list[dict[str, torch.Tensor]] = []
    per_background: list[dict[str, torch.Tensor]] = []
    for start in range(0, len(df), batch_size):
        part = df.iloc[start:start + batch_size]
        preds, gts = [], []
        for pred_rel, gt_rel in zip(part[column], part["depth"], strict=True):
            gt = torch.from_numpy(read_npy(root / gt_rel).astype(np.float32))
            pred = torch.from_numpy(read_npy(root / pred_rel).astype(np.float32))
            if pred.shape != gt.shape:
                pred = F.interpolate(pred[None, None], size=gt.shape, mode="bilinear", align_corners=False)[0, 0]
            preds.append(pred)
            gts.append(gt)
        if len({g.shape for g in gts}) == 1:
            groups = [(torch.stack(preds), torch.stack(gts))]
        else:
            groups = [(p[None], g[None]) for p, g in zip(preds, gts, strict=True)]
        for p, g in groups:
            per_image.append(per_image_depth_metrics(p, g))
            per_background.append(per_image_background_abs_rel(p, g))
            if baseline_depth is not None:
                per_base.append(per_image_depth_metrics(torch.full_like(g, baseline_depth), g))
    result = aggregate({k: torch.cat([m[k] for m in per_image]) for k in per_image[0]})
    background = aggregate({k: torch.cat([m[k] for m in per_background]) for k in per_background[0]},
                           metrics=("background_abs_rel",))
    result["background_abs_rel"] = background["background_abs_rel"]
    result["background_n_pixels"] = background["n_pixels"]
    if per_base:
        result.update(aggregate({k: torch.cat([m[k] for m in per_base]) for k in per_base[0]}, prefix="baseline_"))
    return result


def measure(train_manifests: list[Path], test_manifest: Path, out_dir: Path, epochs: int = 8, batch_size: int = 16,
            lr: float = 2e-3, image_size: int = 64, seed: int = 0, device: str = "cpu",
            progress: bool = True, num_threads: int | None = None) -> dict[str, Any]:
    """Train the local network, extract its depth on ``test_manifest`` and score it against the constant baseline.

    A measurement, not a test: it answers whether the pipeline's own depth network beats predicting the training
    median everywhere, in metric terms (AbsRel, RMSE) and in shape (relative-depth RMSE).
    """
    from robust3d.depth.local import train_local_depth

    out_dir = Path(out_dir)
    weights = out_dir / "local_depth.pt"
    t0 = time.perf_counter()
    train = train_local_depth([Path(m) for m in train_manifests], weights, epochs=epochs, batch_size=batch_size,
                              lr=lr, image_size=image_size, seed=seed, device=device, progress=progress,
                              num_threads=num_threads)
    train_wall = time.perf_counter() - t0
    backend = get_backend("local", weights=weights, device=device)
    t1 = time.perf_counter()
    extract_depth(Path(test_manifest), backend, out_dir / "test", progress=progress)
    extract_wall = time.perf_counter() - t1
    scores = evaluate_depth(out_dir / "test" / "manifest.csv", baseline_depth=train["train_median_depth"])
    return {
        "train_seconds": train_wall, "extract_seconds": extract_wall, "epochs": epochs, "steps": train["step"],
        "image_size": image_size, "n_train": train["n_train"], "n_val": train["n_val"],
        "parameters": train["parameters"], "train_median_depth": train["train_median_depth"],
        "val_loss_initial": train["val_loss_initial"], "val_loss": train["val_loss"],
        **{f"test_{k}": v for k, v in scores.items()},
    }
