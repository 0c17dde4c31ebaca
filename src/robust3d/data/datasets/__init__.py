"""Real datasets: download specs (registry), loud failures when data is missing, and converters into the
robust3d sample format (NeMo's centre-and-resize crops; see common.py for the camera bookkeeping).

Names are imported on first use (PEP 562), so the workflow's plan (:mod:`.plan`), which every ``snakemake`` call
imports, does not pull in torch, OpenCV and SciPy with the converters.
"""

from __future__ import annotations

import importlib

#: Public name -> the submodule that defines it.
_EXPORTS = {
    **dict.fromkeys(("DEFAULT_IMAGE_SIZE", "ConversionError", "ObjectAnnotation", "SampleSkipped", "crop_affine",
                     "prepare_cad"), "common"),
    **dict.fromkeys(("IMAGENET3D_N_CLASSES", "IMAGENET3D_UNSEEN_10", "convert_imagenet3d", "imagenet3d_class_counts",
                     "seen_classes", "select_imagenet3d_classes"), "imagenet3d"),
    "convert_occluded_pascal3d": "occluded_pascal3d",
    **dict.fromkeys(("OODCV_CLASSES", "OODCV_NUISANCES", "OODCV_V2_SPLITS", "convert_oodcv", "convert_oodcv_v2"),
                    "oodcv"),
    "convert_pascal3d": "pascal3d",
    **dict.fromkeys(("RAW_DATASETS", "SOURCES", "ChecksumError", "DatasetSource", "DatasetUnavailable", "RawDataset",
                     "download", "extract_archive", "fetch", "require_raw", "sha256_file", "verify_sha256"),
                    "registry"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
