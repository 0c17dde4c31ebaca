"""Loading and validating robust3d configs: JSON schema first, then the checks a schema cannot express.

Errors are raised as :class:`ConfigError` with one line that names the offending key and what is allowed,
so that a bad config stops a run before any job starts.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config that cannot run; the message is one line naming the key."""


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
    return yaml.safe_load(SCHEMA_PATH.read_text())


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
    _check_datasets(config)
    _check_compnets(config)
    return config


#: Shapes of the DINOv2 ViTs with released weights (timm `<arch>.lvd142m`): depth, embed_dim, num_heads.
DINOV2_SHAPES = {
    "vit_small_patch14_dinov2": (12, 384, 6),
    "vit_base_patch14_dinov2": (12, 768, 12),
    "vit_large_patch14_dinov2": (24, 1024, 16),
    "vit_giant_patch14_dinov2": (40, 1536, 24),
}
#: Model ids that would collide with other stages' outputs under `<results>/models/`.
RESERVED_MODEL_IDS = ("depth_local",)


def _check_backbone(name: str, entry: dict[str, Any]) -> None:
    key = f"compnets.backbones.{name}"
    shape_keys = ("depth", "embed_dim", "num_heads")
    given = [k for k in shape_keys if k in entry]
    if entry["kind"] == "resnetext":
        if given:
            raise ConfigError(f"key '{key}.{given[0]}': only vit backbones take {', '.join(shape_keys)}")
        if not entry["arch"].startswith("resnet"):
            raise ConfigError(f"key '{key}.arch': resnetext needs a ResNet architecture (resnet18, resnet50, ...), "
                              f"got '{entry['arch']}'")
        return
    if "patch14" not in entry["arch"]:
        raise ConfigError(f"key '{key}.arch': vit backbones are DINOv2-style patch-14 ViTs (stride 14), "
                          f"got '{entry['arch']}'")
    if given and len(given) != len(shape_keys):
        missing = next(k for k in shape_keys if k not in entry)
        raise ConfigError(f"key '{key}.{missing}': give all of {', '.join(shape_keys)} or none (the arch's own)")
    if given and entry["embed_dim"] % entry["num_heads"]:
        raise ConfigError(f"key '{key}.num_heads': {entry['num_heads']} does not divide embed_dim {entry['embed_dim']}")
    known = DINOV2_SHAPES.get(entry["arch"])
    if entry["weights"] is not None and given and known and tuple(entry[k] for k in shape_keys) != known:
        raise ConfigError(f"key '{key}.depth': pretrained {entry['arch']} weights need depth, embed_dim, num_heads "
                          f"= {known}, got {tuple(entry[k] for k in shape_keys)}")


def _check_compnets_data(config: dict[str, Any]) -> None:
    """The real-data route needs ImageNet3D converted with both splits and unseen classes among its classes."""
    data = config["compnets"]["data"]
    if data["source"] != "imagenet3d":
        return
    block = config.get("datasets", {}).get("imagenet3d", {})
    if not block.get("enabled"):
        raise ConfigError("key 'compnets.data.source': imagenet3d needs datasets.imagenet3d.enabled: true")
    missing = [s for s in ("train", "val") if s not in block["splits"]]
    if missing:
        raise ConfigError(f"key 'datasets.imagenet3d.splits': compnets.data.source imagenet3d needs {missing} too")
    key = "classes" if block.get("classes") else "include"  # without a class list, `include` forces them in
    outside = [c for c in data["unseen_classes"] if c not in (block.get(key) or [])]
    if outside:
        raise ConfigError(f"key 'compnets.data.unseen_classes': {outside} are not in datasets.imagenet3d.{key}, so "
                          "the converted data need not have them")
    if not data["unseen_classes"]:
        raise ConfigError("key 'compnets.data.unseen_classes': Table 3 needs at least one unseen class")


def _check_compnets(config: dict[str, Any]) -> None:
    """3D-CompNets: models name existing backbones, losses fit their family, sizes fit the mesh."""
    cfg = config["compnets"]
    _check_compnets_data(config)
    for name, entry in cfg["backbones"].items():
        _check_backbone(name, entry)
    mesh = cfg["mesh"]
    if mesh["background_per_image"] > mesh["background_features"]:
        raise ConfigError(f"key 'compnets.mesh.background_per_image': {mesh['background_per_image']} exceeds the "
                          f"bank size compnets.mesh.background_features = {mesh['background_features']}")
    for name, spec in cfg["models"].items():
        key = f"compnets.models.{name}"
        if name in RESERVED_MODEL_IDS:
            raise ConfigError(f"key '{key}': the id '{name}' is taken by another stage's results/models/{name}")
        if spec["backbone"] not in cfg["backbones"]:
            raise ConfigError(f"key '{key}.backbone': unknown backbone '{spec['backbone']}' "
                              f"(compnets.backbones: {', '.join(cfg['backbones'])})")
        loss, n = spec["loss"], spec["cross_samples"]
        if spec["family"] == "dual_head":
            given = [f for f in ("loss", "cross_samples", "vertices_per_class") if spec.get(f) is not None]
            if given:
                raise ConfigError(f"key '{key}.{given[0]}': dual_head models have no contrastive loss or mesh; "
                                  "drop it")
            continue
        if loss is None:
            raise ConfigError(f"key '{key}.loss': neural_mesh models need a loss (novum or compnets)")
        if loss == "novum" and n is not None:
            raise ConfigError(f"key '{key}.cross_samples': the novum loss contrasts every vertex; drop cross_samples "
                              "(it is for the compnets loss)")
        if loss == "compnets" and n is None:
            raise ConfigError(f"key '{key}.cross_samples': the compnets loss needs N, the vertices sampled from each "
                              "other class (paper: 32 or 64)")
        own = spec.get("vertices_per_class")
        k, where = (own, f"{key}.vertices_per_class") if own else (mesh["vertices_per_class"],
                                                                   "compnets.mesh.vertices_per_class")
        if n is not None and n > k:
            raise ConfigError(f"key '{key}.cross_samples': {n} exceeds {where} = {k} (cannot sample more vertices "
                              "than a class has)")


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
    from robust3d.synth.categories import PASCAL3D_CLASSES, procedural_category_names

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
    lo, hi = templates["occlusion"]
    if lo > hi:
        raise ConfigError(f"key 'synthetic.templates.occlusion': min {lo} is larger than max {hi}")
    for name in ("elevation", "ood_elevation"):
        lo, hi = cfg["pose"][name]
        if lo < -90 or hi > 90:
            raise ConfigError(f"key 'synthetic.pose.{name}': elevation must lie in [-90, 90] degrees")


def _check_datasets(config: dict[str, Any]) -> None:
    """Real datasets: class names and splits each converter knows, dependencies between blocks, variant needs."""
    from robust3d.synth.categories import PASCAL3D_CLASSES

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


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a YAML config, apply ``overrides`` (top-level keys), validate it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file '{path}' does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if overrides:
        data.update(overrides)
    return validate_config(data)


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
