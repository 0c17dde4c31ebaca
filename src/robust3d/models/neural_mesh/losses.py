"""Contrastive vertex losses: NOVUM's full contrast, 3D-CompNets' grouped, dynamically weighted contrast and NeMo's
within-class contrast.

Notation (paper Sec. 3): ``f_k`` is the unit image feature at visible vertex k of class y, ``C`` the vertex
features of all classes (the bank, ``(Y, Kmax, D)``, rows past ``n_vertices[y]`` are padding), ``B`` the
background features, ``kappa = 1 / temperature`` and ``s_j = kappa f_k . C_j``. Every loss is averaged over the
visible vertices of the batch (the paper sums over k per image; the mean only rescales the gradient).

- NOVUM, as its release trains it (GenIntel/NOVUM ``train.py`` and ``models/FeatureBank.py``):
  ``-log softmax`` of ``s_k`` against ALL vertices of ALL classes plus the background, where
  (a) the vertices of the same class whose projections lie within 48 px of vertex k's in the image (at the
      release's 800-px-wide crops; scaled with the width) are removed (``mask_remove_near``, ``distance_thr: 48``;
      k itself stays; ``near``, see ``mesh.near_in_image``);
  (b) every background term is weighted ``w = 0.005`` (``weight_noise``: the release subtracts ``-log w`` from
      the background logits, i.e. ``w e^{kappa f . b_n}`` in the denominator; ``background_weight``);
  (c) ``+ lambda mean_{n, j} beta_n . C_j`` with ``lambda = 0.1``: the mean cosine between the background features
      sampled from the batch's images at this step (``clutter``, with gradient: the release's noise points, the
      same features that then enter the background bank) and every vertex feature of every class, not scaled by
      kappa (``loss_reg = mean(noise_sim) * 0.1``). It pushes background image features away from the vertex
      bank (the bank takes no gradient). We average over the real vertices only (the release's mean also runs
      over its bank's padding rows, random unit vectors).
- 3D-CompNets (Eq. 5): ``L_in + L_cross`` with
  ``L_in    = -s_k + log(sum_{l in C_y, not near} e^{s_l} + sum_n e^{kappa f_k . b_n})``                (Eq. 2)
  ``L_cross = -s_k + log(e^{s_k} + sum_{y' != y} omega_{y,y'} sum_{m in S_N(C_y')} e^{s_m})``           (Eq. 4)
  where ``S_N`` draws N vertices of each other class uniformly (one draw per step, shared by the batch). The
  weighted sum is taken in log space, ``log(omega sum e^s) = log omega + logsumexp(s)``; a class with
  ``omega = 0`` is skipped before any product with its vertices is formed, so its FLOPs are really saved.
  Eq. 2 and 5 weigh the background 1 and add no regulariser (``options.MeshOptions`` gives the compnets loss
  weight 1 and lambda 0); the near removal of NOVUM (a) is applied inside ``L_in`` too (Sec. 3.1 contrasts
  "distanced" vertex features of the same object, citing NOVUM).

- NeMo (Wang et al. 2021; Angtian/NeMo ``TrainNeMo.py``, ``FeatureBanks.py``), the NTDM paper's baseline: the
  in-class term alone, ``L_nemo = -s_k + log(sum_{l in C_y, not near} e^{s_l} + w sum_n e^{kappa f_k . b_n})``.
  NeMo trains one model per category, so its softmax holds the own class's vertices and the clutter bank only: no
  other class's vertex ever enters (here: one shared backbone and bank, a documented deviation). It is exactly
  Eq. 5 with ``omega = 0`` off the diagonal (``L_cross = log e^{s_k} - s_k = 0``, and no other class's vertex is
  multiplied), which is how :func:`nemo_loss` computes it. Its clutter weight ``w = 0.005`` (``--weight_noise
  5e-3``: ``log w`` added to the clutter logits) and its ``+ 0.1 x`` mean background-vertex similarity are the
  ones NOVUM's release inherited from NeMo, so the nemo loss takes NOVUM's config values
  (``mesh.novum_background_weight``, ``mesh.novum_regularizer``; ``options.loss_weights``) and the same
  regulariser, :func:`background_regularizer` (the mean over every real vertex of the shared bank; in NeMo's
  per-class models that bank is one class's vertices).

How NOVUM & Eq. 5 relate (tested in tests/test_neural_mesh_losses.py; background weight 1, lambda 0): Eq. 5 is a SUM of
two log terms, not NOVUM's single softmax. With ``A = sum_in + sum_bg`` (it contains ``e^{s_k}``) and ``X`` the
cross-class sum, ``L_novum = log(A + X) - s_k`` while ``L_in = log A - s_k`` and ``L_cross = log(e^{s_k} + X) - s_k``,
so ``max(L_in, L_cross) <= L_novum <= L_in + L_cross`` whenever every vertex is sampled and omega = 1 (the upper
bound because ``e^{s_k} <= A``). ``merged=True`` puts in-class, background and weighted cross-class vertices into
one softmax; with every vertex sampled and omega = 1 that IS NOVUM's loss, exactly.

``near`` is a ``(V, Kmax)`` bool mask, one row per visible vertex (the rows of ``f``): ``near[v, l]`` removes
vertex l of row v's class from row v's denominator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

NEG_INF = float("-inf")


def _valid(features: torch.Tensor, n_vertices: torch.Tensor) -> torch.Tensor:
    return torch.arange(features.shape[1], device=features.device)[None, :] < n_vertices.to(features.device)[:, None]


def novum_loss(f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
               n_vertices: torch.Tensor, background: torch.Tensor, temperature: float,
               near: torch.Tensor | None = None, reduction: str = "mean",
               background_weight: float = 1.0) -> torch.Tensor:
    """NOVUM: cross-entropy of each visible vertex feature ``f (V, D)`` over every vertex of every class + background
    (each background term weighted ``background_weight``); ``near (V, Kmax)`` as in the module docstring."""
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
        own.scatter_(1, cols, near.to(f.device))
        logits = logits.masked_fill(own[:, rows], NEG_INF)
    logits = torch.cat([logits, _background_logits(f, background, kappa, background_weight)], 1)
    return F.cross_entropy(logits, column[cls * kmax + vertex], reduction=reduction)


def _background_logits(f: torch.Tensor, background: torch.Tensor, kappa: float, weight: float) -> torch.Tensor:
    """``kappa f . b_n + log w``: the background terms of a softmax, each weighted ``w`` (NOVUM's ``weight_noise``)."""
    if weight <= 0:
        raise ValueError(f"the background weight must be > 0, got {weight}")
    logits = (f @ background.T) * kappa
    return logits + math.log(weight) if weight != 1.0 else logits


def background_regularizer(clutter: torch.Tensor, features: torch.Tensor, n_vertices: torch.Tensor) -> torch.Tensor:
    """NOVUM's regulariser before its weight: the mean cosine between the batch's sampled background features
    ``clutter (M, D)`` and every real vertex feature of the bank (one product, as the release forms it)."""
    y_count, kmax, d = features.shape
    rows = _valid(features, n_vertices).reshape(-1).nonzero().squeeze(1)
    return (clutter @ features.reshape(y_count * kmax, d)[rows].T).mean()


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
                  sample: tuple[torch.Tensor, torch.Tensor] | None = None,
                  background_weight: float = 1.0) -> torch.Tensor | dict[str, torch.Tensor]:
    """3D-CompNets' Eq. 5 (``L_in + L_cross``), or one merged softmax (``merged=True``); see the module docstring.

    ``omega (Y, Y)`` holds ``omega_{y,y'}`` (diagonal ignored); ``cross_samples`` is N (None = every vertex);
    ``sample`` overrides the draw of ``S_N`` (``(index, valid)`` as from :func:`sample_cross_vertices`);
    ``background_weight``: weight of each background term in ``L_in`` (Eq. 2: 1).
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
    bg = _background_logits(f, background, kappa, background_weight)
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
            own = own.masked_fill(near.to(dev)[rows, :k_y], NEG_INF)
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


def nemo_loss(f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
              n_vertices: torch.Tensor, background: torch.Tensor, temperature: float,
              near: torch.Tensor | None = None, reduction: str = "mean",
              background_weight: float = 1.0) -> torch.Tensor:
    """NeMo: cross-entropy of each visible vertex feature ``f (V, D)`` over its own class's vertices (less the near
    ones) + the background (each term weighted ``background_weight``); other classes' vertices never enter.

    Computed as :func:`compnets_loss` with ``omega = 0`` (its cross term is then 0 and multiplies nothing);
    ``reduction``: ``"mean"`` over the visible vertices or ``"none"`` (one value per row of ``f``).
    """
    y_count = features.shape[0]
    none_sampled = (torch.zeros(y_count, 0, dtype=torch.long), torch.zeros(y_count, 0, dtype=torch.bool))
    terms = compnets_loss(f, cls, vertex, features, n_vertices, background, temperature,
                          torch.zeros(y_count, y_count), None, near, reduction="none", sample=none_sampled,
                          background_weight=background_weight)
    if reduction == "none":
        return terms["in_class"]
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return terms["in_class"].mean()


def _novum(f, cls, vertex, features, n_vertices, background, temperature, *, near, omega, cross_samples, generator,
           background_weight):
    return novum_loss(f, cls, vertex, features, n_vertices, background, temperature, near,
                      background_weight=background_weight)


def _compnets(f, cls, vertex, features, n_vertices, background, temperature, *, near, omega, cross_samples,
              generator, background_weight):
    return compnets_loss(f, cls, vertex, features, n_vertices, background, temperature, omega, cross_samples, near,
                         generator=generator, background_weight=background_weight)


def _nemo(f, cls, vertex, features, n_vertices, background, temperature, *, near, omega, cross_samples, generator,
          background_weight):
    # omega and cross_samples are the compnets loss's: NeMo contrasts no other class, whatever they hold.
    return nemo_loss(f, cls, vertex, features, n_vertices, background, temperature, near,
                     background_weight=background_weight)


#: Loss name (a neural mesh model's ``loss`` option) -> the loss, called as :func:`contrastive_loss` calls it.
LOSSES = {"novum": _novum, "compnets": _compnets, "nemo": _nemo}


def contrastive_loss(name: str, f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, features: torch.Tensor,
                     n_vertices: torch.Tensor, background: torch.Tensor, temperature: float, *,
                     near: torch.Tensor | None = None, omega: torch.Tensor | None = None,
                     cross_samples: int | None = None, generator: torch.Generator | None = None,
                     background_weight: float = 1.0, clutter: torch.Tensor | None = None,
                     regularizer: float = 0.0) -> torch.Tensor:
    """The loss ``name`` (:data:`LOSSES`) on the visible-vertex features ``f (V, D)`` of one batch; ``omega`` and
    ``cross_samples`` are the compnets loss's (NOVUM contrasts every vertex of every class, NeMo its own class's).

    ``background_weight`` weighs each background term of the softmax; ``regularizer`` > 0 adds ``regularizer x``
    :func:`background_regularizer` of ``clutter``, the background features sampled from the batch's images at this
    step, with their gradient (NOVUM's and NeMo's releases: 0.005 and 0.1; Eq. 5: 1 and 0, see
    ``options.MeshOptions``).
    """
    if name not in LOSSES:
        raise ValueError(f"unknown contrastive loss {name!r} (known: {', '.join(LOSSES)})")
    loss = LOSSES[name](f, cls, vertex, features, n_vertices, background, temperature, near=near, omega=omega,
                        cross_samples=cross_samples, generator=generator, background_weight=background_weight)
    if regularizer > 0:
        if clutter is None:
            raise ValueError(f"the {name} loss's background regulariser needs the batch's background features "
                             "(clutter)")
        if len(clutter):
            loss = loss + regularizer * background_regularizer(clutter, features, n_vertices)
    return loss


def omega_from_confusion(confusion: torch.Tensor, threshold: float) -> torch.Tensor:
    """``omega_{y,y'}``: the row-normalised confusion (rows = true class), zero below ``threshold``.

    A class with no calibration images keeps weight 1 towards every class (nothing says it is not confused).
    """
    conf = confusion.double()
    total = conf.sum(1, keepdim=True)
    rate = torch.where(total > 0, conf / total.clamp_min(1), torch.ones_like(conf))
    return torch.where(rate >= threshold, rate, torch.zeros_like(rate)).float()
