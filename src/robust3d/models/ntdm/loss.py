"""NTDM's training loss (Sec. 3.3, Eq. 7-8) read as the InfoNCE it is meant to be, in texture space.

For each sampled positive texel ``t`` that an image of class ``c`` sees (the splat's covered texels), ``f`` is the
image feature splatted there (unit) and ``alpha (b,)`` its viewing coefficients. With ``kappa = 1 / temperature``:

- positive ``s+ = kappa f . theta^+``, ``theta^+ = sum_b alpha_b theta^c_b(t)`` (the view-specific texture feature,
  what inference renders: Fig. 3/4);
- ``D_Con``: texels ``t'`` of the same texture farther than ``tau`` from ``t`` on the template sphere (great-circle
  angle; the paper's raw-UV distance wraps at the seam and stretches at the poles), mixed with the same alpha;
- ``D_Class``: texels of other classes' textures (mixed with the same alpha);
- ``D_Back`` (Eq. 7): the background bank's features.

``L = -s+ + logsumexp([s+, {s_n + log W_Con}, {s_m + log W_Class}, {s_j + log W_BG}])``, averaged over positives,
with ``W_Con = W_Class = 1``, ``W_BG = 0.1`` (Eq. 8's weights as log-weights of the softmax terms; the printed Eq. 8
is garbled: its numerator names no term and every distance enters with a positive exponent). The textures and the
bank take no gradient: only the image features do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NEG_INF = float("-inf")


@dataclass(frozen=True)
class LossWeights:
    con: float = 1.0
    cls: float = 1.0
    bg: float = 0.1

    def logs(self) -> tuple[float, float, float]:
        for name, w in (("w_con", self.con), ("w_class", self.cls), ("w_bg", self.bg)):
            if w <= 0:
                raise ValueError(f"loss weight {name} must be > 0, got {w}")
        return math.log(self.con), math.log(self.cls), math.log(self.bg)


def mixed_similarity(f: torch.Tensor, alpha: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``f_p . sum_b alpha_{p,b} theta_{n,b}`` for every positive ``p`` and candidate ``n``: ``(P, N)``.

    ``f (P, d)``, ``alpha (P, b)``, ``candidates (N, b, d)`` (shared by the positives).
    """
    return torch.einsum("pd,nbd,pb->pn", f, candidates, alpha)


def ntdm_loss(f: torch.Tensor, alpha: torch.Tensor, cls: torch.Tensor, texel: torch.Tensor, textures: torch.Tensor,
              background: torch.Tensor, texel_dirs: torch.Tensor, *, temperature: float, tau: float,
              negatives: torch.Tensor, class_negatives: tuple[torch.Tensor, torch.Tensor] | None,
              weights: LossWeights = LossWeights(), reduction: str = "mean") -> torch.Tensor:
    """The loss of ``P`` positives (see the module docstring).

    Args:
        f: ``(P, d)`` unit image features at the positive texels (with gradient).
        alpha: ``(P, b)`` their viewing coefficients.
        cls: ``(P,)`` class of each positive's image; ``texel``: ``(P,)`` flat texel index (``i q + j``).
        textures: ``(Y, b, d, q, q)`` unit texture features (no gradient).
        background: ``(N_b, d)`` unit background features.
        texel_dirs: ``(q * q, 3)`` template-sphere points of the texel centres (``texture.texel_directions``).
        negatives: ``(N,)`` flat texel indices, the same-class candidates (shared; those within ``tau`` of a
            positive are dropped for that positive).
        class_negatives: ``(class (M,), texel (M,))`` candidates of other classes (those of the positive's own
            class are dropped for it), or None (one class: no class term).
        reduction: ``"mean"`` or ``"none"`` (per positive).
    """
    log_con, log_cls, log_bg = weights.logs()
    kappa = 1.0 / temperature
    y_count, bins, d, q, _ = textures.shape
    flat = textures.detach().reshape(y_count, bins, d, q * q)
    own = flat[cls, :, :, texel].reshape(len(f), bins, d)  # (P, b, d) the positive's bins
    pos = (torch.einsum("pd,pbd->pb", f, own) * alpha).sum(-1) * kappa

    same = torch.full((len(f), len(negatives)), NEG_INF, dtype=f.dtype, device=f.device)
    far = (texel_dirs[texel] @ texel_dirs[negatives].T).clamp(-1, 1).acos() > tau  # (P, N)
    for y in torch.unique(cls).tolist():
        rows = (cls == y).nonzero().squeeze(1)
        cand = flat[y][:, :, negatives].permute(2, 0, 1)  # (N, b, d)
        s = mixed_similarity(f[rows], alpha[rows], cand) * kappa + log_con
        same[rows] = torch.where(far[rows], s, torch.full_like(s, NEG_INF))
    terms = [pos[:, None], same]
    if class_negatives is not None:
        c_cls, c_tex = class_negatives
        cand = flat[c_cls, :, :, c_tex]  # (M, b, d)
        s = mixed_similarity(f, alpha, cand) * kappa + log_cls
        terms.append(torch.where(c_cls[None, :] != cls[:, None], s, torch.full_like(s, NEG_INF)))
    terms.append((f @ background.detach().T.to(f)) * kappa + log_bg)
    loss = torch.logsumexp(torch.cat(terms, 1), 1) - pos
    return loss.mean() if reduction == "mean" else loss


def sample_negatives(n_classes: int, size: int, negatives: int, class_negatives: int,
                     generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """One step's candidates: ``negatives`` distinct texels (shared by the batch) and ``class_negatives``
    (class, texel) pairs drawn uniformly over all classes (None when there is one class)."""
    texels = size * size
    same = torch.randperm(texels, generator=generator)[: min(negatives, texels)]
    if n_classes < 2 or class_negatives <= 0:
        return same, None
    c = torch.randint(0, n_classes, (class_negatives,), generator=generator)
    t = torch.randint(0, texels, (class_negatives,), generator=generator)
    return same, (c, t)
