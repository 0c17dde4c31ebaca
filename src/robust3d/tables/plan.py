"""What the 3D-CompNets stage runs, derived from the tables: the workflow trains every configured model and
predicts exactly the (model, split, variant, level) cells the table specs read and this config builds.

Used by workflow/rules/{train,evaluate,tables}.smk (paths, input functions, resources) and by the ``tables``
command (the reason a cell is missing). The stage runs on the synthetic benchmark; a real-dataset route would be
another mapping from (split, variant, level) to a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.tables.compnets import PAPER, table_specs
from robust3d.tables.spec import SPLIT_OWN_VARIANTS
from robust3d.variants import variant_pairs

TABLE_NAMES = ("table1", "table2", "table3", "table4", "figure1", "figure2")
BENCHMARK = "synthetic"


def is_split_itself(split: str, variant: str, level: str) -> bool:
    """Whether (split, variant, level) is a split's own manifest rather than a variant folder built from it."""
    return variant == "clean" or SPLIT_OWN_VARIANTS.get(split) == (variant, str(level))


def unavailable(config: dict, split: str, variant: str, level: str) -> str | None:
    """Why this config builds no (split, variant, level) of the synthetic benchmark, or None if it does."""
    from robust3d.synth.plan import split_size

    if split_size(config, split) == 0:
        n = config["synthetic"]["splits"].get(split, 0)
        why = "no unseen_categories" if split == "unseen" and n else f"synthetic.splits.{split} = {n}"
        return f"not built by this config ({why})"
    if is_split_itself(split, variant, level):
        return None
    if split not in config["variants"]["splits"]:
        return f"not built by this config (variants.splits has no '{split}')"
    if (variant, str(level)) not in variant_pairs(config["variants"]):
        return f"not built by this config (no variant {variant}/{level} in the variants section)"
    return None


@dataclass
class CompnetsPlan:
    """Paths and job settings of the stage for one validated config."""

    config: dict
    config_file: str  # the resolved config the prediction and scaling jobs read
    train_config_file: str = ""  # the training jobs' (its name ignores inference-only settings)
    tables_config_file: str = ""  # the tables job's (its name also hashes `variants`: the reasons it prints)

    @classmethod
    def prepare(cls, config: dict, folder: str | Path) -> CompnetsPlan:
        """Write the stage's resolved configs. Each file name hashes only the settings its jobs read, so editing
        the pose refinement reruns predictions but not training, and editing `variants` reruns only the tables."""
        from robust3d.config import write_resolved_config

        sections = ("seed", "device", "compnets", "synthetic")
        jobs = write_resolved_config(config, folder, "compnets", sections)
        train = write_resolved_config(config, folder, "compnets-train", sections,
                                      ignore=("compnets.pose", "compnets.scaling"))
        tables = write_resolved_config(config, folder, "compnets-tables", ("compnets", "synthetic", "variants"))
        return cls(config, jobs, train, tables)

    # ------------------------------------------------------------------ what runs
    @property
    def results(self) -> str:
        return self.config["results"]

    @property
    def synth_root(self) -> str:
        return self.config["synthetic"]["root"]

    @property
    def models(self) -> list[str]:
        return list(self.config["compnets"]["models"])

    @property
    def cuda(self) -> bool:
        return self.config["device"] == "cuda"

    def evaluations(self) -> list[tuple[str, str, str, str]]:
        """(model, split, variant, level) the tables read, for configured models and built splits, sorted."""
        needs = set().union(*(spec.needs() for spec in table_specs(self.config)))
        return sorted(n for n in needs if n[0] in self.models and unavailable(self.config, *n[1:]) is None)

    def prediction(self, model: str, split: str, variant: str, level: str) -> str:
        return f"{self.results}/predictions/{model}/{split}/{variant}/{level}.csv"

    def predictions(self) -> list[str]:
        return [self.prediction(*e) for e in self.evaluations()]

    def unseen_predictions(self) -> list[str]:
        """Per-sample predictions of the unseen split (Table 3's per-class columns come from them)."""
        return [self.prediction(*e) for e in self.evaluations() if e[1] == "unseen"]

    def checkpoint(self, model: str) -> str:
        return f"{self.results}/models/{model}/model.pt"

    def train_metrics(self, model: str | None = None) -> str | list[str]:
        if model is None:
            return [self.train_metrics(m) for m in self.models]
        return f"{self.results}/models/{model}/train.json"

    @property
    def metrics(self) -> str:
        return f"{self.results}/{BENCHMARK}/metrics.csv"

    @property
    def scaling(self) -> str:
        return f"{self.results}/compnets/scaling.csv"

    @property
    def tables_dir(self) -> str:
        return f"{self.results}/tables"

    @property
    def figures_dir(self) -> str:
        return f"{self.results}/figures"

    def table_outputs(self) -> list[str]:
        return [f"{self.tables_dir}/{PAPER}_{name}.{ext}" for name in TABLE_NAMES for ext in ("csv", "md")]

    @property
    def claims(self) -> str:
        return f"{self.tables_dir}/{PAPER}_claims.csv"

    def figures(self) -> list[str]:
        return [f"{self.figures_dir}/{PAPER}_figure{i}.png" for i in (1, 2)]

    def outputs(self) -> list[str]:
        """The stage's final files (rule all)."""
        return [*self.table_outputs(), self.claims, *self.figures()]

    # ------------------------------------------------------------------ inputs and params of the rules
    def manifest(self, split: str) -> str:
        return f"{self.synth_root}/{split}/manifest.csv"

    @property
    def calibration_manifest(self) -> str:
        """The calibration split, or the train split when this config renders none (documented fallback)."""
        split = "calibration" if unavailable(self.config, "calibration", "clean", "0") is None else "train"
        return self.manifest(split)

    def predict_input(self, wildcards) -> str:
        """A clean split's manifest, or a variant's folder (a directory output of make_variant)."""
        if is_split_itself(wildcards.split, wildcards.variant, wildcards.level):
            return self.manifest(wildcards.split)
        return f"{self.synth_root}/variants/{wildcards.split}/{wildcards.variant}/{wildcards.level}"

    def predict_manifest(self, wildcards, input) -> str:
        path = str(input.manifest)
        return path if path.endswith(".csv") else f"{path}/manifest.csv"

    @staticmethod
    def tables_dir_param(wildcards, output) -> str:
        """The tables folder, from the rule's outputs (so it also holds without a shared filesystem)."""
        return str(Path(output.claims).parent)

    @staticmethod
    def figures_dir_param(wildcards, output) -> str:
        return str(Path(output.figure1).parent)

    def unseen_flag(self, wildcards) -> str:
        return "--unseen" if wildcards.split == "unseen" else ""

    # ------------------------------------------------------------------ resources (minutes, MB)
    def train_runtime(self, wildcards, attempt: int) -> int:
        spec = self.config["compnets"]["models"][wildcards.model]
        hours = 4 if not self.cuda else (72 if spec.get("loss") == "novum" else 24)  # paper: 66.8 h / 9.3-13.3 h
        return 60 * hours * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (32000 if self.cuda else 4000) * attempt

    def predict_runtime(self, wildcards, attempt: int) -> int:
        return (240 if self.cuda else 60) * attempt

    def predict_mem(self, wildcards, attempt: int) -> int:
        return (16000 if self.cuda else 4000) * attempt
