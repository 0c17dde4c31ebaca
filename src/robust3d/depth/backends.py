"""Pseudo-depth backends, registered by name: ZoeDepth through torch.hub (the paper's choice) and a local network.

Every backend maps RGB images ``[B, 3, H, W]`` in ``[0, 1]`` to metric depth ``[B, H, W]``. A backend that cannot
be loaded raises :class:`DepthBackendUnavailable` with what to fetch and where; nothing falls back silently.
"""

from __future__ import annotations

import importlib.metadata
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

ZOEDEPTH_REPO = "isl-org/ZoeDepth"
ZOEDEPTH_WEIGHTS = {
    "ZoeD_N": "https://github.com/isl-org/ZoeDepth/releases/download/v1.0/ZoeD_M12_N.pt",
    "ZoeD_K": "https://github.com/isl-org/ZoeDepth/releases/download/v1.0/ZoeD_M12_K.pt",
    "ZoeD_NK": "https://github.com/isl-org/ZoeDepth/releases/download/v1.0/ZoeD_M12_NK.pt",
}
# ZoeDepth builds its backbone with torch.hub.load("intel-isl/MiDaS", "DPT_BEiT_L_384"), a second hub repo.
MIDAS_REPO = "intel-isl/MiDaS"
# The MiDaS BEiT blocks use timm attributes that timm >= 0.9 renamed (isl-org/ZoeDepth issue #26).
ZOEDEPTH_TIMM = "timm==0.6.13"


class DepthBackendUnavailable(RuntimeError):
    """A backend's code or weights are missing; the message says what to fetch and where."""


class DepthBackend(ABC):
    """Monocular metric depth from RGB: ``predict(images[B,3,H,W] in [0,1]) -> depth[B,H,W]``."""

    name: str = ""

    @abstractmethod
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Metric depth (camera units) per pixel, same height and width as ``images``, float32 on the CPU."""


_BackendT = TypeVar("_BackendT", bound=type[DepthBackend])
_REGISTRY: dict[str, type[DepthBackend]] = {}


def register_backend(name: str) -> Callable[[_BackendT], _BackendT]:
    """Class decorator: make a backend constructible by ``get_backend(name)`` (so configs name it, not import it)."""

    def decorate(cls: _BackendT) -> _BackendT:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"depth backend '{name}' is already registered ({_REGISTRY[name].__qualname__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def get_backend(name: str, **kwargs: Any) -> DepthBackend:
    """Construct the backend registered as ``name`` with ``kwargs``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown depth backend '{name}'; known: {', '.join(available_backends())}")
    return _REGISTRY[name](**kwargs)


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape [B, 3, H, W], got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ValueError(f"expected float images in [0, 1], got dtype {images.dtype}")
    return images


def zoedepth_instructions(model: str = "ZoeD_NK", reason: str = "") -> str:
    """What an offline user must fetch, and where torch.hub looks for it, to run ZoeDepth ``model``."""
    hub = Path(torch.hub.get_dir())
    url = ZOEDEPTH_WEIGHTS.get(model, ZOEDEPTH_WEIGHTS["ZoeD_NK"])
    try:
        timm_version = importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - timm is a project dependency
        timm_version = "not installed"
    lines = [
        f"ZoeDepth '{model}' is unavailable" + (f": {reason}" if reason else "."),
        f"It loads with torch.hub.load('{ZOEDEPTH_REPO}', '{model}', pretrained=True), which needs, in the torch hub "
        f"cache {hub} (torch.hub.get_dir(); move it with $TORCH_HOME):",
        f"  1. the hub repo {ZOEDEPTH_REPO}: "
        f"git clone https://github.com/{ZOEDEPTH_REPO} {hub / 'isl-org_ZoeDepth_main'}",
        f"  2. the MiDaS hub repo it builds on, {MIDAS_REPO}: "
        f"git clone https://github.com/isl-org/MiDaS {hub / 'intel-isl_MiDaS_master'}",
        f"  3. the weights {url} -> {hub / 'checkpoints' / url.rsplit('/', 1)[-1]}",
        "  (on a machine with internet access, running that torch.hub.load once fetches all three; copy the folder.)",
        "  A local clone also works: get_backend('zoedepth', repo='/path/to/ZoeDepth').",
        f"ZoeDepth's MiDaS BEiT backbone needs an old timm ({ZOEDEPTH_TIMM} is known to work; installed: timm "
        f"{timm_version}).",
        "Alternative without downloads: --backend local (a small network trained on the dataset's own depth maps, "
        "robust3d.depth.local.train_local_depth).",
    ]
    return "\n".join(lines)


@register_backend("zoedepth")
class ZoeDepth(DepthBackend):
    """ZoeDepth (Bhat et al. 2023) from torch.hub: metric depth in metres, as the 3D-prior paper's pseudo-labels."""

    def __init__(self, model: str = "ZoeD_NK", device: str | torch.device = "cpu", pad_input: bool = True,
                 with_flip_aug: bool = True, repo: str = ZOEDEPTH_REPO, force_reload: bool = False,
                 trust_repo: bool = True) -> None:
        if model not in ZOEDEPTH_WEIGHTS:
            raise ValueError(f"unknown ZoeDepth model '{model}'; known: {', '.join(ZOEDEPTH_WEIGHTS)}")
        self.model_name = model
        self.device = torch.device(device)
        self.pad_input = pad_input
        self.with_flip_aug = with_flip_aug
        # A folder is a local clone of the repo (offline use); anything else is a GitHub "owner/name[:ref]".
        source = "local" if Path(repo).is_dir() else "github"
        kwargs: dict[str, Any] = {"pretrained": True, "source": source}
        if source == "github":
            kwargs.update(force_reload=force_reload, trust_repo=trust_repo)
        try:
            net = torch.hub.load(repo, model, **kwargs)
        except Exception as err:  # offline, no hub cache, missing weights, timm mismatch: all need the same fix
            raise DepthBackendUnavailable(zoedepth_instructions(model, f"{type(err).__name__}: {err}")) from err
        self.model = net.to(self.device).eval()

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        x = _check_images(images).to(self.device, torch.float32).clamp(0, 1)  # ZoeDepth normalizes internally
        with torch.no_grad():
            try:
                depth = self.model.infer(x, pad_input=self.pad_input, with_flip_aug=self.with_flip_aug)
            except AttributeError as err:  # timm >= 0.9 breaks MiDaS BEiT blocks only when they first run
                raise DepthBackendUnavailable(zoedepth_instructions(self.model_name, f"{type(err).__name__}: {err}")
                                              ) from err
        if depth.ndim == 4:
            depth = depth[:, 0]
        if depth.shape[-2:] != images.shape[-2:]:
            depth = F.interpolate(depth[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return depth.float().cpu()


@register_backend("local")
class LocalDepth(DepthBackend):
    """The small U-Net of :mod:`robust3d.depth.local`, trained by the pipeline on the dataset's true depth; its
    depth covers the whole image (the backdrop where its foreground head sees no surface)."""

    def __init__(self, weights: str | Path, device: str | torch.device = "cpu", batch_size: int = 32) -> None:
        from robust3d.depth.local import load_local_depth

        path = Path(weights)
        if not path.is_file():
            raise DepthBackendUnavailable(
                f"local depth weights {path} do not exist; train them first with "
                f"robust3d.depth.local.train_local_depth(manifests, out=Path('{path}'))")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model, self.meta = load_local_depth(path, self.device)
        self.image_size = int(self.meta["image_size"])
        self.far_scale = float(self.meta["far_scale"])

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        from robust3d.depth.local import whole_image_depth

        x = _check_images(images).float().clamp(0, 1)
        size = x.shape[-2:]
        out = []
        with torch.no_grad():
            for chunk in x.split(self.batch_size):
                chunk = chunk.to(self.device)
                if tuple(size) != (self.image_size, self.image_size):  # the network saw square, resized images
                    chunk = F.interpolate(chunk, size=(self.image_size,) * 2, mode="bilinear", align_corners=False,
                                          antialias=True)
                heads = torch.stack(self.model(chunk), 1)  # [B, 2, h, w]: log-depth, foreground logit
                if heads.shape[-2:] != size:  # resize the heads, then composite: no blend of surface and backdrop
                    heads = F.interpolate(heads, size=size, mode="bilinear", align_corners=False)
                out.append(whole_image_depth(heads[:, 0], heads[:, 1], far_scale=self.far_scale).float().cpu())
        return torch.cat(out)
