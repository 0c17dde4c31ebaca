"""NTDM config checks the schema cannot express."""

from __future__ import annotations

from robust3d.errors import ConfigError
from robust3d.papers.ntdm.tables import PAPER


def check_config(config: dict) -> None:
    section = config[PAPER]
    if not section.get("enabled", True):
        return
    if not section.get("models"):
        raise ConfigError("key 'ntdm.models': the stage needs at least one model")
    from robust3d.models.backbone_checks import check_backbone_entry, check_ssl_source

    pretrained = config.get("pretrain", {}).get("backbones", {})
    for name, entry in section["backbones"].items():
        check_backbone_entry(f"ntdm.backbones.{name}", entry)
        check_ssl_source(f"ntdm.backbones.{name}", entry, pretrained)
    for name, spec in section["models"].items():
        key = f"ntdm.models.{name}"
        base = spec.get("checkpoint_of")
        if base is not None:
            if base not in section["models"] or section["models"][base].get("checkpoint_of"):
                raise ConfigError(f"key '{key}.checkpoint_of': '{base}' is not a model of ntdm.models with its own "
                                  "weights")
            extra = sorted(set(spec) - {"checkpoint_of", "inference", "evaluate_on", "classify", "max_per_class"})
            if extra:
                raise ConfigError(f"key '{key}': a checkpoint_of row changes only inference ({', '.join(extra)} "
                                  "belong to the model it reads)")
            continue
        if spec.get("family") != "ntdm":
            raise ConfigError(f"key '{key}.family': must be 'ntdm' (got {spec.get('family')!r})")
        if spec.get("backbone") not in section["backbones"]:
            raise ConfigError(f"key '{key}.backbone': '{spec.get('backbone')}' is not in ntdm.backbones "
                              f"({', '.join(section['backbones'])})")
        unknown = sorted(set(spec.get("texture") or {}) - set(section["texture"]))
        if unknown:
            raise ConfigError(f"key '{key}.texture': unknown keys {', '.join(unknown)}")
