"""An example brought model for robust3d (docs/byom.md): the nearest training image, on small thumbnails.

It is a floor, not a contender: fit() keeps a mean-centred, normalised 16 x 16 colour thumbnail of every training
image with its class and pose, and predict() answers with the class and pose of the most similar one (cosine
similarity). Anything that learns should beat it; a model that does not is worth a second look. Its thumbnails are
also its features, so the probe-based papers can read it too.

Config entry (the smoke config runs it)::

    byom:
      thumbnail_knn: {file: examples/byom/thumbnail_knn.py, provides: [class, pose, features], options: {size: 16}}
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F


class Model:
    def __init__(self, classes: list[str], options: dict) -> None:
        self.classes = list(classes)
        self.size = int(options.get("size", 16))
        self.bank: torch.Tensor | None = None  # (N, 3 * size * size) thumbnails of the training images
        self.labels: torch.Tensor | None = None  # (N,) class indices
        self.poses: torch.Tensor | None = None  # (N, 3) azimuth, elevation, theta in radians

    def _thumbnails(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, 3 * size * size), mean-centred and unit length."""
        x = F.interpolate(images, size=(self.size, self.size), mode="area").flatten(1)
        return F.normalize(x - x.mean(dim=1, keepdim=True), dim=1)

    def fit(self, batches: Iterable[dict]) -> None:
        thumbs, labels, poses = [], [], []
        for batch in batches:
            thumbs.append(self._thumbnails(batch["images"]))
            labels.append(batch["class_index"])
            poses.append(torch.stack([batch["azimuth"], batch["elevation"], batch["theta"]], dim=1))
        if not thumbs:
            raise ValueError("thumbnail_knn: the train split has no images")
        self.bank, self.labels, self.poses = torch.cat(thumbs), torch.cat(labels), torch.cat(poses)

    def predict(self, batch: dict) -> dict:
        if self.bank is None:
            raise RuntimeError("thumbnail_knn: fit() was not called (it needs the train split)")
        nearest = (self._thumbnails(batch["images"]) @ self.bank.T).argmax(dim=1)
        pose = self.poses[nearest]
        return {"class": self.labels[nearest], "azimuth": pose[:, 0], "elevation": pose[:, 1], "theta": pose[:, 2]}

    def features(self, batch: dict) -> torch.Tensor:
        return self._thumbnails(batch["images"])
