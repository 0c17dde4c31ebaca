"""3D-CompNets' config checks, beyond its schema fragment (workflow/schemas/papers/compnets.schema.yaml): models
name existing backbones, losses fit their family, sizes fit the mesh, the ImageNet3D route has what it needs.

Called by :func:`robust3d.papers.check_config` after the shared validation (defaults filled in)."""

from __future__ import annotations

from typing import Any

from robust3d.errors import ConfigError
from robust3d.models.backbone_checks import check_backbone_entry, check_ssl_source


def _check_backbone(name: str, entry: dict[str, Any]) -> None:
    check_backbone_entry(f"compnets.backbones.{name}", entry)


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


def check_config(config: dict[str, Any]) -> None:
    """3D-CompNets: models name existing backbones, losses fit their family, sizes fit the mesh."""
    from robust3d.papers.compnets.routes import check_data

    cfg = config["compnets"]
    _check_compnets_data(config)
    check_data(config)
    for name, entry in cfg["backbones"].items():
        _check_backbone(name, entry)
        check_ssl_source(f"compnets.backbones.{name}", entry, config.get("pretrain", {}).get("backbones", {}))
    mesh = cfg["mesh"]
    if mesh["background_per_image"] > mesh["background_features"]:
        raise ConfigError(f"key 'compnets.mesh.background_per_image': {mesh['background_per_image']} exceeds the "
                          f"bank size compnets.mesh.background_features = {mesh['background_features']}")
    for name, spec in cfg["models"].items():
        key = f"compnets.models.{name}"
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
