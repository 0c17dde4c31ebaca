"""Checks for the synthetic face identities: symmetric closed meshes, painted albedo, end-to-end rasterisation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from robust3d.synth.faces import FaceIdentity, build_face_mesh, face_landmarks, sample_identity

SEEDS = (0, 1, 2, 3, 7, 12)


def _identity(seed: int) -> FaceIdentity:
    return sample_identity(np.random.default_rng(seed))


def _mirror_index(verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each vertex, the index of the vertex nearest to its x-mirror, and that distance."""
    mirrored = verts * np.array([-1.0, 1.0, 1.0], dtype=verts.dtype)
    dist = np.linalg.norm(mirrored[:, None, :] - verts[None, :, :], axis=-1)
    idx = dist.argmin(1)
    return idx, dist[np.arange(len(verts)), idx]


@pytest.mark.parametrize("seed", SEEDS)
def test_mesh_budget_normalisation_and_orientation(seed):
    mesh = build_face_mesh(_identity(seed))
    assert mesh.verts.dtype == np.float32 and mesh.faces.dtype == np.int64
    assert 600 <= mesh.num_faces <= 1500
    assert np.isfinite(mesh.verts).all() and mesh.faces.min() >= 0 and mesh.faces.max() < mesh.num_verts
    lo, hi = mesh.bounds()
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-6)
    assert mesh.extent().max() == pytest.approx(1.0, abs=1e-6)
    assert mesh.signed_volume() > 0


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_mesh_is_closed(seed):
    """Every edge is shared by exactly two faces, traversed once in each direction (closed, consistent)."""
    faces = build_face_mesh(_identity(seed)).faces
    directed = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    assert len(np.unique(directed, axis=0)) == len(directed)  # no directed edge twice: consistent winding
    _, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    assert (counts == 2).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_mesh_is_exactly_mirror_symmetric(seed):
    mesh = build_face_mesh(_identity(seed))
    idx, dist = _mirror_index(mesh.verts.astype(np.float64))
    assert dist.max() < 1e-5
    # The triangulation is mirrored too: mirrored faces (winding reversed) are faces of the mesh.
    mirrored = np.sort(idx[mesh.faces], axis=1)
    original = {tuple(f) for f in np.sort(mesh.faces, axis=1).tolist()}
    assert {tuple(f) for f in mirrored.tolist()} == original


@pytest.mark.parametrize("seed", SEEDS)
def test_nose_points_to_minus_y(seed):
    """The face looks towards -y: the most frontal vertex is the nose tip, on the mirror plane, mid-height."""
    identity = _identity(seed)
    verts = build_face_mesh(identity).verts
    tip = verts[verts[:, 1].argmin()]
    assert abs(tip[0]) < 0.05
    assert -0.3 < tip[2] < 0.1
    landmarks = face_landmarks(identity)
    assert landmarks["nose_tip"][1] < landmarks["left_eye"][1] and landmarks["nose_tip"][1] < landmarks["mouth"][1]
    assert landmarks["left_eye"][0] > 0 > landmarks["right_eye"][0]
    assert landmarks["chin"][2] < landmarks["mouth"][2] < landmarks["nose_tip"][2] < landmarks["left_eye"][2]


@pytest.mark.parametrize("seed", SEEDS)
def test_albedo_symmetric_and_in_range(seed):
    identity = _identity(seed)
    points = torch.from_numpy(build_face_mesh(identity).verts).double()
    points = torch.cat([points, points[:200] * 0.97 + 0.01])  # also off-vertex points
    rgb = identity.shade(points)
    assert rgb.shape == (len(points), 3) and rgb.dtype == points.dtype
    assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
    mirrored = points * torch.tensor([-1.0, 1.0, 1.0], dtype=points.dtype)
    assert torch.equal(identity.shade(mirrored), rgb)
    assert identity.shade(points.float()).dtype == torch.float32


@pytest.mark.parametrize("seed", SEEDS)
def test_albedo_paints_eyes_lips_and_hair(seed):
    identity = _identity(seed)
    skin = torch.tensor(identity.skin_color, dtype=torch.float64)
    lm = {k: torch.from_numpy(v).double()[None] for k, v in face_landmarks(identity).items()}
    eye_centre = identity.shade(lm["left_eye"])[0]
    beside_pupil = identity.shade(lm["left_eye"] + torch.tensor([[0.015, 0.0, 0.0]]))[0]  # iris
    sclera = identity.shade(lm["left_eye"] + torch.tensor([[0.035, 0.0, 0.0]]))[0]
    assert (eye_centre - skin).norm() > 0.3  # the pupil
    assert (beside_pupil - skin).norm() > 0.05
    assert float(sclera.min()) > 0.8  # eye white
    assert torch.equal(identity.shade(lm["right_eye"]), identity.shade(lm["left_eye"]))
    mouth = identity.shade(lm["mouth"] + torch.tensor([[0.0, 0.0, 0.015]]))[0]  # upper lip
    assert (mouth - skin).norm() > 0.05
    if not identity.bald:
        crown = torch.tensor([[0.0, 0.0, 0.5]], dtype=torch.float64)
        np.testing.assert_allclose(identity.shade(crown)[0].numpy(), identity.hair_color, atol=0.02)


def test_identities_differ_in_shape_and_colour():
    identities = [_identity(s) for s in SEEDS]
    meshes = [build_face_mesh(i) for i in identities]
    for a in range(len(SEEDS)):
        for b in range(a + 1, len(SEEDS)):
            assert meshes[a].num_verts == meshes[b].num_verts  # same topology, so compare vertex positions
            assert np.abs(meshes[a].verts - meshes[b].verts).mean() > 2e-3
            assert np.abs(meshes[a].extent() - meshes[b].extent()).max() > 1e-3
            assert np.abs(np.subtract(identities[a].skin_color, identities[b].skin_color)).max() > 0.01
            colours = [np.r_[i.skin_color, i.hair_color, i.eye_color] for i in (identities[a], identities[b])]
            assert np.linalg.norm(colours[0] - colours[1]) > 0.1


def test_sampler_is_diverse():
    identities = [_identity(s) for s in range(200)]
    luminance = np.array([np.mean(i.skin_color) for i in identities])
    assert luminance.max() - luminance.min() > 0.4  # light to dark skin
    hair = np.array([i.hair_color for i in identities])
    assert np.ptp(hair.mean(1)) > 0.5  # black to blond/grey hair
    assert 0 < sum(i.beard for i in identities) < len(identities)
    assert 0 < sum(i.bald for i in identities) < len(identities)
    for i in identities:
        assert np.linalg.norm(np.subtract(i.hair_color, i.skin_color)) > 0.25 or i.bald
        for f in dataclasses.fields(i):
            value = getattr(i, f.name)
            if isinstance(value, tuple):
                assert all(0.0 <= c <= 1.0 for c in value), f.name


def test_determinism():
    a, b = _identity(42), _identity(42)
    assert a == b and hash(a) == hash(b)
    ma, mb = build_face_mesh(a), build_face_mesh(b)
    assert np.array_equal(ma.verts, mb.verts) and np.array_equal(ma.faces, mb.faces)
    ma.verts[:] = 0.0  # callers may edit their copy without corrupting the cached build
    assert np.array_equal(build_face_mesh(a).verts, mb.verts)
    assert _identity(43) != a


def test_rasterised_front_view_is_symmetric_and_shades():
    pytest.importorskip("pytorch3d")
    from robust3d.render.scene import rasterize_object

    identity = _identity(5)
    mesh = build_face_mesh(identity)
    verts, faces = torch.from_numpy(mesh.verts), torch.from_numpy(mesh.faces)
    frags = rasterize_object(verts, faces, pose=(0.0, 0.0, 0.0, 6.0), focal=1.0, viewport=250.0, image_size=(64, 64))
    mask = frags.face >= 0
    assert 0.1 < float(mask.float().mean()) < 0.6
    flipped = mask.flip(1)
    iou = float((mask & flipped).sum()) / float((mask | flipped).sum())
    assert iou > 0.9
    f = frags.face[mask]
    points = (verts[faces[f]] * frags.bary[mask][..., None]).sum(1)
    rgb = identity.shade(points)
    assert rgb.shape == (int(mask.sum()), 3) and torch.isfinite(rgb).all()
    # A frontal view shows more than skin: eyes, brows and lips make distinct colours.
    skin = torch.tensor(identity.skin_color)
    assert float(((rgb - skin).norm(dim=-1) > 0.2).float().mean()) > 0.02
