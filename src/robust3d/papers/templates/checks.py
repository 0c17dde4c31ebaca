"""Template-matching config checks the schema cannot express."""

from __future__ import annotations

from robust3d.errors import ConfigError
from robust3d.papers.templates.tables import COMPUTED, PAPER, SANITY

#: The data splits the stage reads (the synthetic benchmark's `synthetic.templates`).
SPLITS = ("templates", "queries", "queries_occluded", "queries_train")


def check_config(config: dict) -> None:
    section = config[PAPER]
    if not section.get("enabled", True):
        return
    for key in ("backbones", "schedules", "models"):
        if not section.get(key):
            raise ConfigError(f"key 'templates.{key}': the stage needs at least one entry")
    clash = sorted(set(section["models"]) & {*COMPUTED, *SANITY})
    if clash:
        raise ConfigError(f"key 'templates.models': {', '.join(clash)} is the name of a computed or sanity row")
    from robust3d.models.backbone_checks import check_backbone_entry, check_ssl_source

    pretrained = config.get("pretrain", {}).get("backbones", {})
    for name, entry in section["backbones"].items():
        key = f"templates.backbones.{name}"
        check_backbone_entry(key, {k: v for k, v in entry.items() if k not in ("layout", "freeze_patch_embedding")})
        check_ssl_source(key, entry, pretrained)
    for name, spec in section["models"].items():
        key = f"templates.models.{name}"
        if spec["backbone"] not in section["backbones"]:
            raise ConfigError(f"key '{key}.backbone': '{spec['backbone']}' is not in templates.backbones "
                              f"({', '.join(section['backbones'])})")
        schedule = spec.get("schedule")
        if schedule is not None and schedule not in section["schedules"]:
            raise ConfigError(f"key '{key}.schedule': '{schedule}' is not in templates.schedules "
                              f"({', '.join(section['schedules'])})")
        if (spec["role"] == "finetuned") != (schedule is not None):
            raise ConfigError(f"key '{key}': role 'finetuned' and a schedule go together (role {spec['role']}, "
                              f"schedule {schedule})")
        if spec["role"] == "frozen" and spec.get("head", "local") != "none":
            raise ConfigError(f"key '{key}.head': a 'frozen' row reads the raw backbone cells (head: none); a random "
                              "head is role 'frozen_randhead'")
    _check_data(config)


def _check_data(config: dict) -> None:
    """The stage's splits must have images (the level's covering radius is the shared config check's)."""
    from robust3d.synth.plan import active_splits

    splits = active_splits(config)
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        raise ConfigError(f"key 'synthetic.templates': the templates stage reads the splits {', '.join(SPLITS)}; "
                          f"this config renders none of {', '.join(missing)} (give it template categories, or set "
                          "templates.enabled: false)")
    tm = config["synthetic"]["templates"]
    if not tm["unseen_categories"] or len(tm["unseen_categories"]) == len(tm["categories"]):
        raise ConfigError("key 'synthetic.templates.unseen_categories': the protocol needs both seen and unseen "
                          "objects")
    # a symmetry of a category this config renders no template object of is kept (configs derived from another
    # may drop objects); a name that is no category at all is a typo
    from robust3d.geometry.classes import PASCAL3D_CLASSES
    from robust3d.synth.categories import procedural_category_names

    known = set(PASCAL3D_CLASSES) | set(procedural_category_names(1000))
    unknown = sorted(set(config[PAPER].get("symmetries") or {}) - known)
    if unknown:
        raise ConfigError(f"key 'templates.symmetries': {', '.join(unknown)} is not a category name (allowed: "
                          f"{', '.join(PASCAL3D_CLASSES)}, proc000 ... proc999)")
