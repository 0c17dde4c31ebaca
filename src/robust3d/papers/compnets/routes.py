"""Where the 3D-CompNets stage reads its data (config ``compnets.data.source``): a mapping from the tables'
(split, variant, level) cells to manifests, and the reason a cell has no data under this config.

- ``synthetic``: the synthetic benchmark. With ``compnets.data.unseen_classes`` (the embedded default: motorbike and
  bus, PASCAL3D+-convention classes with a frame-aligned seen sibling, as the paper's unicycle has bicycle) this
  stage holds those classes out itself (:class:`HeldOutSyntheticRoute`): its ``train``, ``calibration``, ``test``,
  ``style`` and ``variants/test/<variant>/<level>`` are the synthetic ones less the unseen classes, ``unseen`` is
  the synthetic ``test`` images of the unseen classes, and ``unseen_procedural`` the benchmark's own ``unseen``
  split (random procedural shapes, ``synthetic.unseen_categories``), an extra column group of Table 3. They are
  manifests under ``<results>/compnets/data/synthetic/`` pointing at the benchmark's files; the other papers keep
  every class. Without unseen classes the benchmark's splits are read as they are (:class:`SyntheticRoute`).
- ``imagenet3d``: the converted ImageNet3D (``<datasets.out_root>/imagenet3d``). Its derived splits live under
  ``<that>/compnets/``: ``train`` and ``calibration`` (the seen classes' train objects, a held-out share of each
  class's images as calibration), ``test`` (val objects of the seen classes), ``unseen`` (val objects of
  ``compnets.data.unseen_classes``) and ``variants/test/<variant>/<level>`` (the val variants, seen classes only).

With ``compnets.data.separate_unseen_models`` (the paper: Tables 1, 2 and 4 from 188-class models, Table 3 from
178-class ones) every model is trained twice: ``<model>`` on all classes, whose ``train``, ``calibration``,
``test`` and variants then keep every class, and ``<model>@unseen`` (:func:`unseen_set_id`) on the seen classes
(``<derived root>/seen/{train,calibration}``, the all-class manifests less the unseen classes), which alone
predicts the unseen splits. All derived manifests are written by ``subset-manifest`` jobs of
workflow/rules/papers/compnets.smk.
"""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.errors import ConfigError
from robust3d.models.seeds import SEED_MARK, UNSEEN_SET, split_id
from robust3d.papers._routes import SyntheticRoute, _variant_missing, is_split_itself

#: The derived splits of the ImageNet3D route and the converted split each is taken from.
IMAGENET3D_SPLITS = {"train": "train", "calibration": "train", "test": "val", "unseen": "val"}
#: The procedural unseen split of the synthetic benchmark, under the held-out route (Table 3's extra columns).
PROCEDURAL = "unseen_procedural"
#: Splits of classes a model never saw in training: predicted with ``--unseen``, by the ``@unseen`` model set.
UNSEEN_SPLITS = ("unseen", PROCEDURAL)
#: The derived splits of the held-out synthetic route and the benchmark split each is taken from.
HELD_OUT_SPLITS = {"train": "train", "calibration": "calibration", "test": "test", "style": "style",
                   "unseen": "test", PROCEDURAL: "unseen"}
#: Splits a seen-class model set trains on (``<derived root>/seen/<split>`` with separate model sets).
SEEN_SET_SPLITS = ("train", "calibration")


# ---------------------------------------------------------------------------------------------- model-set ids

def unseen_set_id(model_id: str) -> str:
    """The id of ``model_id``'s twin trained without the unseen classes; the seed mark stays last so that
    :func:`robust3d.models.seeds.split_id` still reads it (``m@s1`` -> ``m@unseen@s1``). Idempotent."""
    name, seed = split_id(model_id)
    name = name if name.endswith(UNSEEN_SET) else f"{name}{UNSEEN_SET}"
    return name if seed is None else f"{name}{SEED_MARK}{seed}"


def is_unseen_set(model_id: str) -> bool:
    """Whether ``model_id`` is a model of the seen-class set (``<model>@unseen``, with or without a seed)."""
    return split_id(model_id)[0].endswith(UNSEEN_SET)


def base_model(model_id: str) -> str:
    """The config key (``compnets.models``) behind a model id: no seed, no ``@unseen`` mark."""
    return split_id(model_id)[0].removesuffix(UNSEEN_SET)


def _data(config: dict) -> dict:
    return config["compnets"].get("data", {})


def separate_unseen_models(config: dict) -> bool:
    """Whether Table 3 reads a model set of its own, trained without the unseen classes (the paper's 178 vs 188)."""
    return bool(_data(config).get("separate_unseen_models", False))


def declared_siblings(config: dict) -> dict[str, list[str]]:
    """Unseen class -> the seen classes declared similar to it (``compnets.data.siblings``)."""
    return {u: list(s) for u, s in (_data(config).get("siblings") or {}).items()}


def _exclude_flag(classes: list[str]) -> str:
    return ("--exclude-classes " + " ".join(classes)) if classes else ""


# ---------------------------------------------------------------------------------------------- routes

@dataclass(frozen=True)
class HeldOutSyntheticRoute(SyntheticRoute):
    """The synthetic benchmark with ``compnets.data.unseen_classes`` held out by this stage (module docstring)."""

    @property
    def derived_root(self) -> str:
        return f"{self.config['results']}/compnets/data/{self.name}"

    @property
    def separate(self) -> bool:
        return separate_unseen_models(self.config)

    @property
    def cad_link(self) -> tuple[str, str]:
        """(link, target relative to the link's folder): ``<derived root>/cad`` pointing at the benchmark's CAD
        folder, so a training manifest here finds its class CAD models above it as the benchmark's own do
        (:func:`robust3d.models.neural_mesh.mesh.find_cad_root` looks for ``cad/CAD`` in its ancestors)."""
        import os

        return f"{self.derived_root}/cad", os.path.relpath(self.cad_input, self.derived_root)

    @property
    def unseen_classes(self) -> list[str]:
        return list(_data(self.config)["unseen_classes"])

    @property
    def procedural_classes(self) -> list[str]:
        return list(self.config["synthetic"]["unseen_categories"])

    @property
    def seen_classes(self) -> list[str]:
        """The classes the seen-class models train on (the benchmark's training classes less the unseen ones)."""
        synth = self.config["synthetic"]
        held = {*self.unseen_classes, *synth["unseen_categories"]}
        return [c for c in synth["categories"] if c not in held]

    def derived(self, split: str) -> bool:
        """Whether ``split``'s manifest is derived here (else it is the benchmark's own)."""
        return split in UNSEEN_SPLITS or (split in HELD_OUT_SPLITS and not self.separate)

    def manifest(self, split: str) -> str:
        if self.derived(split):
            return f"{self.derived_root}/{split}/manifest.csv"
        return super().manifest(split)

    def source_manifest(self, split: str) -> str:
        """The benchmark's manifest a derived split is taken from."""
        return SyntheticRoute.manifest(self, HELD_OUT_SPLITS[split])

    def subset_flags(self, split: str) -> str:
        """``subset-manifest``'s class selection for a derived split."""
        if split == "unseen":
            return "--classes " + " ".join(self.unseen_classes)
        if split == PROCEDURAL:
            return ""  # the procedural split as it is, under its own split name
        return _exclude_flag(self.unseen_classes)

    def seen_manifest(self, split: str) -> str:
        """The training data of the seen-class model set (``train`` / ``calibration``)."""
        return f"{self.derived_root}/seen/{split}/manifest.csv" if self.separate else self.manifest(split)

    def variant_manifest(self, variant: str, level: str) -> str:
        return f"{self.derived_root}/variants/test/{variant}/{level}/manifest.csv"

    def source_variant(self, variant: str, level: str) -> str:
        """The benchmark's variant folder (a directory output of the variants rules) a derived variant is from."""
        return SyntheticRoute.predict_input(self, "test", variant, level)

    def predict_input(self, split: str, variant: str, level: str) -> str:
        if is_split_itself(split, variant, level):
            return self.manifest(split)
        if self.separate:
            return super().predict_input(split, variant, level)  # all classes: the variant folder itself
        return self.variant_manifest(variant, level)

    def unavailable(self, split: str, variant: str, level: str) -> str | None:
        if split in UNSEEN_SPLITS:
            source = HELD_OUT_SPLITS[split]
            reason = super().unavailable(source, "clean", "0")
            if reason:
                return reason
            return None if is_split_itself(split, variant, level) else f"no variants of the '{split}' split"
        reason = super().unavailable(split, variant, level)
        if reason or is_split_itself(split, variant, level) or self.separate or split == "test":
            return reason
        return f"no seen-class subset of the '{split}' variants (3D-CompNets derives those of 'test' only)"

    def describe(self) -> str:
        synth = self.config["synthetic"]
        unseen, procedural = ", ".join(self.unseen_classes), ", ".join(self.procedural_classes) or "none"
        n_seen = len(self.seen_classes)
        sets = (f"Tables 1, 2 and 4 from models of all {n_seen + len(self.unseen_classes)} classes, Table 3 from "
                f"models of the {n_seen} others" if self.separate else "one model set for every table")
        return (f"synthetic benchmark `{self.root}` ({n_seen} training classes, unseen: {unseen} (held out by "
                f"3D-CompNets), procedural unseen: {procedural}; {sets}; {synth['image_size']} px images)")


@dataclass(frozen=True)
class ImageNet3DRoute:
    """The converted ImageNet3D, split as the paper uses it (see the module docstring)."""

    config: dict
    name: str = "imagenet3d"

    @property
    def root(self) -> str:
        return f"{self.config['datasets']['out_root']}/imagenet3d"

    @property
    def derived_root(self) -> str:
        return f"{self.root}/compnets"

    @property
    def separate(self) -> bool:
        return separate_unseen_models(self.config)

    def manifest(self, split: str) -> str:
        if split not in IMAGENET3D_SPLITS:
            raise KeyError(f"the imagenet3d route has no split '{split}' (it has {', '.join(IMAGENET3D_SPLITS)})")
        return f"{self.derived_root}/{split}/manifest.csv"

    def seen_manifest(self, split: str) -> str:
        """The training data of the seen-class model set (``train`` / ``calibration``)."""
        return f"{self.derived_root}/seen/{split}/manifest.csv" if self.separate else self.manifest(split)

    @property
    def exclude_flag(self) -> str:
        """``subset-manifest``'s selection for train, calibration, test and variants: the unseen classes out, unless
        the all-class model set reads them (separate model sets)."""
        return "" if self.separate else _exclude_flag(self.unseen_classes)

    def converted_manifest(self, split: str) -> str:
        """The converted split a derived split is taken from."""
        return f"{self.root}/{IMAGENET3D_SPLITS[split]}/manifest.csv"

    def variant_manifest(self, variant: str, level: str) -> str:
        return f"{self.derived_root}/variants/test/{variant}/{level}/manifest.csv"

    def converted_variant(self, variant: str, level: str) -> str:
        """The val variant folder (workflow/rules/real_datasets.smk's real_variant) a test variant comes from."""
        return f"{self.root}/variants/val/{variant}/{level}"

    def predict_input(self, split: str, variant: str, level: str) -> str:
        if is_split_itself(split, variant, level):
            return self.manifest(split)
        return self.variant_manifest(variant, level)

    @property
    def cad_input(self) -> str:
        """The conversion writes ``<root>/CAD`` with the train split; its manifest stands for both."""
        return f"{self.root}/train/manifest.csv"

    @property
    def unseen_classes(self) -> list[str]:
        return list(self.config["compnets"]["data"]["unseen_classes"])

    @property
    def procedural_classes(self) -> list[str]:
        return []

    @property
    def seen_classes(self) -> list[str] | None:
        """The seen classes when the config lists ImageNet3D's classes, else None (known after conversion)."""
        classes = self.config["datasets"]["imagenet3d"].get("classes")
        return [c for c in classes if c not in self.unseen_classes] if classes else None

    @property
    def image_hw(self) -> tuple[int, int]:
        h, w = self.config["datasets"]["imagenet3d"]["image_size"]
        return int(h), int(w)

    def unavailable(self, split: str, variant: str, level: str) -> str | None:
        if split not in IMAGENET3D_SPLITS:
            return (f"no ImageNet3D counterpart of the '{split}' split (the paper's synthetic OOD images are not "
                    "reproduced)")
        if is_split_itself(split, variant, level):
            return None
        if split != "test":
            return f"no variants of the '{split}' split on ImageNet3D"
        block = self.config["datasets"]["imagenet3d"]
        if "val" not in block["variant_splits"]:
            return "not built by this config (datasets.imagenet3d.variant_splits has no 'val')"
        return _variant_missing(self.config, variant, level)

    def describe(self) -> str:
        block = self.config["datasets"]["imagenet3d"]
        n = len(block["classes"]) if block.get("classes") else block["n_classes"]
        size = "x".join(str(s) for s in block["image_size"])
        fraction = self.config["compnets"]["data"]["calibration_fraction"]
        sets = (f"; Tables 1, 2 and 4 from models of all {n} classes, Table 3 from models of the "
                f"{n - len(self.unseen_classes)} others" if self.separate else "")
        return (f"ImageNet3D `{self.root}` ({n} classes, unseen: {', '.join(self.unseen_classes)}; calibration: "
                f"{fraction:.0%} of each seen class's train images; {size} px crops{sets})")


Route = SyntheticRoute | HeldOutSyntheticRoute | ImageNet3DRoute


def data_route(config: dict) -> Route:
    """The route ``compnets.data.source`` names (the synthetic one holds classes out when it is given some)."""
    data = _data(config)
    if data.get("source", "synthetic") == "imagenet3d":
        return ImageNet3DRoute(config)
    return HeldOutSyntheticRoute(config) if data.get("unseen_classes") else SyntheticRoute(config)


def seen_classes(config: dict) -> list[str] | None:
    """The classes a model trained without the unseen classes knows (None when only the data can tell)."""
    return data_route(config).seen_classes


# ---------------------------------------------------------------------------------------------- config checks

def check_data(config: dict) -> None:
    """``compnets.data`` beyond its schema: held-out synthetic classes are training classes of the benchmark and
    leave some; siblings are declared for unseen classes and name seen ones; separate model sets need unseen
    classes. (ImageNet3D's own needs are checked by :mod:`robust3d.papers.compnets.checks`.)"""
    data = _data(config)
    unseen = list(data.get("unseen_classes") or [])
    siblings = declared_siblings(config)
    key = "compnets.data"
    if data.get("source", "synthetic") == "synthetic" and unseen:
        synth = config["synthetic"]
        train = [c for c in synth["categories"] if c not in synth["unseen_categories"]]
        outside = [c for c in unseen if c not in train]
        if outside:
            raise ConfigError(f"key '{key}.unseen_classes': {outside} are not training classes of the synthetic "
                              f"benchmark (synthetic.categories less unseen_categories: {', '.join(train)})")
        if len(train) - len(unseen) < 2:
            raise ConfigError(f"key '{key}.unseen_classes': holding out {len(unseen)} of the benchmark's "
                              f"{len(train)} training classes leaves fewer than 2 to train on")
        known = [c for c in train if c not in unseen]
    else:
        known = None
        listed = config.get("datasets", {}).get("imagenet3d", {}).get("classes")
        if data.get("source") == "imagenet3d" and listed:
            known = [c for c in listed if c not in unseen]
    for name, similar in siblings.items():
        if name not in unseen:
            raise ConfigError(f"key '{key}.siblings.{name}': not one of compnets.data.unseen_classes "
                              f"({', '.join(unseen) or 'none'})")
        wrong = [c for c in similar if c in unseen or (known is not None and c not in known)]
        if wrong:
            raise ConfigError(f"key '{key}.siblings.{name}': {wrong} are not seen classes (a sibling is a class "
                              "the models train on)")
    if separate_unseen_models(config) and not unseen:
        raise ConfigError(f"key '{key}.separate_unseen_models': needs compnets.data.unseen_classes (the classes "
                          "the second model set leaves out)")
