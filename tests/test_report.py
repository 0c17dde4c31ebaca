"""The report's pieces without a browser: a table's cells with their interval and chance level, numbered reasons
for empty cells that link to them, claims with interval and verdict, brought models beside the claims, and a
missing file said in the page. (The whole report in a real browser: tests/test_workflow.py.)"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from robust3d.evaluate.stats import paired_bootstrap
from robust3d.report.browser import page_problems
from robust3d.report.html import page
from robust3d.report.sections import claims_section, table_section
from robust3d.tables.reference import Reference
from robust3d.tables.render import build_table, write_table
from robust3d.tables.sources import Sources
from robust3d.tables.spec import MetricColumn, Row, TableSpec
from robust3d.tables.uncertainty import RESAMPLES, SEED


def _predictions(hits: list[int]) -> pd.DataFrame:
    n = len(hits)
    classes = ["a", "b"] * (n // 2)
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "class": classes,
                         "pred_class": [c if h else ("b" if c == "a" else "a") for c, h in zip(classes, hits,
                                                                                               strict=True)],
                         "azimuth": 0.0, "elevation": 0.0, "theta": 0.0, "pred_azimuth": np.nan,
                         "pred_elevation": np.nan, "pred_theta": np.nan, "pose_class": "", "seconds": 0.0,
                         "model": "m", "split": "test", "variant": "clean", "level": "0"})


@pytest.fixture
def built(tmp_path):
    hits = [1, 1, 0, 1, 0, 1, 1, 0]
    metrics = pd.DataFrame([{"benchmark": "b", "paper": "p", "model": "m", "split": "test", "variant": "clean",
                             "level": "0", "metric": "class_accuracy", "value": 62.5, "n": 8}])
    sources = Sources(metrics, predictions=_predictions(hits), models=["m"])
    spec = TableSpec("p", "table1", "Table 1: toy", [Row("m", "m", "M"), Row("x", "x", "X")],
                     [MetricColumn("iid", "IID", percent=True, metric="class_accuracy")])
    table = build_table(spec, sources, Reference("p", "", "toy data", {}))
    write_table(table, tmp_path)
    return table, tmp_path / "p_table1.csv", hits


def test_cells_carry_their_interval_and_chance(built):
    table, csv, hits = built
    sure = table.uncertainty[("m", "iid")]
    expected = paired_bootstrap(lambda a: a.mean(axis=-1), 100.0 * np.asarray(hits, float), n_resamples=RESAMPLES,
                                seed=SEED)
    assert (sure.ci_low, sure.ci_high) == (expected.low, expected.high) and sure.ci_low < 62.5 < sure.ci_high
    assert sure.chance == pytest.approx(50.0)  # two balanced classes
    df = pd.read_csv(csv)
    ours = df[(df["row"] == "m") & (df["source"] == "ours")].iloc[0]
    assert ours["ci_low"] == expected.low and ours["chance"] == pytest.approx(50.0) and bool(ours["percent"])
    assert df[df["source"] == "paper"][["chance", "ci_low", "ci_high"]].isna().all().all()


def test_table_section_links_every_empty_cell_to_its_reason(built):
    _, csv, _ = built
    html = table_section(csv, "p-table1")
    assert "Table 1: toy" in html and "chance 50.0" in html and "95% [" in html
    links = set(re.findall(r'href="#(p-table1-r\d+)"', html))
    assert links and all(f'id="{anchor}"' in html for anchor in links)
    assert "model &#x27;x&#x27; is not in this config&#x27;s models" in html  # the reason, escaped
    assert page_problems(page("t", html).replace("<body>", '<body data-checked="yes" data-broken-images="0">')) == []


def test_claims_show_interval_verdict_and_brought_models(tmp_path):
    claims = pd.DataFrame([{"claim_id": "c1", "claim": "A beats B", "evidence": "t[a, x]; t[b, x]", "ours_left": 60,
                            "ours_right": 50, "ours_statistic": 10, "ci_low": 2.5, "ci_high": 17.5,
                            "verdict": "holds", "paper_statistic": 1, "paper_holds": "true", "note": ""}])
    claims.to_csv(tmp_path / "claims.csv", index=False)
    pd.DataFrame([{"claim_id": "c1", "model": "byom-k", "cells": "t[byom-k, x]", "values": "value 55.0 | left 60.0 "
                   "| right 50.0", "standing": "below the left side, above the right side"}]).to_csv(
        tmp_path / "byom.csv", index=False)
    html = claims_section(tmp_path / "claims.csv", tmp_path / "byom.csv", "p-claims")
    assert "[2.5, 17.5]" in html and ">holds</span>" in html and "byom-k (brought model)" in html
    assert "below the left side, above the right side" in html
    missing = claims_section(tmp_path / "absent.csv", None, "p-claims")
    assert "does not exist" in missing
