"""DINO self-distillation pieces: projection head, loss with centring, EMA teacher, schedules.

Written from the paper (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", 2021) and
checked against the behaviour of facebookresearch/dino's ``main_dino.py``:

- the head is a 3-layer MLP to a bottleneck, L2-normalised, then a linear layer to ``K`` prototypes whose weight
  rows are normalised to unit length (the reference's weight-normalised last layer with its gain frozen at 1);
- the teacher's logits are centred (a running mean over batches, momentum ``center_momentum``) and sharpened by
  a low temperature; the student's are divided by ``student_temp``; the loss is the cross-entropy
  ``-sum_k q_k log p_k`` averaged over the batch and over every (teacher global view, student view) pair with
  different views;
- the teacher is an exponential moving average of the student, its momentum following a cosine from
  ``base`` to 1 over training.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DINOHead(nn.Module):
    """``[B, in_dim]`` features -> ``[B, out_dim]`` prototype logits (before any temperature)."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048, bottleneck_dim: int = 256,
                 n_layers: int = 3, use_bn: bool = False) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        dims = [in_dim] + [hidden_dim] * (n_layers - 1) + [bottleneck_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            layers.append(nn.Linear(a, b))
            if i < n_layers - 1:
                if use_bn:  # DINO's use_bn_in_head (its ResNet-50 recipe)
                    layers.append(nn.BatchNorm1d(b))
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.prototypes = nn.Parameter(torch.empty(out_dim, bottleneck_dim))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.mlp(x), dim=-1)
        return z @ F.normalize(self.prototypes, dim=-1).t()


class DINOLoss(nn.Module):
    """Cross-entropy between the centred, sharpened teacher and the student over all pairs of different views.

    ``student`` is ``[n_crops * B, K]`` (global crops first, then local ones) and ``teacher`` ``[n_global * B, K]``,
    both in crop-major order (all images of crop 0, then crop 1, ...). The centre is updated after each call, from
    the teacher logits of that batch.
    """

    def __init__(self, out_dim: int, n_global: int = 2, student_temp: float = 0.1, center_momentum: float = 0.9
                 ) -> None:
        super().__init__()
        self.n_global = n_global
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, teacher_temp: float) -> torch.Tensor:
        if teacher.shape[0] % self.n_global or student.shape[0] % (teacher.shape[0] // self.n_global):
            raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} logits do not "
                             f"split into whole crops of one batch ({self.n_global} global crops)")
        batch = teacher.shape[0] // self.n_global
        log_p = F.log_softmax(student / self.student_temp, dim=-1).chunk(student.shape[0] // batch)
        q = F.softmax((teacher - self.center) / teacher_temp, dim=-1).detach().chunk(self.n_global)
        total, terms = student.new_zeros(()), 0
        for t, q_t in enumerate(q):
            for s, log_p_s in enumerate(log_p):
                if s == t:  # the same view: nothing to predict
                    continue
                total = total + (-(q_t * log_p_s).sum(-1)).mean()
                terms += 1
        self.update_center(teacher)
        return total / terms

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        batch_center = teacher.detach().mean(0, keepdim=True)
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher <- momentum * teacher + (1 - momentum) * student``, parameter by parameter (buffers copied)."""
    for pt, ps in zip(teacher.parameters(), student.parameters(), strict=True):
        pt.mul_(momentum).add_(ps.detach(), alpha=1 - momentum)
    for bt, bs in zip(teacher.buffers(), student.buffers(), strict=True):
        bt.copy_(bs)


def cosine_schedule(step: int, total: int, start: float, end: float) -> float:
    """Cosine from ``start`` (step 0) to ``end`` (step ``total - 1``): DINO's EMA momentum and weight decay."""
    if total <= 1:
        return end
    t = min(max(step, 0), total - 1) / (total - 1)
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


def teacher_temperature(epoch: int, warmup_epochs: int, warmup_temp: float = 0.04, temp: float = 0.04) -> float:
    """Linear warm-up of the teacher temperature from ``warmup_temp`` to ``temp``, then constant."""
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return temp
    return warmup_temp + (temp - warmup_temp) * epoch / warmup_epochs
