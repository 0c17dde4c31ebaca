"""Figure 1's radar axes: scaled to the best model, and an axis where every model scores 0 says so."""

from __future__ import annotations

import math

from robust3d.figures.radar import axis_best, axis_label, radar_figure


def test_axes_name_their_best_value_and_an_all_zero_axis_is_not_called_best_1(tmp_path):
    values = {"a": {"cls": 80.0, "pose": 0.0, "occ": math.nan}, "b": {"cls": 40.0, "pose": 0.0, "occ": 20.0}}
    best = axis_best(values, ["cls", "pose", "occ"])
    assert best == {"cls": 80.0, "pose": 0.0, "occ": 20.0}
    assert axis_label("cls", best["cls"]) == "cls\n(best 80.0)"
    assert axis_label("pose", best["pose"]) == "pose\n(all models 0)"
    out = radar_figure(values, tmp_path / "f.png", "t")
    assert out.read_bytes()[:4] == b"\x89PNG"
