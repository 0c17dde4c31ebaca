"""The SLURM profile's advice, checked on a dry run: the documented edit (uncommenting `slurm_account` and
`slurm_partition` in a copy of profiles/slurm) gives every job both and keeps the profile's other resources; the
command-line `--default-resources` that the README used to suggest drops them (why the profile says not to)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"
TARGET = "results/smoke/data/synthetic/train/manifest.csv"  # CAD, render chunks, manifest: 3 rules


def _resources(tmp_path: Path, profile: Path, *extra: str) -> dict[str, list[dict[str, str]]]:
    """rule -> the resources of each of its jobs, from a dry run in an empty work folder."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path / "work"), "--workflow-profile", str(profile), TARGET,
                           *extra, "--configfile", str(SMOKE)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for rule, res in re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", out, re.M):
        jobs.setdefault(rule, []).append(dict(item.split("=", 1) for item in res.split(", ")))
    assert set(jobs) >= {"synth_cad", "synth_render", "synth_manifest"}, out[-3000:]
    return jobs


@pytest.fixture
def my_profile(tmp_path) -> Path:
    profile = tmp_path / "mylab"
    shutil.copytree(REPO / "profiles" / "slurm", profile)
    text = (profile / "config.yaml").read_text()
    for key, value in (("slurm_account", "mylab"), ("slurm_partition", "gpu")):
        line = f"  # {key}: {value}\n"
        assert text.count(line) == 1, f"profiles/slurm/config.yaml no longer has the line {line!r}"
        text = text.replace(line, f"  {key}: {value}\n")
    (profile / "config.yaml").write_text(text)
    return profile


def test_the_documented_edit_sets_account_and_partition_and_keeps_every_other_resource(tmp_path, my_profile):
    for rule, jobs in _resources(tmp_path, my_profile).items():
        for res in jobs:
            assert (res.get("slurm_account"), res.get("slurm_partition")) == ("mylab", "gpu"), (rule, res)
            assert {"mem_mb", "runtime", "cpus_per_task"} <= set(res), (rule, res)


def test_default_resources_on_the_command_line_drop_the_profiles(tmp_path):
    jobs = _resources(tmp_path, REPO / "profiles" / "slurm", "--default-resources", "slurm_partition=gpu",
                      "slurm_account=mylab")
    render = jobs["synth_render"][0]
    assert render["slurm_partition"] == "gpu" and "cpus_per_task" not in render
