"""The interface a brought model implements, and the checks on what it returns.

The file defines a class ``Model``::

    class Model:
        def __init__(self, classes: list[str], options: dict): ...
        def fit(self, batches: Iterable[dict]) -> None: ...      # optional: the paper's train split, with labels
        def predict(self, batch: dict) -> dict: ...              # provides class / pose / amodal_mask
        def features(self, batch: dict) -> torch.Tensor: ...     # provides features: (B, D)

``batch`` (every method): ``images`` float32 ``(B, 3, H, W)`` in [0, 1]; ``sample_ids`` list of B strings;
``camera``: the dataset's PASCAL3D+ camera, float64 tensors ``distance, focal, viewport`` ``(B,)`` and
``principal`` ``(B, 2)`` (what NeMo-style models are given at test time). The batches ``fit`` sees also carry the
labels: ``class`` (list of B names), ``class_index`` ``(B,)`` into ``classes``, ``azimuth, elevation, theta``
``(B,)`` radians (PASCAL3D+ convention, :mod:`robust3d.geometry`).

``predict`` returns a dict with, for each output the entry ``provides``: ``class`` (B names from ``classes``, or a
``(B,)`` integer tensor indexing them); ``azimuth``, ``elevation``, ``theta`` (``(B,)`` radians); ``amodal_mask``
(``(B, H, W)``, nonzero = inside the object, occluded parts included). Everything else is ignored.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

from robust3d.byom import OUTPUTS
from robust3d.errors import InputError

POSE_KEYS = ("azimuth", "elevation", "theta")


class ByomError(InputError):
    """A brought model that cannot run or returned something the interface does not allow; names the file."""


def load_model(name: str, entry: dict, classes: list[str]) -> Any:
    """The entry's ``Model`` built with the paper's classes and the entry's options."""
    from robust3d.byom import model_file

    try:
        path = model_file(entry["file"])
    except FileNotFoundError as err:
        raise ByomError(f"byom.{name}: model file {err}") from err
    spec = importlib.util.spec_from_file_location(f"robust3d_byom_{name}", path)
    if spec is None or spec.loader is None:
        raise ByomError(f"byom.{name}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    if not hasattr(module, "Model"):
        raise ByomError(f"byom.{name}: {path} defines no class 'Model' (docs/byom.md)")
    model = module.Model(list(classes), dict(entry.get("options") or {}))
    provides = set(entry["provides"])
    needed = {"predict"} if provides & {"class", "pose", "amodal_mask"} else set()
    needed |= {"features"} if "features" in provides else set()
    lacking = sorted(m for m in needed if not callable(getattr(model, m, None)))
    if lacking:
        raise ByomError(f"byom.{name}: {path}'s Model provides {sorted(provides)} but has no method "
                        f"{', '.join(lacking)}")
    return model


def _array(name: str, key: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    import torch

    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.shape != shape:
        raise ByomError(f"byom.{name}: predict()['{key}'] has shape {array.shape}, expected {shape}")
    return array


def check_prediction(name: str, out: Any, provides: list[str], classes: list[str], batch_size: int,
                     image_size: tuple[int, int]) -> dict[str, Any]:
    """``predict``'s dict reduced to what the entry provides, as numpy: ``class`` (B names), the three angles
    (finite float64), ``amodal_mask`` (bool ``(B, H, W)``); anything missing or malformed is a :class:`ByomError`."""
    if not isinstance(out, dict):
        raise ByomError(f"byom.{name}: predict() must return a dict, got {type(out).__name__}")
    wanted = {"class": ["class"], "pose": list(POSE_KEYS), "amodal_mask": ["amodal_mask"]}
    missing = [k for p in provides if p in wanted for k in wanted[p] if k not in out]
    if missing:
        raise ByomError(f"byom.{name}: predict() returned no {', '.join(missing)} (its entry provides "
                        f"{', '.join(provides)})")
    result: dict[str, Any] = {}
    if "class" in provides:
        labels = out["class"]
        array = _array(name, "class", labels, (batch_size,))
        if array.dtype.kind in "iu":
            if ((array < 0) | (array >= len(classes))).any():
                raise ByomError(f"byom.{name}: class indices must lie in [0, {len(classes)})")
            array = np.asarray([classes[i] for i in array], dtype=object)
        unknown = sorted({str(c) for c in array} - set(classes))
        if unknown:
            raise ByomError(f"byom.{name}: predicted classes {unknown[:5]} are not among {classes}")
        result["class"] = [str(c) for c in array]
    if "pose" in provides:
        for key in POSE_KEYS:
            angles = _array(name, key, out[key], (batch_size,)).astype(np.float64)
            if not np.isfinite(angles).all():
                raise ByomError(f"byom.{name}: predict()['{key}'] has values that are not finite")
            result[key] = angles
    if "amodal_mask" in provides:
        result["amodal_mask"] = _array(name, "amodal_mask", out["amodal_mask"], (batch_size, *image_size)) > 0.5
    return result


def check_features(name: str, out: Any, batch_size: int) -> np.ndarray:
    """``features``' ``(B, D)`` float32 array, finite."""
    import torch

    array = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    if array.ndim != 2 or array.shape[0] != batch_size:
        raise ByomError(f"byom.{name}: features() must return (B, D) = ({batch_size}, D), got {array.shape}")
    if not np.isfinite(array).all():
        raise ByomError(f"byom.{name}: features() returned values that are not finite")
    return array.astype(np.float32)


def check_provides(name: str, provides: list[str]) -> None:
    unknown = sorted(set(provides) - set(OUTPUTS))
    if unknown:
        raise ByomError(f"byom.{name}: unknown outputs {unknown} (known: {', '.join(OUTPUTS)})")
