"""The pretraining stage of one backbone: pool -> DINO -> teacher weights + ``train.json`` with sanity numbers.

The pool is the unlabelled images of the configured splits (``train`` and ``depth_train`` by default; test splits
and template objects are refused, see :data:`POOL_SPLITS`). The sanity evaluation uses labels, but only to score
frozen features: the ``train`` split is the k-NN memory bank and the probe's training set, ``test`` the scored set.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from robust3d.data.format import read_manifest
from robust3d.data.io import read_image
from robust3d.models.backbone_shapes import vit_sizes
from robust3d.models.pretrain import sanity
from robust3d.models.pretrain.encoder import SSLEncoder
from robust3d.models.pretrain.train import pretrain, random_init_encoder
from robust3d.models.runtime import checkpoint_path

__all__ = ["POOL_SPLITS", "load_images", "run_stage", "sanity_numbers"]

#: Splits a pretraining pool may draw from: unlabelled training images only (never test, never a template object).
POOL_SPLITS = ("train", "depth_train")


def load_images(manifest: Path) -> tuple[torch.Tensor, pd.DataFrame]:
    """A split's images as uint8 ``(N, 3, H, W)`` (one size per split) and its manifest rows."""
    manifest = Path(manifest)
    rows = read_manifest(manifest)
    if rows.empty:
        raise ValueError(f"{manifest} lists no images")
    arrays = [read_image(manifest.parent / p) for p in rows["image"]]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{manifest} mixes image sizes {sorted(shapes)}; a pool needs one size")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(), rows


def _probe_features(grid: torch.Tensor, cells: int) -> np.ndarray:
    return F.adaptive_avg_pool2d(grid.float(), cells).flatten(1).numpy()


def sanity_numbers(encoders: dict[str, SSLEncoder], train: tuple[torch.Tensor, pd.DataFrame],
                   test: tuple[torch.Tensor, pd.DataFrame], k: int = 20, azimuth_bins: int = 12,
                   probe_grid: int = 4, seed: int = 0) -> dict[str, dict[str, float]]:
    """Class k-NN (top-1 %, pooled features) and azimuth probe (top-1 %, patch grid) of every encoder and of the
    raw-pixel and colour-histogram baselines: ``{row: {"knn_top1": .., "azimuth_probe_top1": ..}}``."""
    (x_tr, rows_tr), (x_te, rows_te) = train, test
    classes = sorted(set(rows_tr["class"]))
    unknown = sorted(set(rows_te["class"]) - set(classes))
    if unknown:
        raise ValueError(f"test classes {unknown} are not in the k-NN memory bank (train)")
    y_tr = rows_tr["class"].map(classes.index).to_numpy()
    y_te = rows_te["class"].map(classes.index).to_numpy()
    a_tr = sanity.azimuth_bins(rows_tr["azimuth"].to_numpy(float), azimuth_bins)
    a_te = sanity.azimuth_bins(rows_te["azimuth"].to_numpy(float), azimuth_bins)

    def row(pooled_tr, pooled_te, grid_tr, grid_te) -> dict[str, float]:
        probe = sanity.linear_probe(grid_tr, a_tr, grid_te, a_te, seed=seed)
        return {"knn_top1": sanity.knn_top1(pooled_tr, y_tr, pooled_te, y_te, k=k),
                "azimuth_probe_top1": probe["top1"], "azimuth_probe_l2": probe["l2"]}

    out: dict[str, dict[str, float]] = {}
    for name, enc in encoders.items():
        enc.eval()
        p_tr, g_tr = _encode_both(enc, x_tr)
        p_te, g_te = _encode_both(enc, x_te)
        out[name] = row(p_tr, p_te, _probe_features(g_tr, probe_grid), _probe_features(g_te, probe_grid))
    px_tr, px_te = (sanity.raw_pixels(x.float() / 255) for x in (x_tr, x_te))
    grid_px = [sanity.raw_pixels(x.float() / 255, 16).numpy() for x in (x_tr, x_te)]
    out["raw_pixels"] = row(px_tr, px_te, *grid_px)
    h_tr, h_te = (sanity.colour_histogram(x.float() / 255) for x in (x_tr, x_te))
    out["colour_histogram"] = row(h_tr, h_te, h_tr.numpy(), h_te.numpy())
    out["chance"] = {"knn_top1": 100.0 * float(np.bincount(y_te).max() / len(y_te)),
                     "azimuth_probe_top1": 100.0 * float(np.bincount(a_te).max() / len(a_te))}
    return out


@torch.no_grad()
def _encode_both(enc: SSLEncoder, images: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    pooled, grids = [], []
    for i in range(0, images.shape[0], batch_size):
        x = images[i:i + batch_size].float() / 255
        p, g = enc.pooled_and_grid(x)
        pooled.append(p.float())
        grids.append(g.float())
    return torch.cat(pooled), torch.cat(grids)


def run_stage(name: str, entry: dict[str, Any], recipe: dict[str, Any], pool_manifests: list[Path],
              train_manifest: Path, test_manifest: Path, out: Path, seed: int = 0, device: str = "cpu",
              evaluation: dict[str, Any] | None = None, progress: bool = True, stop_after: int | None = None
              ) -> dict[str, Any]:
    """Pretrain ``name`` and write its teacher weights to ``out`` (``backbone.pt``); return ``train.json``'s record.

    ``evaluation``: ``k``, ``azimuth_bins``, ``probe_grid`` of the sanity numbers.
    """
    from robust3d.models.ssl_weights import save_ssl_weights

    for m in pool_manifests:
        split = Path(m).parent.name
        if split not in POOL_SPLITS:
            raise ValueError(f"pretraining pool split '{split}' ({m}) is not allowed: only unlabelled training "
                             f"splits {', '.join(POOL_SPLITS)} (no test images, no template objects)")
    pool = torch.cat([load_images(m)[0] for m in pool_manifests])
    teacher, record = pretrain(pool, entry, recipe, out, seed=seed, device=device, progress=progress,
                               stop_after=stop_after)
    if record["stopped"]:
        return record
    started = time.perf_counter()
    ev = {"k": 20, "azimuth_bins": 12, "probe_grid": 4, **(evaluation or {})}
    numbers = sanity_numbers({"pretrained": teacher.cpu(), "random_init": random_init_encoder(entry, recipe, seed)},
                             load_images(train_manifest), load_images(test_manifest), k=ev["k"],
                             azimuth_bins=ev["azimuth_bins"], probe_grid=ev["probe_grid"], seed=seed)
    save_ssl_weights(out, name, entry["kind"], entry["arch"], vit_sizes(entry), teacher.body.state_dict())
    checkpoint_path(out).unlink(missing_ok=True)  # the weights supersede it
    record.update(name=name, backbone={k: entry[k] for k in sorted(entry)}, pool=[str(m) for m in pool_manifests],
                  evaluation={**ev, "memory_bank": str(train_manifest), "scored": str(test_manifest)},
                  sanity=numbers, eval_seconds=time.perf_counter() - started,
                  gates=gates(numbers))
    return record


def gates(numbers: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Issue 16's must-show margins (points): k-NN vs random init (>= 25) and vs colour histogram (>= 15),
    azimuth probe vs random init (>= 15)."""
    p, rnd, hist = numbers["pretrained"], numbers["random_init"], numbers["colour_histogram"]
    margins = {"knn_vs_random_init": p["knn_top1"] - rnd["knn_top1"],
               "knn_vs_colour_histogram": p["knn_top1"] - hist["knn_top1"],
               "azimuth_probe_vs_random_init": p["azimuth_probe_top1"] - rnd["azimuth_probe_top1"]}
    need = {"knn_vs_random_init": 25.0, "knn_vs_colour_histogram": 15.0, "azimuth_probe_vs_random_init": 15.0}
    return {"margins": margins, "required": need, "met": all(margins[k] >= need[k] for k in need)}
