"""Self-supervised pretraining (issue 16): the embedded stand-in for DINOv2, DINO, MoCo-v2 and ImageNet weights.

- :mod:`.dino`: DINO's pieces (Caron et al. 2021): projection head, centred and sharpened cross-entropy, EMA
  teacher, schedules;
- :mod:`.augment`: multi-crop views as batched tensor ops;
- :mod:`.encoder`: the timm module a paper's backbone wraps, with its pooled output;
- :mod:`.train`: the resumable, deterministic training loop and its collapse monitors;
- :mod:`.sanity` and :mod:`.stage`: k-NN / azimuth-probe sanity numbers beside their baselines, and the stage
  that writes ``backbone.pt`` (loaded by ``weights: ssl:<name>``) and ``train.json``.
"""

from robust3d.models.pretrain.dino import (
    DINOHead,
    DINOLoss,
    cosine_schedule,
    ema_update,
    teacher_temperature,
)

__all__ = ["DINOHead", "DINOLoss", "cosine_schedule", "ema_update", "teacher_temperature"]
