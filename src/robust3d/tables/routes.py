"""Where the 3D-CompNets stage reads its data (config ``compnets.data.source``): a mapping from the tables'
(split, variant, level) cells to manifests, and the reason a cell has no data under this config.

- ``synthetic``: the synthetic benchmark's splits and the variant folders built from them.
- ``imagenet3d``: the converted ImageNet3D (``<datasets.out_root>/imagenet3d``). Its derived splits live under
  ``<that>/compnets/``: ``train`` and ``calibration`` (the seen classes' train objects, a held-out share of each
  class's images as calibration), ``test`` (val objects of the seen classes), ``unseen`` (val objects of
  ``compnets.data.unseen_classes``) and ``variants/test/<variant>/<level>`` (the val variants, seen classes only).
  They are manifests pointing at the converted files (``subset-manifest``), built by workflow/rules/compnets_data.smk.
"""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.tables.spec import SPLIT_OWN_VARIANTS
from robust3d.variants import variant_pairs


def is_split_itself(split: str, variant: str, level: str) -> bool:
    """Whether (split, variant, level) is a split's own manifest rather than a variant built from it."""
    return variant == "clean" or SPLIT_OWN_VARIANTS.get(split) == (variant, str(level))


def _variant_missing(config: dict, variant: str, level: str) -> str | None:
    """Why the variants section builds no ``variant/level``, or None if it does."""
    if (variant, str(level)) not in variant_pairs(config["variants"]):
        return f"not built by this config (no variant {variant}/{level} in the variants section)"
    return None


@dataclass(frozen=True)
class SyntheticRoute:
    """The synthetic benchmark (the embedded default)."""

    config: dict
    name: str = "synthetic"

    @property
    def root(self) -> str:
        return self.config["synthetic"]["root"]

    def manifest(self, split: str) -> str:
        return f"{self.root}/{split}/manifest.csv"

    def predict_input(self, split: str, variant: str, level: str) -> str:
        """A split's manifest, or a variant's folder (a directory output of make_variant)."""
        if is_split_itself(split, variant, level):
            return self.manifest(split)
        return f"{self.root}/variants/{split}/{variant}/{level}"

    @property
    def cad_input(self) -> str:
        return f"{self.root}/cad"

    @property
    def unseen_classes(self) -> list[str]:
        return list(self.config["synthetic"]["unseen_categories"])

    @property
    def image_hw(self) -> tuple[int, int]:
        size = int(self.config["synthetic"]["image_size"])
        return size, size

    def unavailable(self, split: str, variant: str, level: str) -> str | None:
        from robust3d.synth.plan import split_size

        if split_size(self.config, split) == 0:
            n = self.config["synthetic"]["splits"].get(split, 0)
            why = "no unseen_categories" if split == "unseen" and n else f"synthetic.splits.{split} = {n}"
            return f"not built by this config ({why})"
        if is_split_itself(split, variant, level):
            return None
        if split not in self.config["variants"]["splits"]:
            return f"not built by this config (variants.splits has no '{split}')"
        return _variant_missing(self.config, variant, level)

    def describe(self) -> str:
        synth = self.config["synthetic"]
        unseen = self.unseen_classes
        seen = [c for c in synth["categories"] if c not in unseen]
        return (f"synthetic benchmark `{self.root}` ({len(seen)} training classes, unseen: "
                f"{', '.join(unseen) or 'none'}; {synth['image_size']} px images)")


#: The derived splits of the ImageNet3D route and the converted split each is taken from.
IMAGENET3D_SPLITS = {"train": "train", "calibration": "train", "test": "val", "unseen": "val"}


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

    def manifest(self, split: str) -> str:
        if split not in IMAGENET3D_SPLITS:
            raise KeyError(f"the imagenet3d route has no split '{split}' (it has {', '.join(IMAGENET3D_SPLITS)})")
        return f"{self.derived_root}/{split}/manifest.csv"

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
        return (f"ImageNet3D `{self.root}` ({n} classes, unseen: {', '.join(self.unseen_classes)}; calibration: "
                f"{fraction:.0%} of each seen class's train images; {size} px crops)")


Route = SyntheticRoute | ImageNet3DRoute


def data_route(config: dict) -> Route:
    """The route ``compnets.data.source`` names."""
    source = config["compnets"].get("data", {}).get("source", "synthetic")
    return ImageNet3DRoute(config) if source == "imagenet3d" else SyntheticRoute(config)
