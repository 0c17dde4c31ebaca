"""Evaluation: hand-made predictions with known pose errors and classes -> the tidy metrics.csv."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from robust3d.evaluate.metrics import METRIC_COLUMNS, compute_metrics, evaluate_files
from robust3d.evaluate.predictions import PREDICTION_COLUMNS, manifest_split, read_predictions, write_predictions

D = math.pi / 180


def _row(sid: str, cls: str, pred_cls: str, true: tuple[float, float, float], delta: tuple[float, float, float],
         model: str = "m", split: str = "test", variant: str = "clean", level: str = "0") -> dict:
    az, el, th = true
    return {"sample_id": sid, "class": cls, "pred_class": pred_cls, "azimuth": az, "elevation": el, "theta": th,
            "pred_azimuth": az + delta[0], "pred_elevation": el + delta[1], "pred_theta": th + delta[2],
            "pose_class": pred_cls, "seconds": 0.01, "model": model, "split": split, "variant": variant,
            "level": level}


def _clean_rows(model: str = "m", **kw) -> list[dict]:
    """Errors 0, 40, 5 and 20 degrees (one axis each); classes right, right, right, wrong."""
    true = (1.0, 0.3, -0.1)
    return [
        _row("a", "car", "car", true, (0, 0, 0), model, **kw),
        _row("b", "car", "car", true, (40 * D, 0, 0), model, **kw),  # azimuth off by 40 deg: wrong at pi/6
        _row("c", "bus", "bus", true, (0, 0, 5 * D), model, **kw),  # in-plane rotation off by 5 deg
        _row("d", "bus", "car", true, (0, -20 * D, 0), model, **kw),  # elevation off by 20 deg
    ]


def _write(tmp_path, name: str, rows: list[dict]):
    path = tmp_path / name
    write_predictions(pd.DataFrame(rows), path)
    return path


def _value(metrics: pd.DataFrame, metric: str, **keys) -> pd.Series:
    sel = metrics["metric"] == metric
    for k, v in keys.items():
        sel &= metrics[k] == v
    assert sel.sum() == 1, (metric, keys, metrics)
    return metrics[sel].iloc[0]


def test_known_errors_give_known_metrics():
    m = compute_metrics(pd.DataFrame(_clean_rows()), "synthetic", "compnets")
    assert list(m.columns) == list(METRIC_COLUMNS)
    assert _value(m, "class_accuracy")["value"] == pytest.approx(75.0)
    assert _value(m, "pose_acc_pi6")["value"] == pytest.approx(75.0)  # 40 deg is wrong, 20 deg right
    assert _value(m, "pose_acc_pi18")["value"] == pytest.approx(50.0)  # 0 and 5 deg right
    assert _value(m, "pose_median_deg")["value"] == pytest.approx(12.5, abs=1e-6)  # median of 0, 5, 20, 40
    assert set(m["n"]) == {4}
    assert set(m["benchmark"]) == {"synthetic"} and set(m["paper"]) == {"compnets"}


def test_exactly_40_degrees_is_the_median_and_wrong_at_pi6():
    true = (0.2, 0.1, 0.0)
    rows = [_row(s, "car", "car", true, (0, 0, 40 * D)) for s in "abc"]
    m = compute_metrics(pd.DataFrame(rows), "synthetic", "compnets")
    assert _value(m, "pose_median_deg")["value"] == pytest.approx(40.0, abs=1e-6)
    assert _value(m, "pose_acc_pi6")["value"] == 0.0


def test_wrapped_angles_are_right_and_nan_is_worst():
    true = (0.1, 0.2, 0.3)
    rows = [_row("a", "car", "car", true, (2 * math.pi, 0, 0)),  # same rotation, angle wrapped
            _row("b", "car", "car", true, (0, 0, -2 * math.pi)),
            _row("c", "car", "car", true, (float("nan"), 0, 0))]  # a diverged prediction scores pi
    m = compute_metrics(pd.DataFrame(rows), "synthetic", "compnets")
    assert _value(m, "pose_acc_pi18")["value"] == pytest.approx(200 / 3)
    assert _value(m, "pose_median_deg")["value"] == pytest.approx(0.0, abs=1e-5)
    rows.append(_row("d", "car", "car", true, (float("nan"), 0, 0)))
    m = compute_metrics(pd.DataFrame(rows), "synthetic", "compnets")
    assert _value(m, "pose_median_deg")["value"] == pytest.approx(90.0, abs=1e-5)  # median of 0, 0, 180, 180


def test_a_model_without_a_pose_or_class_head_gets_no_such_rows(tmp_path):
    """An empty pose column is no pose prediction (not 0% and 180 degrees); an empty class column likewise."""
    class_only = [dict(r, pred_azimuth="", pred_elevation="", pred_theta="") for r in _clean_rows("classifier")]
    pose_only = [dict(r, pred_class="", pose_class="") for r in _clean_rows("posenet")]
    paths = [_write(tmp_path, f"{i}.csv", rows) for i, rows in enumerate([class_only, pose_only])]
    m = evaluate_files(paths, tmp_path / "metrics.csv", "synthetic", "compnets")
    assert set(m.loc[m["model"] == "classifier", "metric"]) == {"class_accuracy"}
    assert _value(m, "class_accuracy", model="classifier")["value"] == pytest.approx(75.0)
    assert set(m.loc[m["model"] == "posenet", "metric"]) == {"pose_acc_pi6", "pose_acc_pi18", "pose_median_deg"}
    assert _value(m, "pose_acc_pi6", model="posenet", variant="clean")["value"] == pytest.approx(75.0)
    # In memory, a pose model whose angles are all NaN on one group still scores the worst error there
    # (files refuse NaN: see test_bad_predictions_are_refused_naming_the_file).
    failed = [dict(r, pred_azimuth=float("nan"), pred_class="")
              for r in _clean_rows("posenet", variant="occlusion", level="L1")]
    m = compute_metrics(pd.DataFrame(pose_only + failed).replace("", float("nan")).assign(
        pred_class=lambda d: d["pred_class"].fillna("")), "synthetic", "compnets")
    assert _value(m, "pose_acc_pi6", model="posenet", variant="occlusion")["value"] == 0.0


@pytest.mark.parametrize(("change", "message"), [
    (lambda rows: rows[1].update(pred_azimuth="abc"), r"column 'pred_azimuth' must hold finite numbers or nothing; "
                                                      r"sample 'b' has 'abc'"),
    (lambda rows: rows[2].update(pred_theta="nan"), r"column 'pred_theta' must hold finite numbers"),
    (lambda rows: rows[0].update(seconds="inf"), r"column 'seconds' must hold finite numbers"),
    (lambda rows: rows[3].update(pred_elevation=""), r"sample 'd' lacks predicted angles that other samples have"),
    (lambda rows: rows[1].update(pred_class="cra"), r"sample 'b' predicts class 'cra', which no sample"),
    (lambda rows: rows.append(dict(rows[0])), r"sample 'a' appears 2 times"),
])
def test_bad_predictions_are_refused_naming_the_file(tmp_path, change, message):
    from robust3d.errors import InputError

    rows = _clean_rows()
    change(rows)
    path = _write(tmp_path, "preds.csv", rows)
    out = tmp_path / "metrics.csv"
    with pytest.raises(InputError, match=message) as err:
        evaluate_files([path], out, "synthetic", "compnets")
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    assert not out.exists()  # refused before any number is written


def test_files_group_into_tidy_rows_and_unseen_has_no_class_accuracy(tmp_path):
    p1 = _write(tmp_path, "m_test.csv", _clean_rows("m"))
    occl = [_row(s, "car", "car", (0.0, 0.0, 0.0), (0, 0, 0), "m", "test", "occlusion", "L1") for s in "ab"]
    p2 = _write(tmp_path, "m_occl.csv", occl)
    unseen = [_row(s, "chair", "car", (0.0, 0.0, 0.0), (0, 35 * D, 0), "m", "unseen") for s in "abc"]
    p3 = _write(tmp_path, "m_unseen.csv", unseen)
    p4 = _write(tmp_path, "n_test.csv", _clean_rows("n"))
    out = tmp_path / "metrics.csv"
    evaluate_files([p1, p2, p3, p4], out, "synthetic", "compnets")
    m = pd.read_csv(out, dtype={"level": str})
    assert list(m.columns) == list(METRIC_COLUMNS)
    # 3 groups with 4 metrics, the unseen group without class accuracy
    assert len(m) == 4 + 4 + 3 + 4
    assert not ((m["split"] == "unseen") & (m["metric"] == "class_accuracy")).any()
    assert _value(m, "pose_acc_pi6", split="unseen")["value"] == 0.0  # 35 deg
    assert _value(m, "pose_acc_pi6", split="unseen")["n"] == 3
    assert _value(m, "class_accuracy", variant="occlusion", level="L1")["value"] == 100.0
    assert _value(m, "class_accuracy", model="n", variant="clean")["value"] == pytest.approx(75.0)
    assert not m.duplicated(["model", "split", "variant", "level", "metric"]).any()


def test_missing_columns_and_duplicates_are_clear_errors(tmp_path, capsys):
    from robust3d.cli import main

    bad = tmp_path / "bad.csv"
    pd.DataFrame(_clean_rows()).drop(columns=["pred_theta", "split"]).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"lacks the columns \['pred_theta', 'split'\]"):
        read_predictions(bad)
    assert main(["evaluate", "--predictions", str(bad), "--benchmark", "synthetic", "--paper", "compnets",
                 "--out", str(tmp_path / "m.csv")]) == 2
    assert "pred_theta" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()

    good = _write(tmp_path, "good.csv", _clean_rows())
    with pytest.raises(ValueError, match="given twice"):
        evaluate_files([good, good], tmp_path / "m.csv", "synthetic", "compnets")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_files([tmp_path / "nope.csv"], tmp_path / "m.csv", "synthetic", "compnets")


def test_cli_writes_metrics(tmp_path):
    from robust3d.cli import main

    good = _write(tmp_path, "good.csv", _clean_rows())
    out = tmp_path / "sub" / "metrics.csv"
    assert main(["evaluate", "--predictions", str(good), "--benchmark", "synthetic", "--paper", "compnets",
                 "--out", str(out)]) == 0
    m = pd.read_csv(out)
    assert sorted(m["metric"]) == sorted(["class_accuracy", "pose_acc_pi6", "pose_acc_pi18", "pose_median_deg"])


def test_prediction_columns_and_split_from_manifest_location(tmp_path):
    assert PREDICTION_COLUMNS[:3] == ("sample_id", "class", "pred_class")
    assert manifest_split(tmp_path / "synthetic" / "test" / "manifest.csv") == "test"
    assert manifest_split(tmp_path / "synthetic" / "unseen" / "manifest.csv") == "unseen"
    assert manifest_split(tmp_path / "synthetic" / "variants" / "test" / "fog" / "4" / "manifest.csv") == "test"


def test_sample_hits_are_the_per_sample_form_of_the_accuracies():
    from robust3d.evaluate.metrics import group_metrics, sample_hits

    df = pd.DataFrame(_clean_rows())
    assert list(sample_hits(df, "class_accuracy")) == [1, 1, 1, 0]
    assert list(sample_hits(df, "pose_acc_pi6")) == [1, 0, 1, 1]  # 40 deg is a miss at pi/6
    assert list(sample_hits(df, "pose_acc_pi18")) == [1, 0, 1, 0]
    for metric, value in group_metrics(df).items():
        hits = sample_hits(df, metric)
        assert (hits is None) == (metric == "pose_median_deg")
        if hits is not None:
            assert 100 * hits.mean() == pytest.approx(value)
    no_pose = df.assign(pred_azimuth=float("nan"), pred_elevation=float("nan"), pred_theta=float("nan"))
    assert sample_hits(no_pose, "pose_acc_pi6") is None


def test_amodal_iou_is_the_mean_of_the_samples_with_a_mask(tmp_path):
    """amodal_iou: the mean of the finite per-sample IoUs (empty: no mask), n their count; no column, or only
    empty values, gives no row (not 0)."""
    from robust3d.evaluate.metrics import sample_hits

    rows = [{**r, "amodal_iou": iou} for r, iou in zip(_clean_rows(), ["100", "0", "50", ""], strict=True)]
    m = compute_metrics(pd.DataFrame(rows), "synthetic", "ntdm")
    assert _value(m, "amodal_iou")["value"] == pytest.approx(50.0) and _value(m, "amodal_iou")["n"] == 3
    assert _value(m, "class_accuracy")["n"] == 4  # the other metrics are unchanged
    read = read_predictions(_write(tmp_path, "p.csv", rows))  # extra columns come back as strings
    assert _value(compute_metrics(read, "synthetic", "ntdm"), "amodal_iou")["value"] == pytest.approx(50.0)
    assert sample_hits(pd.DataFrame(rows), "amodal_iou") is None  # a sample without a mask: no per-sample values
    full = pd.DataFrame(rows[:3])
    assert list(sample_hits(full, "amodal_iou")) == [1.0, 0.0, 0.5]
    assert "amodal_iou" not in set(compute_metrics(pd.DataFrame(_clean_rows()), "synthetic", "ntdm")["metric"])
    empty = [{**r, "amodal_iou": ""} for r in _clean_rows()]
    assert "amodal_iou" not in set(compute_metrics(pd.DataFrame(empty), "synthetic", "ntdm")["metric"])
    assert sample_hits(pd.DataFrame(_clean_rows()), "amodal_iou") is None


def test_mask_iou_on_hand_made_masks():
    import numpy as np

    from robust3d.evaluate.metrics import mask_iou

    a = np.zeros((2, 3), bool)
    b = np.zeros((2, 3), bool)
    a[0, :2] = True
    b[0, 1:] = True  # overlap 1 pixel, union 3
    assert abs(mask_iou(a, b) - 100.0 / 3) < 1e-12
    assert mask_iou(a, a) == 100.0 and mask_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 100.0
