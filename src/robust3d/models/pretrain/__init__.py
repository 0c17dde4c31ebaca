"""Self-supervised pretraining (issue 16): the embedded stand-in for DINOv2, DINO, MoCo-v2 and ImageNet weights.

:mod:`.dino` holds DINO's pieces (Caron et al. 2021): the projection head, the centred and sharpened
cross-entropy between teacher and student, the EMA teacher and the schedules. The training stage that uses them
is still to come (issue 16).
"""

from robust3d.models.pretrain.dino import (
    DINOHead,
    DINOLoss,
    cosine_schedule,
    ema_update,
    teacher_temperature,
)

__all__ = ["DINOHead", "DINOLoss", "cosine_schedule", "ema_update", "teacher_temperature"]
