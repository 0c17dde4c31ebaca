"""Loading and validating robust3d configs: JSON schema first, then the checks a schema cannot express.

The schema is ``workflow/schemas/config.schema.yaml`` (shared sections) plus one fragment per paper,
``workflow/schemas/papers/<paper>.schema.yaml``, merged in as that paper's section. This module checks the shared
sections only; each paper's own checks (``robust3d.papers.<paper>.checks``) run from the composition roots
(:func:`robust3d.papers.validate_config`), so nothing here knows a paper.

Errors are raised as :class:`ConfigError` with one line that names the offending key and what is allowed,
so that a bad config stops a run before any job starts.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from robust3d.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO_ROOT / "workflow" / "schemas"
SCHEMA_PATH = SCHEMA_DIR / "config.schema.yaml"
PAPER_SCHEMA_DIR = SCHEMA_DIR / "papers"

__all__ = ["ConfigError", "load_config", "load_schema", "validate_config"]


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _describe(error) -> str:
    """One line for a jsonschema error: the key, then what is wrong and what is allowed."""
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = ".".join([*map(str, error.absolute_path), extra[0]]) if extra else where
        return f"unknown key '{where}' (allowed here: {', '.join(allowed)})"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        key = ".".join([*map(str, error.absolute_path), missing])
        return f"missing required key '{key}'"
    if error.validator == "type":
        return f"key '{where}': {error.instance!r} is not of type {error.validator_value}"
    if error.validator == "enum":
        return f"key '{where}': {error.instance!r} is not one of {error.validator_value}"
    return f"key '{where}': {error.message}"


def _fill_defaults(schema: dict, data: dict) -> None:
    """Insert schema defaults for absent keys (recursively), as Snakemake's validate() does.

    Maps of named entries (``additionalProperties`` holding an object schema, e.g. ``compnets.models``) get
    their entries' defaults too, so that code can read every documented key of an entry.
    """
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        if key not in data and "default" in sub:
            data[key] = copy.deepcopy(sub["default"])
        if isinstance(data.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(sub, data[key])
    entry = schema.get("additionalProperties")
    if isinstance(entry, dict) and entry.get("type") == "object":
        for key, value in data.items():
            if key not in properties and isinstance(value, dict):
                _fill_defaults(entry, value)


def load_schema() -> dict:
    """The shared schema with every paper's fragment merged in as ``properties.<paper>``."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    for path in sorted(PAPER_SCHEMA_DIR.glob("*.schema.yaml")):
        fragment = yaml.safe_load(path.read_text())
        fragment.pop("$schema", None)
        schema["properties"][path.name.split(".")[0]] = fragment
    return schema


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` and return a copy with defaults filled in; raise :class:`ConfigError`."""
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping of keys, got {type(config).__name__}")
    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        raise ConfigError(_describe(errors[0]))
    config = copy.deepcopy(config)
    _fill_defaults(schema, config)
    _check_synthetic(config["synthetic"])
    _check_variants(config)
    _check_depth(config)
    _check_pretrain(config)
    _check_datasets(config)
    return config


def _check_pretrain(config: dict[str, Any]) -> None:
    """Every pretrained backbone can be built; the pool and the sanity splits (train, test) have images."""
    from robust3d.models.backbone_checks import check_backbone_entry
    from robust3d.synth.plan import active_splits

    cfg = config["pretrain"]
    if not cfg["backbones"]:
        return
    splits = active_splits(config)
    for split in [*cfg["splits"], "train", "test"]:
        if split not in splits:
            raise ConfigError(f"key 'pretrain.splits': the pretraining stage needs images in '{split}' "
                              f"(splits with images: {', '.join(splits)})")
    for name, entry in cfg["backbones"].items():
        check_backbone_entry(f"pretrain.backbones.{name}", {**entry, "weights": None})


def _check_depth(config: dict[str, Any]) -> None:
    """Pseudo-depth splits must have images; the local backend needs the depth_train split to learn from."""
    from robust3d.synth.plan import active_splits

    cfg, splits = config["depth"], active_splits(config)
    for split in cfg["splits"]:
        if split not in splits:
            raise ConfigError(
                f"key 'depth.splits': '{split}' is not a synthetic split with images ({', '.join(splits)})"
            )
    if cfg["splits"] and cfg["backend"] == "local" and "depth_train" not in splits:
        raise ConfigError("key 'synthetic.splits.depth_train': the local depth backend trains on it; set it above 0")


def _check_variants(config: dict[str, Any]) -> None:
    """Variant names must exist and variant splits must be synthetic splits that have images."""
    from robust3d.synth.plan import active_splits

    cfg = config["variants"]
    splits = active_splits(config)
    for split in cfg["splits"]:
        if split not in splits:
            raise ConfigError(
                f"key 'variants.splits': '{split}' is not a synthetic split with images ({', '.join(splits)})"
            )
    from robust3d.variants.corruptions import CORRUPTIONS_2D
    from robust3d.variants.corruptions3d import CORRUPTIONS_3D

    for key, known in (("corruptions", CORRUPTIONS_2D), ("corruptions_3d", CORRUPTIONS_3D)):
        for name in cfg[key]["names"]:
            if name not in known:
                raise ConfigError(
                    f"key 'variants.{key}.names': unknown corruption '{name}' (known: {', '.join(known)})"
                )
        if cfg[key]["names"] and not cfg[key]["severities"]:
            raise ConfigError(f"key 'variants.{key}.severities': corruptions are listed but no severity")


def _check_synthetic(cfg: dict[str, Any]) -> None:
    """Checks the schema cannot express: category names, held-out counts, non-empty splits."""
    from robust3d.geometry.classes import PASCAL3D_CLASSES
    from robust3d.synth.categories import procedural_category_names

    known = set(PASCAL3D_CLASSES) | set(procedural_category_names(1000))
    for name in cfg["categories"]:
        if name not in known:
            raise ConfigError(
                f"key 'synthetic.categories': unknown category '{name}' "
                f"(allowed: {', '.join(PASCAL3D_CLASSES)}, proc000 ... proc999)"
            )
    unseen = cfg.get("unseen_categories", [])
    for name in unseen:
        if name not in cfg["categories"]:
            raise ConfigError(f"key 'synthetic.unseen_categories': '{name}' is not in synthetic.categories")
    if len(cfg["categories"]) - len(unseen) < 2:
        raise ConfigError(
            f"key 'synthetic.unseen_categories': holding out {len(unseen)} of {len(cfg['categories'])} "
            "categories leaves fewer than 2 to train on"
        )
    if cfg["ood_instances_per_category"] >= cfg["instances_per_category"]:
        raise ConfigError(
            f"key 'synthetic.ood_instances_per_category': {cfg['ood_instances_per_category']} held-out CAD "
            f"instances leave none of the {cfg['instances_per_category']} per category for training"
        )
    for split in ("train", "test"):
        if cfg["splits"][split] < 1:
            raise ConfigError(f"key 'synthetic.splits.{split}': needs at least 1 image per category, got 0")
    if unseen and cfg["splits"].get("unseen", 0) < 1:
        raise ConfigError("key 'synthetic.splits.unseen': unseen_categories are set but the split has 0 images")
    for name in ("azimuth", "elevation", "theta", "ood_elevation"):
        lo, hi = cfg["pose"][name]
        if lo > hi:
            raise ConfigError(f"key 'synthetic.pose.{name}': min {lo} is larger than max {hi}")
    templates = cfg["templates"]
    for key in ("categories", "unseen_categories"):
        for name in templates[key]:
            if name not in cfg["categories"]:
                raise ConfigError(f"key 'synthetic.templates.{key}': '{name}' is not in synthetic.categories")
    for name in templates["unseen_categories"]:
        if name not in templates["categories"]:
            raise ConfigError(f"key 'synthetic.templates.unseen_categories': '{name}' is not in templates.categories")
    if templates["categories"] and len(templates["categories"]) == len(templates["unseen_categories"]):
        raise ConfigError("key 'synthetic.templates.unseen_categories': every template object is held out")
    if templates["categories"]:
        from robust3d.geometry.viewpoints import ACC15_DEG, covering_radius_deg

        level = templates["icosphere_level"]
        radius = covering_radius_deg(level)
        if radius >= ACC15_DEG:
            raise ConfigError(f"key 'synthetic.templates.icosphere_level': level {level} leaves query viewpoints up to "
                              f"{radius:.1f} degrees from every template, so even a perfect matcher cannot reach 100% "
                              f"Acc15 (within {ACC15_DEG:.0f} degrees); use level 2 or more")
    lo, hi = templates["occlusion"]
    if lo > hi:
        raise ConfigError(f"key 'synthetic.templates.occlusion': min {lo} is larger than max {hi}")
    for name in ("elevation", "ood_elevation"):
        lo, hi = cfg["pose"][name]
        if lo < -90 or hi > 90:
            raise ConfigError(f"key 'synthetic.pose.{name}': elevation must lie in [-90, 90] degrees")
    from robust3d.synth.plan import OBJECT_SPLITS, train_categories

    for name, subset in cfg["subsets"].items():
        unknown = [c for c in subset["classes"] if c not in train_categories(cfg)]
        if unknown:
            raise ConfigError(f"key 'synthetic.subsets.{name}.classes': {unknown} are not training categories")
        for split in subset["splits"]:
            if split not in OBJECT_SPLITS or split == "unseen" or not cfg["splits"].get(split, 0):
                raise ConfigError(f"key 'synthetic.subsets.{name}.splits': '{split}' is not an object split of the "
                                  "training categories that this config renders")
    for name in ("azimuth", "elevation"):
        lo, hi = cfg["cars"][name]
        if lo > hi:
            raise ConfigError(f"key 'synthetic.cars.{name}': min {lo} is larger than max {hi}")
    if cfg["cars"]["azimuth"][1] - cfg["cars"]["azimuth"][0] > 360:
        raise ConfigError("key 'synthetic.cars.azimuth': the range spans more than 360 degrees")
    lo, hi = cfg["cars"]["elevation"]
    if lo < -90 or hi > 90:
        raise ConfigError("key 'synthetic.cars.elevation': elevation must lie in [-90, 90] degrees")


def _check_datasets(config: dict[str, Any]) -> None:
    """Real datasets: class names and splits each converter knows, dependencies between blocks, variant needs."""
    from robust3d.geometry.classes import PASCAL3D_CLASSES

    cfg = config["datasets"]
    for name in ("pascal3d", "occluded_pascal3d"):
        for cls in cfg[name]["classes"]:
            if cls not in PASCAL3D_CLASSES:
                raise ConfigError(f"key 'datasets.{name}.classes': unknown PASCAL3D+ class '{cls}' "
                                  f"(known: {', '.join(PASCAL3D_CLASSES)})")
    if cfg["occluded_pascal3d"]["enabled"] and not cfg["pascal3d"]["enabled"]:
        raise ConfigError("key 'datasets.occluded_pascal3d.enabled': OccludedPASCAL3D+ takes its poses from "
                          "PASCAL3D+; enable datasets.pascal3d too")
    ood = cfg["oodcv"]
    if ood["enabled"]:  # the OOD-CV constants live with its converter (a heavier import)
        from robust3d.data.datasets.oodcv import OODCV_CLASSES, OODCV_V2_SPLITS

        for cls in ood["classes"]:
            if cls not in OODCV_CLASSES:
                raise ConfigError(f"key 'datasets.oodcv.classes': unknown OOD-CV class '{cls}' "
                                  f"(known: {', '.join(OODCV_CLASSES)})")
        known = ("train", "test") if ood["version"] == 1 else tuple(OODCV_V2_SPLITS)
        for split in ood["splits"]:
            if split not in known:
                raise ConfigError(f"key 'datasets.oodcv.splits': OOD-CV version {ood['version']} has no split "
                                  f"'{split}' (known: {', '.join(known)})")
    inet = cfg["imagenet3d"]
    if not inet["classes"] and inet["n_classes"] < len(inet["include"]):
        raise ConfigError(f"key 'datasets.imagenet3d.n_classes': {inet['n_classes']} is fewer than the "
                          f"{len(inet['include'])} classes of datasets.imagenet3d.include")
    for name in ("pascal3d", "occluded_pascal3d", "oodcv", "imagenet3d"):
        block = cfg[name]
        if not block["enabled"]:
            continue
        for split in block["variant_splits"]:
            if split not in block["splits"]:
                raise ConfigError(f"key 'datasets.{name}.variant_splits': '{split}' is not in datasets.{name}.splits")
        if block["variant_splits"] and name != "occluded_pascal3d" and not block["cad_masks"]:
            raise ConfigError(f"key 'datasets.{name}.cad_masks': the occlusion variant of its variant_splits needs "
                              "object masks, which this dataset lacks; set it to true (rendered from the CAD models)")


def load_config(paths: str | Path | list[str | Path] | tuple[str | Path, ...],
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Config files layered left to right (each with its ``extends:`` chain), then ``overrides`` (``--config``
    key=value entries, typed by the schema), validated: the rules of :mod:`robust3d.config_layers`."""
    from robust3d.config_layers import resolve_layers

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    try:
        return validate_config(resolve_layers(paths, overrides, load_schema()))
    except ConfigError as err:
        if str(err).startswith("missing required key") and "." not in str(err):  # a whole section is missing
            raise ConfigError(f"{err} in {', '.join(map(str, paths))}: a config file is complete or says what "
                              "it extends (e.g. `extends: config.yaml`, a path relative to the file)") from None
        raise
