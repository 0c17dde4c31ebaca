"""Self-supervised backbone weights a ``backbones`` entry names by ``weights``: the project's own pretraining
stage and two released checkpoints. Torch-free at import, so config checks can use the names.

- ``"ssl:<name>"``: the teacher backbone of the pretraining stage (``robust3d.models.pretrain``), written by the
  ``pretrain`` rule to ``<results>/pretrain/<name>/backbone.pt`` (:func:`ssl_weights_path`). The file holds the
  state dict of exactly the module the entry builds (``PatchViT.vit`` / ``ResNetExt.body``) plus the kind, arch
  and ViT sizes it was trained with; loading refuses a file whose kind, arch or sizes differ from the entry.
- ``"dino_vits16"`` (a ``vit`` entry, arch ``vit_small_patch16_224``): DINO's ViT-S/16 from torch.hub
  ``facebookresearch/dino:main``; DINO's parameter names are timm's, so its state dict loads into the timm ViT.
- ``"moco_v2_800ep"`` (a ``resnetext`` entry, arch ``resnet50``): MoCo v2's 800-epoch ResNet-50, its query
  encoder converted to torchvision names (:func:`moco_to_torchvision`).

Other weight names (torchvision ``IMAGENET1K_V1``, timm tags such as ``lvd142m``) are
:mod:`robust3d.models.backbones`' own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RELEASED_SSL", "SSL_FORMAT", "ReleasedWeights", "WeightsUnavailable", "load_ssl_weights",
           "moco_to_torchvision", "save_ssl_weights", "ssl_inputs", "ssl_name", "ssl_weights_path"]

#: ``format`` of a pretraining stage's ``backbone.pt``; bump it when the layout changes so old files are refused.
SSL_FORMAT = "robust3d.pretrain/1"
_SSL_PREFIX = "ssl:"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights are neither cached nor downloadable (offline); the message says what to fetch."""


@dataclass(frozen=True)
class ReleasedWeights:
    """A released self-supervised checkpoint: the entry it fits, its URL and (if any) the torch.hub entry point
    that builds the model from it."""

    kind: str
    arch: str
    url: str
    hub_repo: str | None = None
    hub_model: str | None = None


#: Released self-supervised weights by name (the value of an entry's ``weights``).
RELEASED_SSL = {
    "dino_vits16": ReleasedWeights(
        "vit", "vit_small_patch16_224",
        "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
        hub_repo="facebookresearch/dino:main", hub_model="dino_vits16"),
    "moco_v2_800ep": ReleasedWeights(
        "resnetext", "resnet50",
        "https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/moco_v2_800ep_pretrain.pth.tar"),
}


def ssl_name(weights: str | None) -> str | None:
    """The pretraining run named by ``weights = "ssl:<name>"``, or None for any other weights.

    The name becomes a folder, so it must be a plain file name (letters, digits, ``_ . -``).
    """
    if not isinstance(weights, str) or not weights.startswith(_SSL_PREFIX):
        return None
    name = weights[len(_SSL_PREFIX):]
    if not _NAME.fullmatch(name):
        raise ValueError(f"weights '{weights}': the pretraining run's name after 'ssl:' must be letters, digits, "
                         "'_', '.' or '-' (it names the folder <results>/pretrain/<name>)")
    return name


def ssl_weights_path(root: str | os.PathLike, name: str) -> Path:
    """Where the pretraining stage writes the backbone of run ``name`` under the results folder ``root``."""
    return Path(root) / "pretrain" / name / "backbone.pt"


def ssl_inputs(section: dict[str, Any], model: str, results: str | Path) -> list[str]:
    """The pretraining stage's files a paper's model starts from: ``[<results>/pretrain/<name>/backbone.pt]`` when
    its backbone entry says ``weights: ssl:<name>``, else ``[]`` (a workflow rule's input, so the stage runs first).
    ``model`` may carry a seed or set suffix (``<model>@...``)."""
    spec = section["models"][model.split("@")[0]]
    weights = section["backbones"][spec["backbone"]].get("weights")
    name = ssl_name(weights) if weights is not None else None
    return [] if name is None else [str(ssl_weights_path(results, name))]


def _sizes(sizes: dict[str, Any] | None) -> dict[str, int]:
    """ViT sizes as an entry gives them; absent or None means the architecture's own."""
    return {k: int(v) for k, v in sorted((sizes or {}).items()) if v is not None}


def save_ssl_weights(path: str | os.PathLike, name: str, kind: str, arch: str, sizes: dict[str, Any] | None,
                     state_dict: dict) -> Path:
    """Write a pretraining run's backbone (``PatchViT.vit`` / ``ResNetExt.body`` state dict) in :data:`SSL_FORMAT`.

    Written to a temporary file and renamed, so a killed job never leaves a half-written ``backbone.pt``.
    """
    import torch

    if kind != "vit" and _sizes(sizes):
        raise ValueError(f"only vit backbones have sizes, got {sizes} for {kind}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": SSL_FORMAT, "name": name, "kind": kind, "arch": arch, "sizes": _sizes(sizes),
               "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_ssl_weights(path: str | os.PathLike, kind: str, arch: str, sizes: dict[str, Any] | None) -> dict:
    """The state dict in a pretraining run's ``backbone.pt``, after checking it was trained for this entry.

    Missing file -> :class:`WeightsUnavailable` naming the command that makes it; another format, kind, arch or
    sizes -> ValueError saying what differs.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailable(
            f"no self-supervised backbone at {path}: run the pretraining stage first (`snakemake --cores all "
            f"{path}`, the pretrain rule), or set the backbone's weights to null to train from scratch")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt != SSL_FORMAT:
        raise ValueError(f"{path} has format {fmt!r}, not {SSL_FORMAT!r}: rebuild it with "
                         f"`snakemake --cores all --force {path}`")
    want = {"kind": kind, "arch": arch, "sizes": _sizes(sizes)}
    have = {"kind": payload.get("kind"), "arch": payload.get("arch"), "sizes": _sizes(payload.get("sizes"))}
    wrong = [k for k in want if want[k] != have[k]]
    if wrong:
        diff = ", ".join(f"{k} {have[k]!r} (the entry has {want[k]!r})" for k in wrong)
        raise ValueError(f"{path} was pretrained with {diff}: rebuild it for this entry "
                         f"(`snakemake --cores all --force {path}`) or fix the entry")
    return payload["state_dict"]


def moco_to_torchvision(state: dict) -> dict:
    """A MoCo checkpoint (or its ``state_dict``) -> the query encoder's torchvision ResNet weights, without ``fc``.

    MoCo trains with DistributedDataParallel, so its keys read ``module.encoder_q.<torchvision key>``; ``fc`` is
    its projection head (an MLP in v2), ``encoder_k`` the momentum copy and ``queue`` the negatives: all dropped.
    """
    state = state.get("state_dict", state)
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("encoder_q.") and not key.startswith("encoder_q.fc."):
            out[key.removeprefix("encoder_q.")] = value
    if not out:
        raise ValueError(f"not a MoCo checkpoint: no 'module.encoder_q.*' keys (found {list(state)[:5]})")
    return out
