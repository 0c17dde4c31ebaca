"""Real-dataset converters and downloads, on small fixtures in the exact raw formats (no network is used)."""

from __future__ import annotations

import io
import math
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch
from fixtures_real import (
    CROP_SIZE,
    VIEWPORT,
    red_mask,
    write_imagenet3d,
    write_occluded_pascal3d,
    write_oodcv,
    write_oodcv_v2,
    write_pascal3d,
)

from robust3d.data.cad import read_off
from robust3d.data.datasets import (
    IMAGENET3D_UNSEEN_10,
    SOURCES,
    ChecksumError,
    ConversionError,
    DatasetSource,
    DatasetUnavailable,
    convert_imagenet3d,
    convert_occluded_pascal3d,
    convert_oodcv,
    convert_oodcv_v2,
    convert_pascal3d,
    download,
    fetch,
    require_raw,
    select_imagenet3d_classes,
)
from robust3d.data.format import ANNOTATION_KEYS, MANIFEST_COLUMNS, load_annotation, read_manifest
from robust3d.data.io import read_image, read_mask
from robust3d.geometry import project_points


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("raw")
    pascal = write_pascal3d(root)
    return {"root": root, "pascal": pascal, "occluded": write_occluded_pascal3d(root, pascal),
            "oodcv": write_oodcv(root), "oodcv_v2": write_oodcv_v2(root), "imagenet3d": write_imagenet3d(root)}


@pytest.fixture(scope="module")
def pascal_val(raw, tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("p3d")
    return out, convert_pascal3d(raw["root"], out, "val", ["car"], image_size=CROP_SIZE)


def inside_fraction(mask: np.ndarray, uv: torch.Tensor) -> float:
    """Share of projected points on the mask grown by one pixel (3x3 dilation)."""
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    cols, rows = uv[:, 0].floor().long().numpy(), uv[:, 1].floor().long().numpy()
    ok = (cols >= 0) & (cols < mask.shape[1]) & (rows >= 0) & (rows < mask.shape[0])
    inside = np.zeros(len(cols), bool)
    inside[ok] = grown[rows[ok], cols[ok]]
    return float(inside.mean())


def projected_cad(out: Path, ann: dict, d_azimuth: float = 0.0, d_theta: float = 0.0, shift: float = 0.0):
    verts = read_off(out / "CAD" / str(ann["class"]) / f"{int(ann['cad_index']):02d}.off").verts
    px, py = np.asarray(ann["principal"], float)
    uv, _ = project_points(torch.from_numpy(verts).double(), float(ann["azimuth"]) + d_azimuth,
                           float(ann["elevation"]), float(ann["theta"]) + d_theta, float(ann["distance"]),
                           float(ann["focal"]), float(ann["viewport"]), (px + shift, py))
    return uv


def samples(out: Path, split: str):
    df = read_manifest(out / split / "manifest.csv")
    for _, row in df.iterrows():
        yield row, load_annotation(out / split / row["annotation"])


def skipped(out: Path, split: str) -> pd.DataFrame:
    return pd.read_csv(out / split / "skipped.csv", dtype=str, keep_default_na=False).set_index("sample_id")


# ---------------------------------------------------------------------------------------------- PASCAL3D+

def test_fixture_annotations_are_matlab_struct_arrays(raw):
    """NeMo indexes records as record['objects'][0, 0]['viewpoint'][0, idx]...; the fixtures must allow it."""
    path = raw["pascal"]["root"] / "Annotations" / "car_imagenet" / "n02958343_0002.mat"
    record = scipy.io.loadmat(path)["record"]
    objects = record["objects"][0, 0]
    assert objects.shape == (1, 3)
    assert objects[0, 0]["viewpoint"][0, 0]["azimuth"][0, 0] == 300.0  # degrees on disk
    assert objects[0, 1]["viewpoint"].size == 0  # the person: no viewpoint
    assert str(objects[0, 2]["class"][0]) == "car"


def test_pascal3d_manifest_follows_the_contract(pascal_val):
    out, df = pascal_val
    manifest = read_manifest(out / "val" / "manifest.csv")
    assert list(manifest.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    assert sorted(manifest["sample_id"]) == ["n02958343_0001_00", "n02958343_0002_00", "n02958343_0002_02"]
    assert (manifest[["mask_visible", "mask_amodal", "depth", "occluder_mask"]] == "").all().all()
    assert set(manifest["variant"]) == {"clean"}
    for row, ann in samples(out, "val"):
        assert all(k in ann for k in ANNOTATION_KEYS)
        assert read_image(out / "val" / row["image"]).shape == (*CROP_SIZE, 3)
        np.testing.assert_allclose(ann["principal"], [CROP_SIZE[1] / 2, CROP_SIZE[0] / 2])
        x1, y1, x2, y2 = ann["bbox"]
        assert 0 <= x1 < x2 <= CROP_SIZE[1] and 0 <= y1 < y2 <= CROP_SIZE[0]
        assert ann["cuboid_uv"].shape == (len(ann["cuboid_visible"]), 2) and 0 < ann["cuboid_visible"].mean() < 1
    assert (out / "CAD" / "car" / "02.off").is_file() and (out / "CAD_single" / "car" / "01.off").is_file()
    assert len(df.attrs["skipped"]) == 3


def test_pascal3d_angles_become_radians_and_the_camera_follows_the_crop(raw, pascal_val):
    out, _ = pascal_val
    objects = raw["pascal"]["objects"]["n02958343_0002"]
    for row, ann in samples(out, "val"):
        obj = objects[int(row["object_index"])] if row["source_image"].endswith("2") else \
            raw["pascal"]["objects"]["n02958343_0001"][0]
        assert float(ann["azimuth"]) == pytest.approx(math.radians(obj.azimuth))
        assert float(ann["elevation"]) == pytest.approx(math.radians(obj.elevation))
        assert float(ann["theta"]) == pytest.approx(math.radians(obj.theta))
        assert float(ann["distance"]) == pytest.approx(obj.distance)  # true distance kept ...
        assert float(ann["viewport"]) == pytest.approx(VIEWPORT * obj.distance / 5.0)  # ... focal scaled instead
        np.testing.assert_allclose(ann["principal_original"], obj.principal, atol=1e-4)  # MATLAB 1-based undone


def test_pascal3d_skips_are_named_and_reasoned(pascal_val):
    out, _ = pascal_val
    s = skipped(out, "val")
    assert "distance" in s.loc["n02958343_0003_00", "reason"]
    assert s.loc["n02958343_0004_00", "file"].endswith("n02958343_0004.JPEG")
    assert "corrupt" in s.loc["n02958343_0004_00", "reason"]
    assert s.loc["n02958343_0005", "file"].endswith("n02958343_0005.mat")
    assert "missing" in s.loc["n02958343_0005", "reason"]
    assert not any(i.startswith("n02958343_0002_01") for i in s.index)  # the person is not a car: not a sample


def test_pascal3d_projection_lands_on_the_object_in_the_crop(pascal_val):
    out, _ = pascal_val
    for row, ann in samples(out, "val"):
        mask = red_mask(read_image(out / "val" / row["image"]))
        assert inside_fraction(mask, projected_cad(out, ann)) >= 0.97, row["sample_id"]


def test_the_projection_check_fails_for_a_wrong_pose(pascal_val):
    out, _ = pascal_val
    row, ann = next((r, a) for r, a in samples(out, "val") if r["sample_id"] == "n02958343_0001_00")
    mask = red_mask(read_image(out / "val" / row["image"]))
    assert inside_fraction(mask, projected_cad(out, ann)) >= 0.97
    assert inside_fraction(mask, projected_cad(out, ann, d_azimuth=math.pi / 2)) < 0.9
    assert inside_fraction(mask, projected_cad(out, ann, d_theta=math.radians(30))) < 0.9
    assert inside_fraction(mask, projected_cad(out, ann, shift=12.0)) < 0.97


def test_pascal3d_train_split_and_nothing_converted(raw, tmp_path):
    df = convert_pascal3d(raw["root"], tmp_path, "train", ["car"], image_size=CROP_SIZE)
    assert list(df["sample_id"]) == ["n02958343_0100_00"]
    sets = raw["pascal"]["root"] / "Image_sets"
    (sets / "car_imagenet_broken.txt").write_text("n02958343_0003\nn02958343_0004\n")
    with pytest.raises(ConversionError, match="nothing converted"):
        convert_pascal3d(raw["root"], tmp_path, "broken", ["car"], image_size=CROP_SIZE)
    assert not (tmp_path / "broken").exists()


# ---------------------------------------------------------------------------------------------- OccludedPASCAL3D+

def test_occluded_pascal3d_masks_levels_and_clean_annotations(raw, pascal_val, tmp_path):
    df = convert_occluded_pascal3d(raw["root"], tmp_path, "occluded", ["car"], image_size=CROP_SIZE,
                                   pascal3d_root=raw["root"], levels=(1, 2))
    assert set(df["variant"]) == {"occlusion"} and sorted(df["level"]) == ["1", "2"]
    assert set(df["clean_sample_id"]) == {"n02958343_0001_00"}
    clean = load_annotation(pascal_val[0] / "val" / "annotations" / "n02958343_0001_00.npz")
    assert "n02958343_0009_FGL2_BGL2" in skipped(tmp_path, "occluded").index
    for row, ann in samples(tmp_path, "occluded"):
        for key in ("azimuth", "elevation", "theta", "distance", "viewport", "principal", "bbox", "cuboid_uv"):
            np.testing.assert_allclose(ann[key], clean[key])
        amodal, occluder, visible = (read_mask(tmp_path / "occluded" / row[k])
                                     for k in ("mask_amodal", "occluder_mask", "mask_visible"))
        assert occluder.any() and (visible == (amodal & ~occluder)).all() and visible.sum() < amodal.sum()
        # the object mask comes from the npz, independently of the image: the projection lands on it too
        assert inside_fraction(amodal, projected_cad(tmp_path, ann)) >= 0.97


# ---------------------------------------------------------------------------------------------- OOD-CV

def test_oodcv_v1_test_split_has_nuisance_variants_in_radians(raw, tmp_path):
    df = convert_oodcv(raw["root"], tmp_path, "test", ["car"], image_size=CROP_SIZE, pascal3d_root=raw["root"])
    variants = dict(zip(df["sample_id"], df["variant"], strict=True))
    assert variants == {"oodcv_0001_00": "weather", "oodcv_0002_00": "context", "oodcv_0002_01": "iid"}
    objects = raw["oodcv"]["objects"]
    for row, ann in samples(tmp_path, "test"):
        obj = objects[row["source_image"]][int(row["object_index"])]
        assert float(ann["azimuth"]) == pytest.approx(math.radians(obj.azimuth))
        mask = red_mask(read_image(tmp_path / "test" / row["image"]))
        assert inside_fraction(mask, projected_cad(tmp_path, ann)) >= 0.97


def test_oodcv_v1_train_split_reads_pascal3d_images(raw, tmp_path):
    df = convert_oodcv(raw["root"], tmp_path, "train", ["car"], image_size=CROP_SIZE, pascal3d_root=raw["root"])
    assert list(df["sample_id"]) == ["n02958343_0100_00"]
    with pytest.raises(DatasetUnavailable, match="pascal3d_root"):
        convert_oodcv(raw["root"], tmp_path, "train", ["car"], image_size=CROP_SIZE)


def test_oodcv_v2_csv_degrees_become_radians(raw, tmp_path):
    df = convert_oodcv_v2(raw["root"], tmp_path, "weather", ["car"], image_size=CROP_SIZE,
                          cad_root=raw["pascal"]["root"], viewport=VIEWPORT)
    assert list(df["sample_id"]) == ["weather_car_0001_00"] and list(df["variant"]) == ["weather"]
    assert "missing" in skipped(tmp_path, "weather").loc["weather_car_0002_00", "reason"]
    obj = raw["oodcv_v2"]["object"]
    row, ann = next(samples(tmp_path, "weather"))
    assert float(ann["theta"]) == pytest.approx(math.radians(obj.theta))
    assert int(ann["principal_assumed"]) == 1
    mask = red_mask(read_image(tmp_path / "weather" / row["image"]))
    assert inside_fraction(mask, projected_cad(tmp_path, ann)) >= 0.97


# ---------------------------------------------------------------------------------------------- ImageNet3D

def test_imagenet3d_keeps_radians_and_uses_distance_4(raw, tmp_path):
    df = convert_imagenet3d(raw["root"], tmp_path, "val", ["sofa"], image_size=CROP_SIZE)
    assert sorted(df["sample_id"]) == ["n04256520_0001_00", "n04256520_0002_00"]
    s = skipped(tmp_path, "val")
    assert "ignore" in s.loc["n04256520_0002_01", "reason"] and "distance" in s.loc["n04256520_0003_00", "reason"]
    objects = raw["imagenet3d"]["objects"]
    for row, ann in samples(tmp_path, "val"):
        obj = objects[row["source_image"]][int(row["object_index"])]
        assert float(ann["azimuth"]) == pytest.approx(math.radians(obj.azimuth) % (2 * math.pi))  # e.g. 5.50
        assert float(ann["viewport"]) == pytest.approx(VIEWPORT * obj.distance / 4.0)
        mask = red_mask(read_image(tmp_path / "val" / row["image"]))
        assert inside_fraction(mask, projected_cad(tmp_path, ann)) >= 0.97


def test_imagenet3d_class_selection_keeps_the_unseen_classes(raw):
    assert len(IMAGENET3D_UNSEEN_10) == 10 and {"go_kart", "recreational_vehicle", "sofa"} <= set(IMAGENET3D_UNSEEN_10)
    assert select_imagenet3d_classes(raw["root"], n_classes=3, min_images=1, include=["sofa"]) == \
        ["bed", "kettle", "sofa"]  # yurt has no val images; teapot has fewer images than bed
    with pytest.raises(ValueError, match="teapot"):
        select_imagenet3d_classes(raw["root"], n_classes=3, min_images=3, include=["teapot"])


# ---------------------------------------------------------------------------------------------- downloads

def test_require_raw_names_the_source_and_the_path(tmp_path):
    with pytest.raises(DatasetUnavailable) as err:
        require_raw("pascal3d", tmp_path)
    msg = str(err.value)
    assert SOURCES["pascal3d"].url in msg and str(tmp_path / "PASCAL3D+_release1.1") in msg
    with pytest.raises(DatasetUnavailable, match="1X-xwyypLTm9vr-boLYPIPhGxcYaPHSNF"):
        require_raw("occluded_pascal3d", tmp_path)


def test_download_offline_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    calls = []

    def offline(request, timeout=None):
        calls.append(request)
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DatasetUnavailable) as err:
        download("pascal3d", tmp_path, retries=2, backoff=0.0)
    msg = str(err.value)
    assert SOURCES["pascal3d"].url in msg and str(tmp_path / "PASCAL3D+_release1.1.zip") in msg
    assert len(calls) == 3 and not (tmp_path / "PASCAL3D+_release1.1.zip").exists()


def test_drive_and_gated_downloads_fail_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # not installed
    with pytest.raises(DatasetUnavailable) as err:
        download("occluded_pascal3d_l2", tmp_path)
    assert "1dNP8YE3RJ9Pzr_jQ11O6f6eYgYnq9ROp" in str(err.value) and "pip install gdown" in str(err.value)
    assert str(tmp_path / "OccludedPASCAL3D_FGL2_BGL2.zip") in str(err.value)

    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(DatasetUnavailable, match="no Hugging Face token"):
        download("imagenet3d", tmp_path)

    def gated(**kwargs):
        raise PermissionError("401 Client Error: access to this gated dataset is restricted")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    with pytest.raises(DatasetUnavailable) as err:
        download("imagenet3d", tmp_path)
    msg = str(err.value)
    assert "accept its terms" in msg and "huggingface-cli download ccvl/ImageNet3D" in msg
    assert str(tmp_path / "imagenet3d_v1.zip") in msg


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, status: int = 200):
        super().__init__(data)
        self.status, self.headers = status, {"Content-Length": str(len(data)), "Content-Type": "application/zip"}


class FlakyServer:
    """Serves ``data``; the first response breaks off halfway, later ones honour Range requests."""

    def __init__(self, data: bytes):
        self.data, self.ranges = data, []

    def __call__(self, request, timeout=None):
        first = not self.ranges
        rng = request.get_header("Range")
        self.ranges.append(rng)
        if first:
            half = self.data[: len(self.data) // 2]
            response = FakeResponse(half)
            response.headers["Content-Length"] = str(len(self.data))  # promised more than it sends
            return response
        start = int(rng.removeprefix("bytes=").removesuffix("-")) if rng else 0
        return FakeResponse(self.data[start:], 206 if rng else 200)


def test_download_resumes_and_verifies_sha256(tmp_path, monkeypatch):
    data = bytes(range(256)) * 100
    server = FlakyServer(data)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    source = DatasetSource(name="toy", title="Toy data", filename="toy.zip", url="https://example.org/toy.zip")
    path = download(source, tmp_path, backoff=0.0)
    assert path.read_bytes() == data and server.ranges == [None, f"bytes={len(data) // 2}-"]
    assert (tmp_path / "toy.sha256").is_file()  # recorded on first download
    assert download(source, tmp_path) == path  # verified against the record, no new request
    assert len(server.ranges) == 2
    path.write_bytes(data[:-1] + b"x")  # a wrong file
    with pytest.raises(ChecksumError, match="sha256"):
        download(source, tmp_path)
    pinned = DatasetSource(name="pinned", title="Pinned", filename="toy.zip", url=source.url, sha256="0" * 64)
    with pytest.raises(ChecksumError, match="0000"):
        download(pinned, tmp_path)


def test_fetch_unpacks_a_downloaded_archive(tmp_path):
    (tmp_path / "downloads").mkdir()
    with zipfile.ZipFile(tmp_path / "downloads" / "PASCAL3D+_release1.1.zip", "w") as zf:
        for sub in ("Annotations", "Images", "CAD", "Image_sets"):
            zf.writestr(f"PASCAL3D+_release1.1/{sub}/README", "x")
    assert fetch("pascal3d", tmp_path) == tmp_path / "PASCAL3D+_release1.1"  # no network: the file is there
    assert (tmp_path / "downloads" / "pascal3d.sha256").is_file()
    assert not any(p.name.startswith(".extract-") for p in tmp_path.iterdir())
