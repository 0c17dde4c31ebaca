"""Checks for the procedural CAD categories and mesh primitives of the synthetic benchmark."""

import itertools
import os

import numpy as np
import pytest

from robust3d.data.cad import Mesh, read_off, write_off
from robust3d.synth.categories import (
    MAX_FACES,
    MIN_FACES,
    PASCAL3D_CLASSES,
    all_category_names,
    build_instances,
    procedural_category_names,
    procedural_recipe,
)
from robust3d.synth.primitives import (
    box,
    cone,
    cylinder,
    ellipsoid,
    lathe,
    merge,
    normalize,
    prism,
    subdivide,
    torus,
    transform,
    tube_between,
    wedge,
)

PRIMITIVES = {
    "box": lambda: box((1.0, 2.0, 3.0)),
    "cylinder_x": lambda: cylinder(0.3, 2.0, 10, axis="x"),
    "cylinder_y": lambda: cylinder(0.3, 2.0, 10, axis="y"),
    "cylinder_z": lambda: cylinder(0.3, 2.0, 10, axis="z"),
    "cone": lambda: cone(0.5, 0.0, 1.0, 8),
    "frustum_y": lambda: cone(0.5, 0.2, 1.0, 8, axis="y"),
    "ellipsoid": lambda: ellipsoid((0.2, 0.5, 0.3), 6, 10),
    "torus_x": lambda: torus(0.4, 0.1, 12, 6, axis="x"),
    "torus_z": lambda: torus(0.4, 0.1, 12, 6),
    "wedge": lambda: wedge((1.0, 2.0, 0.5)),
    "prism_cw_profile": lambda: prism([(0, 0), (0, 1), (1, 1), (1, 0)], 0.5, axis="x"),
    "tapered_prism": lambda: prism([(0, 0), (2, 0), (1, 1)], 1.0, "y", [(0, 0), (1, 0), (0.5, 0.5)]),
    "lathe_poles": lambda: lathe([(0.0, 0.0), (0.5, 0.2), (0.3, 0.8), (0.0, 1.0)], 8),
    "tube": lambda: tube_between((0.1, -0.2, 0.3), (-0.5, 0.4, -0.1), 0.05),
}


def _check_valid(mesh: Mesh) -> None:
    assert mesh.verts.dtype == np.float32 and mesh.verts.ndim == 2 and mesh.verts.shape[1] == 3
    assert mesh.faces.dtype == np.int64 and mesh.faces.ndim == 2 and mesh.faces.shape[1] == 3
    assert np.isfinite(mesh.verts).all()
    assert mesh.faces.min() >= 0 and mesh.faces.max() < mesh.num_verts
    assert (mesh.faces[:, 0] != mesh.faces[:, 1]).all() and (mesh.faces[:, 1] != mesh.faces[:, 2]).all()


def _check_normalised(mesh: Mesh) -> None:
    lo, hi = mesh.bounds()
    assert abs(float((hi - lo).max()) - 1.0) < 1e-5
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-5)


# ------------------------------------------------------------------------------------- primitives
@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitives_are_closed_with_outward_normals(name):
    mesh = PRIMITIVES[name]()
    _check_valid(mesh)
    assert mesh.signed_volume() > 0
    # Closed surface: every undirected edge is shared by exactly two faces, used once in each direction.
    edges = mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    directed = {tuple(e) for e in edges.tolist()}
    assert len(directed) == len(edges)
    assert all((b, a) in directed for a, b in directed)


def test_primitive_volumes_and_extents():
    assert box((1.0, 2.0, 3.0)).signed_volume() == pytest.approx(6.0)
    np.testing.assert_allclose(box((1.0, 2.0, 3.0)).extent(), [1.0, 2.0, 3.0])
    n = 64  # a fine polygonal cylinder approaches pi r^2 h
    assert cylinder(0.5, 2.0, n).signed_volume() == pytest.approx(np.pi * 0.25 * 2.0, rel=0.01)
    np.testing.assert_allclose(cylinder(0.3, 2.0, 12, axis="x").extent(), [2.0, 0.6, 0.6], atol=1e-6)
    np.testing.assert_allclose(cylinder(0.3, 2.0, 12, axis="y").extent(), [0.6, 2.0, 0.6], atol=1e-6)
    assert cone(0.5, 0.0, 1.0, n).signed_volume() == pytest.approx(np.pi * 0.25 / 3, rel=0.01)
    assert wedge((1.0, 2.0, 0.5)).signed_volume() == pytest.approx(0.5)
    assert torus(0.4, 0.1, 12, 6).num_faces == 144


def test_transform_merge_subdivide_keep_orientation():
    mesh = box()
    mirrored = transform(mesh, scale=(-1.0, 2.0, 1.0), translation=(1.0, 0.0, 0.0))
    assert mirrored.signed_volume() == pytest.approx(2.0)
    merged = merge([mesh, mirrored])
    _check_valid(merged)
    assert merged.num_faces == mesh.num_faces * 2 and merged.signed_volume() == pytest.approx(3.0)
    fine = subdivide(mesh)
    assert fine.num_faces == 4 * mesh.num_faces and fine.signed_volume() == pytest.approx(1.0)
    norm = normalize(transform(box((2.0, 4.0, 1.0)), translation=(3.0, -1.0, 5.0)))
    _check_normalised(norm)
    np.testing.assert_allclose(norm.extent(), [0.5, 1.0, 0.25], atol=1e-6)


# ------------------------------------------------------------------------------------------- OFF
def test_off_round_trip(tmp_path):
    mesh = build_instances("car", 1, seed=3)[0]
    path = tmp_path / "car.off"
    write_off(path, mesh)
    assert os.listdir(tmp_path) == ["car.off"]  # the temp file was renamed, nothing left behind
    assert path.read_text().startswith(f"OFF\n{mesh.num_verts} {mesh.num_faces} 0\n")
    back = read_off(path)
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_array_equal(back.verts, mesh.verts)
    write_off(path, box())  # overwriting goes through os.replace as well
    assert read_off(path).num_faces == box().num_faces


def test_off_reader_variants(tmp_path):
    text = (
        "OFF8 7 0\n"  # counts glued to the header, as in some PASCAL3D+/ModelNet files
        "# a comment line\n"
        "0 0 0\n1 0 0\n1 1 0\n0 1 0\n\n0 0 1\n1 0 1\n1 1 1\n0 1 1\n"
        "4 0 3 2 1\n"  # quad -> 2 triangles
        "4 4 5 6 7\n"
        "3 0 1 5 255 0 0\n"  # trailing colour values are ignored
        "3 0 5 4\n3 1 2 6\n3 1 6 5\n5 2 3 7 6 2\n"  # pentagon (degenerate repeat) -> 3 triangles
    )
    (tmp_path / "glued.off").write_text(text)
    mesh = read_off(tmp_path / "glued.off")
    assert mesh.num_verts == 8 and mesh.num_faces == 2 + 2 + 4 + 3
    np.testing.assert_array_equal(mesh.faces[:2], [[0, 3, 2], [0, 2, 1]])
    (tmp_path / "split.off").write_text("OFF\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    np.testing.assert_array_equal(read_off(tmp_path / "split.off").faces, [[0, 1, 2], [0, 2, 3]])
    (tmp_path / "short.off").write_text("OFF\n4 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(ValueError, match="truncated"):
        read_off(tmp_path / "short.off")
    (tmp_path / "bad.off").write_text("PLY\n")
    with pytest.raises(ValueError, match="OFF"):
        read_off(tmp_path / "bad.off")


# ------------------------------------------------------------------------------------ categories
@pytest.mark.parametrize("category", PASCAL3D_CLASSES)
def test_pascal_class_instances(category):
    meshes = build_instances(category, 30, seed=0)
    for mesh in meshes:
        _check_valid(mesh)
        _check_normalised(mesh)
        assert MIN_FACES <= mesh.num_faces <= MAX_FACES
        assert mesh.signed_volume() > 0  # union of closed, outward-oriented parts
    # Instances differ in proportions and (across styles) in part structure.
    extents = np.array([m.extent() for m in meshes])
    assert len({tuple(np.round(e, 4)) for e in extents}) == len(meshes)
    assert len({m.num_faces for m in meshes}) >= 2


def test_pascal_conventions():
    """+z up, front at -y, vehicles long along y (PASCAL3D+ object frame)."""
    for category in ("bicycle", "boat", "bus", "car", "motorbike", "train"):
        for mesh in build_instances(category, 10, seed=1):
            ext = mesh.extent()
            assert ext[1] > ext[0] and (category == "boat" or ext[1] > ext[2]), category  # masts may be tall
    for mesh in build_instances("aeroplane", 10, seed=1):  # wingspan along x, the nose tip is the min-y point
        assert abs(mesh.verts[np.argmin(mesh.verts[:, 1]), 0]) < 1e-3
    for mesh in build_instances("bottle", 10, seed=1):
        assert np.argmax(mesh.extent()) == 2
    # Backrests and tail fins are the highest points and sit at the back (+y), so the front faces -y.
    for category in ("chair", "sofa", "aeroplane"):
        for mesh in build_instances(category, 10, seed=1):
            top = mesh.verts[mesh.verts[:, 2] > mesh.verts[:, 2].max() - 1e-3]
            assert top[:, 1].mean() > 0, category
    for mesh in build_instances("sofa", 10, seed=1) + build_instances("diningtable", 10, seed=1):
        assert mesh.extent()[0] >= mesh.extent()[1] - 1e-6  # long side along x, facing -y


def test_determinism_and_seeds():
    for category in ("car", "chair", "proc007"):
        a, b = build_instances(category, 3, seed=7), build_instances(category, 3, seed=7)
        for m, n in zip(a, b, strict=True):
            np.testing.assert_array_equal(m.verts, n.verts)
            np.testing.assert_array_equal(m.faces, n.faces)
        c = build_instances(category, 3, seed=8)
        assert not any(np.array_equal(m.verts, n.verts) for m, n in zip(a, c, strict=True))
        # instance i does not depend on how many instances were requested
        np.testing.assert_array_equal(build_instances(category, 1, seed=7)[0].verts, a[0].verts)


def test_unknown_category_raises():
    with pytest.raises(ValueError, match="'airplane'") as err:
        build_instances("airplane", 1, seed=0)
    assert "aeroplane" in str(err.value) and "proc000" in str(err.value)
    for bad in ("proc01", "proc", "PROC001", "Car"):
        with pytest.raises(ValueError, match=bad):
            build_instances(bad, 1, seed=0)


def test_category_names():
    assert len(PASCAL3D_CLASSES) == 12
    assert procedural_category_names(3) == ["proc000", "proc001", "proc002"]
    names = all_category_names(200)
    assert names[:12] == list(PASCAL3D_CLASSES) and len(names) == len(set(names)) == 212
    assert all_category_names() == list(PASCAL3D_CLASSES)


# ------------------------------------------------------------------------------------ procedural
def test_procedural_categories_build():
    names = procedural_category_names(200)
    signatures = {procedural_recipe(n).signature() for n in names}
    assert len(signatures) == 200  # every category has its own part structure
    for name in names:
        assert 2 <= len(procedural_recipe(name).parts) <= 5
        meshes = build_instances(name, 3, seed=1)
        for mesh in meshes:
            _check_valid(mesh)
            _check_normalised(mesh)
            assert MIN_FACES <= mesh.num_faces <= MAX_FACES
            assert mesh.signed_volume() > 0
        # shared structure (same tessellation), different proportions
        assert len({m.num_faces for m in meshes}) == 1
        assert not np.allclose(meshes[0].extent(), meshes[1].extent(), atol=1e-3)


def test_procedural_categories_are_distinguishable():
    """Two categories count as distinguishable when their part count or face count differ, or when the
    mean bounding-box aspect on some axis differs by more than twice the summed within-class spreads."""
    names = procedural_category_names(50)
    desc = {}
    for name in names:
        meshes = build_instances(name, 8, seed=0)
        ext = np.array([m.extent() for m in meshes])
        desc[name] = (len(procedural_recipe(name).parts), meshes[0].num_faces, ext.mean(0), ext.std(0))
    pairs = list(itertools.combinations(names, 2))
    separated = 0
    for a, b in pairs:
        (pa, fa, ma, sa), (pb, fb, mb, sb) = desc[a], desc[b]
        separated += pa != pb or fa != fb or bool(np.any(np.abs(ma - mb) > 2 * (sa + sb)))
    assert separated / len(pairs) >= 0.95
    # and geometry alone (ignoring face counts) already separates most pairs
    by_shape = sum(bool(np.any(np.abs(desc[a][2] - desc[b][2]) > 2 * (desc[a][3] + desc[b][3])))
                   for a, b in pairs)
    assert by_shape / len(pairs) >= 0.75
