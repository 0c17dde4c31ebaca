"""Writing the synthetic benchmark to disk in the shared sample format.

Two steps, each a Snakemake job: :func:`build_cad` writes the CAD models and per-category cuboids;
:func:`render_chunk` renders one chunk of a split into its own folder (atomically), and
:func:`robust3d.data.format.merge_manifests` joins the chunks' manifests into the split's ``manifest.csv``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from robust3d.data.cad import CUBOID_VERTICES, Mesh, cad_path, cuboid_path, read_off, vertex_normals, write_off
from robust3d.data.format import bbox_from_mask
from robust3d.data.io import atomic_dir, atomic_path, write_image, write_mask, write_npy, write_npz
from robust3d.geometry import camera_center, cuboid_bounds, cuboid_mesh, project_points
from robust3d.render.scene import SceneSpec, convex_visibility, render_scenes
from robust3d.synth.backgrounds import render_background
from robust3d.synth.categories import build_car, build_instances
from robust3d.synth.occluders import occlude
from robust3d.synth.plan import (
    SampleSpec,
    cad_indices,
    car_class,
    chunk_of,
    face_class,
    face_identity,
    stable_seed,
    template_cad_index,
)

#: Draws a weather over a rendered image: ``(image, name, severity, seed) -> image`` (variants.weather.apply_weather).
WeatherFn = Callable[..., np.ndarray]


def _extra_classes(config: dict) -> dict[str, list[Mesh]]:
    """CAD models of the faces and cars splits: one class per car kind (evaluation instances, then training ones),
    a 'face' class of the evaluation identities and a 'face_train' class of the training identities."""
    cfg, seed = config["synthetic"], config["seed"]
    fc, cc = cfg["faces"], cfg["cars"]
    classes: dict[str, list[Mesh]] = {}
    from robust3d.synth.faces import build_face_mesh

    for split, n in (("faces", fc["identities"]), ("faces_train", fc["train_identities"])):
        if n:
            classes[face_class(split)] = [build_face_mesh(face_identity(seed, i, face_class(split)))
                                          for i in range(n)]
    n_cars = cc["instances_per_kind"] + cc["train_instances_per_kind"]
    for kind in cc["kinds"]:
        classes[car_class(kind)] = [build_car(np.random.default_rng(stable_seed(seed, "car", kind, i)), style=kind)
                                    for i in range(n_cars)]
    return classes


def build_cad(config: dict, out_dir: str | Path) -> None:
    """Write every class's CAD instances and its cuboid (for the benchmark's categories, from training
    instances only), the template objects (:func:`template_cad_index`) and the meshes of the faces and cars splits."""
    cfg, seed = config["synthetic"], config["seed"]
    out_dir = Path(out_dir)
    templates = cfg["templates"]["categories"]
    meta = {"categories": cfg["categories"], "unseen_categories": cfg["unseen_categories"], "cuboids": {},
            "template_objects": {c: template_cad_index(cfg) for c in templates}}
    # A template category gets one instance more, the template object (its instances 1..n are the same either way).
    classes = {c: build_instances(c, cfg["instances_per_category"] + (c in templates), seed=stable_seed(seed, c)[0])
               for c in cfg["categories"]}
    train_indices = {c: cad_indices(cfg, "train") for c in classes}
    extra = _extra_classes(config)
    classes.update(extra)
    train_indices.update({c: list(range(1, len(meshes) + 1)) for c, meshes in extra.items()})
    with atomic_dir(out_dir) as tmp:
        for category, meshes in tqdm(classes.items(), desc="CAD models", unit="class"):
            for i, mesh in enumerate(meshes, start=1):
                write_off(cad_path(tmp, category, i, create=True), mesh)
            bounds = cuboid_bounds([meshes[i - 1].verts for i in train_indices[category]])
            verts, faces = cuboid_mesh(bounds, CUBOID_VERTICES)
            write_off(cuboid_path(tmp, category, create=True), Mesh(verts, faces))
            # cad_indices: the instances a cuboid may be built from (models rebuild theirs with their own K).
            meta["cuboids"][category] = {"bounds": bounds.tolist(), "n_vertices": len(verts),
                                         "cad_indices": train_indices[category]}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


def _load_meshes(root: Path, keys: set[tuple[str, int]]) -> dict[tuple[str, int], Mesh]:
    return {k: read_off(cad_path(root, *k)) for k in sorted(keys)}


def render_chunk(config: dict, split: str, chunk: int, cad_root: str | Path, out_dir: str | Path,
                 batch_size: int = 16, weather: WeatherFn | None = None) -> int:
    """Render chunk ``chunk`` of ``split`` into ``out_dir``; returns the number of samples. ``weather(image, name,
    severity, seed)`` draws a sample's weather (``ood_weather``; robust3d.variants.weather.apply_weather)."""
    cad_root, out_dir = Path(cad_root), Path(out_dir)
    specs = chunk_of(config, split, chunk)
    if not specs:
        raise ValueError(f"split '{split}' has no chunk {chunk}")
    meshes = _load_meshes(cad_root, {(s.category, s.cad_index) for s in specs})
    cuboids = {c: read_off(cuboid_path(cad_root, c)) for c in {s.category for s in specs}}
    focal = float(config["synthetic"]["camera"]["focal"])
    rows = []
    with atomic_dir(out_dir) as tmp:
        for start in tqdm(range(0, len(specs), batch_size), desc=f"{split} chunk {chunk}", unit="batch"):
            batch = specs[start : start + batch_size]
            rows += _render_batch(batch, meshes, cuboids, focal, tmp, weather)
        with atomic_path(tmp / "manifest.csv") as m:
            pd.DataFrame(rows).to_csv(m, index=False)
    return len(rows)


def _render_batch(batch: list[SampleSpec], meshes, cuboids, focal: float, tmp: Path,
                  weather: WeatherFn | None = None) -> list[dict]:
    size, viewport = batch[0].image_size, batch[0].viewport  # one split per chunk: one camera
    scenes = []
    for s in batch:
        mesh = meshes[(s.category, s.cad_index)]
        bg = render_background(s.background, size, np.random.default_rng(s.background_seed))
        scenes.append(SceneSpec(
            verts=torch.from_numpy(mesh.verts), faces=torch.from_numpy(mesh.faces), texture=s.texture,
            azimuth=s.azimuth, elevation=s.elevation, theta=s.theta, distance=s.distance, background=bg,
            light_dir=s.light_dir, ambient=s.ambient, diffuse=s.diffuse, style=s.style,
        ))
    out = render_scenes(scenes, focal, viewport, size)
    principal = np.array([size / 2.0, size / 2.0], np.float32)
    rows = []
    for b, s in enumerate(batch):
        cuboid = cuboids[s.category]
        uv, _ = project_points(torch.from_numpy(cuboid.verts).double(), s.azimuth, s.elevation, s.theta,
                               s.distance, focal, viewport, tuple(principal.tolist()))
        uv = uv.numpy().astype(np.float32)
        centre = camera_center(s.azimuth, s.elevation, s.distance).double().numpy()
        # Keypoint visibility is self-occlusion only, as in NeMo (whose occluded sets reuse clean annotations).
        visible = convex_visibility(cuboid.verts, vertex_normals(cuboid), uv, centre, size)
        rel = {
            "image": f"images/{s.sample_id}.png",
            "annotation": f"annotations/{s.sample_id}.npz",
            "mask_visible": f"masks/{s.sample_id}_visible.png",
            "mask_amodal": f"masks/{s.sample_id}_amodal.png",
            "depth": f"depth/{s.sample_id}.npy",
        }
        rgb, amodal, occluder, share = out.rgb[b], out.mask[b], None, 0.0
        if s.occlusion is not None:
            rgb, occluder, share = occlude(rgb, amodal, np.random.default_rng(s.background_seed + 1), s.occlusion)
            rel["occluder_mask"] = f"masks/{s.sample_id}_occluder.png"
            write_mask(tmp / rel["occluder_mask"], occluder)
        if s.weather is not None:
            if weather is None:
                raise ValueError(f"sample {s.sample_id} has weather {s.weather[0]}: render it with "
                                 "render_chunk(..., weather=robust3d.variants.weather.apply_weather)")
            rgb = weather(rgb, *s.weather, seed=s.background_seed + 2)
        write_image(tmp / rel["image"], rgb)
        write_mask(tmp / rel["mask_visible"], amodal if occluder is None else amodal & ~occluder)
        write_mask(tmp / rel["mask_amodal"], amodal)
        write_npy(tmp / rel["depth"], out.depth[b])
        write_npz(
            tmp / rel["annotation"],
            azimuth=np.float64(s.azimuth), elevation=np.float64(s.elevation), theta=np.float64(s.theta),
            distance=np.float64(s.distance), focal=np.float64(focal), viewport=np.float64(viewport),
            principal=principal, cad_index=np.int64(s.cad_index), bbox=bbox_from_mask(amodal),
            height=np.int64(size), width=np.int64(size), **{"class": np.str_(s.category)},
            cuboid_uv=uv, cuboid_visible=visible,
            texture_family=np.str_(getattr(s.texture, "family", type(s.texture).__name__)),
            background_family=np.str_(s.background), style=np.str_(s.style), split=np.str_(s.split),
            occluded_share=np.float64(share),
        )
        rows.append({
            "sample_id": s.sample_id, "class": s.category, "occluder_mask": "",
            **rel,  # relative to the chunk's own folder, as the manifest contract says
            "variant": "clean" if s.style == "photo" else s.style, "level": "",
            "cad_index": s.cad_index, "azimuth": s.azimuth, "elevation": s.elevation, "theta": s.theta,
            **s.extra,
        })
    return rows
