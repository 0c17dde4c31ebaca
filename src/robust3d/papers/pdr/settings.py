"""The resolved settings of one PDR model on one dataset: the config's networks, dataset and LOOCC values mapped
onto the de-renderer's (:class:`robust3d.models.derender.model.DerenderSettings`) or the VQ-VAE's."""

from __future__ import annotations

from typing import Any

from robust3d.papers.pdr.tables import PAPER


def model_settings(config: dict, dataset: str, model: str) -> tuple[str, dict[str, Any]]:
    """(family, settings) of ``model`` trained on ``dataset``."""
    section = config[PAPER]
    spec = section["models"][model]
    size = int(section["size"])
    if spec["family"] == "vqvae":
        return "vqvae", {"d": int(spec["d"]), "k": int(spec["k"]), "size": size}
    data, nets, loocc = section["datasets"][dataset], section["networks"], section["loocc"]
    return "derender", {
        "size": size, "nf": int(nets["nf"]), "nf_encoder": int(nets["nf_encoder"]), "zdim": int(nets["zdim"]),
        "border_depth": float(data["border_depth"]), "min_diffuse": float(data["min_diffuse"]),
        "confidence": bool(data["confidence"]), "lam_flip": float(data["lam_flip"]),
        "lam_perc": float(data["lam_perc"]), "lam_depth_smooth": float(data["lam_depth_smooth"]),
        "loocc": spec["loocc"], "loocc_weight": float(loocc["weight"]), "temperature": float(loocc["temperature"]),
        "code_faithful_contrast": bool(loocc["code_faithful"])}
