"""The synthetic benchmark: annotations agree with the renders, splits hold what they promise."""

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from robust3d.data.cad import read_off
from robust3d.data.format import ANNOTATION_KEYS, MANIFEST_COLUMNS, load_annotation, read_manifest
from robust3d.data.io import read_image, read_mask
from robust3d.geometry import project_points
from robust3d.synth.plan import cad_indices, plan_split
from robust3d.synth.textures import HELD_OUT_FAMILIES


def _inside_fraction(mask: np.ndarray, uv: torch.Tensor) -> float:
    """Share of projected points whose pixel, or one of its 8 neighbours, is in the mask.

    The one-pixel tolerance matters because a low-poly silhouette passes through its own vertices: a vertex on
    the outline falls on either side of the pixel grid. The wrong-pose test below shows the check keeps teeth.
    """
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    cols, rows = uv[:, 0].floor().long(), uv[:, 1].floor().long()
    ok = (cols >= 0) & (cols < mask.shape[1]) & (rows >= 0) & (rows < mask.shape[0])
    inside = np.zeros(len(uv), bool)
    inside[ok.numpy()] = grown[rows[ok].numpy(), cols[ok].numpy()]
    return float(inside.mean())


def _project_cad(root, ann, azimuth_offset=0.0, elevation_offset=0.0):
    verts = read_off(root / "cad" / "CAD" / str(ann["class"]) / f"{int(ann['cad_index']):02d}.off").verts
    uv, _ = project_points(torch.from_numpy(verts).double(), float(ann["azimuth"]) + azimuth_offset,
                           float(ann["elevation"]) + elevation_offset, float(ann["theta"]),
                           float(ann["distance"]), float(ann["focal"]), float(ann["viewport"]),
                           tuple(ann["principal"].tolist()))
    return uv


def _samples(root, split):
    df = read_manifest(root / split / "manifest.csv")
    for _, row in df.iterrows():
        yield row, load_annotation(root / split / row["annotation"])


@pytest.mark.parametrize("split", ["train", "ood_pose", "style", "unseen", "templates", "queries", "queries_occluded",
                                   "queries_train", "cars", "cars_train", "faces", "faces_train"])
def test_projected_cad_vertices_fall_inside_the_amodal_mask(smoke_dataset, split):
    fractions = [
        _inside_fraction(read_mask(smoke_dataset / split / row["mask_amodal"]), _project_cad(smoke_dataset, ann))
        for row, ann in _samples(smoke_dataset, split)
    ]
    assert np.mean(fractions) >= 0.97, f"mean fraction inside {np.mean(fractions):.3f}"


def test_a_wrong_pose_does_not_pass_the_projection_check(smoke_dataset):
    """The check above has teeth: rotating the annotation by 90 degrees in azimuth breaks it."""
    fractions = [_inside_fraction(read_mask(smoke_dataset / "train" / row["mask_amodal"]),
                                  _project_cad(smoke_dataset, ann, math.pi / 2, 0.5))
                 for row, ann in _samples(smoke_dataset, "train")]
    assert np.mean(fractions) < 0.9


def test_manifest_and_annotations_follow_the_contract(smoke_dataset, smoke_config):
    df = read_manifest(smoke_dataset / "train" / "manifest.csv")
    assert list(df.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    n_train_classes = len(smoke_config["synthetic"]["categories"]) - len(smoke_config["synthetic"]["unseen_categories"])
    assert len(df) == smoke_config["synthetic"]["splits"]["train"] * n_train_classes
    assert df["sample_id"].is_unique
    for row, ann in _samples(smoke_dataset, "train"):
        assert set(ANNOTATION_KEYS) <= set(ann)
        assert -math.pi <= float(ann["theta"]) <= math.pi and 0 <= float(ann["azimuth"]) <= 2 * math.pi
        img = read_image(smoke_dataset / "train" / row["image"])
        depth = np.load(smoke_dataset / "train" / row["depth"])
        mask = read_mask(smoke_dataset / "train" / row["mask_visible"])
        assert img.shape == (64, 64, 3) and depth.shape == (64, 64) and mask.any()
        # Metric depth: the object (size 1) sits around the camera distance; background is 0.
        d = float(ann["distance"])
        assert np.all(np.abs(depth[mask] - d) < 1.0) and np.all(depth[~mask] == 0)
        x1, y1, x2, y2 = ann["bbox"]
        assert mask[int(y1) : int(y2), int(x1) : int(x2)].sum() == mask.sum()
        vis = ann["cuboid_visible"]
        assert 0 < vis.sum() < len(vis)  # a cuboid always shows some faces and hides others
        assert ann["cuboid_uv"].shape == (len(vis), 2)


def test_splits_shift_what_they_promise(smoke_config):
    cfg = smoke_config["synthetic"]
    train = plan_split(smoke_config, "train")
    held_out = set(cad_indices(cfg, "ood_shape"))
    assert held_out and not held_out & {s.cad_index for s in train}
    assert {s.cad_index for s in plan_split(smoke_config, "ood_shape")} <= held_out
    assert {s.category for s in plan_split(smoke_config, "unseen")} == set(cfg["unseen_categories"])
    assert not {s.category for s in train} & set(cfg["unseen_categories"])
    lo, hi = cfg["pose"]["ood_elevation"]
    assert all(math.radians(lo) <= s.elevation <= math.radians(hi) for s in plan_split(smoke_config, "ood_pose"))
    lo, hi = cfg["pose"]["elevation"]
    assert all(math.radians(lo) <= s.elevation <= math.radians(hi) for s in train)
    assert {s.texture.family for s in plan_split(smoke_config, "ood_texture")} <= set(HELD_OUT_FAMILIES)
    assert not {s.texture.family for s in train} & set(HELD_OUT_FAMILIES)
    assert {s.background for s in plan_split(smoke_config, "ood_context")} == {"grid"}
    assert "grid" not in {s.background for s in train}
    assert {s.style for s in plan_split(smoke_config, "style")} == {"cartoon"}
    # Texture predicts the class: one family per training category.
    fam = pd.DataFrame([(s.category, s.texture.family) for s in train], columns=["c", "f"])
    assert (fam.groupby("c")["f"].nunique() == 1).all()


def test_same_seed_same_files_and_other_seed_other_files(tmp_path, smoke_config, smoke_dataset):
    import copy

    from robust3d.synth.dataset import render_chunk

    render_chunk(smoke_config, "train", 0, smoke_dataset / "cad", tmp_path / "again")
    df = pd.read_csv(tmp_path / "again" / "manifest.csv")
    first = df.iloc[0]
    a = read_image(tmp_path / "again" / first["image"])
    b = read_image(smoke_dataset / "train" / "chunk000" / first["image"])
    assert np.array_equal(a, b)
    other = copy.deepcopy(smoke_config)
    other["seed"] = 1
    assert [s.azimuth for s in plan_split(other, "train")] != [s.azimuth for s in plan_split(smoke_config, "train")]


def test_a_failed_chunk_leaves_no_output(tmp_path, smoke_config, smoke_dataset):
    from robust3d.synth.dataset import render_chunk

    with pytest.raises(ValueError, match="no chunk 99"):
        render_chunk(smoke_config, "train", 99, smoke_dataset / "cad", tmp_path / "chunk")
    assert not (tmp_path / "chunk").exists()


def test_contact_sheet_is_drawn(tmp_path, smoke_dataset):
    from robust3d.figures.contact_sheet import contact_sheet

    n = contact_sheet(smoke_dataset / "train" / "manifest.csv", smoke_dataset / "cad", tmp_path / "s.png", n=6)
    img = read_image(tmp_path / "s.png")
    assert n == 6 and img.shape[0] > 100 and (img[..., 1] == 255).any()  # green vertex dots drawn


def test_templates_cover_the_upper_hemisphere_without_in_plane_rotation(smoke_config, smoke_dataset):
    from robust3d.geometry import upper_hemisphere

    df = read_manifest(smoke_dataset / "templates" / "manifest.csv")
    tm = smoke_config["synthetic"]["templates"]
    n_views = len(upper_hemisphere(tm["icosphere_level"]))
    assert len(df) == n_views * len(tm["categories"])
    assert (df.groupby("object")["view_index"].nunique() == n_views).all()
    assert set(df.loc[df["seen"] == "False", "object"]) == set(tm["unseen_categories"])
    for row, ann in _samples(smoke_dataset, "templates"):
        assert float(ann["theta"]) == 0.0 and float(ann["elevation"]) >= -1e-9
        img = read_image(smoke_dataset / "templates" / row["image"])
        mask = read_mask(smoke_dataset / "templates" / row["mask_amodal"])
        background = img[~mask].reshape(-1, 3)
        assert (background == background[0]).all()  # a plain background


def test_occluded_queries_are_the_clean_queries_partly_occluded(smoke_config, smoke_dataset):
    clean = read_manifest(smoke_dataset / "queries" / "manifest.csv").set_index("sample_id")
    occluded = read_manifest(smoke_dataset / "queries_occluded" / "manifest.csv").set_index("sample_id")
    assert list(clean.index) == list(occluded.index)  # paired by id, as a variant is with its split
    np.testing.assert_allclose(clean[["azimuth", "elevation"]].astype(float),
                               occluded[["azimuth", "elevation"]].astype(float))
    assert (clean["occluder_mask"].fillna("") == "").all() and (occluded["occluder_mask"] != "").all()
    for sample in clean.index:  # the same render, an occluder pasted on it
        a = read_mask(smoke_dataset / "queries" / clean.loc[sample, "mask_amodal"])
        assert np.array_equal(a, read_mask(smoke_dataset / "queries_occluded" / occluded.loc[sample, "mask_amodal"]))
    train = read_manifest(smoke_dataset / "queries_train" / "manifest.csv")
    tm = smoke_config["synthetic"]["templates"]
    assert set(train["object"]) == set(tm["categories"]) - set(tm["unseen_categories"])
    assert not set(train["sample_id"]) & set(clean.index)
    lo, hi = tm["occlusion"]
    shares = []
    for row, ann in _samples(smoke_dataset, "queries_occluded"):
        amodal = read_mask(smoke_dataset / "queries_occluded" / row["mask_amodal"])
        visible = read_mask(smoke_dataset / "queries_occluded" / row["mask_visible"])
        occluder = read_mask(smoke_dataset / "queries_occluded" / row["occluder_mask"])
        assert np.array_equal(visible, amodal & ~occluder)
        share = (amodal & occluder).sum() / amodal.sum()
        assert share == pytest.approx(float(ann["occluded_share"]), abs=1e-6)
        shares.append(share)
    inside = np.mean([lo - 0.02 <= s <= hi + 0.02 for s in shares])
    assert inside >= 0.8, shares


def test_cars_are_mirror_symmetric_kinds(smoke_config, smoke_dataset):
    from scipy.spatial import cKDTree

    from robust3d.synth.plan import car_class

    df = read_manifest(smoke_dataset / "cars" / "manifest.csv")
    kinds = smoke_config["synthetic"]["cars"]["kinds"]
    assert sorted(df["kind"].unique()) == sorted(kinds)
    assert sorted(df["class"].unique()) == sorted(car_class(k) for k in kinds)
    for kind in kinds:
        mesh = read_off(smoke_dataset / "cad" / "CAD" / car_class(kind) / "01.off")
        dist, _ = cKDTree(mesh.verts).query(mesh.verts * np.array([-1, 1, 1]))
        assert dist.max() < 1e-5
    row, ann = next(_samples(smoke_dataset, "cars"))
    assert read_image(smoke_dataset / "cars" / row["image"]).shape == (64, 64, 3)


def test_face_tracks_vary_pose_smoothly_within_one_identity(smoke_config, smoke_dataset):
    df = read_manifest(smoke_dataset / "faces" / "manifest.csv")
    fc = smoke_config["synthetic"]["faces"]
    assert len(df) == fc["identities"] * fc["tracks_per_identity"] * fc["frames_per_track"]
    assert df.groupby("track")["identity"].nunique().eq(1).all()
    assert df["identity"].nunique() == fc["identities"] and (df["class"] == "face").all()
    for _, track in df.groupby("track"):
        az = track["azimuth"].astype(float).to_numpy()
        steps = np.abs(np.angle(np.exp(1j * np.diff(az))))
        assert np.all(steps <= np.radians(90) / max(1, fc["frames_per_track"] - 1) + 1e-9)


def test_every_manifest_resolves_from_its_own_folder(smoke_dataset):
    """Chunk manifests and the merged split manifests alike list paths relative to their own folder."""
    from robust3d.data.format import PATH_COLUMNS, read_manifest

    manifests = sorted(smoke_dataset.rglob("manifest.csv"))
    assert any(m.parent.name.startswith("chunk") for m in manifests)
    assert any(not m.parent.name.startswith("chunk") for m in manifests)
    for manifest in manifests:
        df = read_manifest(manifest)
        paths = [v for c in PATH_COLUMNS if c in df.columns for v in df[c] if v]
        assert paths, manifest
        missing = [p for p in paths if not (manifest.parent / p).is_file()]
        assert not missing, f"{manifest}: {missing[:3]}"


def test_merge_manifests_takes_the_split_sheet_from_its_first_chunk(tmp_path, smoke_dataset):
    """The workflow draws a split's contact sheet in the render job of chunk 0; the merge job only copies it."""
    import shutil

    from robust3d.cli import main

    chunks = sorted((smoke_dataset / "train").glob("chunk*"))
    copies = [tmp_path / c.name for c in chunks]
    for src, dst in zip(chunks, copies, strict=True):
        shutil.copytree(src, dst)
    with pytest.raises(SystemExit, match="synth-render --sheet"):
        main(["merge-manifests", *map(str, copies), "--out", str(tmp_path / "manifest.csv"),
              "--sheet", str(tmp_path / "sheet.png")])
    (copies[0] / "contact_sheet.png").write_bytes(b"png")
    main(["merge-manifests", *map(str, copies), "--out", str(tmp_path / "manifest.csv"),
          "--sheet", str(tmp_path / "sheet.png")])
    assert (tmp_path / "sheet.png").read_bytes() == b"png"
    assert len(pd.read_csv(tmp_path / "manifest.csv")) == len(pd.read_csv(smoke_dataset / "train" / "manifest.csv"))
