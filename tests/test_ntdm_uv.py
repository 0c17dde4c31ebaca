"""NTDM's UV rendering path (render/uv.py): UV fragments of the template sphere, seam-continuous texture look-up,
Eq. 5's viewing coefficients and the differentiable image -> texture splat.

Ground truth comes from casting each cell centre's ray into the object frame (its inversion is checked against
``project_points``) and intersecting it with the sphere, or exactly with the faceted mesh.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robust3d.geometry import camera_center, icosphere, pose_to_rotation, project_points
from robust3d.render.features import MeshBatch, rasterize_vertices
from robust3d.render.uv import (
    bin_rotations,
    interpolate,
    sample_texture,
    sphere_uv,
    splat_to_texture,
    surface_geometry,
    view_coefficients,
)

DISTANCE = 5.0
SIZE = (64, 64)
FOCAL = 122.0  # cells: the unit sphere's disk has radius FOCAL / sqrt(DISTANCE^2 - 1) ~ 25 cells
PRINCIPAL = (31.0, 33.5)
POSE = (0.7, 0.3, 0.2)  # azimuth, elevation, theta


def sphere_mesh(level: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit icosphere with outward faces: ``geometry.icosphere_mesh`` where it exists, else the convex hull."""
    try:
        from robust3d.geometry import icosphere_mesh

        verts, faces = icosphere_mesh(level)
    except (ImportError, AttributeError):
        from scipy.spatial import ConvexHull

        verts = icosphere(level)
        faces = ConvexHull(verts).simplices
        normals = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
        inward = (normals * verts[faces].sum(1)).sum(1) < 0
        faces[inward] = faces[inward][:, ::-1]
    return torch.tensor(verts, dtype=torch.float32), torch.tensor(np.ascontiguousarray(faces), dtype=torch.long)


def camera_rays(pose, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera centre ``(3,)`` and unit object-frame directions ``(h, w, 3)`` through the cell centres (double)."""
    az, el, th = (torch.tensor(a, dtype=torch.float64) for a in pose)
    rot = pose_to_rotation(az, el, th)
    centre = camera_center(az, el, torch.tensor(DISTANCE, dtype=torch.float64))
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                indexing="ij")
    d_cam = torch.stack([(cols + 0.5 - PRINCIPAL[0]) / FOCAL, -(rows + 0.5 - PRINCIPAL[1]) / FOCAL,
                         -torch.ones_like(rows)], -1)  # the camera looks down its -z, y up
    d = d_cam @ rot  # R^T d_cam: camera -> object frame
    return centre, d / d.norm(dim=-1, keepdim=True)


def ray_sphere(centre: torch.Tensor, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest hit of the unit sphere ``(h, w, 3)`` and whether the ray hits it."""
    b = (centre * d).sum(-1)
    disc = b**2 - (centre @ centre - 1)
    t = -b - disc.clamp(min=0).sqrt()
    return centre + t[..., None] * d, disc > 0


def ray_mesh(centre: torch.Tensor, d: torch.Tensor, verts: torch.Tensor, faces: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest hit of a triangle mesh (Moller-Trumbore against every face) and whether there is one."""
    tri = verts.double()[faces]  # (F, 3, 3)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    rays = d.reshape(-1, 3)
    best = torch.full((len(rays),), math.inf, dtype=torch.float64)
    for chunk in torch.split(torch.arange(len(rays)), 1024):
        r = rays[chunk][:, None]  # (N, 1, 3)
        p = torch.linalg.cross(r.expand(-1, len(faces), -1), e2.expand(len(chunk), -1, -1), dim=-1)
        det = (e1 * p).sum(-1)
        s = centre - tri[:, 0]
        a = (s * p).sum(-1) / det
        qv = torch.linalg.cross(s.expand(len(chunk), -1, -1), e1.expand(len(chunk), -1, -1), dim=-1)
        b = (r * qv).sum(-1) / det
        t = (e2 * qv).sum(-1) / det
        hit = (det.abs() > 1e-12) & (a >= 0) & (b >= 0) & (a + b <= 1) & (t > 0)
        best[chunk] = torch.where(hit, t, torch.full_like(t, math.inf)).amin(1)
    best = best.reshape(d.shape[:-1])
    found = torch.isfinite(best)
    return centre + torch.where(found, best, 0.0)[..., None] * d, found


def render(verts: torch.Tensor, faces: torch.Tensor, poses, size=SIZE, template: torch.Tensor | None = None):
    angles = [torch.tensor([p[i] for p in poses]) for i in range(3)]
    mesh = MeshBatch.build(verts, faces, len(poses))
    frags = rasterize_vertices(mesh, *angles, DISTANCE, FOCAL * size[0] / SIZE[0],
                               tuple(c * size[0] / SIZE[0] for c in PRINCIPAL), size)
    geom = surface_geometry(mesh, frags, verts if template is None else template, angles[0], angles[1], DISTANCE)
    return mesh, frags, geom


@pytest.fixture(scope="module")
def sphere3():
    return sphere_mesh(3)


def test_camera_rays_invert_project_points():
    centre, d = camera_rays(POSE, *SIZE)
    hit, inside = ray_sphere(centre, d)
    uv, _ = project_points(hit[inside], *POSE, DISTANCE, FOCAL, 1.0, torch.tensor(PRINCIPAL, dtype=torch.float64))
    rows, cols = torch.nonzero(inside, as_tuple=True)
    assert torch.allclose(uv, torch.stack([cols, rows], -1).double() + 0.5, atol=1e-6)


def test_template_point_is_the_ray_intersection(sphere3):
    verts, faces = sphere3
    _, frags, geom = render(verts, faces, [POSE])
    centre, d = camera_rays(POSE, *SIZE)
    fg = geom.foreground[0]
    # Exact: the interpolated template point is where the ray meets the faceted sphere.
    poly, poly_hit = ray_mesh(centre, d, verts, faces)
    assert torch.equal(fg, poly_hit)
    assert (geom.template_point[0][fg].double() - poly[fg]).norm(dim=-1).max() < 1e-4
    # Analytic sphere: the re-normalised point differs from the sphere hit because of the facets. Their sagitta
    # (1 - the smallest face-centre radius, 4.5e-3 at level 3) is the radial gap; along a ray at incidence angle
    # i the gap is ~ sagitta / cos(i) long, so the error grows towards the rim: we bound error * cos(i) by
    # 2 sagittas (measured: 1.6), which gives < 1e-2 for cos(i) > 0.5 and < 2.5e-3 head-on (cos(i) > 0.9).
    sphere, sphere_hit = ray_sphere(centre, d)
    error = (torch.nn.functional.normalize(geom.template_point[0].double(), dim=-1) - sphere).norm(dim=-1)
    incidence = -(d * sphere).sum(-1)
    sagitta = 1 - verts.double()[faces].mean(1).norm(dim=-1).min()
    assert 4e-3 < sagitta < 5e-3
    assert (error * incidence)[fg & (incidence > 0.05)].max() < 2 * sagitta
    assert error[fg & (incidence > 0.5)].max() < 1e-2
    assert error[fg & (incidence > 0.9)].max() < 2.5e-3
    iou = (fg & sphere_hit).sum() / (fg | sphere_hit).sum()
    assert iou > 0.98 and sphere_hit.sum() > 1500
    # The covering face's normal is within a facet of the sphere normal; to_camera points at the camera.
    assert ((geom.normal[0][fg].double() * sphere[fg]).sum(-1) > math.cos(0.12)).all()
    to_cam = torch.nn.functional.normalize(centre - poly[fg], dim=-1)
    assert (geom.to_camera[0][fg].double() - to_cam).norm(dim=-1).max() < 1e-4
    assert (geom.uv[0][~fg] == 0).all() and (geom.normal[0][~fg] == 0).all()
    assert torch.equal(geom.uv[0][fg], sphere_uv(geom.template_point[0][fg]))


def test_sphere_uv():
    points = torch.tensor([[1.0, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0.5, 0.5, 0], [0, 0, 2], [0, 0, -1],
                           [1, 0, 1], [0.3, -1e-7, 0]], requires_grad=True)
    expected = torch.tensor([[0.0, 0.5], [0.25, 0.5], [0.5, 0.5], [0.75, 0.5], [0.125, 0.5], [0, 0], [0, 1],
                             [0, 0.25], [1, 0.5]])
    uv = sphere_uv(points)
    assert torch.allclose(uv, expected, atol=1e-3)
    assert (uv[:, 0] >= 0).all() and (uv[:, 0] < 1).all()  # u = 1 - tiny, not -tiny
    zero = torch.zeros(1, 3, requires_grad=True)  # a cell outside the foreground
    (sphere_uv(zero).sum() + uv.sum()).backward()
    assert torch.isfinite(points.grad).all() and torch.isfinite(zero.grad).all()


def test_interpolated_vertices_are_the_hit_point(sphere3):
    verts, faces = sphere3
    deformed = verts * torch.tensor([1.3, 0.9, 0.6]) + torch.tensor([0.1, 0.0, -0.05])
    poses = [POSE, (2.5, -0.2, 0.0)]
    mesh, frags, geom = render(deformed, faces, poses, template=verts)
    for i, pose in enumerate(poses):
        centre, d = camera_rays(pose, *SIZE)
        hit, found = ray_mesh(centre, d, deformed, faces)
        fg = frags.foreground[i]
        assert torch.equal(fg, found)
        assert (geom.surface_point[i][fg].double() - hit[fg]).norm(dim=-1).max() < 1e-4
    # The same through interpolate, with packed, per-mesh and padded (mesh-given) attributes.
    batched = deformed.expand(2, -1, -1)
    assert torch.allclose(interpolate(frags, batched), geom.surface_point, atol=1e-6)
    assert torch.allclose(interpolate(frags, batched.reshape(-1, 3)), geom.surface_point, atol=1e-6)
    assert torch.allclose(interpolate(frags, mesh.verts, mesh), geom.surface_point, atol=1e-6)
    assert torch.allclose(geom.template_point, interpolate(frags, verts.expand(2, -1, -1)), atol=1e-6)
    with pytest.raises(ValueError, match="packed"):
        interpolate(frags, deformed)  # one mesh's rows for a batch of 2: ambiguous, refused


def test_interpolate_meshes_of_different_sizes():
    v3, f3 = sphere_mesh(3)
    v2, f2 = sphere_mesh(2)
    v2 = v2 * 0.8
    angles = [torch.tensor([POSE[i], POSE[i]]) for i in range(3)]
    mesh = MeshBatch.build([v2, v3], [f2, f3], 2)
    frags = rasterize_vertices(mesh, *angles, DISTANCE, FOCAL / 4, tuple(c / 4 for c in PRINCIPAL), (16, 16))
    packed = torch.cat([v2, v3])
    geom = surface_geometry(mesh, frags, packed, angles[0], angles[1], DISTANCE)
    assert torch.allclose(interpolate(frags, packed), interpolate(frags, mesh.verts, mesh), atol=1e-6)
    assert torch.allclose(geom.surface_point, interpolate(frags, packed), atol=1e-6)
    radius = geom.surface_point.norm(dim=-1)[frags.foreground]
    assert frags.foreground[0].sum() < frags.foreground[1].sum() and radius.max() <= 1.0 + 1e-5


def test_geometry_is_differentiable_in_the_vertices(sphere3):
    verts, faces = sphere3
    deformed = (verts * 1.1).requires_grad_(True)
    mesh = MeshBatch.build(deformed, faces, 1)
    angles = [torch.tensor([a]) for a in POSE]
    frags = rasterize_vertices(mesh, *angles, DISTANCE, FOCAL / 4, tuple(c / 4 for c in PRINCIPAL), (16, 16))
    geom = surface_geometry(mesh, frags, verts, angles[0], angles[1], DISTANCE)
    weights = torch.randn(16, 16, 3)
    (geom.normal[0] * weights).sum().backward()
    assert deformed.grad is not None and deformed.grad.abs().sum() > 0


def test_texture_lookup_hits_texel_centres_and_is_circular_in_u():
    torch.manual_seed(0)
    q = 8
    texture = torch.randn(2, 3, q, q)
    i, j = torch.meshgrid(torch.arange(q), torch.arange(q), indexing="ij")
    centres = torch.stack([(j + 0.5) / q, (i + 0.5) / q], -1).expand(2, -1, -1, -1)
    assert torch.allclose(sample_texture(texture, centres), texture, atol=1e-5)
    # Across the seam: u = 0.999 and 0.001 blend the last and first columns (u = 1 == 0 is their mean).
    first, last = texture[..., :, 0], texture[..., :, -1]
    row_v = (i[:, 0].float() + 0.5) / q
    uv = torch.stack([torch.stack([torch.full_like(row_v, u), row_v], -1) for u in (0.999, 0.001, 0.0)], 1)
    out = sample_texture(texture, uv.expand(2, -1, -1, -1))  # (2, 3, q, 3): per row the three u values
    frac = 0.999 * q + 0.5 - q  # how far u = 0.999 is from the last column's centre, in texels
    assert torch.allclose(out[..., 0], (1 - frac) * last + frac * first, atol=1e-5)
    assert torch.allclose(out[..., 1], frac * last + (1 - frac) * first, atol=1e-5)
    assert torch.allclose(out[..., 2], (first + last) / 2, atol=1e-5)
    assert (out[..., 0] - out[..., 1]).abs().max() < 0.02 * (first - last).abs().max()
    # Batch 1 broadcasts.
    assert torch.allclose(sample_texture(texture[:1], centres), texture[:1].expand(2, -1, -1, -1), atol=1e-5)


def test_bin_rotations():
    rots = bin_rotations(7)
    assert rots.shape == (7, 3, 3)
    assert torch.allclose(rots @ rots.transpose(1, 2), torch.eye(3).expand(7, 3, 3), atol=1e-6)
    assert torch.allclose(torch.linalg.det(rots), torch.ones(7), atol=1e-6)
    assert torch.equal(rots[0], torch.eye(3))
    angles = torch.acos(((rots.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert torch.allclose(angles[1:], torch.full((6,), math.pi / 3), atol=1e-5)
    assert torch.allclose(rots[1] @ rots[2], torch.eye(3), atol=1e-6)  # +x and -x undo each other
    assert torch.allclose(rots[3][:, 1], torch.tensor([0.0, 1.0, 0.0]))  # about y: y fixed
    assert torch.equal(bin_rotations(1), torch.eye(3)[None])
    with pytest.raises(ValueError):
        bin_rotations(3)


def test_view_coefficients():
    torch.manual_seed(1)
    normals, to_camera = torch.randn(2, 5, 6, 3), torch.randn(2, 5, 6, 3) * 3
    alpha = view_coefficients(normals, to_camera, bin_rotations(7), 5.0)
    assert alpha.shape == (2, 7, 5, 6) and torch.allclose(alpha.sum(1), torch.ones(2, 5, 6), atol=1e-6)
    assert torch.equal(view_coefficients(normals, to_camera, bin_rotations(1), 5.0), torch.ones(2, 1, 5, 6))
    sharp = view_coefficients(normals, to_camera, bin_rotations(7), 1e6)
    n, d = torch.nn.functional.normalize(normals, dim=-1), torch.nn.functional.normalize(to_camera, dim=-1)
    best = torch.einsum("kij,bhwj,bhwi->bkhw", bin_rotations(7), n, d).argmax(1)
    one_hot = torch.nn.functional.one_hot(best, 7).permute(0, 3, 1, 2).float()
    assert (sharp - one_hot).abs().max() < 1e-3
    # Head-on (the normal points at the camera): the identity bin weighs most with d = surface -> camera ...
    head_on = view_coefficients(to_camera * 0.5, to_camera, bin_rotations(7), 5.0)
    assert (head_on[:, :1] > head_on[:, 1:] + 1e-4).all()  # (a normal along a bin's axis would tie with it)
    # ... and least with the literal camera -> surface sign (why it is not used).
    assert (view_coefficients(to_camera, -to_camera, bin_rotations(7), 5.0).argmin(1) == 0).all()


def _harmonics(points: torch.Tensor) -> torch.Tensor:
    """The 8 real spherical harmonics of degree 1 and 2 (no constant), ``(..., 8)``: smooth features."""
    x, y, z = torch.nn.functional.normalize(points, dim=-1).unbind(-1)
    return torch.stack([x, y, z, 2 * x * y, 2 * y * z, 2 * x * z, x * x - y * y, 3 * z * z - 1], -1)


def _texel_points(q: int) -> torch.Tensor:
    """Unit sphere points ``(q, q, 3)`` at the texel centres."""
    i, j = torch.meshgrid(torch.arange(q), torch.arange(q), indexing="ij")
    u, v = 2 * math.pi * (j + 0.5) / q, math.pi * (i + 0.5) / q
    return torch.stack([torch.sin(v) * torch.cos(u), torch.sin(v) * torch.sin(u), torch.cos(v)], -1)


def test_splat_then_sample_reproduces_the_visible_cells(sphere3):
    verts, faces = sphere3
    q = 64
    poses = [POSE, (math.pi / 2, 0.1, 0.0), (4.0, 1.2, -0.3)]  # the second sees the seam, the third the +z pole
    _, frags, geom = render(verts, faces, poses, size=(32, 32))
    texture = _harmonics(_texel_points(q)).permute(2, 0, 1)[None].expand(3, -1, -1, -1)
    features = sample_texture(texture, geom.uv) * geom.foreground[:, None]
    splat, covered = splat_to_texture(features, geom.uv, geom.template_point, geom.foreground, q)
    assert (splat[~covered[:, None].expand_as(splat)] == 0).all()
    back = sample_texture(splat, geom.uv)
    interior = geom.foreground & (sample_texture(covered[:, None].float(), geom.uv)[:, 0] > 1 - 1e-6)
    assert (interior.sum((1, 2)) > 0.6 * geom.foreground.sum((1, 2))).all()
    cosine = torch.nn.functional.cosine_similarity(back, features, dim=1)
    assert cosine[interior].min() > 0.99
    # Seam columns are filled for the view that sees the seam (crossing triangles are unwrapped, not dropped).
    assert covered[1, q // 4: 3 * q // 4, [0, -1]].all()
    # Covered texels are visible: on the camera's side of the sphere, never on the back.
    cam = torch.nn.functional.normalize(camera_center(*[torch.tensor([p[i] for p in poses]) for i in (0, 1)],
                                                      torch.tensor(DISTANCE)), dim=-1)
    facing = torch.einsum("ijk,bk->bij", _texel_points(q), cam)
    assert (facing[covered] > 1 / DISTANCE - 0.05).all()
    # Well inside the visible cap all is covered (nearer the rim, max_angle drops the stretched triangles) ...
    assert not covered[facing < 0].any() and covered[facing > 0.7].all()
    # ... the pole row too, for the view that sees the +z pole (its enclosing triangle becomes a fan of quads).
    assert covered[2, 0].all() and not covered[:2, 0].any()


def test_splat_of_nothing_covers_nothing():
    features, uv = torch.randn(2, 4, 6, 6), torch.rand(2, 6, 6, 2)
    splat, covered = splat_to_texture(features, uv, torch.randn(2, 6, 6, 3), torch.zeros(2, 6, 6, dtype=torch.bool),
                                      16)
    assert splat.shape == (2, 4, 16, 16) and covered.shape == (2, 16, 16)
    assert not covered.any() and (splat == 0).all()


def test_splat_drops_discontinuities():
    # A 2 x 2 block whose template points are far apart (two sides of the sphere) is not splatted.
    uv = torch.tensor([[[0.3, 0.3], [0.45, 0.3]], [[0.3, 0.45], [0.45, 0.45]]])[None]
    near = torch.tensor([1.0, 0.0, 0.0]).expand(1, 2, 2, 3)
    far = near.clone()
    far[0, 1, 1] = torch.tensor([-1.0, 0.0, 0.0])
    fg = torch.ones(1, 2, 2, dtype=torch.bool)
    features = torch.randn(1, 3, 2, 2)
    assert splat_to_texture(features, uv, near, fg, 16)[1].sum() > 0
    assert splat_to_texture(features, uv, far, fg, 16)[1].sum() == 0


def test_splat_gradcheck():
    gen = torch.Generator().manual_seed(3)
    rows, cols = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    template = torch.ones(1, 4, 4, 3, dtype=torch.float64)  # one point: no triangle dropped
    fg = torch.ones(1, 4, 4, dtype=torch.bool)
    for u0 in (0.3, 0.85):  # inside, and across the seam
        base = torch.stack([torch.remainder(u0 + 0.13 * cols, 1.0), 0.3 + 0.13 * rows], -1).double()
        uv = (base + 0.02 * torch.rand(4, 4, 2, generator=gen, dtype=torch.float64))[None].requires_grad_(True)
        features = torch.randn(1, 2, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
        covered = splat_to_texture(features, uv, template, fg, 8)[1]
        assert covered.sum() >= 8
        if u0 > 0.5:
            assert covered[0, :, 0].any() and covered[0, :, -1].any()
        assert torch.autograd.gradcheck(lambda f, t: splat_to_texture(f, t, template, fg, 8)[0], (features, uv))
    # Round the +z pole: the central block's triangles enclose it, the cells are >= 0.028 rad from it, so only
    # the fan of quads reaches row 0 (0.0245 rad at q = 64) all round.
    xy = 0.1 * torch.stack([cols, rows], -1).double() - 0.14 + 0.02 * torch.rand(4, 4, 2, generator=gen,
                                                                                   dtype=torch.float64)
    points = torch.cat([xy, torch.ones(4, 4, 1, dtype=torch.float64)], -1)[None]
    uv = sphere_uv(points).detach().requires_grad_(True)
    features = torch.randn(1, 2, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    covered = splat_to_texture(features, uv, points, fg, 64)[1]
    assert covered[0, 0].all()
    near_pole = lambda f, t: splat_to_texture(f, t, points, fg, 64)[0][:, :, :3]  # noqa: E731 (rows 0-2: speed)
    assert torch.autograd.gradcheck(near_pole, (features, uv))
