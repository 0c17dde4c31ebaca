"""The real datasets' jobs: the plan workflow/rules/real_datasets.smk builds from the config's `datasets` section,
the converter registry (:data:`CONVERTERS`: one entry per block, with the raw datasets it reads) and the CAD masks.

The CLI commands over them (`fetch-dataset`, `convert-dataset`, `subset-manifest`): :mod:`robust3d.commands.datasets`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.errors import ConfigError

#: Dataset blocks of the config's `datasets` section, in the order their jobs are listed.
DATASET_BLOCKS = ("pascal3d", "occluded_pascal3d", "oodcv", "imagenet3d")


@dataclass(frozen=True)
class Converter:
    """How one `datasets` block converts a split (``convert(raw_root, out, split, block, common)``), and the raw
    datasets (names of the registry's RAW_DATASETS) it reads, as a function of the block."""

    convert: Callable
    raw_needed: Callable[[dict], tuple[str, ...]]


def _pascal3d(raw, out, split, block, common):
    from robust3d.data.datasets import convert_pascal3d

    return convert_pascal3d(raw, out, split, block["classes"], image_list=block["image_list"], **common)


def _occluded_pascal3d(raw, out, split, block, common):
    from robust3d.data.datasets import convert_occluded_pascal3d

    return convert_occluded_pascal3d(raw, out, split, block["classes"], pascal3d_root=raw, levels=block["levels"],
                                     **common)


def _oodcv(raw, out, split, block, common):
    from robust3d.data.datasets import convert_oodcv, convert_oodcv_v2, require_raw

    if block["version"] == 1:
        return convert_oodcv(raw, out, split, block["classes"], pascal3d_root=raw, nuisances=block["nuisances"],
                             **common)
    return convert_oodcv_v2(raw, out, split, block["classes"], cad_root=require_raw("pascal3d", raw), **common)


def _imagenet3d(raw, out, split, block, common):
    from robust3d.data.datasets import convert_imagenet3d, select_imagenet3d_classes

    classes = block["classes"] or select_imagenet3d_classes(raw, block["n_classes"], block["min_images"],
                                                            block["include"])
    df = convert_imagenet3d(raw, out, split, classes, statuses=block["statuses"],
                            max_images_per_class=block["max_images_per_class"], **common)
    (Path(out) / split / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    return df


#: Block name -> its converter. OOD-CV ships no CAD models (it uses PASCAL3D+'s, and v1 trains on PASCAL3D+
#: images); OccludedPASCAL3D+ takes its poses and CAD models from PASCAL3D+.
CONVERTERS: dict[str, Converter] = {
    "pascal3d": Converter(_pascal3d, lambda block: ("pascal3d",)),
    "occluded_pascal3d": Converter(_occluded_pascal3d, lambda block: ("occluded_pascal3d", "pascal3d")),
    "oodcv": Converter(_oodcv, lambda block: ("oodcv" if block.get("version", 1) == 1 else "oodcv_v2", "pascal3d")),
    "imagenet3d": Converter(_imagenet3d, lambda block: ("imagenet3d",)),
}


def raw_needed(name: str, block: dict) -> tuple[str, ...]:
    """Raw datasets (names of the registry's RAW_DATASETS) that converting the block ``name`` reads."""
    return CONVERTERS[name].raw_needed(block)


# ---------------------------------------------------------------------------------------------- workflow plan

def job_config(config: dict, name: str) -> dict:
    """The config a conversion job of block ``name`` reads: everything but the other dataset blocks.

    Its file name hashes only this (so enabling or editing another block reruns none of this block's jobs);
    a block it depends on is kept as ``{enabled: true}``, which is all validation needs of it.
    """
    datasets = config["datasets"]
    deps = [r for r in raw_needed(name, datasets[name]) if r in DATASET_BLOCKS and r != name]
    pruned = {"raw_root": datasets["raw_root"], name: datasets[name], **{d: {"enabled": True} for d in deps}}
    return {**config, "datasets": pruned}


@dataclass(frozen=True)
class RealDatasetPlan:
    """The jobs the `datasets` section asks for; paths and input functions for the Snakemake rules.

    ``variant_pairs`` are the (variant, level) pairs built for every ``variant_splits`` split; ``config_files``
    maps each enabled block to its job config (see :func:`job_config`).
    """

    datasets: dict
    variant_pairs: tuple[tuple[str, str], ...] = ()
    config_files: dict = field(default_factory=dict)

    @classmethod
    def prepare(cls, config: dict, variant_pairs, folder: str | Path) -> RealDatasetPlan:
        """The plan of a validated config; writes one job config per enabled block into ``folder``.

        3D corruptions are left out of the variants of real splits: they need depth, which those splits lack.
        """
        no_depth = set(config["variants"]["corruptions_3d"]["names"])
        plan = cls(config["datasets"], tuple((v, str(lvl)) for v, lvl in variant_pairs if v not in no_depth))
        for name in plan.enabled:
            plan.config_files[name] = write_resolved_config(job_config(config, name), folder, f"datasets-{name}",
                                                            ("datasets",))
        return plan

    @property
    def out_root(self) -> str:
        return str(self.datasets.get("out_root", "results/data")).rstrip("/")

    @property
    def raw_root(self) -> str:
        return str(self.datasets.get("raw_root", "data/raw"))

    @property
    def marker_dir(self) -> str:
        """Markers of checked raw datasets live with the outputs: the raw data may sit on read-only storage."""
        return f"{self.out_root}/raw"

    @property
    def enabled(self) -> list[str]:
        return [n for n in DATASET_BLOCKS if self.datasets.get(n, {}).get("enabled", False)]

    @property
    def raw_datasets(self) -> list[str]:
        """Raw datasets to check (or download), each once."""
        return list(dict.fromkeys(r for n in self.enabled for r in raw_needed(n, self.datasets[n])))

    @property
    def retries(self) -> int:
        """Retries of the raw-data rule: downloads meet flaky networks; a failed check fails the same way again."""
        return 3 if self.datasets.get("download", False) else 0

    def marker(self, raw: str) -> str:
        return f"{self.marker_dir}/{raw}.ready"

    def manifest(self, dataset: str, split: str) -> str:
        return f"{self.out_root}/{dataset}/{split}/manifest.csv"

    def splits(self) -> list[tuple[str, str]]:
        """(dataset, split) of every conversion job."""
        return [(n, s) for n in self.enabled for s in self.datasets[n]["splits"]]

    def variant_dirs(self) -> list[str]:
        return [f"{self.out_root}/{n}/variants/{s}/{v}/{lvl}"
                for n in self.enabled for s in self.datasets[n].get("variant_splits", [])
                for v, lvl in self.variant_pairs]

    def outputs(self) -> list[str]:
        """Every target of the enabled blocks (empty when none is enabled)."""
        return [self.manifest(n, s) for n, s in self.splits()] + self.variant_dirs()

    # Input and params functions of the rules (Snakemake calls them with the job's wildcards).
    def raw_markers(self, wildcards) -> list[str]:
        return [self.marker(r) for r in raw_needed(wildcards.dataset, self.datasets[wildcards.dataset])]

    def config_file(self, wildcards) -> str:
        if wildcards.dataset not in self.config_files:
            raise ValueError(f"datasets.{wildcards.dataset} is not enabled in the config: nothing converts it")
        return self.config_files[wildcards.dataset]

    def dataset_root(self, wildcards) -> str:
        return f"{self.out_root}/{wildcards.dataset}"

    def raw_root_param(self, wildcards) -> str:
        return self.raw_root

    def fetch_mode(self, wildcards) -> str:
        return "" if self.datasets.get("download", False) else "--check-only"


# ---------------------------------------------------------------------------------------------- conversion

def convert_split(config: dict, dataset: str, split: str, out: str | Path):
    """Convert one split of the enabled block ``dataset`` of a validated config; returns the manifest."""
    cfg = config["datasets"]
    block, raw, out = cfg[dataset], cfg["raw_root"], Path(out)
    if not block["enabled"]:
        raise ConfigError(f"key 'datasets.{dataset}.enabled': the block is disabled, nothing to convert")
    if dataset not in CONVERTERS:
        raise ValueError(f"unknown dataset {dataset!r} (known: {', '.join(DATASET_BLOCKS)})")
    common = {"image_size": tuple(block["image_size"]), "target_distance": float(block["target_distance"])}
    df = CONVERTERS[dataset].convert(raw, out, split, block, common)
    if block.get("cad_masks", False):
        df = add_cad_masks(out / split, out)
    return df


# ---------------------------------------------------------------------------------------------- CAD masks

def add_cad_masks(split_dir: str | Path, cad_root: str | Path):
    """Render every sample's amodal mask from its annotated CAD model; add them to the split's manifest.

    PASCAL3D+, OOD-CV and ImageNet3D ship no object masks, but the occlusion variant measures the occluded share
    of the object on one. The CAD model at the annotated pose is the mask the annotation itself implies (these
    CAD models are category exemplars, so the mask approximates the object's outline). Samples whose camera sits
    inside the CAD model get no mask (and are listed); the manifest is replaced atomically at the end.
    """
    import numpy as np
    import pandas as pd
    import torch

    from robust3d.data.cad import cad_path, read_off
    from robust3d.data.format import load_annotation, read_manifest
    from robust3d.data.io import atomic_path, write_mask
    from robust3d.render.scene import rasterize_object

    split_dir = Path(split_dir)
    df = read_manifest(split_dir / "manifest.csv")
    skipped = split_dir / "skipped.csv"
    meshes: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = {}
    failed = []
    for i, row in df.iterrows():
        ann = load_annotation(split_dir / row["annotation"])
        key = (str(ann["class"]), int(ann["cad_index"]))
        if key not in meshes:
            mesh = read_off(cad_path(Path(cad_root), *key))
            meshes[key] = torch.from_numpy(mesh.verts), torch.from_numpy(mesh.faces)
        pose = tuple(float(ann[k]) for k in ("azimuth", "elevation", "theta", "distance"))
        size = (int(ann["height"]), int(ann["width"]))
        principal = tuple(float(v) for v in np.asarray(ann["principal"]).ravel()[:2])
        try:
            frags = rasterize_object(*meshes[key], pose, float(ann["focal"]), float(ann["viewport"]), size,
                                     principal=principal)
        except ValueError as err:  # the camera is inside the CAD model: no meaningful outline
            failed.append(f"{row['sample_id']}: {err}")
            continue
        rel = f"masks/{row['sample_id']}_amodal.png"
        write_mask(split_dir / rel, (frags.face >= 0).numpy())
        df.loc[i, "mask_amodal"] = rel
    df["mask_source"] = np.where(df["mask_amodal"] != "", "cad_render", "")
    with atomic_path(split_dir / "manifest.csv") as tmp:
        df.to_csv(tmp, index=False)
    if failed:
        print(f"no CAD mask for {len(failed)} samples (e.g. {failed[0]})", file=sys.stderr)
    out = pd.read_csv(split_dir / "manifest.csv", dtype=str, keep_default_na=False)
    if skipped.exists():
        out.attrs["skipped"] = pd.read_csv(skipped)
    return out
