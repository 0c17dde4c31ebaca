"""The import hook behind :mod:`robust3d.slurm_probe`, standalone (standard library only).

``python -m robust3d.slurm_probe install`` copies this file into site-packages as the top-level module
``robust3d_slurm_probe_hook``, which a ``.pth`` line imports at every interpreter start. It must not import the
``robust3d`` package: a workflow run from another checkout puts its own ``src/`` first on ``sys.path``, and a
``robust3d`` imported at start-up would shadow it.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder

TARGET = "snakemake_executor_plugin_slurm.job_status_query"
PROBE = "should_recommend_squeue_status_command"


def _help_requested() -> bool:
    return any(arg in ("-h", "--help") for arg in sys.argv[1:])


def make_lazy(module) -> None:
    """Wrap the module's probe so that it runs only when help is asked for (idempotent)."""
    probe = getattr(module, PROBE, None)
    if probe is None or getattr(probe, "_robust3d_lazy", False):
        return

    def lazy(*args, **kwargs):
        return probe(*args, **kwargs) if _help_requested() else False

    lazy._robust3d_lazy = True
    lazy.__doc__ = probe.__doc__
    setattr(module, PROBE, lazy)


class LazyProbeFinder(MetaPathFinder):
    """Finds the plugin's ``job_status_query`` as usual and wraps the probe right after the module runs, before
    the plugin's ``__init__`` binds it by name."""

    def find_spec(self, name: str, path=None, target=None) -> ModuleSpec | None:
        if name != TARGET:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader, run = spec.loader, spec.loader.exec_module

        def exec_module(module):
            run(module)
            make_lazy(module)

        loader.exec_module = exec_module
        return spec


def install() -> None:
    """Put the hook in front of the import system (idempotent)."""
    if TARGET in sys.modules:
        make_lazy(sys.modules[TARGET])
    if not any(type(f).__name__ == "LazyProbeFinder" for f in sys.meta_path):
        sys.meta_path.insert(0, LazyProbeFinder())


if __name__ == "robust3d_slurm_probe_hook":  # imported by the .pth line at start-up
    install()
