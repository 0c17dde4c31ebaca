"""Writers of small raw datasets in the exact on-disk formats of PASCAL3D+, OccludedPASCAL3D+, OOD-CV (v1 and v2)
and ImageNet3D, for the converter tests (nothing can be downloaded here).

Images are renders of procedural CAD models at the annotated pose, in uncropped 300x400 images with the
principal point off-centre, so that a converted annotation can be checked against the converted pixels:
objects are red, backgrounds blue-green, and ``red_mask`` recovers the object from any converted image.
PASCAL-format files store MATLAB 1-based coordinates and degrees; ImageNet3D stores radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io
import torch

from robust3d.data.cad import Mesh, write_off
from robust3d.data.format import bbox_from_mask
from robust3d.data.io import write_image
from robust3d.geometry import pose_to_rotation
from robust3d.render.scene import rasterize_object
from robust3d.synth.categories import build_instances

ORIGINAL_SIZE = (300, 400)  # (H, W)
FOCAL, VIEWPORT = 1.0, 600.0  # small images: a unit-size object at distance 6 spans about 100 px
CROP_SIZE = (192, 256)  # converter output size used by the tests


@dataclass
class Obj:
    """One object to render and annotate; angles in degrees, principal point in robust3d pixel coordinates."""

    cls: str
    azimuth: float
    elevation: float
    theta: float
    distance: float
    principal: tuple[float, float]
    cad_index: int = 1

    @property
    def pose(self) -> tuple[float, float, float, float]:
        return (math.radians(self.azimuth), math.radians(self.elevation), math.radians(self.theta), self.distance)


def meshes(cls: str, n: int = 2) -> list[Mesh]:
    return build_instances(cls, n, seed=0)


def render(objects: list[Obj], cad: dict[str, list[Mesh]], seed: int = 0,
           size: tuple[int, int] = ORIGINAL_SIZE) -> tuple[np.ndarray, list[np.ndarray]]:
    """RGB image (red shaded objects on blue-green noise) and one mask per object (objects must not overlap)."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = np.stack([rng.integers(0, 50, (h, w)), rng.integers(40, 120, (h, w)), rng.integers(60, 160, (h, w))], -1)
    masks = []
    for obj in objects:
        mesh = cad[obj.cls][obj.cad_index - 1]
        verts, faces = torch.from_numpy(mesh.verts), torch.from_numpy(mesh.faces)
        frags = rasterize_object(verts, faces, obj.pose, FOCAL, VIEWPORT, size, principal=obj.principal)
        mask = (frags.face >= 0).numpy()
        tri = verts[faces[frags.face[frags.face >= 0]]]
        normal = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
        normal = torch.nn.functional.normalize(normal, dim=-1)
        lambert = (normal @ pose_to_rotation(*obj.pose[:3]).float().T)[:, 2].abs().numpy()
        img[mask] = np.stack([160 + 95 * lambert, np.full_like(lambert, 25), np.full_like(lambert, 25)], -1)
        masks.append(mask)
    return img.astype(np.uint8), masks


def red_mask(rgb: np.ndarray) -> np.ndarray:
    """The rendered objects' pixels in an (original or converted) fixture image."""
    r, g, b = (rgb[..., k].astype(int) for k in range(3))
    return (r > 110) & (g < 100) & (b < 100)


def write_cad(folder: Path, cad: dict[str, list[Mesh]]) -> None:
    for cls, items in cad.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i, mesh in enumerate(items, start=1):
            write_off(folder / cls / f"{i:02d}.off", mesh)


# ---------------------------------------------------------------------------------------------- PASCAL3D+ format

def _viewpoint(obj: Obj) -> dict:
    """PASCAL3D+ ``viewpoint`` struct: degrees, MATLAB 1-based principal point."""
    return {"azimuth_coarse": float(round(obj.azimuth / 15) * 15), "azimuth": float(obj.azimuth),
            "elevation_coarse": float(round(obj.elevation / 15) * 15), "elevation": float(obj.elevation),
            "distance": float(obj.distance), "focal": FOCAL, "px": obj.principal[0] + 0.5,
            "py": obj.principal[1] + 0.5, "theta": float(obj.theta), "error": 0.0, "interval_azimuth": 7.5,
            "interval_elevation": 7.5, "num_anchor": 8.0, "viewport": VIEWPORT}


def write_pascal_mat(path: Path, filename: str, objects: list[Obj | str], masks: list[np.ndarray | None],
                     size: tuple[int, int] = ORIGINAL_SIZE, database: str = "ImageNet") -> None:
    """A PASCAL3D+ annotation: ``record`` struct with a 1xN ``objects`` struct array.

    A ``str`` entry is an object of another class without viewpoint (as PASCAL3D+ keeps e.g. persons).
    """
    fields = ["class", "view", "bbox", "bndbox", "orglabel", "truncated", "occluded", "difficult", "viewpoint",
              "cad_index", "anchors"]
    objs = np.zeros((1, len(objects)), dtype=[(f, "O") for f in fields])
    for i, (obj, mask) in enumerate(zip(objects, masks, strict=True)):
        e = objs[0, i]
        x1, y1, x2, y2 = bbox_from_mask(mask) if mask is not None else (10.0, 10.0, 60.0, 60.0)
        box = np.array([[x1 + 1, y1 + 1, x2, y2]], np.float64)  # 1-based inclusive pixel indices
        e["bbox"], e["bndbox"] = box, {"xmin": box[0, 0], "ymin": box[0, 1], "xmax": box[0, 2], "ymax": box[0, 3]}
        e["view"], e["orglabel"], e["anchors"] = "Frontal", 1.0, np.zeros((0, 0))
        e["truncated"], e["occluded"], e["difficult"] = 0.0, float(i % 2), 0.0
        if isinstance(obj, str):
            e["class"], e["viewpoint"], e["cad_index"] = obj, np.zeros((0, 0)), np.zeros((0, 0))
        else:
            e["class"], e["viewpoint"], e["cad_index"] = obj.cls, _viewpoint(obj), float(obj.cad_index)
    h, w = size
    record = {"filename": filename, "folder": "", "source": {"database": database}, "imgsize": np.array([[w, h, 3.0]]),
              "database": database, "objects": objs, "segmented": 0.0}
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"record": record})


def _pascal_image(root: Path, folder: str, name: str, objects: list[Obj | str], cad, seed: int,
                  ext: str = ".JPEG") -> tuple[np.ndarray, list[np.ndarray]]:
    real = [o for o in objects if isinstance(o, Obj) and o.distance > 0]
    img, real_masks = render(real, cad, seed)
    it = iter(real_masks)
    masks = [next(it) if isinstance(o, Obj) and o.distance > 0 else None for o in objects]
    write_image(root / "Images" / folder / f"{name}{ext}", img)
    write_pascal_mat(root / "Annotations" / folder / f"{name}.mat", f"{name}{ext}", objects, masks)
    return img, real_masks


def write_pascal3d(data_root: Path) -> dict:
    """``PASCAL3D+_release1.1`` with class ``car``; returns what was written (names, objects, masks)."""
    root = data_root / "PASCAL3D+_release1.1"
    cad = {"car": meshes("car")}
    write_cad(root / "CAD", cad)
    single = [Obj("car", 35, 15, 5, 6.0, (235.3, 130.7), 1)]
    multi = [Obj("car", 300, 10, -8, 7.0, (110.0, 150.0), 2), "person", Obj("car", 120, 25, 3, 5.0, (290.0, 160.0), 1)]
    coarse = [Obj("car", 90, 0, 0, 0.0, (200.0, 150.0), 1)]
    info = {"root": root, "objects": {}, "masks": {}, "images": {}}
    for name, objects, seed in (("n02958343_0001", single, 1), ("n02958343_0002", multi, 2),
                                ("n02958343_0003", coarse, 3), ("n02958343_0004", single, 4)):
        img, masks = _pascal_image(root, "car_imagenet", name, objects, cad, seed)
        info["objects"][name], info["masks"][name], info["images"][name] = objects, masks, img
    (root / "Images" / "car_imagenet" / "n02958343_0004.JPEG").write_bytes(b"\xff\xd8 truncated, not a JPEG")
    # n02958343_0005: listed, image present, annotation missing
    write_image(root / "Images" / "car_imagenet" / "n02958343_0005.JPEG", info["images"]["n02958343_0001"])
    train = [Obj("car", 200, 5, 0, 6.5, (180.0, 140.0), 2)]
    img, masks = _pascal_image(root, "car_imagenet", "n02958343_0100", train, cad, 5)
    info["objects"]["n02958343_0100"], info["masks"]["n02958343_0100"] = train, masks
    sets = root / "Image_sets"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "car_imagenet_val.txt").write_text("\n".join(f"n02958343_{i:04d}" for i in range(1, 6)) + "\n")
    (sets / "car_imagenet_train.txt").write_text("n02958343_0100\n")
    return info


# ---------------------------------------------------------------------------------------------- OccludedPASCAL3D+

def write_occluded_pascal3d(data_root: Path, pascal: dict) -> Path:
    """``OccludedPASCAL3D`` levels 1 and 2 built from the single-object val image (as the real set is)."""
    root = data_root / "OccludedPASCAL3D"
    name = "n02958343_0001"
    img, mask = pascal["images"][name], pascal["masks"][name][0]
    ys, xs = np.nonzero(mask)
    rng = np.random.default_rng(7)
    for level in (1, 2):
        folder = f"carFGL{level}_BGL{level}"
        occluder = np.zeros_like(mask)
        x0 = int(xs.min() + (xs.max() - xs.min()) * (0.75 - 0.25 * level))
        occluder[ys.min() - 5 : ys.max() + 5, x0 : x0 + 40 * level] = True
        occluded = img.copy()
        occluded[occluder] = rng.integers(90, 200, (int(occluder.sum()), 3))  # grey clutter, not red
        write_image(root / "images" / folder / f"{name}.JPEG", occluded)
        noisy_mask = (mask * 255).astype(np.uint8) | rng.integers(0, 6, mask.shape).astype(np.uint8)  # JPEG-like
        h, w = mask.shape
        ann = root / "annotations" / folder
        ann.mkdir(parents=True, exist_ok=True)
        np.savez(ann / f"{name}.npz", source=f"../PASCAL3D+/PASCAL3D+_release1.1/Images/car_imagenet/{name}.JPEG",
                 mask=noisy_mask, box=np.array([ys.min(), ys.max() + 1, xs.min(), xs.max() + 1, h, w]),
                 occluder_mask=occluder,
                 occluder_box=np.array([[ys.min() - 5, ys.max() + 5, x0, x0 + 40 * level, h, w]], dtype=object),
                 category="car", occluder_level=str(level))
        (root / "lists").mkdir(parents=True, exist_ok=True)
        extra = "n02958343_0009.JPEG\n" if level == 2 else ""  # listed without annotation: skipped
        (root / "lists" / f"{folder}.txt").write_text(f"{name}.JPEG\n{extra}")
    return root


# ---------------------------------------------------------------------------------------------- OOD-CV

def write_oodcv(data_root: Path) -> dict:
    """``ood_cv`` (v1): car test images with nuisance lists, PASCAL3D+-format annotations, TrainSet.txt."""
    root = data_root / "ood_cv"
    cad = {"car": meshes("car")}
    weather = [Obj("car", 60, 20, 4, 6.0, (170.0, 120.0), 1)]
    two = [Obj("car", 250, 8, -5, 7.5, (100.0, 170.0), 2), Obj("car", 20, 12, 0, 3.5, (300.0, 140.0), 1)]  # rate < 1
    info = {"root": root, "objects": {}}
    for name, objects, seed in (("oodcv_0001", weather, 11), ("oodcv_0002", two, 12)):
        img, masks = render(objects, cad, seed)
        write_image(root / "images" / "car" / f"{name}.JPEG", img)
        write_pascal_mat(root / "annotations" / "car" / f"{name}.mat", f"{name}.JPEG", objects, masks)
        info["objects"][name] = objects
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "car_weather.txt").write_text("oodcv_0001 0\n")
    (lists / "car_context.txt").write_text("oodcv_0002 0\n")
    (lists / "car_all.txt").write_text("oodcv_0001 0\noodcv_0002 0\noodcv_0002 1\n")
    (lists / "TrainSet.txt").write_text("n02958343_0100\nn02691156_0001\n")  # the second is another class's image
    return info


def write_oodcv_v2(data_root: Path) -> dict:
    """``ROBINv1.1``: challenge CSVs in degrees; principal point at the image centre (the converter assumes it)."""
    root = data_root / "ROBINv1.1"
    cad = {"car": meshes("car")}
    h, w = ORIGINAL_SIZE
    obj = Obj("car", 330, 18, -6, 6.0, (w / 2, h / 2), 1)
    img, masks = render([obj], cad, 21)
    for folder in ("train", "iid_test", "nuisances/weather"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    write_image(root / "nuisances/weather/Images/car/weather_car_0001.jpg", img)
    x1, y1, x2, y2 = bbox_from_mask(masks[0])
    rows = [
        dict(im_path="Images/car/weather_car_0001.jpg", cls_name="car", left=x1, upper=y1, right=x2, lower=y2,
             azimuth=obj.azimuth, elevation=obj.elevation, inplane_rotation=obj.theta, distance=obj.distance,
             source="collection", im_name="weather_car_0001", object=0),
        dict(im_path="Images/car/weather_car_0002.jpg", cls_name="car", left=1, upper=1, right=50, lower=50,
             azimuth=10.0, elevation=5.0, inplane_rotation=0.0, distance=5.0, source="collection",
             im_name="weather_car_0002", object=0),  # image missing: skipped
        dict(im_path="Images/bottle/weather_bottle_0001.jpg", cls_name="bottle", left=1, upper=1, right=50,
             lower=50, azimuth=10.0, elevation=5.0, inplane_rotation=0.0, distance=5.0, source="collection",
             im_name="weather_bottle_0001", object=0),  # not an OOD-CV class here: ignored
    ]
    pd.DataFrame(rows).to_csv(root / "nuisances/weather/weather.csv", index=False)
    pd.DataFrame(rows[:0]).to_csv(root / "iid_test/iid_test.csv", index=False)
    return {"root": root, "object": obj}


# ---------------------------------------------------------------------------------------------- ImageNet3D

def _imagenet3d_dict(obj: Obj, mask: np.ndarray | None, **extra) -> dict:
    x1, y1, x2, y2 = bbox_from_mask(mask) if mask is not None else (5.0, 5.0, 50.0, 50.0)
    turn = 2 * math.pi
    return {"azimuth": math.radians(obj.azimuth) % turn, "elevation": math.radians(obj.elevation) % turn,
            "theta": math.radians(obj.theta) % turn, "distance": obj.distance, "viewport": int(VIEWPORT),
            "focal": FOCAL, "height": np.uint16(ORIGINAL_SIZE[0]), "width": np.uint16(ORIGINAL_SIZE[1]),
            "bbox": np.array([x1, y1, x2, y2]), "class": obj.cls, "px": obj.principal[0], "py": obj.principal[1],
            "principal": np.array(obj.principal), "cad_index": obj.cad_index, "object_status": "status_good",
            "dense": "dense_no", "ignore": 0, **extra}


def write_imagenet3d(data_root: Path) -> dict:
    """``imagenet3d`` with class ``sofa`` (one of the paper's unseen classes); angles in radians in [0, 2pi)."""
    root = data_root / "imagenet3d"
    cad = {"sofa": meshes("sofa")}
    write_cad(root / "CAD", cad)
    single = [Obj("sofa", 315, 12, -4, 5.0, (220.0, 160.0), 1)]
    pair = [Obj("sofa", 100, 20, 6, 4.5, (110.0, 140.0), 2), Obj("sofa", 45, 10, 0, 6.0, (300.0, 150.0), 1)]
    info = {"root": root, "objects": {}}
    for name, objects, seed in (("n04256520_0001", single, 31), ("n04256520_0002", pair, 32)):
        img, masks = render(objects, cad, seed)
        write_image(root / "images" / "sofa" / f"{name}.JPEG", img)
        dicts = [_imagenet3d_dict(o, m) for o, m in zip(objects, masks, strict=True)]
        if name.endswith("2"):
            dicts[1]["ignore"] = 1
        _save_imagenet3d(root / "annotations" / "sofa" / f"{name}.npz", dicts)
        info["objects"][name] = objects
    coarse = Obj("sofa", 0, 0, 0, 0.0, (200.0, 150.0), 1)
    write_image(root / "images" / "sofa" / "n04256520_0003.JPEG", render([], cad, 33)[0])
    _save_imagenet3d(root / "annotations" / "sofa" / "n04256520_0003.npz", [_imagenet3d_dict(coarse, None)])
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "sofa_imagenet_val.txt").write_text("n04256520_0001\nn04256520_0002\nn04256520_0003\n")
    (lists / "sofa_imagenet_train.txt").write_text("n04256520_0001\n")
    for cls, n_train, n_val in (("teapot", 3, 2), ("kettle", 9, 9), ("bed", 5, 5), ("yurt", 7, 0)):
        (lists / f"{cls}_imagenet_train.txt").write_text("".join(f"x{i}\n" for i in range(n_train)))
        (lists / f"{cls}_imagenet_val.txt").write_text("".join(f"x{i}\n" for i in range(n_val)))
    return info


def _save_imagenet3d(path: Path, dicts: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    annotations = np.empty(len(dicts), dtype=object)
    annotations[:] = dicts
    np.savez(path, annotations=annotations)


def write_imagenet3d_classes(data_root: Path, images: dict[str, tuple[int, int]], seed: int = 0) -> Path:
    """``imagenet3d`` with real renders of several classes: ``images[cls] = (n_train, n_val)`` one-object images.

    Class names must be PASCAL3D+ classes (their procedural CAD models stand in for ImageNet3D's); every pose is
    drawn at random. Returns the ``imagenet3d`` folder.
    """
    root = data_root / "imagenet3d"
    cad = {cls: meshes(cls) for cls in images}
    write_cad(root / "CAD", cad)
    rng = np.random.default_rng(seed)
    lists = root / "lists"
    lists.mkdir(parents=True, exist_ok=True)
    for c, (cls, counts) in enumerate(images.items()):
        for split, n in zip(("train", "val"), counts, strict=True):
            names = [f"n{c:08d}_{split}{i:03d}" for i in range(n)]
            for i, name in enumerate(names):
                obj = Obj(cls, float(rng.uniform(0, 360)), float(rng.uniform(0, 30)), float(rng.uniform(-10, 10)),
                          float(rng.uniform(4.5, 5.5)), (float(rng.uniform(180, 220)), float(rng.uniform(130, 170))),
                          cad_index=1 + i % 2)
                img, masks = render([obj], cad, seed * 1000 + c * 100 + i + (50 if split == "val" else 0))
                write_image(root / "images" / cls / f"{name}.JPEG", img)
                _save_imagenet3d(root / "annotations" / cls / f"{name}.npz", [_imagenet3d_dict(obj, masks[0])])
            (lists / f"{cls}_imagenet_{split}.txt").write_text("".join(f"{name}\n" for name in names))
    return root
