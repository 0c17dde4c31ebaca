"""CLI commands that fetch and convert the real datasets (registered into robust3d.cli), and the plan of their
jobs that workflow/rules/real_datasets.smk and workflow/rules/common.smk build from the config.

`fetch-dataset` makes sure one raw dataset is unpacked under a data root (downloading it when allowed) and
`convert-dataset` turns one split of an enabled `datasets` block into the shared sample format, with the
converter options of the config. Both print the registry's instructions and exit non-zero when raw data is
missing, instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from robust3d.cli import _config_argument, command

#: Dataset blocks of the config's `datasets` section, in the order their jobs are listed.
DATASET_BLOCKS = ("pascal3d", "occluded_pascal3d", "oodcv", "imagenet3d")


def raw_needed(name: str, block: dict) -> tuple[str, ...]:
    """Raw datasets (names of the registry's RAW_DATASETS) that converting the block ``name`` reads."""
    if name == "oodcv":  # OOD-CV ships no CAD models: it uses PASCAL3D+'s (and v1 trains on PASCAL3D+ images)
        return ("oodcv" if block.get("version", 1) == 1 else "oodcv_v2", "pascal3d")
    if name == "occluded_pascal3d":  # poses and CAD models come from PASCAL3D+
        return ("occluded_pascal3d", "pascal3d")
    return (name,)


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
        from robust3d.config import write_resolved_config

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


# ---------------------------------------------------------------------------------------------- fetch-dataset

def _fetch_args(p: argparse.ArgumentParser) -> None:
    from robust3d.data.datasets.registry import RAW_DATASETS

    p.add_argument("--name", required=True, choices=sorted(RAW_DATASETS), help="raw dataset of the registry")
    p.add_argument("--raw-root", required=True, help="data root holding (or receiving) the unpacked dataset")
    p.add_argument("--check-only", action="store_true",
                   help="do not download: only check that the unpacked dataset is there")
    p.add_argument("--marker", help="file to write (the dataset's folder) once the dataset is there")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request")


@command("fetch-dataset", "download, unpack and check one raw dataset (or only check it)", _fetch_args)
def fetch_dataset(args: argparse.Namespace) -> int:
    from robust3d.data.datasets.registry import DatasetUnavailable, fetch, require_raw
    from robust3d.data.io import atomic_path

    try:
        folder = (require_raw(args.name, args.raw_root) if args.check_only
                  else fetch(args.name, args.raw_root, timeout=args.timeout))
    except DatasetUnavailable as err:
        print(f"robust3d: dataset unavailable: {err}", file=sys.stderr)
        return 1
    print(f"{args.name}: {folder.resolve()}")
    if args.marker:
        with atomic_path(args.marker) as tmp:
            tmp.write_text(f"{args.name}\t{folder.resolve()}\n")
    return 0


# ---------------------------------------------------------------------------------------------- convert-dataset

def _convert_args(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    p.add_argument("--dataset", required=True, choices=DATASET_BLOCKS, help="block of the config's `datasets`")
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True,
                   help="the dataset's root: the split goes to OUT/SPLIT/ (replaced atomically), CAD models to OUT/CAD")


def convert_split(config: dict, dataset: str, split: str, out: str | Path):
    """Convert one split of the enabled block ``dataset`` of a validated config; returns the manifest."""
    from robust3d.data import datasets as ds

    cfg = config["datasets"]
    block, raw, out = cfg[dataset], cfg["raw_root"], Path(out)
    if not block["enabled"]:
        from robust3d.config import ConfigError

        raise ConfigError(f"key 'datasets.{dataset}.enabled': the block is disabled, nothing to convert")
    common = {"image_size": tuple(block["image_size"]), "target_distance": float(block["target_distance"])}
    if dataset == "pascal3d":
        df = ds.convert_pascal3d(raw, out, split, block["classes"], image_list=block["image_list"], **common)
    elif dataset == "occluded_pascal3d":
        df = ds.convert_occluded_pascal3d(raw, out, split, block["classes"], pascal3d_root=raw,
                                          levels=block["levels"], **common)
    elif dataset == "oodcv" and block["version"] == 1:
        df = ds.convert_oodcv(raw, out, split, block["classes"], pascal3d_root=raw, nuisances=block["nuisances"],
                              **common)
    elif dataset == "oodcv":
        df = ds.convert_oodcv_v2(raw, out, split, block["classes"], cad_root=ds.require_raw("pascal3d", raw),
                                 **common)
    elif dataset == "imagenet3d":
        classes = block["classes"] or ds.select_imagenet3d_classes(raw, block["n_classes"], block["min_images"],
                                                                   block["include"])
        df = ds.convert_imagenet3d(raw, out, split, classes, statuses=block["statuses"],
                                   max_images_per_class=block["max_images_per_class"], **common)
        (out / split / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    else:
        raise ValueError(f"unknown dataset {dataset!r} (known: {', '.join(DATASET_BLOCKS)})")
    if block.get("cad_masks", False):
        df = add_cad_masks(out / split, out)
    return df


@command("convert-dataset", "convert one split of a real dataset (config `datasets`) to the sample format",
         _convert_args)
def convert_dataset(args: argparse.Namespace) -> int:
    from robust3d.config import load_config
    from robust3d.data.datasets import ConversionError, DatasetUnavailable

    config = load_config(args.config)
    try:
        df = convert_split(config, args.dataset, args.split, args.out)
    except (DatasetUnavailable, ConversionError) as err:
        print(f"robust3d: {args.dataset} {args.split} not converted: {err}", file=sys.stderr)
        return 1
    skipped = len(df.attrs.get("skipped", ()))
    print(f"{args.dataset} {args.split}: {len(df)} samples -> {Path(args.out) / args.split} "
          f"({skipped} skipped, see skipped.csv)")
    return 0


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

    from robust3d.data.format import load_annotation, read_manifest
    from robust3d.data.io import atomic_path, write_mask
    from robust3d.render.scene import rasterize_object
    from robust3d.synth.dataset import cad_path
    from robust3d.synth.primitives import read_off

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


# ---------------------------------------------------------------------------------------------- class subsets

def _subset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="manifest of a converted split (or of a variant of one)")
    p.add_argument("--out", required=True, help="manifest to write; its paths point at the original files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--classes", nargs="+", help="keep only these classes (each must have samples)")
    which.add_argument("--exclude-classes", nargs="+", help="drop these classes")
    p.add_argument("--held-out", help="also hold out part of every class's images into this manifest")
    p.add_argument("--fraction", type=float, help="share of each class's images held out (with --held-out)")
    p.add_argument("--seed", type=int, default=0)


@command("subset-manifest", "write a class subset of a split (and a held-out part) as manifests in other folders",
         _subset_args)
def subset_manifest(args: argparse.Namespace) -> int:
    from robust3d.data.subsets import subset_manifest as run

    if (args.held_out is None) != (args.fraction is None):
        print("robust3d: --held-out and --fraction go together", file=sys.stderr)
        return 2
    try:
        counts = run(args.manifest, args.out, keep=args.classes, drop=args.exclude_classes, held_out=args.held_out,
                     fraction=args.fraction, seed=args.seed)
    except (FileNotFoundError, ValueError) as err:
        print(f"robust3d: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {counts['samples']} samples of {counts['classes']} classes"
          + (f"; held out {counts['held_out']} into {args.held_out}" if "held_out" in counts else ""))
    return 0
