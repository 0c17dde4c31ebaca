"""scripts/compnets_signal.py: issue 17's gates read off a run's per-model figures (each gate can fail)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def signal():
    spec = importlib.util.spec_from_file_location("compnets_signal", REPO / "scripts" / "compnets_signal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _frame(**changes) -> pd.DataFrame:
    rows = {"resnet50": ("dual_head", 90.0, 30.0), "dinov2_vitb14": ("dual_head", 86.0, 30.0),
            "compnets_resnet50_n32": ("neural_mesh", 92.0, 45.0), "compnets_vitb14": ("neural_mesh", 88.0, 41.0)}
    rows.update(changes)
    return pd.DataFrame([{"model": m, "family": f, "class": c, "pose_pi6": p, "pose_vs_chance": "above chance"}
                         for m, (f, c, p) in rows.items()])


def test_gates_pass_on_a_run_that_meets_them(signal):
    assert all(ok for _, ok, _ in signal.gates(_frame()))


@pytest.mark.parametrize(("changes", "failing"), [
    ({"compnets_vitb14": ("neural_mesh", 88.0, 39.9)}, 0),   # a mesh model under 40% pose
    ({"resnet50": ("dual_head", 84.9, 30.0)}, 1),            # a model under 85% class (and 4.9 below its ViT)
    ({"compnets_vitb14": ("neural_mesh", 86.0, 41.0), "compnets_resnet50_n32": ("neural_mesh", 96.5, 45.0)}, 2),
])
def test_each_gate_fails_on_its_own_numbers(signal, changes, failing):
    met = [ok for _, ok, _ in signal.gates(_frame(**changes))]
    assert not met[failing] and met[3]


def test_a_model_at_chance_on_pose_fails_the_chance_gate(signal):
    df = _frame()
    df.loc[df["model"] == "resnet50", "pose_vs_chance"] = "at chance"
    assert [ok for _, ok, _ in signal.gates(df)] == [True, True, True, False]


def test_flip_share_counts_azimuths_off_by_more_than_150_degrees(signal):
    pred = pd.DataFrame({"azimuth": [0.0, 0.0, 1.0, 3.0], "pred_azimuth": [np.pi, 0.1, 1.0 + np.radians(170), 3.0],
                         "elevation": [0.1] * 4, "pred_elevation": [0.1] * 4, "theta": [0.0] * 4,
                         "pred_theta": [0.0] * 4})
    everything, of_errors = signal.flip_shares(pred)
    assert everything == pytest.approx(50.0) and of_errors == pytest.approx(100.0)
