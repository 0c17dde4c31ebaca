"""Unreadable inputs fail with one line naming the file and what is wrong (robust3d.errors.InputError)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robust3d.data.format import load_annotation
from robust3d.data.io import read_image, read_json, read_npy, read_npz, read_yaml, write_image
from robust3d.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def _garbage(path: Path) -> Path:
    path.write_bytes(b"\x00\x01 definitely not the format \xff" * 4)
    return path


@pytest.mark.parametrize(("reader", "name", "kind"), [
    (read_npy, "depth.npy", ".npy"),
    (read_npz, "ann.npz", ".npz"),
    (load_annotation, "ann.npz", ".npz"),
    (read_json, "train.json", "JSON"),
])
def test_a_garbage_file_is_refused_with_its_name(tmp_path, reader, name, kind):
    path = _garbage(tmp_path / name)
    with pytest.raises(InputError) as err:
        reader(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a readable {kind} file") and "\n" not in message


def test_pickled_arrays_are_refused_without_the_allow_pickle_advice(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="pickled Python objects") as err:
        read_npy(tmp_path / "obj.npy")
    assert "allow_pickle" not in str(err.value)


def test_missing_files_and_missing_annotation_keys_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_npz(tmp_path / "absent.npz")
    np.savez(tmp_path / "short.npz", azimuth=np.float64(0.0))
    with pytest.raises(InputError, match=r"short\.npz: annotation lacks the keys"):
        load_annotation(tmp_path / "short.npz")


def test_good_files_still_read(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((2, 3), np.float32))
    np.savez(tmp_path / "a.npz", x=np.arange(3))
    (tmp_path / "t.json").write_text(json.dumps({"model": "m"}))
    assert read_npy(tmp_path / "d.npy").shape == (2, 3)
    assert read_npz(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2]
    assert read_json(tmp_path / "t.json") == {"model": "m"}


def test_a_wrong_size_image_names_the_file_and_both_sizes(tmp_path):
    write_image(tmp_path / "im.png", np.zeros((32, 48, 3), np.uint8))
    assert read_image(tmp_path / "im.png", size=(32, 48)).shape == (32, 48, 3)
    with pytest.raises(InputError, match=r"im\.png: image is 32x48 px \(HxW\), expected 64x64"):
        read_image(tmp_path / "im.png", size=(64, 64))


def test_a_yaml_syntax_error_is_one_line_with_its_position(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("synthetic:\n  image_size: [64, 64\nseed: 1\n")
    with pytest.raises(InputError, match=r"bad\.yaml: not valid YAML \(line \d+, column \d+"):
        read_yaml(path)
    run = subprocess.run([sys.executable, "-m", "robust3d", "check-config", "--configfile", str(path)],
                         capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "bad.yaml: not valid YAML" in run.stderr, run.stderr


def test_a_sample_image_of_another_size_than_its_annotation_is_refused(tmp_path, smoke_dataset):
    """A training sample whose PNG was replaced by one of another size names the PNG, not a collate error."""
    import shutil

    from robust3d.data.format import read_manifest
    from robust3d.models.data import ManifestDataset, manifest_classes

    split = tmp_path / "train"
    shutil.copytree(smoke_dataset / "train", split)
    row = read_manifest(split / "manifest.csv").iloc[0]
    write_image(split / row["image"], np.zeros((10, 12, 3), np.uint8))
    ds = ManifestDataset(split / "manifest.csv", manifest_classes(split / "manifest.csv"))
    with pytest.raises(InputError, match=rf"{row['image']}: image is 10x12 px"):
        ds[0]


def test_a_truncated_or_incomplete_manifest_is_refused_before_predicting(tmp_path, smoke_dataset, raw_smoke_config):
    """A synthetic split cut to 2 rows, or with a file gone, is refused with its name before any model runs."""
    import shutil

    import pandas as pd
    import yaml

    from robust3d.data.format import check_manifest, read_manifest
    from robust3d.papers import validate_config
    from robust3d.synth.plan import planned_sample_ids

    root = tmp_path / "synthetic"
    shutil.copytree(smoke_dataset / "train", root / "train")
    raw_smoke_config["synthetic"]["root"] = str(root)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_smoke_config))
    manifest = root / "train" / "manifest.csv"
    cfg = validate_config(raw_smoke_config)
    check_manifest(manifest, planned_sample_ids(cfg, manifest))  # the intact split passes
    assert planned_sample_ids(cfg, smoke_dataset / "train" / "manifest.csv") is None  # another root: no plan

    read_manifest(manifest).head(2).to_csv(manifest, index=False)
    run = subprocess.run([sys.executable, "-m", "robust3d", "predict", "--config", str(config), "--model", "resnet50",
                          "--checkpoint", str(tmp_path / "none.pt"), "--manifest", str(manifest),
                          "--out", str(tmp_path / "p.csv")], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 2 and not (tmp_path / "p.csv").exists()
    assert "manifest.csv: 2 rows, but the config plans" in run.stderr and run.stderr.count("\n") == 1, run.stderr

    df = pd.read_csv(smoke_dataset / "train" / "manifest.csv", dtype=str, keep_default_na=False)
    df.to_csv(manifest, index=False)
    (root / "train" / df["image"].iloc[3]).unlink()
    with pytest.raises(InputError, match=r"1 listed files are missing, e\.g\. .*\.png"):
        check_manifest(manifest, planned_sample_ids(cfg, manifest))
