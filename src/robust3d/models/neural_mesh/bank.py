"""The feature bank: vertex features of every class (momentum-updated) and a FIFO of background features.

The bank is not trained by gradients: after every optimiser step (paper Eq. 6, NeMo/NOVUM) each vertex feature
moves towards the mean image feature at that vertex, ``C <- normalize(sigma C + (1 - sigma) mean f)``, where the
mean runs over the batch's images of the vertex's class in which the vertex is visible; a vertex seen in no image
of the batch (or a class absent from it) keeps its feature. The background is a FIFO of ``N_b`` features: each
step drops the oldest and appends ``T`` per image, drawn from cells the object does not cover.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class FeatureBank:
    """``features (Y, Kmax, D)`` unit vectors (padding rows zero), ``background (N_b, D)`` unit vectors."""

    def __init__(self, n_vertices: list[int], feature_dim: int, n_background: int, momentum: float,
                 generator: torch.Generator | None = None) -> None:
        self.n_vertices = torch.tensor(n_vertices, dtype=torch.long)
        kmax = int(self.n_vertices.max())
        feats = F.normalize(torch.randn(len(n_vertices), kmax, feature_dim, generator=generator), dim=-1)
        self.valid = torch.arange(kmax)[None, :] < self.n_vertices[:, None]  # (Y, Kmax)
        self.features = feats * self.valid[..., None]
        self.background = F.normalize(torch.randn(n_background, feature_dim, generator=generator), dim=-1)
        self.momentum = float(momentum)
        self.pointer = 0  # next FIFO slot to overwrite (the oldest feature)

    def to(self, device: torch.device | str) -> FeatureBank:
        self.features, self.background = self.features.to(device), self.background.to(device)
        self.valid = self.valid.to(device)
        return self

    @torch.no_grad()
    def update_vertices(self, feats: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor) -> None:
        """Momentum update from visible-vertex features ``feats (V, D)`` of classes ``cls`` at vertices ``vertex``."""
        if feats.numel() == 0:
            return
        y, kmax, d = self.features.shape
        flat = cls * kmax + vertex
        sums = torch.zeros(y * kmax, d, dtype=feats.dtype, device=feats.device).index_add_(0, flat, feats.detach())
        counts = torch.zeros(y * kmax, dtype=feats.dtype, device=feats.device).index_add_(
            0, flat, torch.ones_like(flat, dtype=feats.dtype))
        seen = counts > 0
        mean = sums[seen] / counts[seen, None]
        bank = self.features.view(y * kmax, d)
        bank[seen] = F.normalize(self.momentum * bank[seen] + (1 - self.momentum) * mean.to(bank.dtype), dim=-1)

    @torch.no_grad()
    def push_background(self, feats: torch.Tensor) -> None:
        """Overwrite the oldest ``len(feats)`` background features (FIFO, wrapping around)."""
        n = self.background.shape[0]
        feats = feats.detach()[-n:]
        idx = (self.pointer + torch.arange(len(feats), device=self.background.device)) % n
        self.background[idx] = F.normalize(feats.to(self.background.dtype), dim=-1)
        self.pointer = int((self.pointer + len(feats)) % n)

    def state_dict(self) -> dict:
        return {"features": self.features.cpu(), "background": self.background.cpu(),
                "n_vertices": self.n_vertices, "pointer": self.pointer, "momentum": self.momentum}

    def load_state_dict(self, state: dict) -> None:
        device = self.features.device
        self.features, self.background = state["features"].to(device), state["background"].to(device)
        self.n_vertices, self.pointer, self.momentum = state["n_vertices"], int(state["pointer"]), state["momentum"]


def sample_background_cells(allowed: torch.Tensor, per_image: int, generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``per_image`` distinct allowed cells per image (fewer where fewer are allowed).

    Returns ``(image_index, cell_index)`` of all draws, flattened over the batch.
    """
    scores = torch.rand(allowed.shape, generator=generator).to(allowed.device)
    scores = torch.where(allowed, scores, torch.full_like(scores, -1.0))
    k = min(per_image, allowed.shape[1])
    top, cells = scores.topk(k, dim=1)
    keep = top >= 0
    images = torch.arange(allowed.shape[0], device=allowed.device)[:, None].expand_as(cells)
    return images[keep], cells[keep]
