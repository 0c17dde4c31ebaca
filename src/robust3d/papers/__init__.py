"""The paper stages: one sub-package per paper, registered by id in :data:`PAPERS` and imported on demand.

A stage is a module convention, not a class hierarchy. ``robust3d.papers.<id>`` exposes:

- ``PAPER``: its id (the config section, the results folder ``<results>/<id>/``, the prefix of its rules and files);
- ``Plan``: ``Plan.prepare(config, folder)`` writes the stage's resolved configs and returns the paths, input
  functions and resources its rules use; ``plan.outputs()`` (rule all; empty when the stage is disabled) and
  ``plan.predictions(benchmark)`` (what the shared ``metrics`` rule gathers on that benchmark);
- ``table_specs(config, sources)``, ``claims(...)``: its tables and claims, on the generic engine (``tables``);
- ``build(sources, config)`` and ``write(tables, claims, out_dir, figures_dir)``: the ``tables`` command's work;
- ``models(config)`` and ``unavailable(config, split, variant, level)``: what the config trains and builds;
  ``seeds(config)``: the training seeds (model ids ``<model>@s<k>``), or None for one run under the plain ids;
- ``check_config(config)``: the checks its schema fragment cannot express;
- ``REFERENCE``: the path of its ``reference.yaml`` (the paper's printed numbers);
- ``report_files(config)``: what the HTML report shows of it (:mod:`robust3d.report.build`): a dict with ``title``,
  ``doc`` (its docs page), ``tables`` (table CSV paths, each with its ``.json`` beside it), ``claims``, and
  optionally ``byom_claims``, ``chance`` and ``figures`` ((path, caption) pairs).

A brought model (config ``byom:``, :mod:`robust3d.byom`) joins a stage's tables through its ``table_specs`` (rows
with model id ``byom-<name>``), its plan's ``evaluations`` and ``predictions`` (predicted by the shared
``byom_predict`` rule) and ``claims_df.attrs["byom"]`` (its comparison rows beside the claims).

Only the composition roots import this package: :mod:`robust3d.cli` with its command modules
(:mod:`robust3d.commands`), the workflow (``workflow/rules/common.smk``) and the stages themselves.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

#: Paper id -> the stage's module (each a sub-package of this one).
PAPERS = {"compnets": "robust3d.papers.compnets", "ntdm": "robust3d.papers.ntdm", "pdr": "robust3d.papers.pdr",
          "templates": "robust3d.papers.templates"}


def stage(name: str) -> ModuleType:
    """The stage module of paper ``name``."""
    if name not in PAPERS:
        raise ValueError(f"unknown paper '{name}' (known: {', '.join(PAPERS)})")
    return importlib.import_module(PAPERS[name])


def configured(config: dict) -> list[str]:
    """The registered papers that have a section in ``config``, in registry order."""
    return [name for name in PAPERS if name in config]


def check_config(config: dict) -> None:
    """Every configured paper's own checks (after the shared validation filled in the defaults), then the
    ``byom:`` entries'."""
    for name in configured(config):
        stage(name).check_config(config)
    check_byom(config)


def check_byom(config: dict) -> None:
    """Each brought model's file exists (:func:`robust3d.byom.model_file`) and the papers it names are configured."""
    from robust3d.byom import model_file
    from robust3d.errors import ConfigError

    for name, entry in (config.get("byom") or {}).items():
        try:
            model_file(entry["file"])
        except FileNotFoundError as err:
            raise ConfigError(f"key 'byom.{name}.file': {err}") from err
        unknown = [p for p in entry.get("papers") or [] if p not in configured(config)]
        if unknown:
            raise ConfigError(f"key 'byom.{name}.papers': {', '.join(unknown)} is not a configured paper "
                              f"(configured: {', '.join(configured(config))})")


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """The whole check of a config: shared schema and sections (:mod:`robust3d.config`), then each paper's."""
    from robust3d.config import validate_config as validate_shared

    config = validate_shared(config)
    check_config(config)
    return config


def load_config(paths: str | Path | list[str | Path], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Config files layered with their ``extends:`` chains, then ``--config`` ``overrides``
    (:mod:`robust3d.config_layers`), all of it checked (:func:`validate_config`): what the workflow runs."""
    from robust3d.config import load_config as load_shared

    config = load_shared(paths, overrides)
    check_config(config)
    return config
