"""The SLURM executor plugin's import-time `scontrol` probe runs only for `--help` (robust3d.slurm_probe), so a
machine with the SLURM client but no reachable controller does not wait ~9.5 s on every `snakemake` call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from robust3d.slurm_probe import HOOK_MODULE, PTH_NAME, hook_path, pth_path

IMPORT_PLUGIN = "import snakemake_executor_plugin_slurm"


@pytest.fixture
def fake_slurm(tmp_path) -> tuple[dict, Path]:
    """sinfo/squeue/scontrol on PATH; scontrol only leaves a mark (a real one would wait for its controller)."""
    bin_dir, mark = tmp_path / "bin", tmp_path / "scontrol-was-called"
    bin_dir.mkdir()
    for tool in ("sinfo", "squeue"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "scontrol").write_text(f"#!/bin/sh\necho \"$@\" >> {mark}\necho 'MinJobAge = 300 sec'\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, mark


def test_make_setup_installed_the_startup_hook():
    for path in (pth_path(), hook_path()):
        assert path.is_file(), (f"{path.name} is missing from {path.parent}: run `make setup` "
                                "(or `python -m robust3d.slurm_probe install`)")
    source = Path(__file__).resolve().parents[1] / "src" / "robust3d" / "slurm_probe_hook.py"
    assert hook_path().read_text() == source.read_text(), "the installed hook is stale: run `make setup`"
    assert PTH_NAME.endswith(".pth")


def test_the_hook_does_not_import_robust3d_at_startup():
    """A workflow run from another checkout puts its own src/ first; a robust3d imported at start-up would shadow it
    (the throwaway-paper test in tests/test_papers.py runs exactly that)."""
    code = f"import sys; print('robust3d' in sys.modules, {HOOK_MODULE!r} in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.split() == ["False", "True"], proc.stdout + proc.stderr


def test_importing_the_plugin_runs_no_scontrol(fake_slurm):
    env, mark = fake_slurm
    proc = subprocess.run([sys.executable, "-c", IMPORT_PLUGIN], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not mark.exists(), f"the plugin ran scontrol at import: {mark.read_text()}"


def test_help_still_gets_the_probe(fake_slurm):
    """The probe's only use at import is the help line of --slurm-status-command: it runs when help is asked for."""
    env, mark = fake_slurm
    proc = subprocess.run([sys.executable, "-c", IMPORT_PLUGIN, "--help"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert mark.read_text().strip() == "show config"


def test_without_the_hook_the_plugin_probes_at_import(fake_slurm):
    """The test's own control: with site hooks off (-S) and the venv on sys.path, the plugin calls scontrol."""
    env, mark = fake_slurm
    import snakemake_executor_plugin_slurm as plugin

    site_packages = str(Path(plugin.__file__).parents[1])
    code = f"import sys; sys.path.insert(0, {site_packages!r}); {IMPORT_PLUGIN}"
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert mark.read_text().strip() == "show config"
