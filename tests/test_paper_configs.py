"""The paper configs and the real-dataset stage: validation, the jobs a dry run plans, a real conversion through
Snakemake on fixtures in the exact raw formats, and the loud failure when raw data is missing (no network)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures_real import CROP_SIZE, red_mask, write_imagenet3d, write_occluded_pascal3d, write_pascal3d

from robust3d.cli import main
from robust3d.data.datasets.plan import RealDatasetPlan
from robust3d.data.io import read_image, read_mask
from robust3d.errors import ConfigError
from robust3d.papers import load_config, validate_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
PAPERS = ("compnets", "ntdm")


def paper_config(paper: str) -> dict:
    """The raw file `--configfile configs/paper-<paper>.yaml` runs: complete, it extends nothing."""
    return yaml.safe_load((REPO / "configs" / f"paper-{paper}.yaml").read_text())


@pytest.fixture(scope="module")
def raw_root(tmp_path_factory) -> Path:
    """PASCAL3D+, OccludedPASCAL3D+ and ImageNet3D in their real layouts (OOD-CV is deliberately absent)."""
    root = tmp_path_factory.mktemp("raw")
    write_occluded_pascal3d(root, write_pascal3d(root))
    write_imagenet3d(root)
    return root


def job_outputs(text: str) -> dict[str, set[str]]:
    """Rule name -> outputs of its jobs, from the job listing of `snakemake -n`."""
    jobs: dict[str, set[str]] = {}
    for block in re.split(r"^rule ", text, flags=re.M)[1:]:
        rule = block.split(":", 1)[0]
        match = re.search(r"^\s+output: (.*)$", block, flags=re.M)
        jobs.setdefault(rule, set()).update(match.group(1).split(", ") if match else [])
    return jobs


def job_counts(text: str) -> Counter:
    """The `Job stats` table of `snakemake -n`."""
    table = text.split("Job stats:", 1)[1]
    return Counter({m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)
                    if m.group(1) != "total"})


@pytest.fixture(scope="module")
def dry_runs(raw_root, tmp_path_factory) -> dict[str, tuple[str, Path]]:
    """`snakemake -n --configfile configs/paper-<x>.yaml --config datasets={...}` for both papers, in parallel."""
    procs = {}
    for paper in PAPERS:
        out = tmp_path_factory.mktemp(f"out-{paper}")
        override = f"datasets={{raw_root: {raw_root}, out_root: {out}}}"
        cmd = [*SNAKEMAKE, "-n", "--configfile", f"configs/paper-{paper}.yaml", "--config", override]
        procs[paper] = (subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
                        out)
    results = {}
    for paper, (proc, out) in procs.items():
        text = proc.communicate()[0]
        assert proc.returncode == 0, text[-3000:]
        results[paper] = (text, out)
    return results


# ---------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("paper", PAPERS)
def test_paper_configs_are_complete_and_take_nothing_from_the_default(paper):
    """A paper config extends nothing, so nothing of config.yaml (its 3D corruptions, styles) leaks in."""
    assert "extends" not in paper_config(paper)
    cfg = load_config(REPO / "configs" / f"paper-{paper}.yaml")
    assert cfg == validate_config(paper_config(paper))
    assert cfg["datasets"]["download"] is False and cfg["depth"]["splits"] == []
    assert cfg["synthetic"]["splits"]["train"] == 1
    assert cfg["variants"]["corruptions_3d"]["names"] == [] and cfg["variants"]["styles"] == []


def test_paper_settings_are_the_papers():
    inet = load_config(REPO / "configs" / "paper-compnets.yaml")
    block = inet["datasets"]["imagenet3d"]
    assert block["enabled"] and block["n_classes"] == 188 and block["image_size"] == [640, 800]
    assert len(block["include"]) == 10 and block["variant_splits"] == ["val"]
    assert inet["variants"]["occlusion"]["levels"] == {"L1": [0.1, 0.3], "L2": [0.3, 0.5], "L3": [0.5, 0.7]}
    assert inet["variants"]["corruptions"] == {"names": ["brightness", "frost", "snow", "fog"], "severities": [4]}
    ntdm = load_config(REPO / "configs" / "paper-ntdm.yaml")["datasets"]
    assert ntdm["pascal3d"]["enabled"] and len(ntdm["pascal3d"]["classes"]) == 12
    assert ntdm["occluded_pascal3d"]["levels"] == [1, 2, 3] and ntdm["oodcv"]["version"] == 1
    text = (REPO / "configs" / "paper-ntdm.yaml").read_text()  # NTDM's models stage is not built: comments only
    assert "For the models stage (not built yet)" in text
    compnets = inet["compnets"]  # §4.3: K ~ 500 vertices, N_b = 2560, T = 5, sigma = 0.9, D = 128, 12 epochs
    assert compnets["feature_dim"] == 128 and compnets["train"]["epochs"] == 12
    assert (compnets["mesh"]["vertices_per_class"], compnets["mesh"]["background_features"]) == (500, 2560)
    assert (compnets["mesh"]["background_per_image"], compnets["mesh"]["momentum"]) == (5, 0.9)


def test_default_configs_enable_no_dataset():
    """So `snakemake` with config.yaml or smoke.yaml plans no real-dataset job (the dry runs of test_workflow)."""
    for path in (REPO / "config.yaml", REPO / "configs" / "smoke.yaml"):
        cfg = load_config(path)
        assert not any(b["enabled"] for k, b in cfg["datasets"].items() if isinstance(b, dict))
        plan = RealDatasetPlan(cfg["datasets"], (("occlusion", "L1"),))
        assert plan.outputs() == [] and plan.raw_datasets == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["pascal3d"].update(classes=["car", "unicorn"]),
         "key 'datasets.pascal3d.classes': unknown PASCAL3D+ class 'unicorn'"),
        (lambda d: d["pascal3d"].update(enabled=False), "key 'datasets.occluded_pascal3d.enabled'"),
        (lambda d: d["oodcv"].update(classes=["bottle"]), "key 'datasets.oodcv.classes': unknown OOD-CV class"),
        (lambda d: d["oodcv"].update(splits=["iid_test"]), "OOD-CV version 1 has no split 'iid_test'"),
        (lambda d: d["pascal3d"].update(variant_splits=["test"]), "'test' is not in datasets.pascal3d.splits"),
        (lambda d: d["pascal3d"].update(variant_splits=["val"]), "key 'datasets.pascal3d.cad_masks'"),
        (lambda d: d.update(imagenet3d={"n_classes": 5}), "key 'datasets.imagenet3d.n_classes': 5 is fewer"),
        (lambda d: d["pascal3d"].update(image_size=[640]), "key 'datasets.pascal3d.image_size'"),
        (lambda d: d.update(downlaod=True), "unknown key 'datasets.downlaod'"),
    ],
)
def test_bad_datasets_config_is_refused_with_one_line(mutate, expected):
    cfg = copy.deepcopy(paper_config("ntdm"))
    mutate(cfg["datasets"])
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert expected in str(err.value) and "\n" not in str(err.value)


# ---------------------------------------------------------------------------------------------- dry runs

def test_compnets_dry_run_lists_every_real_dataset_job(dry_runs):
    text, out = dry_runs["compnets"]
    counts, jobs = job_counts(text), job_outputs(text)
    assert (counts["raw_dataset"], counts["convert_dataset"], counts["real_variant"]) == (1, 2, 7)
    assert jobs["raw_dataset"] == {f"{out}/raw/imagenet3d.ready"}
    assert jobs["convert_dataset"] == {f"{out}/imagenet3d/{s}/manifest.csv" for s in ("train", "val")}
    variants = [f"occlusion/L{k}" for k in (1, 2, 3)] + [f"{c}/4" for c in ("brightness", "frost", "snow", "fog")]
    assert jobs["real_variant"] == {f"{out}/imagenet3d/variants/val/{v}" for v in variants}
    # the 3D-CompNets stage reads ImageNet3D: seen train less calibration, seen/unseen val, seen val variants
    derived = f"{out}/imagenet3d/compnets"
    assert (counts["compnets_holdout"], counts["compnets_val_subset"], counts["compnets_variant_subset"]) == (1, 2, 7)
    assert jobs["compnets_val_subset"] == {f"{derived}/{p}/manifest.csv" for p in ("test", "unseen")}
    assert jobs["compnets_variant_subset"] == {f"{derived}/variants/test/{v}/manifest.csv" for v in variants}
    assert counts["compnets_train"] == 12 and f"input: {derived}/train/manifest.csv, {derived}/calibration" in text
    assert "results/imagenet3d/metrics.csv" in jobs["metrics"]


def test_ntdm_dry_run_lists_every_real_dataset_job(dry_runs):
    text, out = dry_runs["ntdm"]
    counts, jobs = job_counts(text), job_outputs(text)
    assert (counts["raw_dataset"], counts["convert_dataset"], counts["real_variant"]) == (3, 5, 0)
    assert jobs["raw_dataset"] == {f"{out}/raw/{r}.ready" for r in ("pascal3d", "occluded_pascal3d", "oodcv")}
    splits = [("pascal3d", "train"), ("pascal3d", "val"), ("occluded_pascal3d", "val"), ("oodcv", "train"),
              ("oodcv", "test")]
    assert jobs["convert_dataset"] == {f"{out}/{d}/{s}/manifest.csv" for d, s in splits}
    assert not {"compnets_train", "compnets_predict", "compnets_tables"} & set(counts)  # compnets.enabled: false


# ---------------------------------------------------------------------------------------------- real runs

def test_snakemake_converts_pascal3d_and_fails_loudly_on_missing_oodcv(raw_root, tmp_path):
    """In a work folder of its own (its config.yaml, logs, results): PASCAL3D+ converts; OOD-CV's raw data is
    missing with download=false, so its check fails with the registry's instructions and nothing is downloaded."""
    cfg = paper_config("ntdm")
    datasets = cfg["datasets"]
    datasets.update(raw_root=str(raw_root), out_root="results/data")
    datasets["pascal3d"].update(classes=["car"], splits=["val"], image_size=list(CROP_SIZE))
    datasets["oodcv"].update(classes=["car"], splits=["test"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    targets = ["results/data/pascal3d/val/manifest.csv", "results/data/oodcv/test/manifest.csv"]
    proc = subprocess.run([*SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                           "--cores", str(min(3, os.cpu_count() or 1)), "--keep-going", *targets],
                          capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    manifest = pd.read_csv(tmp_path / targets[0], dtype=str, keep_default_na=False)
    # the same samples as test_real_datasets' direct conversion of the fixture
    assert sorted(manifest["sample_id"]) == ["n02958343_0001_00", "n02958343_0002_00", "n02958343_0002_02"]
    assert (tmp_path / "results/data/pascal3d/val" / manifest["annotation"].iloc[0]).exists()
    assert (tmp_path / "results/data/pascal3d/CAD/car/01.off").exists()
    assert (tmp_path / "results/data/raw/pascal3d.ready").read_text().startswith("pascal3d\t")
    log = (tmp_path / "logs/datasets/raw/oodcv.log").read_text()
    for text in (log, out):  # the log, and Snakemake's output (the default profile shows failed logs)
        assert "OOD-CV (v1) pose data is not available: the folder" in text
        assert "1djm2ugmk98__9jgL8Sqb_QUIIpC7e1ir" in text  # where to fetch it from
    assert not (tmp_path / "results/data/raw/oodcv.ready").exists()
    assert not (raw_root / "downloads").exists()
    assert len(re.findall(r"^(?:local)?rule raw_dataset:", out, flags=re.M)) == 2  # the failed check: no retries


def test_fetch_dataset_checks_and_reports(raw_root, tmp_path, capsys):
    marker = tmp_path / "ready" / "imagenet3d.ready"
    assert main(["fetch-dataset", "--name", "imagenet3d", "--raw-root", str(raw_root), "--check-only",
                 "--marker", str(marker)]) == 0
    assert marker.read_text() == f"imagenet3d\t{(raw_root / 'imagenet3d').resolve()}\n"
    assert main(["fetch-dataset", "--name", "imagenet3d", "--raw-root", str(tmp_path / "empty"),
                 "--check-only"]) == 1
    err = capsys.readouterr().err
    assert "ImageNet3D is not available" in err and "huggingface.co" in err and err.count("\n") == 1


def test_convert_dataset_imagenet3d_with_cad_masks_feeds_the_occlusion_variant(raw_root, tmp_path, capsys):
    from robust3d.variants.registry import make_variant

    cfg = paper_config("compnets")
    cfg["datasets"]["raw_root"] = str(raw_root)
    cfg["datasets"]["imagenet3d"].update(classes=["sofa"], splits=["val"], image_size=list(CROP_SIZE))
    cfg["compnets"]["data"].update(source="synthetic", unseen_classes=[], siblings={},  # (training on ImageNet3D
                                   separate_unseen_models=False)  # would need its train split too)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "imagenet3d"
    assert main(["convert-dataset", "--config", str(path), "--dataset", "imagenet3d", "--split", "val",
                 "--out", str(out)]) == 0
    assert "imagenet3d val: 2 samples" in capsys.readouterr().out
    df = pd.read_csv(out / "val" / "manifest.csv", dtype=str, keep_default_na=False)
    assert (out / "val" / "classes.txt").read_text() == "sofa\n"
    assert (df["mask_source"] == "cad_render").all()
    for rel, image in zip(df["mask_amodal"], df["image"], strict=True):
        mask, red = read_mask(out / "val" / rel), red_mask(read_image(out / "val" / image))
        assert (mask & red).sum() / (mask | red).sum() > 0.85  # the CAD render is the rendered fixture object
    occluded = make_variant(out / "val" / "manifest.csv", "occlusion", "L1", tmp_path / "L1", seed=0,
                            variants_cfg=validate_config(cfg)["variants"])
    assert len(occluded) == 2 and np.isfinite(occluded["occluded_object"].astype(float)).all()
