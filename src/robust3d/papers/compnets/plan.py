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

from robust3d.byom import entries_for, entry_name, model_id
from robust3d.data.config_files import write_resolved_config
from robust3d.models.seeds import model_ids, paper_seeds
from robust3d.papers.compnets.routes import (
    UNSEEN_SPLITS,
    HeldOutSyntheticRoute,
    ImageNet3DRoute,
    Route,
    base_model,
    data_route,
    is_unseen_set,
    unseen_set_id,
)
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
                                       ("compnets", "synthetic", "variants", "byom", *data))
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
    def separate_unseen_models(self) -> bool:
        """Whether the unseen splits are predicted by a model set of their own (``<model>@unseen``)."""
        return self.route.separate

    @property
    def models(self) -> list[str]:
        """The ids trained: the configured models, once per seed of ``compnets.seeds`` (``<model>@s<k>``); with
        separate model sets also ``<model>@unseen`` (``<model>@unseen@s<k>``), trained without the unseen classes,
        for every model whose row some table reads on an unseen split."""
        ids = model_ids(self.config[PAPER]["models"], paper_seeds(self.config[PAPER]))
        if not self.separate_unseen_models:
            return ids
        reads = {name for name, split, *_ in self._needs() if split in UNSEEN_SPLITS}
        return [*ids, *(unseen_set_id(i) for i in ids if base_model(i) in reads)]

    def _needs(self) -> set[tuple[str, str, str, str]]:
        """(model name, split, variant, level) the tables read that this config builds."""
        needs = set().union(*(spec.needs() for spec in table_specs(self.config)))
        return {n for n in needs if unavailable(self.config, *n[1:]) is None}

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
        """(model, split, variant, level) the tables read, for configured models and built splits, sorted; the
        unseen splits by the ``@unseen`` models when the model sets are separate."""
        seeds = paper_seeds(self.config[PAPER])
        twin = self.separate_unseen_models
        needs = {(unseen_set_id(model) if twin and split in UNSEEN_SPLITS and not entry_name(model) else model,
                  split, *rest)
                 for name, split, *rest in self._needs()
                 for model in ([name] if entry_name(name) else model_ids([name], seeds))}
        models = {*self.models, *self.byom_models}
        return sorted(n for n in needs if n[0] in models)

    @property
    def byom_models(self) -> list[str]:
        """The brought models' ids (config ``byom:``) that take part in this paper; they are predicted by the
        shared ``byom_predict`` rule, never trained here."""
        return [model_id(name) for name in entries_for(self.config, PAPER)]

    def byom_train_input(self, wildcards) -> str:
        """The train manifest a brought model learns its classes (and, with ``fit``, its weights) from: the seen
        classes' for an unseen split when the model sets are separate, so no unseen image reaches it."""
        if self.separate_unseen_models and wildcards.split in UNSEEN_SPLITS:
            return self.route.seen_manifest("train")
        return self.manifest("train")

    def prediction(self, model: str, split: str, variant: str, level: str) -> str:
        return f"{self.root}/predictions/{self.benchmark}/{model}/{split}/{variant}/{level}.csv"

    def predictions(self, benchmark: str | None = None) -> list[str]:
        """The predictions the tables read (on ``benchmark``: none unless it is this route's, or when disabled)."""
        if not self.enabled or benchmark not in (None, self.benchmark):
            return []
        return [self.prediction(*e) for e in self.evaluations()]

    def unseen_predictions(self) -> list[str]:
        """Per-sample predictions of the unseen splits (Table 3's per-class columns come from them)."""
        return [self.prediction(*e) for e in self.evaluations() if e[1] in UNSEEN_SPLITS]

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
        from robust3d.tables.render import TABLE_FILES

        return [f"{self.tables_dir}/{PAPER}_{name}.{ext}" for name in self.table_names for ext in TABLE_FILES]

    @property
    def claims(self) -> str:
        return f"{self.tables_dir}/{PAPER}_claims.csv"

    @property
    def byom_claims(self) -> str:
        """Where the brought models stand in each claim's cells (header only without a ``byom:`` entry)."""
        return f"{self.tables_dir}/{PAPER}_claims_byom.csv"

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
        return [*self.table_outputs(), self.claims, self.byom_claims, self.chance, *self.figures()]

    # ------------------------------------------------------------------ inputs and params of the rules
    def manifest(self, split: str) -> str:
        return self.route.manifest(split)

    @property
    def calibration_split(self) -> str:
        """``calibration``, or ``train`` when this config renders no calibration split (documented fallback)."""
        return "calibration" if unavailable(self.config, "calibration", "clean", "0") is None else "train"

    @property
    def calibration_manifest(self) -> str:
        """The calibration split of the (all-class) models, or the train split when this config renders none."""
        return self.manifest(self.calibration_split)

    def train_input(self, wildcards) -> str:
        """A training job's train manifest: the seen classes' for ``<model>@unseen``, else the route's."""
        return self.route.seen_manifest("train") if is_unseen_set(wildcards.model) else self.manifest("train")

    def calibration_input(self, wildcards) -> str:
        """A training job's calibration manifest, as :meth:`train_input`."""
        split = self.calibration_split
        return self.route.seen_manifest(split) if is_unseen_set(wildcards.model) else self.manifest(split)

    def seen_set_parts(self) -> list[str]:
        """The splits the ``@unseen`` models train on (``<derived root>/seen/<part>``; none without separate sets)."""
        return sorted({"train", self.calibration_split}) if self.separate_unseen_models else []

    @property
    def cad_input(self) -> str:
        """A file or folder whose presence means the training split's CAD models exist."""
        return self.route.cad_input

    def ssl_input(self, wildcards) -> list[str]:
        """The pretraining stage's weights a model starts from (``weights: ssl:<name>``), so that stage runs first;
        none for a model trained from scratch or from released weights."""
        from robust3d.models.ssl_weights import ssl_inputs

        return ssl_inputs(self.config[PAPER], wildcards.model, self.results)

    @property
    def cad_link_command(self) -> str:
        """Shell prefix of a training job on a route whose manifests lie outside the benchmark (the held-out
        synthetic route): link the benchmark's CAD folder into the derived root, where the neural mesh models
        look for it above their train manifest; empty elsewhere."""
        import shlex

        if not isinstance(self.route, HeldOutSyntheticRoute):
            return ""
        link, target = self.route.cad_link
        return (f"mkdir -p {shlex.quote(str(Path(link).parent))} && ln -sfn {shlex.quote(target)} "
                f"{shlex.quote(link)} && ")

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
        return "--unseen" if wildcards.split in UNSEEN_SPLITS else ""

    # ------------------------------------------------------------------ resources (minutes, MB)
    def train_runtime(self, wildcards, attempt: int) -> int:
        spec = self.config[PAPER]["models"][base_model(wildcards.model)]
        hours = 4 if not self.cuda else (72 if spec.get("loss") == "novum" else 24)  # paper: 66.8 h / 9.3-13.3 h
        return 60 * hours * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (32000 if self.cuda else 4000) * attempt

    def predict_runtime(self, wildcards, attempt: int) -> int:
        return (240 if self.cuda else 60) * attempt

    def predict_mem(self, wildcards, attempt: int) -> int:
        return (16000 if self.cuda else 4000) * attempt
