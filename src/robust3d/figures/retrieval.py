"""Template matching's figures: accuracy against the error threshold per model, and retrieval examples (each query
beside the template each model retrieved and the template nearest its true view)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def threshold_curves(curves: dict[str, dict[str, dict[float, float]]], out: str | Path, title: str) -> Path:
    """``curves``: panel (an object group) -> model label -> threshold (degrees) -> accuracy (percent). One panel per
    group, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robust3d.data.io import atomic_path

    panels = list(curves) or ["no results"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        for label, points in curves.get(panel, {}).items():
            pts = sorted((k, v) for k, v in points.items() if v is not None and not math.isnan(v))
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", label=label)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("error threshold (degrees)")
        ax.set_ylabel("class-and-pose accuracy (%)")
        ax.set_ylim(0, 102)
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:  # one legend for every panel, under them (the curves stay visible)
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8)
    fig.suptitle(title, fontsize=11)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def retrieval_grid(rows: list[list[tuple[np.ndarray, str, bool | None]]], header: list[str], out: str | Path,
                   tile: int = 96) -> Path:
    """A grid of labelled RGB tiles: ``rows`` of (image (H, W, 3) uint8, caption, hit) where ``hit`` colours the
    frame (green right, red wrong, grey neither); ``header``: the column titles. Written atomically as PNG."""
    import cv2

    from robust3d.data.io import write_image

    pad, head, foot = 4, 18, 16
    n_cols = max(len(r) for r in rows) if rows else 1
    height = head + len(rows) * (tile + foot + pad) + pad
    width = n_cols * (tile + pad) + pad
    canvas = np.full((height, width, 3), 255, np.uint8)
    for j, title in enumerate(header[:n_cols]):
        cv2.putText(canvas, title[:18], (pad + j * (tile + pad), 13), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 0), 1)
    for i, row in enumerate(rows):
        y = head + i * (tile + foot + pad)
        for j, (image, caption, hit) in enumerate(row):
            x = pad + j * (tile + pad)
            img = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
            colour = (128, 128, 128) if hit is None else ((0, 170, 0) if hit else (210, 0, 0))
            cv2.rectangle(img, (0, 0), (tile - 1, tile - 1), colour, 2)
            canvas[y:y + tile, x:x + tile] = img
            cv2.putText(canvas, caption[:20], (x, y + tile + 12), cv2.FONT_HERSHEY_PLAIN, 0.75, (0, 0, 0), 1)
    write_image(out, canvas)
    return Path(out)
