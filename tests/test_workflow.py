"""The Snakemake workflow: lint-clean, a dry run of the default config, and a real run of the smoke config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run_snakemake(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=REPO, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_lint_is_clean():
    proc = run_snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


def test_dry_run_of_default_config_lists_every_stage():
    proc = run_snakemake("-n", "--forceall")
    out = proc.stdout + proc.stderr
    for rule in ("synth_cad", "synth_render", "synth_manifest", "synth_contact_sheet"):
        assert rule in out


def test_bad_config_stops_snakemake_with_one_line(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["synthetic"]["splits"]["train"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "robust3d: config error: key 'synthetic.splits.train': needs at least 1 image" in proc.stderr


@pytest.mark.slow
def test_smoke_workflow_runs_end_to_end():
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    root = REPO / cfg["synthetic"]["root"]
    if root.exists():
        shutil.rmtree(root)
    run_snakemake("--cores", str(min(2, os.cpu_count() or 1)), "--configfile", "configs/smoke.yaml")
    for split, n in cfg["synthetic"]["splits"].items():
        manifest = pd.read_csv(root / split / "manifest.csv")
        n_cats = len(cfg["synthetic"]["unseen_categories"]) if split == "unseen" else (
            len(cfg["synthetic"]["categories"]) - len(cfg["synthetic"]["unseen_categories"]))
        assert len(manifest) == n * n_cats
        assert (root / split / "contact_sheet.png").stat().st_size > 0
        assert (root / split / manifest["image"].iloc[0]).exists()
    # A second run finds nothing to do.
    proc = run_snakemake("-n", "--configfile", "configs/smoke.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr
