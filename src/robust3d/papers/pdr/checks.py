"""PDR config checks the schema cannot express."""

from __future__ import annotations

from robust3d.errors import ConfigError
from robust3d.papers.pdr.tables import PAPER, SANITY


def check_config(config: dict) -> None:
    section = config[PAPER]
    nets = section["networks"]
    if nets["zdim"] != 8 * nets["nf_encoder"]:
        raise ConfigError(f"key 'pdr.networks.zdim': must be 8 x nf_encoder ({8 * nets['nf_encoder']}) so the four "
                          f"feature groups are equally wide (the PCC compares them); got {nets['zdim']}")
    clash = sorted(set(section["models"]) & set(SANITY))
    if clash:
        raise ConfigError(f"key 'pdr.models': {', '.join(clash)} is the name of an ours-only sanity row")
    from robust3d.synth.plan import active_splits

    if not section.get("enabled", True):
        return
    splits = active_splits(config)
    for dataset, data in section["datasets"].items():
        for key in ("train_split", "eval_split"):
            if data[key] not in splits:
                raise ConfigError(f"key 'pdr.datasets.{dataset}.{key}': the synthetic benchmark renders no "
                                  f"'{data[key]}' split (splits with images: {', '.join(splits)})")
