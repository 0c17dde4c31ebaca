"""The 3D-CompNets stage on ImageNet3D (compnets.data.source: imagenet3d), end to end through Snakemake on raw
ImageNet3D files in the real format: conversion, the derived splits (seen train less a held-out calibration share,
seen val, unseen val, seen val variants), training, predictions, metrics and tables. Tiny models, 3 classes."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fixtures_real import write_imagenet3d_classes

from robust3d.data.subsets import hold_out, select_classes
from robust3d.errors import ConfigError
from robust3d.papers import validate_config
from robust3d.papers.compnets.plan import CompnetsPlan

REPO = Path(__file__).resolve().parents[2]
IMAGES = {"car": (6, 3), "chair": (6, 3), "sofa": (2, 3)}  # (train, val) images; sofa is the unseen class
MODELS = ("resnet50", "novum_resnet50", "compnets_resnet50_n32")


def route_config(raw_root: Path) -> dict:
    """configs/paper-compnets.yaml (a complete config), shrunk: 3 classes, small crops, smoke-sized models."""
    cfg = yaml.safe_load((REPO / "configs" / "paper-compnets.yaml").read_text())
    smoke = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())["compnets"]
    cfg["device"] = "cpu"
    cfg["datasets"].update(raw_root=str(raw_root), out_root="results/data")
    cfg["datasets"]["imagenet3d"].update(classes=list(IMAGES), include=["sofa"], n_classes=3, image_size=[96, 128])
    cfg["variants"].update(occlusion={"levels": {"L1": [0.1, 0.3]}},
                           corruptions={"names": ["brightness"], "severities": [4]})
    compnets = copy.deepcopy(smoke)
    compnets["models"] = {m: smoke["models"][m] for m in MODELS}
    for entry in compnets["backbones"].values():  # from scratch: this route's config has no pretraining stage
        entry["weights"] = None
    compnets["data"] = {"source": "imagenet3d", "unseen_classes": ["sofa"], "calibration_fraction": 0.25}
    cfg["compnets"] = compnets
    return cfg


def test_hold_out_keeps_each_image_on_one_side_and_every_class_on_both():
    df = pd.DataFrame({"class": ["a"] * 6 + ["b"] * 2 + ["c"],
                       "source_image": ["i0", "i0", "i1", "i2", "i3", "i4", "j0", "j1", "k0"],
                       "sample_id": [f"s{i}" for i in range(9)]})
    rest, held = hold_out(df, 0.4, seed=1)
    assert set(rest["source_image"]).isdisjoint(held["source_image"])
    assert held.groupby("class")["source_image"].nunique().to_dict() == {"a": 2, "b": 1}  # c: one image, kept
    assert len(rest) + len(held) == len(df)
    again = hold_out(df, 0.4, seed=1)[1]
    assert list(again["sample_id"]) == list(held["sample_id"])
    with pytest.raises(ValueError, match="no sample of the classes"):
        select_classes(df, keep=["a", "zebra"])
    with pytest.raises(ValueError, match="fraction"):
        hold_out(df, 1.0, seed=0)


def test_route_config_is_checked(tmp_path):
    cfg = route_config(tmp_path)
    bad = copy.deepcopy(cfg)
    bad["compnets"]["data"]["unseen_classes"] = ["teapot"]
    with pytest.raises(ConfigError, match="'compnets.data.unseen_classes': \\['teapot'\\] are not in"):
        validate_config(bad)
    bad = copy.deepcopy(cfg)
    bad["datasets"]["imagenet3d"]["enabled"] = False
    with pytest.raises(ConfigError, match="needs datasets.imagenet3d.enabled"):
        validate_config(bad)
    plan = CompnetsPlan(validate_config(cfg), "c")
    assert plan.benchmark == "imagenet3d" and plan.metrics == "results/imagenet3d/metrics.csv"
    assert plan.manifest("train") == "results/data/imagenet3d/compnets/train/manifest.csv"
    assert plan.calibration_manifest == "results/data/imagenet3d/compnets/calibration/manifest.csv"
    cells = {e[1:] for e in plan.evaluations()}
    assert ("test", "occlusion", "L1") in cells and ("unseen", "clean", "0") in cells
    assert not any(split == "style" for split, _, _ in cells)  # no ImageNet3D counterpart


def test_snakemake_runs_the_compnets_stage_on_imagenet3d(tmp_path):
    raw = write_imagenet3d_classes(tmp_path / "raw", IMAGES).parent
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(route_config(raw)))
    target = "results/tables/compnets_claims.csv"
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                           str(work), "--configfile", str(work / "config.yaml"), "--cores",
                           str(min(2, os.cpu_count() or 1)), target], capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    data = work / "results/data/imagenet3d/compnets"
    read = {name: pd.read_csv(data / name / "manifest.csv", dtype=str, keep_default_na=False)
            for name in ("train", "calibration", "test", "unseen")}
    assert set(read["train"]["class"]) == set(read["calibration"]["class"]) == {"car", "chair"}
    assert set(read["train"]["source_image"]).isdisjoint(read["calibration"]["source_image"])
    assert (len(read["train"]), len(read["calibration"])) == (8, 4)  # 6 images a class, a quarter held out
    assert set(read["test"]["class"]) == {"car", "chair"} and set(read["unseen"]["class"]) == {"sofa"}
    for name, df in read.items():  # the derived manifests point at the converted files
        assert all((data / name / p).is_file() for p in df["image"]), name
    occluded = pd.read_csv(data / "variants/test/occlusion/L1/manifest.csv", dtype=str, keep_default_na=False)
    assert set(occluded["class"]) == {"car", "chair"} and len(occluded) == 6
    assert (data / "variants/test/occlusion/L1" / occluded["image"].iloc[0]).is_file()

    metrics = pd.read_csv(work / "results/imagenet3d/metrics.csv")
    assert set(metrics["benchmark"]) == {"imagenet3d"}
    cells = set(zip(metrics["split"], metrics["variant"], metrics["level"].astype(str), strict=True))
    assert {("test", "clean", "0"), ("test", "occlusion", "L1"), ("test", "brightness", "4"),
            ("unseen", "clean", "0")} <= cells
    unseen = metrics[(metrics["split"] == "unseen") & (metrics["metric"] == "pose_acc_pi6")]
    assert "resnet50" in set(unseen["model"]) and set(unseen["n"]) == {3}  # sofa's 3 val objects

    tables = work / "results/tables"
    table2 = (tables / "compnets_table2.md").read_text()
    assert "no ImageNet3D counterpart of the 'style' split" in table2
    assert "ours: ImageNet3D `results/data/imagenet3d` (3 classes, unseen: sofa" in table2
    table3 = pd.read_csv(tables / "compnets_table3.csv")  # long: one row per (row, column, source)
    assert "per-class columns pair up" in (tables / "compnets_table3.md").read_text()
    ours = table3[(table3["source"] == "ours") & (table3["row"] == "resnet50")].set_index("column")
    assert ours.loc["sofa", "value"] >= 0 and ours.loc["sofa", "n"] == 3  # our unseen class, paired with the paper's
    assert ours.loc["teapot", "note"] == "not one of our unseen classes"
