"""The one home of pose conventions: PASCAL3D+ camera model, pose error, cameras, cuboid meshes, viewpoints,
and the backdrop depth behind rendered objects.

Names are imported lazily (PEP 562), so that code needing only numpy parts (e.g. the Snakefile's planning)
does not pay for importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BACKDROP_DEPTH_FACTOR": "backdrop",
    "backdrop_depth": "backdrop",
    "fill_backdrop": "backdrop",
    "PASCAL3D_CLASSES": "classes",
    "intrinsics_matrix": "cameras",
    "pascal_to_pytorch3d": "cameras",
    "cuboid_bounds": "cuboid",
    "cuboid_mesh": "cuboid",
    "tightest_interval": "cuboid",
    "camera_center": "pascal",
    "opencv_extrinsics": "pascal",
    "pose_to_rotation": "pascal",
    "project_points": "pascal",
    "rotation_to_pose": "pascal",
    "world_to_camera": "pascal",
    "ACC_PI_6": "pose_metrics",
    "ACC_PI_18": "pose_metrics",
    "accuracy_at": "pose_metrics",
    "median_error_degrees": "pose_metrics",
    "pose_error": "pose_metrics",
    "rotation_error": "pose_metrics",
    "icosphere": "viewpoints",
    "icosphere_mesh": "viewpoints",
    "upper_hemisphere": "viewpoints",
    "viewpoint_error": "viewpoints",
    "viewpoint_to_angles": "viewpoints",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
