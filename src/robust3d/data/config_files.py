"""Resolved config files for the workflow's jobs, named by a hash of the sections a stage reads.

Snakemake's params rerun-trigger then reruns a stage's jobs when, and only when, those settings change.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def config_digest(config: dict[str, Any], sections: tuple[str, ...] | None = None,
                  ignore: tuple[str, ...] = ()) -> str:
    """Short content hash of the config, or of some of its top-level sections, without the dotted keys of
    ``ignore`` (e.g. ``compnets.pose``)."""
    import hashlib
    import json

    part = copy.deepcopy(config if sections is None else {k: config.get(k) for k in sections})
    for dotted in ignore:
        *parents, leaf = dotted.split(".")
        node = part
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:12]


def write_resolved_config(config: dict[str, Any], folder: str | Path, stage: str,
                          sections: tuple[str, ...], ignore: tuple[str, ...] = ()) -> str:
    """Write the validated config for the jobs of one pipeline stage; return its path.

    The file name carries a hash of only the ``sections`` the stage reads (less the dotted keys of ``ignore``,
    settings those jobs never read), so that Snakemake's params rerun-trigger reruns a stage's jobs when, and
    only when, those settings change. The file itself always holds the whole config.
    """
    from robust3d.data.io import atomic_path

    path = Path(folder) / f"{stage}-{config_digest(config, sections, ignore)}.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    if not path.exists() or path.read_text() != text:
        with atomic_path(path) as tmp:
            tmp.write_text(text)
    return str(path)
