"""Keep ``snakemake-executor-plugin-slurm`` from probing the cluster every time Snakemake starts.

Snakemake imports every installed executor plugin to build its command line. At import, the SLURM plugin
(2.8.0) words one help line (``--slurm-status-command``) by running ``scontrol show config`` with a 10 s
timeout. Where the SLURM client is installed but no controller answers (a laptop, a CI machine, a cluster's
build node), every ``snakemake`` call, ``-n`` included, then waits about 9.5 s for nothing.

The hook (:mod:`robust3d.slurm_probe_hook`) makes that probe run only when ``--help`` is asked for; otherwise the
help line says nothing about MinJobAge. Nothing else changes: the plugin's own checks before submitting jobs call
``scontrol`` as before. ``make setup`` installs it for the venv (``python -m robust3d.slurm_probe install``: the
hook as the top-level module ``robust3d_slurm_probe_hook`` plus a ``.pth`` start-up line; ``uninstall`` removes
both).
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

HOOK_MODULE = "robust3d_slurm_probe_hook"
PTH_NAME = "robust3d-slurm-probe.pth"
# .pth files execute lines that start with "import"; a removed hook module must not break Python's start-up.
PTH_LINE = f"import importlib.util; importlib.util.find_spec({HOOK_MODULE!r}) and __import__({HOOK_MODULE!r})\n"


def site_packages() -> Path:
    """This interpreter's site-packages, where the start-up files go."""
    return Path(sysconfig.get_paths()["purelib"])


def pth_path() -> Path:
    return site_packages() / PTH_NAME


def hook_path() -> Path:
    return site_packages() / f"{HOOK_MODULE}.py"


def main(argv: list[str] | None = None) -> int:
    action = (argv if argv is not None else sys.argv[1:]) or ["install"]
    if action == ["install"]:
        shutil.copyfile(Path(__file__).with_name("slurm_probe_hook.py"), hook_path())
        pth_path().write_text(PTH_LINE)
        print(f"robust3d: installed the lazy SLURM-plugin probe: {hook_path()}, {pth_path()}")
    elif action == ["uninstall"]:
        pth_path().unlink(missing_ok=True)
        hook_path().unlink(missing_ok=True)
        print(f"robust3d: removed {pth_path()} and {hook_path()}")
    else:
        print("usage: python -m robust3d.slurm_probe [install|uninstall]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
