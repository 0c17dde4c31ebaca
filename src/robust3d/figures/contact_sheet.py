"""Contact sheets: samples with their CAD vertices projected by the annotation, to check poses by eye."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from robust3d.data.format import load_annotation, read_manifest
from robust3d.data.io import read_image, write_image
from robust3d.geometry import project_points


def _cad_vertices(cad_root: Path, category: str, cad_index: int) -> np.ndarray:
    from robust3d.data.cad import read_off

    return read_off(cad_root / "CAD" / category / f"{cad_index:02d}.off").verts


def annotated_tile(image: np.ndarray, ann: dict, verts: np.ndarray, tile: int, max_points: int = 150) -> np.ndarray:
    """The image scaled to ``tile`` px with projected CAD vertices (green dots) and the class name.

    Dense meshes are subsampled to ``max_points`` vertices so the object stays visible under the dots.
    """
    if len(verts) > max_points:
        verts = verts[np.linspace(0, len(verts) - 1, max_points).astype(int)]
    uv, _ = project_points(torch.from_numpy(verts).double(), float(ann["azimuth"]), float(ann["elevation"]),
                           float(ann["theta"]), float(ann["distance"]), float(ann["focal"]),
                           float(ann["viewport"]), tuple(np.asarray(ann["principal"], float).tolist()))
    scale = tile / max(image.shape[:2])
    out = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                     interpolation=cv2.INTER_NEAREST)
    for u, v in uv.numpy() * scale:
        if 0 <= u < out.shape[1] and 0 <= v < out.shape[0]:
            cv2.circle(out, (int(u), int(v)), 1, (0, 255, 0), -1)
    cv2.putText(out, str(ann["class"]), (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.7, (255, 255, 255), 1)
    return out


def contact_sheet(manifest_path: str | Path, cad_root: str | Path, out_path: str | Path, n: int = 36,
                  columns: int = 6, tile: int = 160, seed: int = 0) -> int:
    """Write a grid of ``n`` random samples of a split; returns how many were drawn."""
    manifest_path, cad_root = Path(manifest_path), Path(cad_root)
    df = read_manifest(manifest_path)
    rows = df.sample(n=min(n, len(df)), random_state=seed) if len(df) else df
    tiles = []
    for _, row in rows.iterrows():
        image = read_image(manifest_path.parent / row["image"])
        ann = load_annotation(manifest_path.parent / row["annotation"])
        verts = _cad_vertices(cad_root, str(ann["class"]), int(ann["cad_index"]))
        tiles.append(annotated_tile(image, ann, verts, tile))
    if not tiles:
        raise ValueError(f"manifest {manifest_path} has no samples to draw")
    h, w = tile, tile
    grid = np.zeros((h * ((len(tiles) + columns - 1) // columns), w * min(columns, len(tiles)), 3), np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * h : r * h + t.shape[0], c * w : c * w + t.shape[1]] = t
    write_image(out_path, grid)
    return len(tiles)
