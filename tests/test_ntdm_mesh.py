"""NTDM's deformable mesh (Eq. 1-2): the template sphere, the point-to-face distance, Psi, and the fit to the
synthetic benchmark's CAD models."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from robust3d.geometry import icosphere, icosphere_mesh
from robust3d.models.ntdm.deform import (
    DeformNet,
    HarmonicEmbedding,
    MeshFitRecord,
    NearestFace,
    deform_from_state,
    deform_state,
    distance_to_cad,
    fit_class,
    fit_latent,
    point_to_face_sq,
    point_to_triangle_sq_brute,
    sample_surface,
    save_obj,
    two_sided_distance,
)

REPO = Path(__file__).resolve().parents[1]
FIT_CLASSES = ("car", "sofa", "tvmonitor")  # a flat, a boxy and a thin class of the embedded benchmark


def _sphere(level: int = 2, scale=(1.0, 1.0, 1.0), shift=(0.0, 0.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    v, f = icosphere_mesh(level)
    return torch.tensor(v, dtype=torch.float32) * torch.tensor(scale) + torch.tensor(shift), torch.tensor(f)


def _cube(half: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    from robust3d.geometry import cuboid_mesh

    v, f = cuboid_mesh(np.array([[-half] * 3, [half] * 3]), 200)
    return torch.tensor(v, dtype=torch.float32), torch.tensor(f)


# ---------------------------------------------------------------------------------------------- template

def test_icosphere_mesh_is_the_closed_outward_2562_vertex_sphere():
    v, f = icosphere_mesh(4)
    assert v.shape == (2562, 3) and f.shape == (5120, 3)
    assert v.dtype == np.float64 and f.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-12)
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert len(counts) == 7680 and (counts == 2).all()  # closed 2-manifold: V - E + F = 2
    tri = v[f]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6 > 4.0  # 4/3 pi = 4.19
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (np.einsum("ij,ij->i", normals, tri.mean(1)) > 0).all()  # every face outward, not just the sum


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_icosphere_mesh_vertices_are_icosphere(level):
    verts, faces = icosphere_mesh(level)
    np.testing.assert_array_equal(verts, icosphere(level))
    assert len(verts) == 10 * 4**level + 2 and len(faces) == 20 * 4**level


# ---------------------------------------------------------------------------------------------- Eq. 2

def test_brute_force_reference_on_hand_cases():
    tri = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]])
    points = torch.tensor([[0.2, 0.3, 0.5], [-1.0, -1.0, 0.0], [2.0, 0.5, 0.0], [0.5, -2.0, 1.0], [1.0, 1.0, 0.0]])
    # interior (height), vertex A, vertex B, edge AB, edge BC
    expected = torch.tensor([0.25, 2.0, 1.25, 5.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(point_to_triangle_sq_brute(points, tri)[:, 0], expected)


@pytest.mark.parametrize("size", [1.0, 0.01])
def test_point_above_triangle_interior_gives_height_squared(size):
    # 0.01: smaller than PyTorch3D's default min_triangle_area, where its kernel alone gets distances wrong.
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]) * size
    faces = torch.tensor([[0, 1, 2]])
    h = torch.tensor([0.05, 0.3, 1.7, -0.4]) * size
    points = torch.stack([torch.full_like(h, 0.2 * size), torch.full_like(h, 0.3 * size), h], dim=1)
    torch.testing.assert_close(point_to_face_sq(points, verts, faces), h**2, rtol=1e-5, atol=0)
    beyond = torch.tensor([[1.5, 0.0, 0.0], [2.0, 2.0, 0.0]]) * size  # in the plane, outside: vertex / edge
    torch.testing.assert_close(point_to_face_sq(beyond, verts, faces), torch.tensor([0.25, 4.5]) * size**2,
                               rtol=1e-5, atol=0)


@pytest.mark.parametrize("size", [1.0, 0.01])
def test_point_to_face_matches_brute_force(size):
    g = torch.Generator().manual_seed(3)
    tri = (torch.rand(60, 3, 3, generator=g) * 0.4 + torch.rand(60, 1, 3, generator=g)) * size
    points = (torch.rand(500, 3, generator=g) * 1.6 - 0.3) * size
    verts, faces = tri.reshape(-1, 3), torch.arange(180).reshape(60, 3)
    ref = point_to_triangle_sq_brute(points, tri).amin(1)
    pruned = point_to_face_sq(points, verts, faces)
    # float32 (PyTorch3D's kernel has no float64): 1e-6 of the squared size, the brief's bound at unit size
    torch.testing.assert_close(pruned.double(), ref, rtol=1e-5, atol=1e-6 * size**2)
    torch.testing.assert_close(point_to_face_sq(points, verts, faces, prune=False), pruned, rtol=0, atol=0)


def test_nearest_face_stays_exact_when_the_mesh_moves():
    g = torch.Generator().manual_seed(4)
    verts, faces = _sphere(3, (0.5, 0.3, 0.2))
    points = torch.rand(400, 3, generator=g) - 0.5
    nearest = NearestFace()
    nearest(points, verts, faces)
    moved = verts + 0.05 * torch.randn(verts.shape, generator=g)  # the previous nearest faces are now a bad guess
    ref = point_to_triangle_sq_brute(points, moved[faces]).amin(1)
    torch.testing.assert_close(nearest(points, moved, faces).double(), ref, rtol=1e-5, atol=1e-7)


def test_two_sided_distance_of_a_mesh_with_itself_is_zero():
    verts, faces = _sphere(3, (0.4, 0.25, 0.1))
    points = sample_surface(verts, faces, 2000, seed=1)
    assert float(two_sided_distance(verts, faces, points, verts, faces)) < 1e-10
    other = _sphere(3, (0.4, 0.25, 0.12))
    assert float(two_sided_distance(*other, points, verts, faces)) > 1e-6  # the test above can fail


def test_two_sided_distance_is_symmetric_and_equals_brute_force():
    a = _sphere(2, (0.5, 0.3, 0.2))
    b = _cube(0.25)
    pa, pb = sample_surface(*a, 1500, seed=1), sample_surface(*b, 1500, seed=2)
    ab = two_sided_distance(*a, pb, *b, mesh_points=pa)
    ba = two_sided_distance(*b, pa, *a, mesh_points=pb)
    torch.testing.assert_close(ab, ba, rtol=1e-6, atol=0)
    ref = (point_to_triangle_sq_brute(pa, b[0][b[1]]).amin(1).mean()
           + point_to_triangle_sq_brute(pb, a[0][a[1]]).amin(1).mean())
    torch.testing.assert_close(ab.double(), ref, rtol=1e-5, atol=0)
    # Eq. 2 as used by the fit: the deformed mesh's vertices on one side, CAD samples on the other.
    eq2 = two_sided_distance(*a, pb, *b)
    ref = (point_to_triangle_sq_brute(a[0], b[0][b[1]]).amin(1).mean()
           + point_to_triangle_sq_brute(pb, a[0][a[1]]).amin(1).mean())
    torch.testing.assert_close(eq2.double(), ref, rtol=1e-5, atol=0)


def test_point_to_face_gradient_matches_the_brute_force():
    g = torch.Generator().manual_seed(5)
    verts, faces = _sphere(1, (0.5, 0.4, 0.3))
    points = (torch.rand(20, 3, generator=g) - 0.5).requires_grad_(True)
    verts = verts.clone().requires_grad_(True)
    point_to_face_sq(points, verts, faces).sum().backward()
    ref_p = points.detach().double().requires_grad_(True)  # the brute force in float64, by autograd
    ref_v = verts.detach().double().requires_grad_(True)
    point_to_triangle_sq_brute(ref_p, ref_v[faces]).amin(1).sum().backward()
    torch.testing.assert_close(points.grad.double(), ref_p.grad, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(verts.grad.double(), ref_v.grad, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------------------------------------- Psi

def test_harmonic_embedding_frequencies():
    emb = HarmonicEmbedding(4, 0.1)
    x = torch.tensor([[0.3, -0.7, 1.0]])
    out = emb(x)
    assert out.shape == (1, 24)
    # layout: sin of (x0 f0..f3, x1 f0..f3, x2 f0..f3), then cos of the same
    assert math.isclose(float(out[0, 1]), math.sin(0.3 * 0.2), rel_tol=1e-6)
    assert math.isclose(float(out[0, 4 + 3]), math.sin(-0.7 * 0.8), rel_tol=1e-6)
    assert math.isclose(float(out[0, 12 + 8 + 2]), math.cos(1.0 * 0.4), rel_tol=1e-6)


def test_deform_net_batched_equals_per_sample_and_starts_as_the_scaled_sphere():
    torch.manual_seed(0)
    net = DeformNet(4, template_level=2, width=32, init_scale=(0.5, 0.3, 0.2))
    assert net.n_latent == 4 and net.template.shape == (162, 3) and net.faces.shape == (320, 3)
    z = torch.rand(5, 4)
    s_inst = 0.8 + 0.4 * torch.rand(5, 3)
    batched = net(z, s_inst)
    single = torch.cat([net(z[i : i + 1], s_inst[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net(z), batched / s_inst[:, None], rtol=1e-5, atol=1e-6)
    disp = net.displacement(torch.eye(4))
    assert disp.norm(dim=-1).max() < 1e-2
    assert disp.abs().max() > 0  # not zero either: the last layer is small, not dead
    torch.testing.assert_close(net(torch.eye(4)), net.sphere().expand(4, -1, -1), rtol=0, atol=1e-2)
    torch.testing.assert_close(net.scale, torch.tensor([0.5, 0.3, 0.2]))


def test_deform_net_gradients_reach_psi_and_the_scale():
    torch.manual_seed(0)
    net = DeformNet(3, template_level=2, width=32)
    target = _cube(0.4)
    points = sample_surface(*target, 500, seed=0)
    verts = net(torch.eye(3))
    sum(two_sided_distance(verts[k], net.faces, points, *target) for k in range(3)).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert net.log_scale.grad.abs().min() > 0


def test_deform_state_round_trip_and_obj(tmp_path):
    torch.manual_seed(0)
    net = DeformNet(2, template_level=1, width=16, init_scale=(0.5, 0.4, 0.3))
    with torch.no_grad():
        net.mlp[-1].weight.normal_()  # a net whose output differs from the initial one
    torch.save({"mesh": deform_state(net)}, tmp_path / "model.pt")
    back = deform_from_state(torch.load(tmp_path / "model.pt", weights_only=True)["mesh"])
    z = torch.tensor([[0.3, 0.7]])
    torch.testing.assert_close(back(z), net(z), rtol=0, atol=0)
    with pytest.raises(ValueError, match="format"):
        deform_from_state({"format": "other"})
    from pytorch3d.io import load_obj

    verts = net(z)[0]
    save_obj(tmp_path / "mesh.obj", verts, net.faces)
    v, f, _ = load_obj(tmp_path / "mesh.obj", load_textures=False)
    torch.testing.assert_close(v, verts.detach(), rtol=0, atol=1e-5)
    torch.testing.assert_close(f.verts_idx, net.faces)


# ---------------------------------------------------------------------------------------------- mesh fit

@pytest.fixture(scope="module")
def synthetic_cads(tmp_path_factory):
    """The embedded benchmark's CAD models of FIT_CLASSES, built as its CAD step builds them (config.yaml)."""
    from robust3d.data.cad import cad_path, read_off
    from robust3d.models.neural_mesh.mesh import training_cad_indices
    from robust3d.synth.dataset import build_cad
    from robust3d.synth.plan import cad_indices

    config = copy.deepcopy(yaml.safe_load((REPO / "config.yaml").read_text()))
    cfg = config["synthetic"]
    cfg["categories"] = list(FIT_CLASSES)  # only the CAD models (not the faces and cars splits' meshes)
    cfg["faces"].update(identities=0, train_identities=0)
    cfg["cars"]["kinds"] = []
    root = tmp_path_factory.mktemp("ntdm_cad") / "cad"
    build_cad(config, root)
    held_out = cad_indices(cfg, "ood_shape")
    out = {}
    for cls in FIT_CLASSES:
        train = training_cad_indices(root, cls)
        assert len(train) == 4 and not set(train) & set(held_out)

        def load(i, cls=cls):
            mesh = read_off(cad_path(root, cls, i))
            return torch.from_numpy(mesh.verts), torch.from_numpy(mesh.faces)

        out[cls] = ([load(i) for i in train], [load(i) for i in held_out])
    return out


@pytest.fixture(scope="module")
def fitted(synthetic_cads):
    return {cls: fit_class(train) for cls, (train, _) in synthetic_cads.items()}


def test_fit_is_deterministic(synthetic_cads):
    train = synthetic_cads["sofa"][0][:2]
    a, sa = fit_class(train, template_level=1, width=16, steps=5, points=200, seed=1)
    b, sb = fit_class(train, template_level=1, width=16, steps=5, points=200, seed=1)
    torch.testing.assert_close(a(torch.eye(2)), b(torch.eye(2)), rtol=0, atol=0)
    assert sa["fitted"] == sb["fitted"]
    c, _ = fit_class(train, template_level=1, width=16, steps=5, points=200, seed=2)
    assert not torch.equal(a(torch.eye(2)), c(torch.eye(2)))


def test_mesh_fit_beats_the_learned_scale_sphere_five_times(fitted):
    lines = []
    for cls, (_, summary) in fitted.items():
        records = MeshFitRecord.rows(summary)
        assert len(records) == 4 and records[0].steps == summary["steps"]
        lines.append(f"{cls}: sphere {[f'{r.sphere:.2e}' for r in records]} fitted "
                     f"{[f'{r.fitted:.2e}' for r in records]} ({summary['seconds']:.1f} s)")
        for r in records:
            assert r.fitted <= 0.2 * r.sphere, (cls, r)
    print("\n".join(lines))


def test_each_fitted_mesh_is_nearest_to_its_own_cad(fitted, synthetic_cads):
    own, total = 0, 0
    for cls, (net, _) in fitted.items():
        cads = synthetic_cads[cls][0]
        with torch.no_grad():
            meshes = net(torch.eye(len(cads)))
        for k in range(len(cads)):
            d = [distance_to_cad(meshes[k], net.faces, cad, 2000, seed=7) for cad in cads]
            own += int(np.argmin(d) == k)
            total += 1
    assert own >= 0.8 * total, f"{own}/{total}"


def test_fit_latent_beats_the_average_latent_on_a_held_out_cad(fitted, synthetic_cads):
    for cls, (net, _) in fitted.items():
        cad = synthetic_cads[cls][1][0]
        with torch.no_grad():
            average = distance_to_cad(net(torch.full((1, 4), 0.25))[0], net.faces, cad, 2000, seed=7)
        z = fit_latent(net, cad)
        assert z.shape == (4,) and all(p.requires_grad for p in net.parameters())
        with torch.no_grad():
            fit = distance_to_cad(net(z[None])[0], net.faces, cad, 2000, seed=7)
        assert fit < average, (cls, fit, average)
