"""Where the 3D-CompNets stage reads its data (config ``compnets.data.source``): a mapping from the tables'
(split, variant, level) cells to manifests, and the reason a cell has no data under this config.

- ``synthetic``: the synthetic benchmark's splits and the variant folders built from them.
- ``imagenet3d``: the converted ImageNet3D (``<datasets.out_root>/imagenet3d``). Its derived splits live under
  ``<that>/compnets/``: ``train`` and ``calibration`` (the seen classes' train objects, a held-out share of each
  class's images as calibration), ``test`` (val objects of the seen classes), ``unseen`` (val objects of
  ``compnets.data.unseen_classes``) and ``variants/test/<variant>/<level>`` (the val variants, seen classes only).
  They are manifests pointing at the converted files (``subset-manifest``), built by workflow/rules/papers/compnets.smk.
"""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.papers._routes import SyntheticRoute, _variant_missing, is_split_itself

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
