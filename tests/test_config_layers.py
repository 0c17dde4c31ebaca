"""Config layering: a config file is complete or says what it `extends`; records merge, collections and lists are
replaced; `--config` overrides are typed by the schema; `check-config` prints exactly what the workflow runs."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from robust3d.config import load_schema
from robust3d.config_layers import coerce_overrides, merge_config, parse_overrides, resolve_layers
from robust3d.errors import ConfigError
from robust3d.papers import load_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema()


def test_records_merge_and_collections_and_lists_are_replaced(schema):
    base = {"seed": 0, "variants": {"splits": ["test", "ood_pose"], "styles": ["sketch"],
                                    "occlusion": {"levels": {"L1": [0.1, 0.3], "L2": [0.3, 0.5]}, "tolerance": 0.1}},
            "compnets": {"models": {"a": {"family": "dual_head"}, "b": {"family": "neural_mesh"}}, "feature_dim": 8}}
    overlay = {"variants": {"splits": ["test"], "occlusion": {"levels": {"L3": [0.5, 0.7]}}},
               "compnets": {"models": {"b": {"family": "neural_mesh", "loss": "novum"}}}}
    merged = merge_config(base, overlay, schema)
    assert merged["seed"] == 0 and merged["variants"]["styles"] == ["sketch"]  # untouched keys of records stay
    assert merged["variants"]["splits"] == ["test"]  # a list is replaced
    assert merged["variants"]["occlusion"] == {"levels": {"L3": [0.5, 0.7]}, "tolerance": 0.1}  # collection replaced
    assert merged["compnets"] == {"models": {"b": {"family": "neural_mesh", "loss": "novum"}}, "feature_dim": 8}
    assert base["variants"]["occlusion"]["levels"] == {"L1": [0.1, 0.3], "L2": [0.3, 0.5]}  # inputs not mutated


def test_extends_chains_resolve_relative_to_each_file(tmp_path, schema):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mid.yaml").write_text(f"extends: {SMOKE}\nseed: 7\ndepth: {{epochs: 3}}\n")
    (tmp_path / "top.yaml").write_text("extends: sub/mid.yaml\ndepth: {batch_size: 2}\n")
    cfg = resolve_layers([tmp_path / "top.yaml"], None, schema)
    smoke = yaml.safe_load(SMOKE.read_text())
    assert "extends" not in cfg and cfg["seed"] == 7
    assert cfg["depth"] == {**smoke["depth"], "epochs": 3, "batch_size": 2}
    assert cfg["synthetic"] == smoke["synthetic"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}, r"a\.yaml: 'extends' chain loops"),
        ({"a.yaml": "extends: missing.yaml\n"},
         r"config file '.*missing\.yaml' does not exist \(extended by .*a\.yaml\)"),
        ({"a.yaml": "extends: [x]\n"}, r"a\.yaml: key 'extends': give the path"),
        ({"a.yaml": "- just\n- a list\n"}, r"a\.yaml: a config is a YAML mapping"),
    ],
)
def test_broken_chains_are_refused_naming_the_file(tmp_path, schema, files, expected):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=expected):
        resolve_layers([tmp_path / "a.yaml"], None, schema)


def test_an_incomplete_config_that_extends_nothing_is_refused(tmp_path):
    (tmp_path / "part.yaml").write_text("seed: 3\n")
    expected = r"missing required key '\w+' in .*part\.yaml: a config file is complete or says what it extends"
    with pytest.raises(ConfigError, match=expected):
        load_config(tmp_path / "part.yaml")


def test_nested_config_overrides_are_typed_by_the_schema(schema):
    """`snakemake --config` hands nested values over as strings; the schema says what they are."""
    raw = parse_overrides(["datasets={raw_root: /data/raw, download: true}", "seed=3",
                           "variants={occlusion: {levels: {L1: [0.1, 0.3]}}, splits: [test]}",
                           "compnets={backbones: {b: {arch: resnet18, weights: null}}}", "device=cpu"])
    assert raw["datasets"] == {"raw_root": "/data/raw", "download": "true"} and raw["seed"] == 3
    typed = coerce_overrides(raw, schema)
    assert typed["datasets"] == {"raw_root": "/data/raw", "download": True}
    assert typed["variants"] == {"occlusion": {"levels": {"L1": [0.1, 0.3]}}, "splits": ["test"]}
    assert typed["compnets"]["backbones"]["b"] == {"arch": "resnet18", "weights": None}
    assert typed["device"] == "cpu"
    cfg = load_config(SMOKE, {key: raw[key] for key in ("datasets", "seed", "variants")})
    assert cfg["datasets"]["download"] is True and cfg["datasets"]["raw_root"] == "/data/raw"
    with pytest.raises(ConfigError, match="key 'extends'"):
        load_config(SMOKE, {"extends": "config.yaml"})


def _job_counts(text: str) -> collections.Counter:
    block = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return collections.Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)})


@pytest.mark.slow
def test_the_workflow_runs_exactly_the_layered_config_and_check_config_prints_it(tmp_path):
    """One model configured, one trained; smoke's L1 + L3, two occlusion levels; the config jobs read equals what
    `check-config` prints for the same flags."""
    one = tmp_path / "one-model.yaml"
    one.write_text(f"extends: {SMOKE}\ncompnets:\n  models:\n    resnet50: {{family: dual_head, backbone: resnet50}}\n")
    flags = ["--configfile", str(one), "--config", "datasets={raw_root: /data/raw, download: true}", "seed=3"]
    proc = subprocess.run([*SNAKEMAKE, "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           *flags], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = _job_counts(out)
    assert counts["compnets_train"] == 1, counts
    levels = set(re.findall(r"variants/test/occlusion/(L\d)\b", out))
    assert levels == {"L1", "L3"}, levels
    # Side outputs follow the config's results root (results/smoke), so another config's runs cannot overwrite them.
    assert "log: results/smoke/logs/" in out and "benchmark: results/smoke/benchmarks/" in out
    assert "log: logs/" not in out and "benchmark: benchmarks/" not in out
    assert not (tmp_path / "results" / ".config").exists()
    job_configs = (tmp_path / "results" / "smoke" / ".config").glob("compnets-*.yaml")
    written = [yaml.safe_load(p.read_text()) for p in job_configs]
    assert written and all(w == written[0] for w in written)  # (one file per hash of the sections a rule reads)
    shown = subprocess.run([sys.executable, "-m", "robust3d", "check-config", *flags], capture_output=True,
                           text=True, cwd=REPO)
    assert shown.returncode == 0, shown.stderr
    printed = yaml.safe_load(shown.stdout)
    assert printed == written[0]
    assert printed["datasets"]["download"] is True and printed["seed"] == 3
    assert list(printed["compnets"]["models"]) == ["resnet50"]


def test_check_config_points_a_file_given_as_an_override_to_configfile():
    proc = subprocess.run([sys.executable, "-m", "robust3d", "check-config", "--config", "configs/smoke.yaml"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--config 'configs/smoke.yaml': give key=value overrides" in proc.stderr
