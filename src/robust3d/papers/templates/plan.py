"""What the template-matching stage runs: one fine-tuning job per model with a schedule, one evaluation job per row
model (matchers, oracle, chance, raw pixels), a gather of their metrics and predictions, and the tables.

Used by workflow/rules/papers/templates.smk and the ``tables`` command. Outputs live under ``<results>/templates/``:
``models/<model>/{model.pt,train.json}``, ``evaluations/<model>/{metrics,predictions}.csv``, then ``metrics.csv`` and
``predictions.csv`` (all row models); tables at the contracts' paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.papers._plan import OwnScoringPlan
from robust3d.papers.templates.tables import PAPER, evaluated_models, table_specs

MANIFESTS = ("templates", "queries", "queries_occluded")


@dataclass
class TemplatesPlan(OwnScoringPlan):
    PAPER = PAPER

    @classmethod
    def prepare(cls, config: dict, folder: str | Path) -> TemplatesPlan:
        return cls(config, write_resolved_config(config, folder, PAPER,
                                                 ("seed", "device", "results", "pretrain", PAPER, "synthetic")))

    def specs(self) -> list:
        return table_specs(self.config)

    @property
    def figures_dir(self) -> str:
        return f"{self.config['results']}/figures"

    def figures(self) -> list[str]:
        from robust3d.papers.templates.figures import figure_paths

        return figure_paths(self.figures_dir)

    def outputs(self) -> list[str]:
        return [*super().outputs(), *self.figures()] if self.enabled else []

    @property
    def finetuned(self) -> list[str]:
        return [m for m, spec in self.section["models"].items() if spec.get("schedule")]

    @property
    def evaluated(self) -> list[str]:
        return evaluated_models(self.config)

    def manifest(self, split: str) -> str:
        return f"{self.config['synthetic']['root']}/{split}/manifest.csv"

    def model(self, model: str) -> str:
        return f"{self.root}/models/{model}/model.pt"

    def train_record(self, model: str) -> str:
        return f"{self.root}/models/{model}/train.json"

    def evaluation(self, model: str, kind: str = "metrics") -> str:
        return f"{self.root}/evaluations/{model}/{kind}.csv"

    def evaluation_files(self, kind: str) -> list[str]:
        return [self.evaluation(m, kind) for m in self.evaluated]

    def train_records(self) -> list[str]:
        return [self.train_record(m) for m in self.finetuned]

    @property
    def predictions_file(self) -> str:
        return f"{self.root}/predictions.csv"

    # ------------------------------------------------------------------ rule helpers
    def data_inputs(self) -> dict[str, str]:
        return {k: self.manifest(k) for k in MANIFESTS}

    def ssl_input(self, model: str) -> list[str]:
        """The pretraining stage's weights the model's backbone starts from (``ssl:<name>``), so that stage runs
        first; none for the computed and sanity rows."""
        from robust3d.models.ssl_weights import ssl_inputs

        if model not in self.section["models"]:
            return []
        return ssl_inputs(self.section, model, self.config["results"])

    def train_inputs(self, wildcards) -> dict[str, object]:
        return {**self.data_inputs(), "train": self.manifest("queries_train"), "ssl": self.ssl_input(wildcards.model)}

    def evaluate_inputs(self, wildcards) -> dict[str, object]:
        inputs: dict[str, object] = {**self.data_inputs(), "ssl": self.ssl_input(wildcards.model)}
        if wildcards.model in self.finetuned:
            inputs["model"] = self.model(wildcards.model)
        return inputs

    def evaluate_flags(self, wildcards, input) -> str:
        return f"--checkpoint {input.model}" if wildcards.model in self.finetuned else ""

    def train_runtime(self, wildcards, attempt: int) -> int:
        return (6 * 60 if self.cuda() else 30) * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (16000 if self.cuda() else 4000) * attempt
