"""Contrastive vertex losses: NOVUM's full contrast and 3D-CompNets' grouped, dynamically weighted contrast.

Notation (paper Sec. 3): ``f_k`` is the unit image feature at visible vertex k of class y, ``C`` the vertex
features of all classes (the bank, ``(Y, Kmax, D)``, rows past ``n_vertices[y]`` are padding), ``B`` the
background features, ``kappa = 1 / temperature`` and ``s_j = kappa f_k . C_j``. Every loss is averaged over the
visible vertices of the batch (the paper sums over k per image; the mean only rescales the gradient).

- NOVUM: ``-log softmax`` of ``s_k`` against ALL vertices of ALL classes plus the background, with the vertices
  of the same class that are near vertex k in 3D removed (NOVUM's ``remove_near``; k itself stays).
- 3D-CompNets (Eq. 5): ``L_in + L_cross`` with
  ``L_in    = -s_k + log(sum_{l in C_y, not near} e^{s_l} + sum_n e^{kappa f_k . b_n})``                (Eq. 2)
  ``L_cross = -s_k + log(e^{s_k} + sum_{y' != y} omega_{y,y'} sum_{m in S_N(C_y')} e^{s_m})``           (Eq. 4)
  where ``S_N`` draws N vertices of each other class uniformly (one draw per step, shared by the batch). The
  weighted sum is taken in log space, ``log(omega sum e^s) = log omega + logsumexp(s)``; a class with
  ``omega = 0`` is skipped before any product with its vertices is formed, so its FLOPs are really saved.
  We apply NOVUM's near-vertex removal inside ``L_in`` too (Sec. 3.1 contrasts "distanced" vertices).

How the two relate (tested in tests/test_neural_mesh_losses.py): Eq. 5 is a SUM of two log terms, not NOVUM's
single softmax. With ``A = sum_in + sum_bg`` (it contains ``e^{s_k}``) and ``X`` the cross-class sum,
``L_novum = log(A + X) - s_k`` while ``L_in = log A - s_k`` and ``L_cross = log(e^{s_k} + X) - s_k``, so
``max(L_in, L_cross) <= L_novum <= L_in + L_cross`` whenever every vertex is sampled and omega = 1 (the upper
bound because ``e^{s_k} <= A``). ``merged=True`` puts in-class, background and weighted cross-class vertices into
one softmax; with every vertex sampled and omega = 1 that IS NOVUM's loss, exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEG_INF = float("-inf")


def _valid(features: torch.Tensor, n_vertices: torch.Tensor) -> torch.Tensor:
    return torch.arange(features.shape[1], device=features.device)[None, :] < n_vertices.to(features.device)[:, None]


def novum_loss(f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
               n_vertices: torch.Tensor, background: torch.Tensor, temperature: float,
               near: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """NOVUM: cross-entropy of each visible vertex feature ``f (V, D)`` over every vertex of every class + background.

    ``near (Y, Kmax, Kmax)``: ``near[y, k, l]`` removes vertex l of class y from vertex k's denominator.
    """
    y_count, kmax, d = features.shape
    kappa = 1.0 / temperature
    # Only the real vertices are multiplied: the bank's padding rows (classes with fewer than Kmax vertices) would
    # add products NOVUM does not need, and inflate its FLOPs in Table 1.
    rows = _valid(features, n_vertices).reshape(-1).nonzero().squeeze(1)
    logits = (f @ features.reshape(y_count * kmax, d)[rows].T) * kappa
    column = torch.full((y_count * kmax,), -1, dtype=torch.long, device=f.device)
    column[rows] = torch.arange(len(rows), device=f.device)
    if near is not None:
        own = torch.zeros(len(f), y_count * kmax, dtype=torch.bool, device=f.device)
        cols = cls[:, None] * kmax + torch.arange(kmax, device=f.device)[None, :]
        own.scatter_(1, cols, near[cls, vertex])
        logits = logits.masked_fill(own[:, rows], NEG_INF)
    logits = torch.cat([logits, (f @ background.T) * kappa], 1)
    return F.cross_entropy(logits, column[cls * kmax + vertex], reduction=reduction)


def sample_cross_vertices(n_vertices: torch.Tensor, n: int | None, kmax: int,
                          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``S_N``: ``n`` distinct vertex indices per class drawn uniformly (all of them when ``n`` is None or >= K_y).

    Returns ``(index (Y, n'), valid (Y, n'))`` with ``n' = min(n, kmax)``; ``valid`` is False past ``K_y``.
    """
    count = n_vertices.shape[0]
    valid_rows = torch.arange(kmax)[None, :] < n_vertices.cpu()[:, None]
    if n is None or n >= kmax:
        return torch.arange(kmax).expand(count, kmax).clone(), valid_rows
    scores = torch.rand(count, kmax, generator=generator).masked_fill(~valid_rows, 2.0)
    index = scores.argsort(dim=1)[:, :n]
    return index, torch.arange(n)[None, :] < n_vertices.cpu()[:, None]


def compnets_loss(f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
                  n_vertices: torch.Tensor, background: torch.Tensor, temperature: float,
                  omega: torch.Tensor, cross_samples: int | None, near: torch.Tensor | None = None,
                  generator: torch.Generator | None = None, merged: bool = False, reduction: str = "mean",
                  sample: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor | dict[str, torch.Tensor]:
    """3D-CompNets' Eq. 5 (``L_in + L_cross``), or one merged softmax (``merged=True``); see the module docstring.

    ``omega (Y, Y)`` holds ``omega_{y,y'}`` (diagonal ignored); ``cross_samples`` is N (None = every vertex);
    ``sample`` overrides the draw of ``S_N`` (``(index, valid)`` as from :func:`sample_cross_vertices`).
    ``reduction``: ``"mean"`` over visible vertices, or ``"none"``: a dict of per-vertex ``in_class``, ``cross``
    and ``total`` (``in_class`` holds the merged loss and ``cross`` zeros when merged).
    """
    y_count, kmax, d = features.shape
    kappa = 1.0 / temperature
    dev = f.device
    index, ok = sample if sample is not None else sample_cross_vertices(n_vertices, cross_samples, kmax, generator)
    index, ok = index.to(dev), ok.to(dev)
    sampled = features[torch.arange(y_count, device=dev)[:, None], index]  # (Y, n', D)
    n_s = index.shape[1]
    positive = (f * features[cls, vertex]).sum(-1) * kappa
    bg = (f @ background.T) * kappa
    keep = omega.detach().cpu() > 0  # which class pairs are contrasted at all (decided on the CPU: no syncs)
    keep.fill_diagonal_(False)
    log_omega = omega.to(device=dev, dtype=f.dtype).log()
    k_all = n_vertices.cpu().tolist()
    in_class = torch.zeros_like(positive)
    cross = torch.zeros_like(positive)
    for y in torch.unique(cls).tolist():
        rows = (cls == y).nonzero().squeeze(1)
        fy = f[rows]
        k_y = k_all[y]
        own = (fy @ features[y, :k_y].T) * kappa
        if near is not None:
            own = own.masked_fill(near[y, vertex[rows], :k_y], NEG_INF)
        others = keep[y].nonzero().squeeze(1)
        parts_cross = []
        if len(others):
            sel = others.to(dev)
            logits = (fy @ sampled[sel].reshape(-1, d).T) * kappa  # only the kept classes are multiplied
            weight = log_omega[y, sel].repeat_interleave(n_s)
            parts_cross.append((logits + weight).masked_fill(~ok[sel].reshape(1, -1), NEG_INF))
        if merged:
            in_class[rows] = torch.logsumexp(torch.cat([own, bg[rows], *parts_cross], 1), 1) - positive[rows]
        else:
            in_class[rows] = torch.logsumexp(torch.cat([own, bg[rows]], 1), 1) - positive[rows]
            cross[rows] = torch.logsumexp(torch.cat([positive[rows, None], *parts_cross], 1), 1) - positive[rows]
    total = in_class + cross
    if reduction == "none":
        return {"in_class": in_class, "cross": cross, "total": total}
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return total.mean()


def _novum(f, cls, vertex, features, n_vertices, background, temperature, *, near, omega, cross_samples, generator):
    return novum_loss(f, cls, vertex, features, n_vertices, background, temperature, near)


def _compnets(f, cls, vertex, features, n_vertices, background, temperature, *, near, omega, cross_samples,
              generator):
    return compnets_loss(f, cls, vertex, features, n_vertices, background, temperature, omega, cross_samples, near,
                         generator=generator)


#: Loss name (a neural mesh model's ``loss`` option) -> the loss, called as :func:`contrastive_loss` calls it.
LOSSES = {"novum": _novum, "compnets": _compnets}


def contrastive_loss(name: str, f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
                     n_vertices: torch.Tensor, background: torch.Tensor, temperature: float, *,
                     near: torch.Tensor | None = None, omega: torch.Tensor | None = None,
                     cross_samples: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """The loss ``name`` (:data:`LOSSES`) on the visible-vertex features ``f (V, D)`` of one batch; ``omega`` and
    ``cross_samples`` are the compnets loss's (NOVUM contrasts every vertex of every class)."""
    if name not in LOSSES:
        raise ValueError(f"unknown contrastive loss {name!r} (known: {', '.join(LOSSES)})")
    return LOSSES[name](f, cls, vertex, features, n_vertices, background, temperature, near=near, omega=omega,
                        cross_samples=cross_samples, generator=generator)


def omega_from_confusion(confusion: torch.Tensor, threshold: float) -> torch.Tensor:
    """``omega_{y,y'}``: the row-normalised confusion (rows = true class), zero below ``threshold``.

    A class with no calibration images keeps weight 1 towards every class (nothing says it is not confused).
    """
    conf = confusion.double()
    total = conf.sum(1, keepdim=True)
    rate = torch.where(total > 0, conf / total.clamp_min(1), torch.ones_like(conf))
    return torch.where(rate >= threshold, rate, torch.zeros_like(rate)).float()
