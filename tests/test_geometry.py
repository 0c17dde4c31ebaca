"""The pose convention: PASCAL3D+ formula, PyTorch3D cameras, pose error, cuboids."""

import math

import numpy as np
import pytest
import torch

from robust3d.geometry import (
    accuracy_at,
    camera_center,
    cuboid_bounds,
    cuboid_mesh,
    median_error_degrees,
    pascal_to_pytorch3d,
    pose_error,
    pose_to_rotation,
    project_points,
    rotation_error,
    rotation_to_pose,
    tightest_interval,
)


@pytest.fixture(autouse=True)
def float64_default():
    """These tests compare formulas to 1e-9; restore the default dtype so other modules are unaffected."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def random_poses(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    az = torch.rand(n, generator=g) * 2 * math.pi
    el = (torch.rand(n, generator=g) - 0.5) * math.pi * 0.95
    th = (torch.rand(n, generator=g) - 0.5) * 2 * math.pi * 0.95
    return az, el, th


def wrapped(d: torch.Tensor) -> torch.Tensor:
    return torch.atan2(torch.sin(d), torch.cos(d))


def test_rotation_is_proper_orthonormal():
    r = pose_to_rotation(*random_poses(100))
    eye = torch.eye(3).expand(100, 3, 3)
    assert torch.allclose(r @ r.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(100), atol=1e-12)


def test_pose_matrix_round_trip():
    az, el, th = random_poses(500, seed=1)
    az2, el2, th2 = rotation_to_pose(pose_to_rotation(az, el, th))
    assert torch.allclose(wrapped(az2 - az), torch.zeros(500), atol=1e-9)
    assert torch.allclose(el2, el, atol=1e-9)
    assert torch.allclose(wrapped(th2 - th), torch.zeros(500), atol=1e-9)
    assert torch.allclose(pose_to_rotation(az2, el2, th2), pose_to_rotation(az, el, th), atol=1e-9)


def test_round_trip_at_the_poles():
    for el in (math.pi / 2, -math.pi / 2):
        r = pose_to_rotation(torch.tensor([1.0]), torch.tensor([el]), torch.tensor([0.3]))
        assert torch.allclose(pose_to_rotation(*rotation_to_pose(r)), r, atol=1e-9)


def test_camera_centre_matches_pascal_formula_and_views_origin():
    az, el, th = random_poses(50, seed=2)
    d = torch.full((50,), 5.0)
    c = camera_center(az, el, d)
    assert torch.allclose(c.norm(dim=-1), d)
    # The camera looks down its -z axis: the object origin must be straight ahead at the principal point.
    uv, depth = project_points(torch.zeros(50, 1, 3), az, el, th, d, 1.0, 3000.0,
                               torch.tensor([[64.0, 48.0]]).expand(50, 2))
    assert torch.allclose(uv[:, 0], torch.tensor([64.0, 48.0]).expand(50, 2), atol=1e-9)
    assert torch.allclose(depth[:, 0], d)


def test_known_views():
    """a=0: camera on -y, sees +x to the right and +z up; a=pi/2: camera on +x, sees +y to the right."""
    pts = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]])
    uv, _ = project_points(pts, 0.0, 0.0, 0.0, 5.0, 1.0, 100.0, (0.0, 0.0))
    assert uv[0, 0, 0] > 0 and abs(uv[0, 0, 1]) < 1e-9  # +x -> right
    assert uv[0, 1, 1] < 0 and abs(uv[0, 1, 0]) < 1e-9  # +z -> up (smaller row)
    uv, _ = project_points(pts, math.pi / 2, 0.0, 0.0, 5.0, 1.0, 100.0, (0.0, 0.0))
    assert uv[0, 2, 0] > 0  # +y -> right when looking from +x
    # Positive theta rotates the image counter-clockwise on screen (the toolkit's R2(theta) then y flip).
    uv, _ = project_points(pts, 0.0, 0.0, math.pi / 2, 5.0, 1.0, 100.0, (0.0, 0.0))
    assert uv[0, 0, 1] < 0 and abs(uv[0, 0, 0]) < 1e-9  # +x now points up


def _explicit_pascal(points, a, e, t, d, f, m, px, py):
    """The appendix formula written out line by line with numpy, for one pose."""
    def rz(x):
        return np.array([[np.cos(x), -np.sin(x), 0], [np.sin(x), np.cos(x), 0], [0, 0, 1]])

    def rx(x):
        return np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])

    c = np.array([d * np.cos(e) * np.sin(a), -d * np.cos(e) * np.cos(a), d * np.sin(e)])
    xc = (rx(e - np.pi / 2) @ rz(-a) @ (points - c).T).T
    x = m * f * xc[:, 0] / -xc[:, 2]
    y = m * f * xc[:, 1] / -xc[:, 2]
    r2 = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    x, y = r2 @ np.stack([x, y])
    return np.stack([x + px, -y + py], -1)


def test_project_points_matches_explicit_formula():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-0.5, 0.5, (20, 3))
    az, el, th = random_poses(30, seed=3)
    for a, e, t in zip(az.tolist(), el.tolist(), th.tolist(), strict=True):
        uv, _ = project_points(torch.from_numpy(pts), a, e, t, 4.0, 1.0, 600.0, (70.0, 50.0))
        ref = _explicit_pascal(pts, a, e, t, 4.0, 1.0, 600.0, 70.0, 50.0)
        np.testing.assert_allclose(uv.numpy(), ref, atol=1e-9)


def test_pytorch3d_cameras_agree_with_pascal_formula():
    n = 64
    az, el, th = random_poses(n, seed=4)
    g = torch.Generator().manual_seed(4)
    dist = 3.0 + 4.0 * torch.rand(n, generator=g)
    principal = torch.stack([60 + 20 * torch.rand(n, generator=g), 40 + 20 * torch.rand(n, generator=g)], -1)
    pts = (torch.rand(n, 200, 3, generator=g) - 0.5) * 1.5
    uv, _ = project_points(pts, az, el, th, dist, 1.0, 600.0, principal)
    cams = pascal_to_pytorch3d(az, el, th, dist, 1.0, 600.0, principal, image_size=(96, 128))
    screen = cams.transform_points_screen(pts.float(), image_size=(96, 128))[..., :2]
    err = (screen.double() - uv).abs().max()
    assert err < 0.01, f"max disagreement {err:.4f} px"


def test_pytorch3d_rasteriser_puts_vertices_on_the_mask():
    """Render a box with the converted cameras; its projected corners must fall on the rendered mask."""
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    verts, faces = cuboid_mesh(np.array([[-0.4, -0.25, -0.2], [0.4, 0.25, 0.2]]), n_vertices=200)
    n, size = 8, (96, 128)
    az, el, th = random_poses(n, seed=5)
    az, el, th = az.float(), (el * 0.6).float(), (th * 0.3).float()
    principal = torch.tensor([[70.0, 45.0]]).expand(n, 2)
    cams = pascal_to_pytorch3d(az, el, th, torch.full((n,), 5.0), 1.0, 500.0, principal, image_size=size)
    mesh = Meshes([torch.from_numpy(verts)] * n, [torch.from_numpy(faces)] * n)
    raster = MeshRasterizer(cameras=cams, raster_settings=RasterizationSettings(image_size=size, bin_size=0))
    mask = raster(mesh).pix_to_face[..., 0] >= 0
    uv, _ = project_points(torch.from_numpy(verts).float(), az, el, th, 5.0, 1.0, 500.0, principal)
    # Shrink the silhouette by ~1 px towards its centre so the check does not hinge on edge pixels.
    inner = uv.mean(1, keepdim=True) + 0.98 * (uv - uv.mean(1, keepdim=True))
    cols = inner[..., 0].floor().long().clamp(0, size[1] - 1)
    rows = inner[..., 1].floor().long().clamp(0, size[0] - 1)
    inside = mask[torch.arange(n)[:, None], rows, cols]
    assert inside.float().mean() > 0.99
    # And the mask has no pixels far outside the projected vertices' bounding box.
    for i in range(n):
        ys, xs = torch.nonzero(mask[i], as_tuple=True)
        # Pixel c is covered when its centre c + 0.5 is inside the silhouette.
        assert xs.min() + 0.5 >= uv[i, :, 0].min() - 1e-3 and xs.max() + 0.5 <= uv[i, :, 0].max() + 1e-3
        assert ys.min() + 0.5 >= uv[i, :, 1].min() - 1e-3 and ys.max() + 0.5 <= uv[i, :, 1].max() + 1e-3
        assert xs.min() - 1.5 <= uv[i, :, 0].min() and xs.max() + 2.5 >= uv[i, :, 0].max()


@pytest.mark.parametrize("phi", [0.0, 1e-4, 0.3, math.pi / 6, 2.0, math.pi - 1e-3])
def test_error_between_rotations_differing_by_phi_is_phi(phi):
    base = pose_to_rotation(*random_poses(20, seed=6))
    g = torch.Generator().manual_seed(7)
    axis = torch.nn.functional.normalize(torch.randn(20, 3, generator=g), dim=-1)
    k = torch.zeros(20, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(-1, -2)
    delta = torch.linalg.matrix_exp(phi * k)
    err = rotation_error(base, base @ delta)
    assert torch.allclose(err, torch.full((20,), phi), atol=1e-7)
    # The Frobenius-norm definition ||logm(R1^T R2)||_F / sqrt(2) gives the same value.
    assert torch.allclose(torch.linalg.matrix_norm(phi * k) / math.sqrt(2), torch.full((20,), phi))


def test_error_is_symmetric_and_zero_on_itself():
    p, q = random_poses(100, seed=8), random_poses(100, seed=9)
    assert torch.allclose(pose_error(p, q), pose_error(q, p), atol=1e-12)
    assert torch.allclose(pose_error(p, p), torch.zeros(100), atol=1e-7)


def test_error_known_angle_offsets():
    p = (torch.tensor([0.5]), torch.tensor([0.2]), torch.tensor([0.1]))
    # Same elevation 0 and theta 0: the error is the azimuth difference.
    assert torch.allclose(pose_error((0.3, 0.0, 0.0), (0.8, 0.0, 0.0)), torch.tensor(0.5))
    assert torch.allclose(pose_error(p, (p[0], p[1], p[2] + 0.4)), torch.tensor([0.4]))
    assert torch.allclose(pose_error((0.0, 0.0, 0.0), (2 * math.pi - 0.1, 0.0, 0.0)), torch.tensor(0.1))


def test_nan_prediction_scores_worst_error():
    err = pose_error((torch.tensor([float("nan"), 0.1]), 0.0, 0.0), (torch.tensor([0.1, 0.1]), 0.0, 0.0))
    assert err[0] == pytest.approx(math.pi) and err[1] == pytest.approx(0.0, abs=1e-7)
    assert not torch.isnan(err).any()


def test_accuracies_and_median():
    errs = torch.tensor([0.01, 0.1, 0.2, 0.6, 3.0])
    assert accuracy_at(errs, math.pi / 6) == pytest.approx(0.6)
    assert accuracy_at(errs, math.pi / 18) == pytest.approx(0.4)
    assert median_error_degrees(errs) == pytest.approx(0.2 * 180 / math.pi)
    assert math.isnan(accuracy_at(torch.tensor([]), 0.5))


def test_tightest_interval_drops_outliers():
    v = np.concatenate([np.linspace(0, 1, 991), [50.0] * 9])  # NeMo keeps int(0.99 n) + 1 = 991
    lo, hi = tightest_interval(v, 0.99)
    assert lo == pytest.approx(0.0) and hi == pytest.approx(1.0)


def test_cuboid_mesh_has_about_k_vertices_and_outward_faces():
    rng = np.random.default_rng(0)
    cads = [rng.uniform([-1, -0.5, -0.3], [1, 0.5, 0.3], (500, 3)) for _ in range(3)]
    bounds = cuboid_bounds(cads)
    assert np.all(bounds[0] < 0) and np.all(bounds[1] > 0)
    verts, faces = cuboid_mesh(bounds, n_vertices=1000)
    assert 800 < len(verts) < 1300
    assert np.all(verts >= bounds[0] - 1e-6) and np.all(verts <= bounds[1] + 1e-6)
    tri = verts[faces].astype(np.float64)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centres = tri.mean(1) - (bounds[0] + bounds[1]) / 2
    assert np.all((normals * centres).sum(-1) > 0)
    # Divergence theorem: the signed volume equals the box volume.
    vol = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6
    assert vol == pytest.approx(np.prod(bounds[1] - bounds[0]), rel=1e-6)


def test_icosphere_viewpoints_and_their_angles():
    from robust3d.geometry import icosphere, upper_hemisphere, viewpoint_error, viewpoint_to_angles

    assert [len(icosphere(level)) for level in range(4)] == [12, 42, 162, 642]
    views = upper_hemisphere(2)
    assert np.allclose(np.linalg.norm(views, axis=1), 1) and (views[:, 2] >= -1e-9).all()
    az, el = viewpoint_to_angles(views)
    assert torch.allclose(camera_center(az, el, 1.0), torch.from_numpy(views), atol=1e-12)
    # The template error ignores in-plane rotation and equals the angle between directions.
    err = viewpoint_error(az[:1], el[:1], az[1:2], el[1:2])
    assert err.item() == pytest.approx(math.acos(float(np.dot(views[0], views[1]))), abs=1e-9)


def _nemo_cuboid_reference(points: np.ndarray, number_vertices: int) -> tuple[int, np.ndarray]:
    """Transcription of NeMo's ``CreateCuboidMesh.py`` (single mode): vertex count and bounds only."""
    selected = int(points.shape[0] * 0.99)
    bounds = []
    for axis in range(3):
        v_sorted = np.sort(points[:, axis])
        group = v_sorted[selected:] - v_sorted[:-selected]
        i = int(np.argmin(group))
        bounds.append((v_sorted[i], v_sorted[i + selected]))
    w, h, d = (hi - lo for lo, hi in bounds)
    edge = ((w * h + h * d + w * d) * 2 / (number_vertices * 2) * 2) ** 0.5
    xn, yn, zn = (int(s / edge + 1) for s in (w, h, d))
    count = 2 * (xn * yn + xn * zn + yn * zn)
    return count, np.array(bounds).T


@pytest.mark.parametrize("k", [200, 1000])
def test_cuboid_equals_nemo_formula_on_a_fixed_cloud(k):
    rng = np.random.default_rng(3)
    clouds = [rng.normal(0, [0.9, 0.35, 0.25], (n, 3)) for n in (701, 333, 1204)]
    want_count, want_bounds = _nemo_cuboid_reference(np.concatenate(clouds), k)
    bounds = cuboid_bounds(clouds)
    verts, _ = cuboid_mesh(bounds, n_vertices=k)
    assert np.array_equal(bounds, want_bounds)
    assert len(verts) == want_count
    assert np.allclose(verts.min(0), want_bounds[0], atol=1e-6)
    assert np.allclose(verts.max(0), want_bounds[1], atol=1e-6)
