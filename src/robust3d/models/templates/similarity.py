"""The masked cosine similarity of template-pose / TraM3D (``lib/models/base_network.py``), batched.

For a query map ``Q`` and a template map ``T`` (``C x H x W``) and the template's cell mask ``M`` (``H x W``):
``sim(Q, T) = (1 / |M|) * sum_{p in M} cos(Q_p, T_p)``. Only the template's mask is used (queries have none at test
time), so query cells outside it never matter. At test time the occlusion-aware variant sets per-cell cosines
``<= threshold`` (0.2) to 0 before the sum; the denominator stays ``|M|``. A cell whose features are all zero has
cosine 0 (the reference's ``CosineSimilarity(eps=1e-6)``) and still counts in ``|M|``.

:func:`masked_cosine` scores every query against every template as matrix products over a cached bank;
:func:`masked_cosine_loop` is the slow per-template reference the tests and ``scripts/bench_templates.py`` compare
it with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-6
"""The reference's cosine epsilon: a zero feature vector gives cosine 0."""


def cell_mask(masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Binary object masks ``(B, H, W)`` -> cell masks ``(B, h, w)`` of the feature grid: a cell is in the mask when
    any object pixel falls in it (the reference's PIL resize + ``> 0``, area-based so it does not depend on the
    resampling filter). ``H, W`` are padded at the bottom/right to a multiple of the grid, as the backbones pad."""
    h, w = grid
    m = masks.float()[:, None]
    sh, sw = -(-m.shape[-2] // h), -(-m.shape[-1] // w)
    m = F.pad(m, (0, sw * w - m.shape[-1], 0, sh * h - m.shape[-2]))
    return F.max_pool2d(m, (sh, sw))[:, 0] > 0


def unit_cells(features: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w)`` -> per-cell unit vectors ``(B, h * w, C)``; all-zero cells stay zero."""
    flat = features.flatten(2).transpose(1, 2)
    return flat / flat.norm(dim=-1, keepdim=True).clamp_min(EPS)


def masked_cosine(queries: torch.Tensor, templates: torch.Tensor, masks: torch.Tensor,
                  threshold: float | None = None, chunk: int = 64) -> torch.Tensor:
    """Similarity of every query with every template, ``(Q, T)``.

    ``queries`` ``(Q, C, h, w)`` and ``templates`` ``(T, C, h, w)`` are feature maps (or, already unit, ``(., h * w,
    C)`` from :func:`unit_cells`); ``masks`` ``(T, h, w)`` the templates' cell masks. ``threshold``: the test-time
    occlusion-aware cut (cosines ``<= threshold`` count 0); None: the training similarity. Without a threshold it is
    one matrix product over ``(cells x channels)``; with one, per-cell cosines in chunks of ``chunk`` queries.
    """
    q = unit_cells(queries) if queries.dim() == 4 else queries
    t = unit_cells(templates) if templates.dim() == 4 else templates
    m = masks.flatten(1).to(t.dtype)
    if q.shape[1:] != t.shape[1:] or m.shape != t.shape[:2]:
        raise ValueError(f"query cells {tuple(q.shape[1:])}, template cells {tuple(t.shape[1:])} and masks "
                         f"{tuple(m.shape)} must share the grid")
    count = m.sum(1).clamp_min(1.0)  # (T,)
    if threshold is None:
        return (q.flatten(1) @ (t * m[..., None]).flatten(1).T) / count
    out = []
    for start in range(0, q.shape[0], chunk):
        cos = torch.einsum("qpc,tpc->qtp", q[start:start + chunk], t)
        cos = torch.where(cos > threshold, cos, torch.zeros((), dtype=cos.dtype))
        out.append((cos * m).sum(-1) / count)
    return torch.cat(out)


def masked_cosine_loop(queries: torch.Tensor, templates: torch.Tensor, masks: torch.Tensor,
                       threshold: float | None = None) -> torch.Tensor:
    """The reference, one template at a time, as ``base_network.py`` computes it: both maps multiplied by the mask,
    ``CosineSimilarity(dim=1, eps=1e-6)`` per cell, the cut, the sum over the grid over ``|M|``. ``(Q, T)``."""
    cosine = torch.nn.CosineSimilarity(dim=1, eps=EPS)
    out = torch.zeros(queries.shape[0], templates.shape[0], dtype=queries.dtype)
    for j in range(templates.shape[0]):
        m = masks[j].to(queries.dtype)
        t = (templates[j] * m)[None].expand_as(queries)
        cos = cosine(queries * m, t)  # (Q, h, w)
        if threshold is not None:
            cos = torch.where(cos > threshold, cos, torch.zeros((), dtype=cos.dtype))
        out[:, j] = cos.flatten(1).sum(1) / m.sum().clamp_min(1.0)
    return out


def info_nce(queries: torch.Tensor, templates: torch.Tensor, masks: torch.Tensor,
             temperature: float = 0.1) -> torch.Tensor:
    """template-pose's InfoNCE (``lib/losses/contrast_loss.py``): the ``(B, B)`` similarities of each query with
    every template of the batch (each with its own mask), over ``temperature``; query ``i``'s positive is template
    ``i``, the others are its negatives; cross-entropy with labels ``arange(B)``. Unthresholded similarity."""
    logits = masked_cosine(queries, templates, masks) / temperature
    return F.cross_entropy(logits, torch.arange(logits.shape[0], device=logits.device))
