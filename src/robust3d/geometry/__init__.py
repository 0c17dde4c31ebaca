"""The one home of pose conventions: PASCAL3D+ camera model, pose error, cameras, cuboid meshes."""

from .cameras import intrinsics_matrix, pascal_to_pytorch3d
from .cuboid import cuboid_bounds, cuboid_mesh, tightest_interval
from .pascal import (
    camera_center,
    opencv_extrinsics,
    pose_to_rotation,
    project_points,
    rotation_to_pose,
    world_to_camera,
)
from .pose_error import ACC_PI_6, ACC_PI_18, accuracy_at, median_error_degrees, pose_error, rotation_error
from .viewpoints import icosphere, upper_hemisphere, viewpoint_error, viewpoint_to_angles

__all__ = [
    "ACC_PI_6",
    "ACC_PI_18",
    "accuracy_at",
    "camera_center",
    "cuboid_bounds",
    "icosphere",
    "upper_hemisphere",
    "viewpoint_error",
    "viewpoint_to_angles",
    "cuboid_mesh",
    "intrinsics_matrix",
    "median_error_degrees",
    "opencv_extrinsics",
    "pascal_to_pytorch3d",
    "pose_error",
    "pose_to_rotation",
    "project_points",
    "rotation_error",
    "rotation_to_pose",
    "tightest_interval",
    "world_to_camera",
]
