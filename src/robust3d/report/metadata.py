"""What a report says about the run that made it: commit, config hash, package versions, machine, device, job times.

Every field is a human-readable string and collecting them never raises: a report written from a tarball without
git, on a machine without torch or without ``/proc``, says "unknown" or "not installed" rather than failing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd

#: Distributions whose versions the report lists, as (label, distribution name); python is added first.
PACKAGES = (("torch", "torch"), ("torchvision", "torchvision"), ("pytorch3d", "easypytorch3d"), ("timm", "timm"),
            ("numpy", "numpy"), ("pandas", "pandas"), ("snakemake", "snakemake"), ("robust3d", "robust3d"))
JOB_COLUMNS = ["stage", "jobs", "seconds", "minutes"]
NO_GIT = "unknown (not a git checkout)"


def run_metadata(config: dict | None, repo: Path | None = None, benchmarks: Path | None = None) -> dict[str, str]:
    """The report's provenance table, in display order: field name -> value.

    ``repo`` defaults to the current folder; ``benchmarks`` (Snakemake's benchmark folder) adds the summed job time.
    """
    fields = {"git commit": git_commit(Path.cwd() if repo is None else repo), "config hash": config_hash(config)}
    fields.update(package_versions())
    fields.update(machine())
    fields["device"] = device(config)
    if benchmarks is not None:
        fields["job time"] = job_time_summary(job_times(benchmarks))
    fields["generated"] = datetime.now(UTC).isoformat(timespec="seconds")
    return fields


def _git(repo: Path, *args: str) -> str | None:
    """``git args`` in ``repo``'s stdout, or None when git is missing, fails or hangs."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(repo: Path) -> str:
    """``HEAD``'s hash, with "(modified)" when tracked files differ from it (untracked files do not count)."""
    commit = _git(repo, "rev-parse", "HEAD")
    if not commit:
        return NO_GIT
    status = _git(repo, "status", "--porcelain", "--untracked-files=no")
    return f"{commit} (modified)" if status else commit


def config_hash(config: dict | None) -> str:
    """The first 12 hex digits of the sha256 of the config's canonical JSON (sorted keys, no spaces), so two runs'
    reports show at a glance whether they ran the same config; values JSON cannot hold (paths) count as ``str``."""
    if config is None:
        return "no config"
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def package_versions() -> dict[str, str]:
    """python's version and each of :data:`PACKAGES`' installed version, or "not installed"."""
    versions = {"python": platform.python_version()}
    for label, distribution in PACKAGES:
        try:
            versions[label] = importlib_metadata.version(distribution)
        except importlib_metadata.PackageNotFoundError:
            versions[label] = "not installed"
    return versions


def total_memory(meminfo: Path = Path("/proc/meminfo")) -> str:
    """``MemTotal`` from ``meminfo`` in GiB, or "unknown" where it cannot be read (not Linux)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


def machine() -> dict[str, str]:
    """The platform string, the CPU count and the total memory."""
    return {"machine": platform.platform(), "CPUs": str(os.cpu_count() or "unknown"), "memory": total_memory()}


def device(config: dict | None) -> str:
    """The configured device and whether CUDA is available (with the GPU's name), since ``device: auto`` or a
    CPU-only torch change what ran. torch is imported here, not at module level: it takes seconds."""
    wanted = (config or {}).get("device", "not set")
    try:
        import torch
    except ImportError:
        return f"config: {wanted}; torch not installed"
    try:
        if torch.cuda.is_available():
            return f"config: {wanted}; CUDA available ({torch.cuda.get_device_name(0)})"
    except Exception as error:  # a broken driver must not stop the report
        return f"config: {wanted}; CUDA check failed ({error})"
    return f"config: {wanted}; CUDA not available"


def benchmark_seconds(tsv: Path) -> float | None:
    """The first ``s`` (wall seconds) of a Snakemake benchmark file (tab-separated, one row per repeat), or None
    when it has no rows."""
    seconds = pd.read_csv(tsv, sep="\t")["s"]
    return float(seconds.iloc[0]) if len(seconds) else None


def job_times(benchmarks: Path) -> pd.DataFrame:
    """Jobs and summed wall time per top-level stage folder of ``benchmarks`` (``<stage>/**/*.tsv``, one file per
    job), sorted by stage; an empty frame with the same columns when the folder is missing or holds no files."""
    rows = []
    stages = sorted(p for p in benchmarks.iterdir() if p.is_dir()) if benchmarks.is_dir() else []
    for stage in stages:
        seconds = [s for tsv in sorted(stage.rglob("*.tsv")) if (s := benchmark_seconds(tsv)) is not None]
        if seconds:
            rows.append({"stage": stage.name, "jobs": len(seconds), "seconds": sum(seconds),
                         "minutes": sum(seconds) / 60})
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def job_time_summary(times: pd.DataFrame) -> str:
    """One line for the provenance table: jobs and minutes summed over all stages."""
    if times.empty:
        return "no benchmark files"
    return f"{int(times['jobs'].sum())} jobs, {times['minutes'].sum():.1f} min summed over {len(times)} stages"


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m robust3d.report.metadata
    for key, value in run_metadata(None, benchmarks=Path("benchmarks")).items():
        print(f"{key:<12} {value}")
