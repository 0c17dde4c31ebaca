"""Training seeds in the model id (models.seeds): the plan trains each model per seed, tables fold the seeds into
mean +- sd, and the claims' bootstrap resamples the seeds as well as the samples."""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd
import pytest

from robust3d.evaluate.stats import mean_difference, paired_bootstrap
from robust3d.models.registry import model_spec
from robust3d.models.seeds import model_ids, seeded_id, split_id
from robust3d.tables.reference import Reference
from robust3d.tables.render import build_table, markdown
from robust3d.tables.sources import Sources
from robust3d.tables.spec import MeanColumn, MetricColumn, Row, TableSpec, cell_samples


def test_ids_round_trip_and_refuse_a_second_seed():
    assert model_ids(["a", "b"], [0, 2]) == ["a@s0", "a@s2", "b@s0", "b@s2"]
    assert model_ids(["a"], None) == ["a"]
    assert split_id(seeded_id("compnets_resnet50_n32", 7)) == ("compnets_resnet50_n32", 7)
    assert split_id("resnet50") == ("resnet50", None)
    with pytest.raises(ValueError, match="already names a seed"):
        seeded_id("a@s1", 2)


def test_model_spec_takes_configured_seeds_only():
    section = {"models": {"m": {"family": "dual_head", "backbone": "b"}}, "backbones": {"b": {}}, "seeds": [0, 1]}
    assert model_spec(section, "m@s1").name == "m@s1" and model_spec(section, "m@s1").backbone == "b"
    with pytest.raises(ValueError, match="seed 5 is not in"):
        model_spec(section, "m@s5")
    with pytest.raises(ValueError, match="unknown model"):
        model_spec(section, "x@s0")


def test_plan_trains_and_predicts_every_model_per_seed(smoke_config):
    from robust3d.papers.compnets.plan import CompnetsPlan

    single = CompnetsPlan(smoke_config, "")
    seeded = CompnetsPlan({**smoke_config, "compnets": {**smoke_config["compnets"], "seeds": [3, 4]}}, "")
    assert seeded.models == [f"{m}@s{k}" for m in single.models for k in (3, 4)]
    plain = {e[1:] for e in single.evaluations()}
    for k in (3, 4):
        assert {e[1:] for e in seeded.evaluations() if e[0].endswith(f"@s{k}")} == plain


def _metrics(values: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"benchmark": "b", "paper": "p", "model": m, "split": "test", "variant": v, "level": "0",
                          "metric": "class_accuracy", "value": x, "n": 10}
                         for m, by_variant in values.items() for v, x in by_variant.items()])


def test_table_cells_are_the_mean_and_sd_over_seeds_of_each_seeds_table():
    spec = TableSpec("p", "t", "T", [Row("m", "m", "M")],
                     [MetricColumn("a", "A", percent=True, metric="class_accuracy"),
                      MetricColumn("b", "B", percent=True, variant="fog", metric="class_accuracy"),
                      MeanColumn("avg", "mean", percent=True, members=("a", "b"))])
    metrics = _metrics({"m@s0": {"clean": 60.0, "fog": 40.0}, "m@s1": {"clean": 70.0, "fog": 20.0},
                        "m@s2": {"clean": 80.0, "fog": 30.0}})
    sources = Sources(metrics, models=["m@s0", "m@s1", "m@s2"], seeds=[0, 1, 2])
    table = build_table(spec, sources, Reference("p", "c", "d", {}))
    a, avg = table.ours[("m", "a")], table.ours[("m", "avg")]
    assert (a.value, a.sd, a.seeds) == (70.0, pytest.approx(10.0), 3)
    # the average is taken within each seed (50, 45, 55), then folded: its sd is not the members' sd
    assert avg.value == pytest.approx(50.0) and avg.sd == pytest.approx(statistics.stdev([50, 45, 55]))
    text = markdown(table)
    assert "70.0 ± 10.0" in text and "mean ± sd over 3 training seeds" in text
    assert Sources(metrics, models=["m@s0"], seeds=[0, 1, 2]).has_model("m")
    missing = build_table(spec, Sources(_metrics({"m@s0": {"clean": 60.0, "fog": 40.0}}), seeds=[0, 1]),
                          Reference("p", "c", "d", {})).ours[("m", "a")]
    assert missing.value == 60.0 and missing.sd is None and "s1 missing" in missing.note


def test_cell_samples_stack_the_seeds_and_the_bootstrap_widens_with_their_spread():
    ids = [f"s{i:03d}" for i in range(200)]
    rng = np.random.default_rng(0)

    def preds(model: str, p: float) -> pd.DataFrame:
        hit = rng.random(len(ids)) < p
        return pd.DataFrame({"model": model, "split": "test", "variant": "clean", "level": "0", "sample_id": ids,
                             "class": "car", "pred_class": np.where(hit, "car", "bus")})

    frames = [preds("m@s0", 0.9), preds("m@s1", 0.5)]
    sources = Sources(predictions=pd.concat(frames, ignore_index=True), seeds=[0, 1])
    spec = TableSpec("p", "t", "T", [Row("m", "m", "M")], [MetricColumn("a", "A", metric="class_accuracy")])
    stacked = cell_samples(spec, spec.rows[0], spec.columns[0], sources)
    assert stacked.shape == (200, 2) and list(stacked.columns) == [0, 1]
    seeds = stacked.to_numpy().T  # (2, n)
    base = np.full(200, 70.0)
    one = paired_bootstrap(mean_difference, seeds.mean(axis=0), base)
    both = paired_bootstrap(mean_difference, seeds, base)
    assert both.estimate == pytest.approx(one.estimate)  # the estimate averages the seeds
    assert (both.high - both.low) > 2 * (one.high - one.low)  # seeds 40 points apart: the seed draw dominates
    with pytest.raises(ValueError, match="not paired"):
        paired_bootstrap(mean_difference, seeds, base[:10])
