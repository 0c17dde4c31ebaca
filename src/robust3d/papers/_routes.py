"""Data routes shared by the paper stages: where a stage's (split, variant, level) cells live, and why a cell has
no data under a config. :class:`SyntheticRoute` is the synthetic benchmark (the embedded default); a paper with real
data adds its own route beside it (e.g. :class:`robust3d.papers.compnets.routes.ImageNet3DRoute`).
"""

from __future__ import annotations

from dataclasses import dataclass

from robust3d.synth.plan import SPLIT_OWN_VARIANTS
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
    def procedural_classes(self) -> list[str]:
        """Unseen classes of a split of their own beside ``unseen`` (none here: ``unseen`` is the procedural one)."""
        return []

    @property
    def seen_classes(self) -> list[str]:
        """The classes a model trained on ``train`` knows."""
        synth = self.config["synthetic"]
        return [c for c in synth["categories"] if c not in synth["unseen_categories"]]

    @property
    def separate(self) -> bool:
        """Whether the unseen classes have a model set of their own (only where a paper holds classes out)."""
        return False

    def seen_manifest(self, split: str) -> str:
        """The training data of a model set that never saw the unseen classes: ``train`` already is."""
        return self.manifest(split)

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
