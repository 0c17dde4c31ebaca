"""What each split of the synthetic benchmark contains, decided before anything is rendered.

A split is a list of :class:`SampleSpec`, a pure function of the config and the split name: the same seed
gives the same samples whichever job renders them, so chunks can render in parallel and in any order.

Splits and the nuisance each one shifts (everything else as in training):
    train, calibration, test  training categories, training CAD instances, textures and backgrounds
    depth_train               the same, held out to train the local pseudo-depth network
    unseen                    the held-out categories (never in training)
    ood_shape                 held-out CAD instances of the training categories
    ood_pose                  elevations from ``pose.ood_elevation`` (views never seen in training)
    ood_texture               held-out texture families with random palettes
    ood_context               a held-out background family
    ood_weather               snow, fog, frost or rain over the render (per sample, in the ``weather`` column)
Class subsets (``synthetic.subsets``: e.g. OOD-CV's 10 classes of the ood_* splits) are manifests under
``<root>/subsets/<name>/<split>/`` that point at the split's files.
    style                     cartoon rendering (flat colours, outlines) on plain backgrounds
    cue_conflict              the shape of one category wearing the texture of another (shape-bias metric)
    pug_size, pug_texture     PUG-like factor sweeps: object size (level = size factor), texture family (level)
Splits for the other papers' experiments:
    templates                 one object per category (a CAD instance and texture of its own, drawn by no other
                              split) on a plain background, from upper-hemisphere icosphere views without in-plane
                              rotation (template matching)
    queries                   the same objects in clutter at random upper-hemisphere views
    queries_occluded          the same queries (ids, poses, backgrounds) with a pasted occluder
    queries_train             other such views of the seen objects (training a matcher)
    faces                     symmetric head identities in short tracks of smoothly varying pose and light
    faces_train               many other identities, single images at random pose and light (training)
    cars                      symmetric cars of distinct kinds, viewed from the configured azimuth and elevation
                              ranges (de-rendering and clustering)
    cars_train                other instances of the same kinds in the same view ranges (training)
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robust3d.synth.backgrounds import BACKGROUND_FAMILIES, HELD_OUT_BACKGROUNDS
from robust3d.synth.textures import FAMILIES, HELD_OUT_FAMILIES, Texture, category_style, sample_texture

#: Splits whose own renders carry a variant label in their manifests (synth.dataset writes the `style`
#: split's rendering style there), so predictions on the split itself are keyed by that label.
SPLIT_OWN_VARIANTS = {"style": ("cartoon", "0")}

if TYPE_CHECKING:
    from robust3d.render.scene import Albedo

OBJECT_SPLITS = ("train", "calibration", "test", "depth_train", "unseen", "ood_shape", "ood_pose", "ood_texture",
                 "ood_context", "ood_weather", "style", "cue_conflict", "pug_size", "pug_texture")

#: Object-size factors of the pug_size sweep (the camera distance is divided by the factor).
PUG_SIZES = (0.6, 0.8, 1.0, 1.25)
#: Template matching: the templates, clean queries, the same queries partly occluded, training queries.
TEMPLATE_SPLITS = ("templates", "queries", "queries_occluded", "queries_train")
#: De-rendering: evaluation face tracks and cars, and their training splits (other identities, other instances).
DERENDER_SPLITS = ("faces", "faces_train", "cars", "cars_train")
SPLITS = (*OBJECT_SPLITS, *TEMPLATE_SPLITS, *DERENDER_SPLITS)
TRAIN_BACKGROUNDS = tuple(f for f in BACKGROUND_FAMILIES if f != "plain")
#: The weathers of ``ood_weather``, one per sample in turn (drawn over the render by robust3d.variants.weather).
WEATHERS = ("snow", "fog", "frost", "rain")


@dataclass
class SampleSpec:
    """Everything needed to render one sample, and the manifest columns it adds (``extra``)."""

    sample_id: str
    split: str
    category: str
    cad_index: int  # 1-based, as in CAD/<class>/<cad_index:02d>.off
    azimuth: float  # radians
    elevation: float
    theta: float
    distance: float
    texture: Albedo  # a Texture, or a face identity
    background: str
    background_seed: int
    light_dir: tuple[float, float, float]
    ambient: float
    diffuse: float
    style: str = "photo"
    image_size: int = 128
    viewport: float = 3000.0
    occlusion: tuple[float, float] | None = None  # share of the object an occluder covers (queries)
    weather: tuple[str, int] | None = None  # (weather, severity) drawn over the render (ood_weather)
    extra: dict = field(default_factory=dict)


def stable_seed(*parts: object) -> list[int]:
    """Seed material that does not depend on Python's randomised ``hash``."""
    return [zlib.crc32(str(p).encode()) for p in parts]


def train_categories(cfg: dict) -> list[str]:
    unseen = set(cfg.get("unseen_categories", []))
    return [c for c in cfg["categories"] if c not in unseen]


def split_categories(cfg: dict, split: str) -> list[str]:
    return list(cfg["unseen_categories"]) if split == "unseen" else train_categories(cfg)


def cad_indices(cfg: dict, split: str) -> list[int]:
    """1-based CAD instances a split draws from: held-out ones only for ood_shape, all for unseen."""
    n, held = cfg["instances_per_category"], cfg["ood_instances_per_category"]
    if split == "ood_shape":
        return list(range(n - held + 1, n + 1))
    if split == "unseen":
        return list(range(1, n + 1))
    return list(range(1, n - held + 1))


def template_cad_index(cfg: dict) -> int:
    """The CAD instance of a template object: one past the category's instances, so no other split draws it (and
    its texture, seeded by the instance, is worn by nothing else either)."""
    return int(cfg["instances_per_category"]) + 1


def instance_texture(cfg: dict, seed: int, category: str, cad_index: int) -> Texture:
    """The texture a CAD instance wears in training-like splits (fixed per instance)."""
    family, hue = category_style(cfg["categories"].index(category), len(cfg["categories"]))
    return sample_texture(family, hue, np.random.default_rng(stable_seed(seed, "texture", category, cad_index)))


def _uniform_deg(rng: np.random.Generator, lo_hi: list[float]) -> float:
    return math.radians(float(rng.uniform(lo_hi[0], lo_hi[1])))


def _light(rng: np.random.Generator) -> tuple[float, float, float]:
    """A light from the camera's side, mostly from above (camera coordinates, +z towards the viewer)."""
    light = rng.normal(size=3) * np.array([0.6, 0.4, 0.3]) + np.array([0.0, 0.6, 1.0])
    return tuple(float(x) for x in light)


def _object_split(config: dict, split: str) -> list[SampleSpec]:
    cfg, seed = config["synthetic"], config["seed"]
    specs = []
    for category in split_categories(cfg, split):
        instances = cad_indices(cfg, split)
        for i in range(cfg["splits"].get(split, 0)):
            rng = np.random.default_rng(stable_seed(seed, split, category, i))
            cad = instances[i % len(instances)]  # cycle, so every instance appears equally often
            elevation_range = cfg["pose"]["ood_elevation"] if split == "ood_pose" else cfg["pose"]["elevation"]
            texture = instance_texture(cfg, seed, category, cad)
            extra: dict = {}
            distance = float(cfg["camera"]["distance"])
            if split == "ood_texture":
                texture = sample_texture(str(rng.choice(HELD_OUT_FAMILIES)), float(rng.uniform()), rng)
            elif split == "cue_conflict":
                others = [c for c in train_categories(cfg) if c != category]
                texture_class = str(rng.choice(others))
                texture = instance_texture(cfg, seed, texture_class, int(rng.choice(instances)))
                extra = {"shape_class": category, "texture_class": texture_class}
            elif split == "pug_size":
                factor = PUG_SIZES[i % len(PUG_SIZES)]
                distance /= factor
                extra = {"level": str(factor)}
            elif split == "ood_weather":
                extra = {"weather": WEATHERS[i % len(WEATHERS)]}
            elif split == "pug_texture":
                family = FAMILIES[i % len(FAMILIES)]
                _, hue = category_style(cfg["categories"].index(category), len(cfg["categories"]))
                texture = sample_texture(family, hue, rng)
                extra = {"level": family}
            background = str(rng.choice(TRAIN_BACKGROUNDS))
            if split == "ood_context":
                background = str(rng.choice(HELD_OUT_BACKGROUNDS))
            elif split == "style":
                background = "plain"
            specs.append(SampleSpec(
                sample_id=f"{split}_{category}_{i:05d}", split=split, category=category, cad_index=cad,
                azimuth=_uniform_deg(rng, cfg["pose"]["azimuth"]),
                elevation=_uniform_deg(rng, elevation_range),
                theta=_uniform_deg(rng, cfg["pose"]["theta"]),
                distance=distance, texture=texture, background=background,
                background_seed=int(rng.integers(2**31)), light_dir=_light(rng),
                ambient=float(rng.uniform(0.35, 0.55)), diffuse=float(rng.uniform(0.45, 0.7)),
                style="cartoon" if split == "style" else "photo",
                weather=(extra["weather"], int(cfg["weather"]["severity"])) if split == "ood_weather" else None,
                image_size=cfg["image_size"], viewport=float(cfg["camera"]["viewport"]), extra=extra,
            ))
    return specs


def template_objects(cfg: dict, seen_only: bool = False) -> list[str]:
    """The template objects (one per category of ``templates.categories``), or only those the matcher may train on."""
    tm = cfg["templates"]
    return [c for c in tm["categories"] if not (seen_only and c in tm["unseen_categories"])]


def _template_split(config: dict, split: str) -> list[SampleSpec]:
    """Templates: icosphere views, plain background, no in-plane rotation. Queries: the objects in clutter at random
    upper-hemisphere views; ``queries_occluded`` are the same queries (same ids, poses and backgrounds) with a pasted
    occluder; ``queries_train``: other such views of the seen objects, for training a matcher."""
    from robust3d.geometry.viewpoints import upper_hemisphere, viewpoint_to_angles

    cfg, seed = config["synthetic"], config["seed"]
    tm = cfg["templates"]
    views = upper_hemisphere(tm["icosphere_level"])
    azimuths, elevations = (x.tolist() for x in viewpoint_to_angles(views))
    tag = "queries" if split == "queries_occluded" else split  # paired with the clean queries
    count = {"templates": len(views), "queries": tm["queries_per_object"],
             "queries_occluded": tm["queries_per_object"], "queries_train": tm["train_queries_per_object"]}[split]
    specs = []
    for category in template_objects(cfg, seen_only=split == "queries_train"):
        seen = category not in tm["unseen_categories"]
        cad_index = template_cad_index(cfg)
        texture = instance_texture(cfg, seed, category, cad_index)
        for i in range(count):
            rng = np.random.default_rng(stable_seed(seed, tag, category, i))
            if split == "templates":
                azimuth, elevation = azimuths[i], elevations[i]
            else:  # a uniformly random direction on the upper hemisphere
                direction = rng.normal(size=3)
                direction[2] = abs(direction[2])
                a, e = viewpoint_to_angles(direction[None] / np.linalg.norm(direction))
                azimuth, elevation = float(a[0]), float(e[0])
            specs.append(SampleSpec(
                sample_id=f"{tag}_{category}_{i:05d}", split=split, category=category, cad_index=cad_index,
                azimuth=azimuth, elevation=elevation, theta=0.0, distance=float(cfg["camera"]["distance"]),
                texture=texture, background="plain" if split == "templates" else str(rng.choice(TRAIN_BACKGROUNDS)),
                background_seed=int(rng.integers(2**31)),
                light_dir=(0.0, 0.5, 1.0) if split == "templates" else _light(rng),
                ambient=0.5 if split == "templates" else float(rng.uniform(0.35, 0.55)),
                diffuse=0.6 if split == "templates" else float(rng.uniform(0.45, 0.7)),
                image_size=cfg["image_size"], viewport=float(cfg["camera"]["viewport"]),
                occlusion=tuple(tm["occlusion"]) if split == "queries_occluded" else None,
                extra={"object": category, "seen": seen, "view_index": i if split == "templates" else -1},
            ))
    return specs


#: Face pose ranges (degrees): yaw (azimuth) and pitch (elevation), for the tracks and the training faces alike.
FACE_YAW, FACE_PITCH = (-45.0, 45.0), (-15.0, 20.0)


def face_identity(seed: int, identity: int, tag: str = "face"):
    """Identity ``identity`` (0-based) of the evaluation faces (``tag`` "face") or of the training faces
    ("face_train": another stream, so the two sets of identities are disjoint), the same in every job."""
    from robust3d.synth.faces import sample_identity

    return sample_identity(np.random.default_rng(stable_seed(seed, tag, identity)))


def face_class(split: str) -> str:
    """Class name (and CAD folder) of a face split's identities."""
    return "face_train" if split == "faces_train" else "face"


def _face_split(config: dict, split: str) -> list[SampleSpec]:
    """``faces``: tracks whose pose (yaw = azimuth, pitch = elevation) and light move linearly from a start to an
    end (BBT-like: a few identities, several tracks each). ``faces_train``: many other identities, a few single
    images each at random pose and light (UTKFace-like)."""
    cfg, seed = config["synthetic"], config["seed"]
    fc = cfg["faces"]
    train = split == "faces_train"
    identities = fc["train_identities"] if train else fc["identities"]
    tracks = fc["train_images_per_identity"] if train else fc["tracks_per_identity"]
    frames = 1 if train else fc["frames_per_track"]
    specs = []
    for ident in range(identities):
        albedo = face_identity(seed, ident, face_class(split))
        for track in range(tracks):
            rng = np.random.default_rng(stable_seed(seed, split, ident, track))
            yaw = np.radians(rng.uniform(*FACE_YAW, 2))
            pitch = np.radians(rng.uniform(*FACE_PITCH, 2))
            lights = [np.array(_light(rng)) for _ in range(2)]
            background_seed = int(rng.integers(2**31))
            for frame in range(frames):
                t = frame / max(1, frames - 1)
                name = f"faces_train_{ident:03d}_{track}" if train else f"faces_{ident:02d}_{track:02d}_{frame:03d}"
                specs.append(SampleSpec(
                    sample_id=name, split=split, category=face_class(split),
                    cad_index=ident + 1, azimuth=float(np.remainder((1 - t) * yaw[0] + t * yaw[1], 2 * np.pi)),
                    elevation=float((1 - t) * pitch[0] + t * pitch[1]), theta=0.0,
                    distance=float(cfg["camera"]["distance"]), texture=albedo, background="plain",
                    background_seed=background_seed,
                    light_dir=tuple(float(x) for x in (1 - t) * lights[0] + t * lights[1]),
                    ambient=0.5, diffuse=0.6, image_size=fc["image_size"], viewport=float(fc["viewport"]),
                    extra={"identity": ident, "track": f"{ident:02d}_{track:02d}", "frame": frame},
                ))
    return specs


def car_class(kind: str) -> str:
    """Class name (and CAD folder) of a car kind in the cars splits."""
    return f"car_{kind}"


def car_cad_indices(cc: dict, split: str) -> list[int]:
    """1-based CAD instances of each kind a cars split draws: the evaluation instances first, the training ones
    after them (disjoint, and adding training instances leaves the evaluation meshes unchanged)."""
    n = cc["instances_per_kind"]
    if split == "cars_train":
        return list(range(n + 1, n + cc["train_instances_per_kind"] + 1))
    return list(range(1, n + 1))


def _car_split(config: dict, split: str) -> list[SampleSpec]:
    """Cars of each kind, random colours (symmetric paint), views from the configured azimuth and elevation
    ranges (around the front, from above: the view range Unsup3D's flip prior assumes)."""
    cfg, seed = config["synthetic"], config["seed"]
    cc = cfg["cars"]
    instances = car_cad_indices(cc, split)
    per_kind = cc["train_images_per_kind"] if split == "cars_train" else cc["images_per_kind"]
    specs = []
    for kind in cc["kinds"]:
        for i in range(per_kind):
            rng = np.random.default_rng(stable_seed(seed, split, kind, i))
            cad = instances[i % len(instances)]
            paint = np.random.default_rng(stable_seed(seed, "paint", kind, cad))
            texture = replace(sample_texture("solid", float(paint.uniform()), paint), symmetric=True)
            azimuth = math.radians(float(rng.uniform(*cc["azimuth"])))
            specs.append(SampleSpec(
                sample_id=f"{split}_{kind}_{i:05d}", split=split, category=car_class(kind), cad_index=cad,
                azimuth=float(np.remainder(azimuth, 2 * np.pi)),
                elevation=math.radians(float(rng.uniform(*cc["elevation"]))),
                theta=0.0, distance=float(cfg["camera"]["distance"]), texture=texture, background="plain",
                background_seed=int(rng.integers(2**31)), light_dir=_light(rng),
                ambient=float(rng.uniform(0.35, 0.55)), diffuse=float(rng.uniform(0.5, 0.8)),
                image_size=cc["image_size"], viewport=float(cc["viewport"]), extra={"kind": kind},
            ))
    return specs


def plan_split(config: dict, split: str) -> list[SampleSpec]:
    """All samples of ``split`` in a fixed order."""
    if split in OBJECT_SPLITS:
        return _object_split(config, split)
    if split in TEMPLATE_SPLITS:
        return _template_split(config, split)
    if split in ("faces", "faces_train"):
        return _face_split(config, split)
    if split in ("cars", "cars_train"):
        return _car_split(config, split)
    raise ValueError(f"unknown split '{split}' (known: {', '.join(SPLITS)})")


def split_size(config: dict, split: str) -> int:
    """Number of samples of ``split`` without planning them."""
    cfg = config["synthetic"]
    if split in OBJECT_SPLITS:
        return cfg["splits"].get(split, 0) * len(split_categories(cfg, split))
    if split == "templates":
        from robust3d.geometry.viewpoints import upper_hemisphere

        return len(upper_hemisphere(cfg["templates"]["icosphere_level"])) * len(cfg["templates"]["categories"])
    if split in ("queries", "queries_occluded"):
        return cfg["templates"]["queries_per_object"] * len(cfg["templates"]["categories"])
    if split == "queries_train":
        tm = cfg["templates"]
        return tm["train_queries_per_object"] * len(template_objects(cfg, seen_only=True))
    if split == "faces":
        fc = cfg["faces"]
        return fc["identities"] * fc["tracks_per_identity"] * fc["frames_per_track"]
    if split == "faces_train":
        return cfg["faces"]["train_identities"] * cfg["faces"]["train_images_per_identity"]
    if split == "cars":
        return len(cfg["cars"]["kinds"]) * cfg["cars"]["images_per_kind"]
    if split == "cars_train":
        cc = cfg["cars"]
        return len(cc["kinds"]) * cc["train_images_per_kind"] if cc["train_instances_per_kind"] else 0
    raise ValueError(f"unknown split '{split}' (known: {', '.join(SPLITS)})")


def active_splits(config: dict) -> list[str]:
    """Splits with at least one sample under this config."""
    return [s for s in SPLITS if split_size(config, s) > 0]


def chunk_size(config: dict, split: str) -> int:
    """Images per rendering job of ``split`` (``synthetic.templates.chunk_size`` for the templates, when given)."""
    cfg = config["synthetic"]
    if split == "templates" and (cfg.get("templates") or {}).get("chunk_size"):
        return int(cfg["templates"]["chunk_size"])
    return int(cfg["chunk_size"])


def n_chunks(config: dict, split: str) -> int:
    return math.ceil(split_size(config, split) / chunk_size(config, split))


def chunk_of(config: dict, split: str, chunk: int) -> list[SampleSpec]:
    size = chunk_size(config, split)
    return plan_split(config, split)[chunk * size : (chunk + 1) * size]


def planned_sample_ids(config: dict, manifest: str | Path) -> list[str] | None:
    """The sample ids the config plans for ``manifest`` when it is a split (or a variant of one) of this config's
    synthetic benchmark; None for any other manifest (a real dataset, a folder elsewhere)."""
    from robust3d.data.format import manifest_split

    manifest = Path(manifest).resolve()
    root = Path(config["synthetic"]["root"]).resolve()
    if root not in manifest.parents:
        return None
    split = manifest_split(manifest)
    if split not in SPLITS:
        return None
    subset = subset_of(config, manifest)
    keep = None if subset is None else set(config["synthetic"]["subsets"][subset]["classes"])
    return [s.sample_id for s in plan_split(config, split) if keep is None or s.category in keep]


def subset_manifest_path(config: dict, subset: str, split: str) -> str:
    """Where subset ``subset`` of ``split`` lies: ``<root>/subsets/<subset>/<split>/manifest.csv``."""
    return f"{config['synthetic']['root']}/subsets/{subset}/{split}/manifest.csv"


def subset_of(config: dict, manifest: str | Path) -> str | None:
    """The configured subset a manifest under ``<root>/subsets/<name>/<split>/`` belongs to, else None."""
    parts = Path(manifest).resolve().parts
    root = Path(config["synthetic"]["root"]).resolve().parts
    rel = parts[len(root):]
    if len(rel) == 4 and rel[0] == "subsets" and rel[1] in config["synthetic"]["subsets"]:
        return rel[1]
    return None
