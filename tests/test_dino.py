"""DINO's pieces: the loss against a hand computation, the centre, the EMA teacher, the schedules, the head."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from robust3d.models.pretrain import DINOHead, DINOLoss, cosine_schedule, ema_update, teacher_temperature


def _softmax(row: list[float], temp: float) -> list[float]:
    e = [math.exp(v / temp) for v in row]
    return [v / sum(e) for v in e]


def test_dino_loss_equals_a_hand_computation():
    # one image (B = 1), K = 2 prototypes, 2 global crops and 1 local crop; centre starts at 0
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
    teacher = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    loss_fn = DINOLoss(out_dim=2, n_global=2, student_temp=0.1, center_momentum=0.9)
    got = float(loss_fn(student, teacher, teacher_temp=0.05))
    q = [_softmax(t, 0.05) for t in teacher.tolist()]
    p = [_softmax(s, 0.1) for s in student.tolist()]
    pairs = [(t, s) for t in range(2) for s in range(3) if s != t]  # (0,1), (0,2), (1,0), (1,2)
    want = sum(-sum(qk * math.log(pk) for qk, pk in zip(q[t], p[s], strict=True)) for t, s in pairs) / len(pairs)
    assert got == pytest.approx(want, rel=1e-5)
    # the centre moved 10% of the way to the batch mean of the teacher logits
    assert torch.allclose(loss_fn.center, torch.tensor([[0.1, 0.05]]))


def test_centring_subtracts_the_centre_before_sharpening():
    loss_fn = DINOLoss(out_dim=3, n_global=2)
    loss_fn.center.copy_(torch.tensor([[5.0, 0.0, 0.0]]))
    student = torch.zeros(4, 3)
    teacher = torch.tensor([[5.0, 0.0, 0.0]] * 4)  # all of it is the centre: the target is uniform
    assert float(loss_fn(student, teacher, 0.04)) == pytest.approx(math.log(3), rel=1e-6)


def test_dino_loss_refuses_logits_that_are_not_whole_crops():
    with pytest.raises(ValueError, match="whole crops"):
        DINOLoss(out_dim=2, n_global=2)(torch.zeros(5, 2), torch.zeros(4, 2), 0.04)


def test_teacher_is_an_exponential_moving_average_of_the_student():
    torch.manual_seed(0)
    student, teacher = nn.Linear(3, 2), nn.Linear(3, 2)
    t0 = [p.detach().clone() for p in teacher.parameters()]
    s0 = [p.detach().clone() for p in student.parameters()]
    ema_update(teacher, student, momentum=0.75)
    for pt, a, b in zip(teacher.parameters(), t0, s0, strict=True):
        assert torch.allclose(pt, 0.75 * a + 0.25 * b)
    # repeated updates toward a fixed student converge to it geometrically: error x 0.75 each step
    err0 = max(float((a - b).abs().max()) for a, b in zip(t0, s0, strict=True))
    for _ in range(9):
        ema_update(teacher, student, momentum=0.75)
    err = max(float((pt.detach() - b).abs().max()) for pt, b in zip(teacher.parameters(), s0, strict=True))
    assert err == pytest.approx(err0 * 0.75**10, rel=1e-3)
    assert all(not p.requires_grad or p.grad is None for p in teacher.parameters())


def test_schedules():
    assert cosine_schedule(0, 11, 0.996, 1.0) == pytest.approx(0.996)
    assert cosine_schedule(10, 11, 0.996, 1.0) == pytest.approx(1.0)
    assert cosine_schedule(5, 11, 0.996, 1.0) == pytest.approx(0.998)
    assert teacher_temperature(0, 10, 0.04, 0.07) == pytest.approx(0.04)
    assert teacher_temperature(5, 10, 0.04, 0.07) == pytest.approx(0.055)
    assert teacher_temperature(30, 10, 0.04, 0.07) == pytest.approx(0.07)


def test_head_logits_are_cosines_to_unit_prototypes():
    head = DINOHead(in_dim=8, out_dim=16, hidden_dim=32, bottleneck_dim=4)
    out = head(torch.randn(5, 8))
    assert out.shape == (5, 16)
    assert out.abs().max() <= 1 + 1e-6  # unit bottleneck against unit prototypes
    x = torch.randn(3, 8)
    before = head(x)
    with torch.no_grad():
        head.prototypes.mul_(7.0)  # the prototypes' length does not matter (the reference's frozen gain)
    assert torch.allclose(head(x), before, atol=1e-6)
