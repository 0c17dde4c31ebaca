"""Training to convergence (the calibration score's plateau) and the optimiser's warm-up (the trainers' use of
them: tests/test_dual_head.py, tests/test_neural_mesh_train.py)."""

from __future__ import annotations

import pytest
import torch

from robust3d.models.runtime import Convergence, make_optimizer


@pytest.mark.parametrize(("scores", "stop"), [
    ([10, 20, 30], False),               # not more evaluations than the patience yet
    ([10, 20, 30, 30.4], False),         # 3 evaluations without a gain, but the window still holds the 20 -> 30 rise
    ([30, 30.1, 30.2, 30.4], True),      # best of the last 3 (30.4) < best before them (30) + 0.5
    ([30, 30.1, 30.2, 30.5], False),     # a gain of exactly 0.5 points keeps training
    ([50, 40, 45, 49.9], True),          # falling scores stop too
])
def test_convergence_stops_when_the_last_evaluations_gain_less_than_min_gain(scores, stop):
    assert Convergence(patience=3, min_gain=0.5).reached(scores) is stop


def test_no_convergence_setting_trains_the_fixed_epochs():
    assert Convergence.of({"convergence": None}) is None
    assert Convergence.of({"convergence": {"patience": 2}}) == Convergence(2, 0.5)


def test_warmup_rises_linearly_then_holds_and_adamw_is_chosen():
    params = [torch.nn.Parameter(torch.zeros(2))]
    opt, schedule = make_optimizer(params, {"lr": 0.1, "weight_decay": 0.05, "optimizer": "adamw",
                                            "warmup_epochs": 2}, steps_per_epoch=2)
    assert isinstance(opt, torch.optim.AdamW)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert lrs == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="adam or adamw"):
        make_optimizer(params, {"lr": 0.1, "weight_decay": 0.0, "optimizer": "sgd"}, 1)
