"""Pseudo-depth maps: backends by name (ZoeDepth via torch.hub, a locally trained U-Net), extraction, metrics."""

from robust3d.depth.backends import (
    DepthBackend,
    DepthBackendUnavailable,
    LocalDepth,
    ZoeDepth,
    available_backends,
    get_backend,
    register_backend,
)
from robust3d.depth.extract import evaluate_depth, extract_depth, measure
from robust3d.depth.local import DepthUNet, load_local_depth, train_local_depth
from robust3d.depth.metrics import baseline_metrics, depth_metrics, per_image_depth_metrics

__all__ = [
    "DepthBackend", "DepthBackendUnavailable", "DepthUNet", "LocalDepth", "ZoeDepth", "available_backends",
    "baseline_metrics", "depth_metrics", "evaluate_depth", "extract_depth", "get_backend", "load_local_depth",
    "measure", "per_image_depth_metrics", "register_backend", "train_local_depth",
]
