"""What the PDR stage runs: one training job per (dataset, trained model), one evaluation job per (dataset, row
model: trained, random-init, raw pixels), a gather of their tidy metrics and assignments, and the tables.

Used by workflow/rules/papers/pdr.smk and the ``tables`` command. Outputs live under ``<results>/pdr/``: models
``models/<dataset>/<model>/{model.pt,train.json}``, evaluations ``evaluations/<dataset>/<model>/{metrics,
assignments}.csv``, then ``metrics.csv`` and ``assignments.csv`` (all of them); tables at the contracts' paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.papers._plan import OwnScoringPlan
from robust3d.papers.pdr.tables import PAPER, SANITY, evaluated_models, table_specs

#: The de-rendering model whose architecture the random-init row uses (untrained).
RANDOM_INIT_OF = "unsup3d"


@dataclass
class PdrPlan(OwnScoringPlan):
    PAPER = PAPER

    @classmethod
    def prepare(cls, config: dict, folder: str | Path) -> PdrPlan:
        return cls(config, write_resolved_config(config, folder, PAPER, ("seed", "device", PAPER, "synthetic")))

    def specs(self) -> list:
        return table_specs(self.config)

    @property
    def datasets(self) -> list[str]:
        return list(self.section["datasets"])

    @property
    def trained(self) -> list[str]:
        return list(self.section["models"])

    @property
    def evaluated(self) -> list[str]:
        return evaluated_models(self.config)

    def manifest(self, split: str) -> str:
        return f"{self.config['synthetic']['root']}/{split}/manifest.csv"

    def train_manifest(self, dataset: str) -> str:
        return self.manifest(self.section["datasets"][dataset]["train_split"])

    def eval_manifest(self, dataset: str) -> str:
        return self.manifest(self.section["datasets"][dataset]["eval_split"])

    def model(self, dataset: str, model: str) -> str:
        return f"{self.root}/models/{dataset}/{model}/model.pt"

    def train_record(self, dataset: str, model: str) -> str:
        return f"{self.root}/models/{dataset}/{model}/train.json"

    def evaluation(self, dataset: str, model: str, kind: str = "metrics") -> str:
        return f"{self.root}/evaluations/{dataset}/{model}/{kind}.csv"

    def evaluation_files(self) -> list[str]:
        return [self.evaluation(d, m, k) for d in self.datasets for m in self.evaluated
                for k in ("metrics", "assignments")]

    def train_records(self) -> list[str]:
        return [self.train_record(d, m) for d in self.datasets for m in self.trained]

    @property
    def assignments(self) -> str:
        return f"{self.root}/assignments.csv"

    # ------------------------------------------------------------------ rule helpers
    def evaluate_inputs(self, wildcards) -> dict[str, str]:
        """An evaluation job's inputs: the evaluation split, and the trained model and its record (none for the
        random-init and raw-pixel rows)."""
        inputs = {"manifest": self.eval_manifest(wildcards.dataset)}
        if wildcards.model not in SANITY:
            inputs["model"] = self.model(wildcards.dataset, wildcards.model)
            inputs["record"] = self.train_record(wildcards.dataset, wildcards.model)
        return inputs

    def evaluate_flags(self, wildcards, input) -> str:
        if wildcards.model == "raw_pixels":
            return "--raw-pixels"
        if wildcards.model == "random_init":
            return f"--random-init {RANDOM_INIT_OF}"
        return f"--checkpoint {input.model} --record {input.record}"

    def train_runtime(self, wildcards, attempt: int) -> int:
        return (24 * 60 if self.cuda() else 60) * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (16000 if self.cuda() else 4000) * attempt
