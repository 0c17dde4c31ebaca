"""Retrieval over a cached template bank: encode once, then score every query against the templates of its group
(:func:`~robust3d.models.templates.similarity.masked_cosine`) and keep the best."""

from __future__ import annotations

from collections.abc import Callable

import torch

from robust3d.models.templates.similarity import cell_mask, masked_cosine, unit_cells


@torch.no_grad()
def encode(model: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int = 64,
           device: torch.device | str = "cpu") -> torch.Tensor:
    """Feature maps ``(N, D, h, w)`` of uint8 or float images ``(N, 3, H, W)`` (uint8 is scaled to [0, 1])."""
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        out.append(model(x).float().cpu())
    return torch.cat(out)


class TemplateBank:
    """A group of templates as unit cells ``(T, h * w, D)``, their cell masks ``(T, h, w)``, objects and views.

    ``objects``: each template's object; ``views``: its index in the template grid."""

    def __init__(self, features: torch.Tensor, masks: torch.Tensor, objects: list[str]) -> None:
        if masks.shape[-2:] != features.shape[-2:]:
            masks = cell_mask(masks, tuple(features.shape[-2:]))
        self.cells = unit_cells(features)
        self.masks = masks
        self.objects = list(objects)
        self.grid = tuple(features.shape[-2:])

    def nbytes(self) -> int:
        return self.cells.element_size() * self.cells.nelement() + self.masks.nelement()

    def subset(self, keep: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The cells, masks and original indices of the templates of the objects ``keep``."""
        idx = torch.tensor([i for i, o in enumerate(self.objects) if o in set(keep)], dtype=torch.long)
        if not len(idx):
            raise ValueError(f"no template of the objects {keep}")
        return self.cells[idx], self.masks[idx], idx

    def retrieve(self, queries: torch.Tensor, objects: list[str], threshold: float | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The best template (index into the bank) and its score for each query feature map ``(Q, D, h, w)``,
        among the templates of ``objects`` (the evaluated group's)."""
        cells, masks, idx = self.subset(objects)
        scores = masked_cosine(unit_cells(queries), cells, masks, threshold)
        best = scores.max(dim=1)
        return idx[best.indices], best.values
