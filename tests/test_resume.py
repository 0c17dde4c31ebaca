"""A training job killed mid-way (SIGKILL) resumes from its checkpoint and ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, smoke_config: dict) -> Path:
    cfg = json.loads(json.dumps(smoke_config))  # a deep copy with plain types
    cfg["depth"].update(epochs=6, batch_size=2, image_size=32, checkpoint_every=2, splits=[])
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train(config: Path, manifest: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "robust3d", "train-depth", "--config", str(config), "--manifest", str(manifest),
           "--out", str(out), "--metrics", str(out.with_suffix(".json"))]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path, smoke_config, smoke_dataset):
    config = _config(tmp_path, smoke_config)
    manifest = smoke_dataset / "train" / "manifest.csv"

    reference = tmp_path / "reference" / "model.pt"
    reference.parent.mkdir()
    proc = _train(config, manifest, reference)
    assert proc.wait(timeout=600) == 0, proc.stdout.read()

    killed = tmp_path / "killed" / "model.pt"
    killed.parent.mkdir()
    ckpt = killed.with_name(killed.name + ".ckpt")
    proc = _train(config, manifest, killed)
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "training finished before a checkpoint could be interrupted"
    time.sleep(0.1)  # let it run past the checkpoint, so the rerun must discard some progress
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not killed.exists()  # nothing that looks complete was left behind
    saved_step = torch.load(ckpt, weights_only=True)["state"]["step"]

    proc = _train(config, manifest, killed)
    assert proc.wait(timeout=600) == 0, proc.stdout.read()
    resumed = json.loads(killed.with_suffix(".json").read_text())
    expected = json.loads(reference.with_suffix(".json").read_text())
    assert resumed["resumed_from"] > 0, "the rerun restarted instead of resuming"
    assert resumed["resumed_from"] >= saved_step
    assert resumed["step"] == expected["step"]
    assert resumed["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-6)
    a = torch.load(killed, weights_only=True)["state_dict"]
    b = torch.load(reference, weights_only=True)["state_dict"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not ckpt.exists()  # the final weights supersede the checkpoint
