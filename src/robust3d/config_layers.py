"""Config layering: how config files, ``extends:`` chains and ``--config`` overrides become one config.

The rules (README, "Configuration"), the same for the workflow and for every ``python -m robust3d`` command:

- A config file is either complete or names the file it builds on with ``extends: <path>`` (relative to the
  extending file's folder). Chains may be any length; a cycle is an error.
- An overlay merges into its base by the schema's shape. **Records** (schema objects with fixed keys, e.g.
  ``synthetic`` or ``variants.corruptions``) merge key by key. **Collections** (maps of named entries:
  ``compnets.models``, ``compnets.backbones``, ``variants.occlusion.levels``), lists and scalars are
  **replaced** whole: an overlay that lists one model trains one model; one that lists L1 and L3 builds two
  occlusion levels.
- Several config files (``--configfile a.yaml b.yaml``) layer left to right the same way; with none, the
  workflow reads ``config.yaml``.
- ``--config key=value`` overrides layer last, the same way, and are typed by the schema: Snakemake hands nested
  values over as strings (``{download: true}`` arrives as ``'true'``); a string where the schema wants a boolean,
  number, null or list is read as YAML.

Nothing here reads the package's schema itself; callers pass it in (:mod:`robust3d.config`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from robust3d.errors import ConfigError

EXTENDS = "extends"

__all__ = ["EXTENDS", "coerce_overrides", "merge_config", "parse_overrides", "read_layered", "resolve_layers"]


def _resolve_ref(schema: dict, node: dict) -> dict:
    """``node`` with a local ``$ref`` (``#/a/b``) followed; sibling keys (e.g. a ``default``) kept."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = schema
    for part in ref[2:].split("/"):
        target = target[part]
    return {**_resolve_ref(schema, target), **{k: v for k, v in node.items() if k != "$ref"}}


def _child(schema: dict, node: dict | None, key: str) -> dict | None:
    """The schema of ``key`` inside the object schema ``node`` (None when the schema says nothing)."""
    if not isinstance(node, dict):
        return None
    node = _resolve_ref(schema, node)
    sub = node.get("properties", {}).get(key)
    if sub is None and isinstance(node.get("additionalProperties"), dict):
        sub = node["additionalProperties"]
    return _resolve_ref(schema, sub) if isinstance(sub, dict) else None


def is_record(schema: dict, node: dict | None) -> bool:
    """A record has fixed, named keys (merged key by key); a collection's keys are names the user chooses."""
    if not isinstance(node, dict):
        return False
    node = _resolve_ref(schema, node)
    return "properties" in node and not isinstance(node.get("additionalProperties"), dict)


def merge_config(base: Any, overlay: Any, schema: dict, node: dict | None = None) -> Any:
    """``overlay`` layered over ``base``: records merge key by key, everything else is replaced.

    ``node`` is the schema of the value being merged (the whole schema at the top level).
    """
    node = schema if node is None else node
    if not (isinstance(base, dict) and isinstance(overlay, dict) and is_record(schema, node)):
        return copy.deepcopy(overlay)
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        merged[key] = merge_config(base[key], value, schema, _child(schema, node, key)) if key in base \
            else copy.deepcopy(value)
    return merged


def read_layered(path: str | Path, schema: dict) -> dict[str, Any]:
    """One config file with its ``extends:`` chain resolved (the chain's keys merged, ``extends`` removed)."""
    from robust3d.data.io import read_yaml
    from robust3d.errors import InputError

    chain: list[Path] = []
    layers: list[dict[str, Any]] = []
    path = Path(path)
    while True:
        if not path.exists():
            via = f" (extended by {chain[-1]})" if chain else ""
            raise ConfigError(f"config file '{path}' does not exist{via}")
        if path.resolve() in [p.resolve() for p in chain]:
            raise ConfigError(f"{chain[0]}: 'extends' chain loops: {' -> '.join(map(str, [*chain, path]))}")
        chain.append(path)
        try:
            data = read_yaml(path)
        except InputError as err:
            raise ConfigError(str(err)) from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config is a YAML mapping of sections, not a {type(data).__name__}")
        data = dict(data)
        parent = data.pop(EXTENDS, None)
        layers.append(data)
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"{path}: key 'extends': give the path of the config this one builds on")
        path = path.parent / parent
    config: dict[str, Any] = {}
    for layer in reversed(layers):
        config = merge_config(config, layer, schema)
    return config


def resolve_layers(paths: list[str | Path], overrides: dict[str, Any] | None, schema: dict) -> dict[str, Any]:
    """Config files layered left to right, then the (typed) ``--config`` overrides; not yet validated."""
    if not paths:
        raise ConfigError("no config file given")
    config: dict[str, Any] = {}
    for path in paths:
        config = merge_config(config, read_layered(path, schema), schema)
    if overrides:
        if EXTENDS in overrides:
            raise ConfigError("key 'extends': give it in a config file, not as a --config override")
        config = merge_config(config, coerce_overrides(overrides, schema), schema)
    return config


def _types(node: dict | None) -> set[str]:
    if not isinstance(node, dict):
        return set()
    kind = node.get("type")
    types = {kind} if isinstance(kind, str) else set(kind or ())
    if "enum" in node:
        types |= {_json_type(v) for v in node["enum"]}
    return types


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allowed(value: Any, types: set[str]) -> bool:
    kind = _json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


def coerce_overrides(value: Any, schema: dict, node: dict | None = None) -> Any:
    """``--config`` values typed by the schema: a string the schema does not allow there is read as YAML."""
    import yaml

    node = _resolve_ref(schema, schema if node is None else node)
    if isinstance(value, str):
        types = _types(node)
        if "null" in types and value in ("null", "Null", "NULL", "~"):
            return None
        if types and not _allowed(value, types):
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                return value  # left for validation to name the key
            if isinstance(parsed, (dict, list)):
                return coerce_overrides(parsed, schema, node)
            if _allowed(parsed, types):
                return parsed
        return value
    if isinstance(value, dict):
        return {k: coerce_overrides(v, schema, _child(schema, node, k)) for k, v in value.items()}
    if isinstance(value, list):
        items = _resolve_ref(schema, node.get("items")) if isinstance(node.get("items"), dict) else None
        return [coerce_overrides(v, schema, items) for v in value]
    return value


def parse_overrides(entries: list[str]) -> dict[str, Any]:
    """``key=value`` entries as ``snakemake --config`` reads them (scalars typed, nested values as strings);
    :func:`coerce_overrides` then types the nested values, so both paths give the same config."""
    import yaml

    overrides: dict[str, Any] = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        if not sep or not key:
            raise ConfigError(f"--config '{entry}': give key=value")
        if text == "":
            overrides[key] = None
            continue
        value: Any = text
        for parser in (int, float, {"True": True, "False": False}.__getitem__):
            try:
                value = parser(text)
                break
            except (ValueError, KeyError):
                continue
        else:
            try:
                value = yaml.load(text, Loader=yaml.BaseLoader)
            except yaml.YAMLError:
                value = text
        overrides[key] = value
    return overrides
