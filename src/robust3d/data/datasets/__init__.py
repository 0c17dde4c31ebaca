"""Real datasets: download specs (registry), loud failures when data is missing, and converters into the
robust3d sample format (NeMo's centre-and-resize crops; see common.py for the camera bookkeeping)."""

from .common import DEFAULT_IMAGE_SIZE, ConversionError, ObjectAnnotation, SampleSkipped, crop_affine, prepare_cad
from .imagenet3d import (
    IMAGENET3D_N_CLASSES,
    IMAGENET3D_UNSEEN_10,
    convert_imagenet3d,
    imagenet3d_class_counts,
    seen_classes,
    select_imagenet3d_classes,
)
from .occluded_pascal3d import convert_occluded_pascal3d
from .oodcv import OODCV_CLASSES, OODCV_NUISANCES, OODCV_V2_SPLITS, convert_oodcv, convert_oodcv_v2
from .pascal3d import convert_pascal3d
from .registry import (
    RAW_DATASETS,
    SOURCES,
    ChecksumError,
    DatasetSource,
    DatasetUnavailable,
    RawDataset,
    download,
    extract_archive,
    fetch,
    require_raw,
    sha256_file,
    verify_sha256,
)

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "IMAGENET3D_N_CLASSES",
    "IMAGENET3D_UNSEEN_10",
    "OODCV_CLASSES",
    "OODCV_NUISANCES",
    "OODCV_V2_SPLITS",
    "RAW_DATASETS",
    "SOURCES",
    "ChecksumError",
    "ConversionError",
    "DatasetSource",
    "DatasetUnavailable",
    "ObjectAnnotation",
    "RawDataset",
    "SampleSkipped",
    "convert_imagenet3d",
    "convert_occluded_pascal3d",
    "convert_oodcv",
    "convert_oodcv_v2",
    "convert_pascal3d",
    "crop_affine",
    "download",
    "extract_archive",
    "fetch",
    "imagenet3d_class_counts",
    "prepare_cad",
    "require_raw",
    "seen_classes",
    "select_imagenet3d_classes",
    "sha256_file",
    "verify_sha256",
]
