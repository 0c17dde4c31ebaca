"""What the 3D-CompNets stage runs, derived from the tables: the workflow trains every configured model and
predicts exactly the (model, split, variant, level) cells the table specs read and this config builds.

Used by workflow/rules/papers/compnets.smk (paths, input functions, resources), by the shared ``metrics`` rule
(:meth:`CompnetsPlan.predictions` of a benchmark) and by the ``tables`` command (the reason a cell is missing).
Which manifests the cells map to is the data route's business (``compnets.data.source``,
:mod:`robust3d.papers.compnets.routes`). Outputs live under ``<results>/compnets/`` (models, predictions per
benchmark, the scaling CSV); metrics, tables and figures at the contracts' paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.models.seeds import model_ids, paper_seeds, split_id
from robust3d.papers.compnets.routes import ImageNet3DRoute, Route, data_route
from robust3d.papers.compnets.tables import PAPER, figures, table_specs


def unavailable(config: dict, split: str, variant: str, level: str) -> str | None:
    """Why this config builds no data for (split, variant, level), or None if it does."""
    return data_route(config).unavailable(split, variant, level)


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
        data = ("datasets",) if isinstance(data_route(config), ImageNet3DRoute) else ()
        sections = ("seed", "device", "compnets", "synthetic", *data)
        jobs = write_resolved_config(config, folder, "compnets", sections)
        train = write_resolved_config(config, folder, "compnets-train", sections,
                                      ignore=("compnets.pose", "compnets.scaling"))
        tables = write_resolved_config(config, folder, "compnets-tables",
                                       ("compnets", "synthetic", "variants", *data))
        return cls(config, jobs, train, tables)

    # ------------------------------------------------------------------ what runs
    @property
    def results(self) -> str:
        return self.config["results"]

    @property
    def route(self) -> Route:
        return data_route(self.config)

    @property
    def benchmark(self) -> str:
        """The benchmark name of the metrics rows (and of their folder)."""
        return self.route.name

    @property
    def models(self) -> list[str]:
        """The ids trained: the configured models, once per seed of ``compnets.seeds`` (``<model>@s<k>``)."""
        return model_ids(self.config[PAPER]["models"], paper_seeds(self.config[PAPER]))

    @property
    def cuda(self) -> bool:
        return self.config["device"] == "cuda"

    @property
    def root(self) -> str:
        """The stage's own outputs: ``<results>/compnets``."""
        return f"{self.results}/{PAPER}"

    @property
    def enabled(self) -> bool:
        return bool(self.config[PAPER].get("enabled", True))

    @property
    def table_names(self) -> list[str]:
        return [spec.name for spec in table_specs(self.config)]

    def evaluations(self) -> list[tuple[str, str, str, str]]:
        """(model, split, variant, level) the tables read, for configured models and built splits, sorted."""
        needs = set().union(*(spec.needs() for spec in table_specs(self.config)))
        seeds = paper_seeds(self.config[PAPER])
        needs = {(model, *rest) for name, *rest in needs for model in model_ids([name], seeds)}
        return sorted(n for n in needs if n[0] in self.models and unavailable(self.config, *n[1:]) is None)

    def prediction(self, model: str, split: str, variant: str, level: str) -> str:
        return f"{self.root}/predictions/{self.benchmark}/{model}/{split}/{variant}/{level}.csv"

    def predictions(self, benchmark: str | None = None) -> list[str]:
        """The predictions the tables read (on ``benchmark``: none unless it is this route's, or when disabled)."""
        if not self.enabled or benchmark not in (None, self.benchmark):
            return []
        return [self.prediction(*e) for e in self.evaluations()]

    def unseen_predictions(self) -> list[str]:
        """Per-sample predictions of the unseen split (Table 3's per-class columns come from them)."""
        return [self.prediction(*e) for e in self.evaluations() if e[1] == "unseen"]

    def checkpoint(self, model: str) -> str:
        return f"{self.root}/models/{model}/model.pt"

    def train_metrics(self, model: str | None = None) -> str | list[str]:
        if model is None:
            return [self.train_metrics(m) for m in self.models]
        return f"{self.root}/models/{model}/train.json"

    @property
    def metrics(self) -> str:
        return f"{self.results}/{self.benchmark}/metrics.csv"

    @property
    def scaling(self) -> str:
        return f"{self.root}/scaling.csv"

    @property
    def tables_dir(self) -> str:
        return f"{self.results}/tables"

    @property
    def figures_dir(self) -> str:
        return f"{self.results}/figures"

    def table_outputs(self) -> list[str]:
        return [f"{self.tables_dir}/{PAPER}_{name}.{ext}" for name in self.table_names for ext in ("csv", "md")]

    @property
    def claims(self) -> str:
        return f"{self.tables_dir}/{PAPER}_claims.csv"

    @property
    def chance(self) -> str:
        """Each evaluation's accuracies against its samples' chance level (above / at / below chance)."""
        return f"{self.tables_dir}/{PAPER}_chance.csv"

    def figures(self) -> list[str]:
        return [f"{self.figures_dir}/{PAPER}_{stem}.png" for stem in figures()]

    def outputs(self) -> list[str]:
        """The stage's final files (rule all); none when ``compnets.enabled`` is false."""
        if not self.enabled:
            return []
        return [*self.table_outputs(), self.claims, self.chance, *self.figures()]

    # ------------------------------------------------------------------ inputs and params of the rules
    def manifest(self, split: str) -> str:
        return self.route.manifest(split)

    @property
    def calibration_manifest(self) -> str:
        """The calibration split, or the train split when this config renders none (documented fallback)."""
        split = "calibration" if unavailable(self.config, "calibration", "clean", "0") is None else "train"
        return self.manifest(split)

    @property
    def cad_input(self) -> str:
        """A file or folder whose presence means the training split's CAD models exist."""
        return self.route.cad_input

    def predict_input(self, wildcards) -> str:
        """A split's manifest, or a variant (a folder of the synthetic route, a manifest of the real one)."""
        return self.route.predict_input(wildcards.split, wildcards.variant, wildcards.level)

    def predict_manifest(self, wildcards, input) -> str:
        """The manifest of a predict job's input (a synthetic variant is a folder holding one)."""
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
        spec = self.config[PAPER]["models"][split_id(wildcards.model)[0]]
        hours = 4 if not self.cuda else (72 if spec.get("loss") == "novum" else 24)  # paper: 66.8 h / 9.3-13.3 h
        return 60 * hours * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (32000 if self.cuda else 4000) * attempt

    def predict_runtime(self, wildcards, attempt: int) -> int:
        return (240 if self.cuda else 60) * attempt

    def predict_mem(self, wildcards, attempt: int) -> int:
        return (16000 if self.cuda else 4000) * attempt
