"""Cluster execution: part of the smoke workflow through a real (local, single-node) SLURM cluster.

`scripts/slurm_local.sh` installs and starts munged, slurmctld and slurmd; the workflow then runs with
`--workflow-profile profiles/slurm` (the SLURM executor plugin, status via squeue: no accounting daemon here).
The same targets also run locally, at the same time; both runs must produce byte-identical files (rendering
is deterministic for a seed). Needs root (to install and start the daemons); skipped otherwise.

    .venv/bin/python -m pytest tests/test_slurm.py -q -s
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm_local.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SLURM_DIR = Path(os.environ.get("SLURM_LOCAL_DIR", "/tmp/robust3d-slurm"))  # the script's state folder
SMOKE = "configs/smoke.yaml"
# Manifest columns that name files (relative to the manifest's folder); see ARCHITECTURE.md.
FILE_COLUMNS = ("image", "annotation", "mask_visible", "mask_amodal", "depth", "occluder_mask")
RUN_TIMEOUT_S = 540

pytestmark = pytest.mark.slow


def _script(action: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), action], capture_output=True, text=True, timeout=timeout)


def _tail(text: str, n: int = 3000) -> str:
    return text[-n:]


@pytest.fixture(scope="module")
def local_slurm():
    """A running local SLURM cluster; stopped afterwards (also on failure) unless it was already running."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("needs root: installs and starts munged, slurmctld and slurmd (scripts/slurm_local.sh)")
    t0 = time.monotonic()
    proc = _script("install")
    if proc.returncode != 0:
        pytest.skip(f"SLURM packages cannot be installed here (scripts/slurm_local.sh install):\n"
                    f"{_tail(proc.stdout + proc.stderr, 1500)}")
    was_running = _script("status", timeout=30).returncode == 0
    try:
        proc = _script("start", timeout=180)
        assert proc.returncode == 0, f"scripts/slurm_local.sh start failed:\n{_tail(proc.stdout + proc.stderr)}"
        print(f"\n[slurm] install + start: {time.monotonic() - t0:.1f} s"
              f"{' (cluster was already running)' if was_running else ''}")
        yield {**os.environ, "SLURM_CONF": str(SLURM_DIR / "etc" / "slurm.conf")}
    finally:
        if not was_running:
            proc = _script("stop", timeout=120)
            print(f"[slurm] stop: rc={proc.returncode} {proc.stderr.strip().splitlines()[-1:]}")


def _targets(cfg: dict) -> list[str]:
    """The train split's manifest and contact sheet, and one variant folder: 6 jobs of 4 rules, 4 levels deep."""
    root = cfg["synthetic"]["root"]
    split = cfg["variants"]["splits"][0]
    level = next(iter(cfg["variants"]["occlusion"]["levels"]))
    return [f"{root}/train/manifest.csv", f"{root}/train/contact_sheet.png",
            f"{root}/variants/{split}/occlusion/{level}"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _job_stats(output: str) -> collections.Counter:
    """Snakemake's "Job stats" table (rule -> job count) from a run's output."""
    block = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return collections.Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)})


def _jobcomp(workdir: Path) -> dict[str, dict[str, str]]:
    """Finished jobs of the local cluster that ran in `workdir`, from its job completion log (no sacct here)."""
    jobs = {}
    for line in (SLURM_DIR / "log" / "jobcomp.log").read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if fields.get("WorkDir") == str(workdir):
            jobs[fields["JobId"]] = fields
    return jobs


def _run(cmd: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _wait(proc: subprocess.Popen, log: Path, what: str, deadline: float) -> str:
    try:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the run's own process group (start_new_session)
        proc.wait(timeout=30)
        raise AssertionError(f"{what} timed out:\n{_tail(log.read_text())}") from None
    out = log.read_text()
    assert proc.returncode == 0, f"{what} failed (rc {proc.returncode}):\n{_tail(out, 6000)}"
    return out


def test_smoke_targets_run_through_slurm_and_match_a_local_run(local_slurm, tmp_path):
    t0 = time.monotonic()
    cfg = yaml.safe_load((REPO / SMOKE).read_text())
    targets = _targets(cfg)
    root = cfg["synthetic"]["root"]
    # Separate working directories: outputs, logs, benchmarks and .snakemake never touch the repo's (the local
    # smoke test's) nor each other's. Targets go before --configfile, which takes several values.
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    slurm_dir.mkdir()
    local_dir.mkdir()
    slurm_cmd = [*SNAKEMAKE, *targets, "--directory", str(slurm_dir), "--configfile", SMOKE,
                 "--workflow-profile", "profiles/slurm",
                 # First status check after 5 s (default 40 s); the plugin adds 10 s after each check that finds no
                 # finished job (checks at 5, 20, 45, 80 s), and starts over at 5 s when one has finished.
                 "--slurm-init-seconds-before-status-checks", "5",
                 "--slurm-no-account",  # no accounts on this cluster (the plugin would try to guess one)
                 "--retries", "0"]  # fail fast in a test
    local_cmd = [*SNAKEMAKE, *targets, "--directory", str(local_dir), "--configfile", SMOKE,
                 "--cores", str(min(2, os.cpu_count() or 1))]
    # The SLURM run mostly waits (job start-up, status polling), so the local reference runs alongside it.
    deadline = time.monotonic() + RUN_TIMEOUT_S
    slurm_log, local_log = tmp_path / "slurm.log", tmp_path / "local.log"
    slurm_proc = _run(slurm_cmd, slurm_log, local_slurm)
    local_proc = _run(local_cmd, local_log, os.environ.copy())
    local_out = _wait(local_proc, local_log, "local snakemake run", deadline)
    t_local = time.monotonic() - t0
    slurm_out = _wait(slurm_proc, slurm_log, "snakemake run through SLURM", deadline)
    t_slurm = time.monotonic() - t0

    # (a) Every job went through SLURM: one submission, one SLURM log and one COMPLETED job record per job.
    expected = _job_stats(local_out)
    assert sum(expected.values()) >= 5 and len(expected) >= 4, expected
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", slurm_out, re.M)
    by_rule = collections.Counter(re.search(r"/rule_(\w+?)/", log)[1] for _, log in submitted)
    assert by_rule == expected, f"SLURM submissions per rule {dict(by_rule)} != local jobs {dict(expected)}"
    logs = sorted(str(p) for p in (slurm_dir / "logs" / "slurm").rglob("*.log"))
    assert logs == sorted(log for _, log in submitted), "expected exactly one SLURM log per job"
    for jobid, log in submitted:
        assert Path(log).name == f"{jobid}.log"
        assert "1 of 1 steps (100%) done" in Path(log).read_text(), f"job {jobid} did not finish: {log}"
    finished = _jobcomp(slurm_dir)
    host = socket.gethostname().split(".")[0]
    for jobid, _ in submitted:
        job = finished.get(jobid)
        assert job is not None, f"SLURM job {jobid} missing from the job completion log"
        assert (job["JobState"], job["Partition"], job["NodeList"]) == ("COMPLETED", "debug", host), job
    assert len({job["Name"] for job in finished.values()}) == 1  # the plugin names all jobs by the run's UUID
    last = submitted[-1][0]  # slurmctld still knows recent jobs (MinJobAge): what `squeue --states=all` reads
    shown = subprocess.run(["scontrol", "show", "job", last], capture_output=True, text=True, env=local_slurm)
    assert "JobState=COMPLETED" in shown.stdout, shown.stdout + shown.stderr
    assert local_proc.returncode == 0 and "submitted with SLURM" not in local_out

    # (b) Same outputs: manifests, every file they list, and every other file under the dataset root.
    a, b = slurm_dir / root, local_dir / root
    manifests = sorted(p.relative_to(a) for p in a.rglob("manifest.csv") if "chunk" not in p.parent.name)
    variant_manifest = (Path(targets[2]).relative_to(root) / "manifest.csv").as_posix()
    assert {m.as_posix() for m in manifests} >= {"train/manifest.csv", variant_manifest}
    listed = set()
    for rel in manifests:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"manifests differ: {rel}"
        frame = pd.read_csv(a / rel, keep_default_na=False)
        assert len(frame) > 0, rel
        for column in FILE_COLUMNS:
            for entry in frame.get(column, []):
                if entry:
                    path = (rel.parent / entry).as_posix()
                    assert (a / path).is_file() and (b / path).is_file(), f"{rel} lists a missing file: {entry}"
                    listed.add(path)
    assert any(p.endswith(".npz") for p in listed) and any(p.endswith(".png") for p in listed)
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    assert files_a == files_b, (f"only via SLURM: {sorted(files_a - files_b)[:10]}, "
                                f"only local: {sorted(files_b - files_a)[:10]}")
    differing = sorted(p for p in files_a if _sha256(a / p) != _sha256(b / p))
    assert not differing, f"files differ between the SLURM and the local run: {differing[:20]}"
    for target in targets:
        assert (slurm_dir / target).exists(), target

    print(f"[slurm] {len(submitted)} SLURM jobs ({dict(by_rule)}); {len(listed)} listed files and "
          f"{len(files_a)} files in all identical to the local run")
    print(f"[slurm] local run {t_local:.0f} s (alongside), SLURM run {t_slurm:.0f} s, "
          f"test body {time.monotonic() - t0:.0f} s")
