"""What the NTDM stage runs: one mesh fit (the training CADs), one training job per trained model, one prediction
job per (row model, evaluation), the stage's metrics, the tables.

Used by workflow/rules/papers/ntdm.smk and the ``tables`` command. Outputs under ``<results>/ntdm/``:
``meshes/{meshes.pt,meshes.json,obj/}``, ``models/<model>/{model.pt,train.json}``,
``predictions/<benchmark>/<model>.csv`` (every evaluation of the model in one job, so its start renders are made
once: they are a third of a 12-class prediction job; rows carry split, variant and level), ``metrics.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.papers._plan import OwnScoringPlan
from robust3d.papers.ntdm.tables import LEVELS, OOD_SPLITS, PAPER, table_specs

BENCHMARK = "synthetic"


@dataclass(frozen=True)
class Evaluation:
    split: str
    variant: str = "clean"
    level: str = "0"


def evaluations(config: dict, kinds: list[str]) -> list[Evaluation]:
    """The evaluations of ``kinds`` (iid: ``test``; occluded: the OccludedPASCAL3D+-like levels of test that the
    config's variant renders; ood: the nuisance splits of its OOD-CV subset)."""
    section = config[PAPER]
    occ = section["evaluate"]["occlusion_variant"]
    levels = [lv for lv in LEVELS if lv in (config["variants"].get(occ) or {}).get("levels", {})]
    subset = (config["synthetic"].get("subsets") or {}).get(section["evaluate"]["oodcv_subset"], {})
    out: list[Evaluation] = []
    for kind in kinds:
        if kind == "iid":
            out.append(Evaluation("test"))
        elif kind == "occluded":
            out += [Evaluation("test", occ, level) for level in levels]
        else:
            out += [Evaluation(split) for split in OOD_SPLITS if split in subset.get("splits", [])]
    return out


@dataclass
class NTDMPlan(OwnScoringPlan):
    PAPER = PAPER

    @classmethod
    def prepare(cls, config: dict, folder: str | Path) -> NTDMPlan:
        return cls(config, write_resolved_config(config, folder, PAPER,
                                                 ("seed", "device", "results", "pretrain", PAPER, "synthetic")))

    def specs(self) -> list:
        return table_specs(self.config)

    # ------------------------------------------------------------------ models
    @property
    def models(self) -> dict:
        return self.section["models"]

    @property
    def trained(self) -> list[str]:
        """Models with weights of their own (the others predict with ``checkpoint_of``'s)."""
        return [m for m, spec in self.models.items() if not spec.get("checkpoint_of")]

    def weights_of(self, model: str) -> str:
        return self.models[model].get("checkpoint_of") or model

    def model_file(self, model: str) -> str:
        return f"{self.root}/models/{model}/model.pt"

    def train_record(self, model: str) -> str:
        return f"{self.root}/models/{model}/train.json"

    def train_records(self) -> list[str]:
        return [self.train_record(m) for m in self.trained]

    @property
    def meshes(self) -> str:
        return f"{self.root}/meshes/meshes.pt"

    @property
    def meshes_record(self) -> str:
        return f"{self.root}/meshes/meshes.json"

    # ------------------------------------------------------------------ data
    @property
    def synthetic_root(self) -> str:
        return self.config["synthetic"]["root"]

    def predict_input(self, ev: Evaluation) -> str:
        """What a prediction job reads for ``ev``: the split's manifest, or a variant's folder (the variants rule's
        declared output; the command reads its manifest.csv)."""
        manifest = self.manifest(ev)
        return manifest.removesuffix("/manifest.csv") if ev.variant != "clean" else manifest

    def manifest(self, ev: Evaluation) -> str:
        root = self.synthetic_root
        if ev.split in OOD_SPLITS:
            return f"{root}/subsets/{self.section['evaluate']['oodcv_subset']}/{ev.split}/manifest.csv"
        if ev.variant == "clean":
            return f"{root}/{ev.split}/manifest.csv"
        return f"{root}/variants/{ev.split}/{ev.variant}/{ev.level}/manifest.csv"

    @property
    def train_manifest(self) -> str:
        return f"{self.synthetic_root}/train/manifest.csv"

    def row_evaluations(self, model: str) -> list[Evaluation]:
        return evaluations(self.config, list(self.models[model].get("evaluate_on") or ["iid", "occluded", "ood"]))

    def prediction(self, model: str) -> str:
        return f"{self.root}/predictions/{BENCHMARK}/{model}.csv"

    def prediction_files(self) -> list[str]:
        return [self.prediction(m) for m in self.models]

    # ------------------------------------------------------------------ rule helpers
    def ssl_input(self, model: str) -> list[str]:
        from robust3d.models.ssl_weights import ssl_inputs

        return ssl_inputs(self.section, model, self.config["results"])

    def train_inputs(self, wildcards) -> dict[str, object]:
        return {"train": self.train_manifest, "meshes": self.meshes, "ssl": self.ssl_input(wildcards.model)}

    def predict_inputs(self, wildcards) -> dict[str, object]:
        return {"model": self.model_file(self.weights_of(wildcards.model)),
                "manifests": [self.predict_input(ev) for ev in self.row_evaluations(wildcards.model)]}

    def train_runtime(self, wildcards, attempt: int) -> int:
        return (20 * 60 if self.cuda() else 30) * attempt

    def train_mem(self, wildcards, attempt: int) -> int:
        return (32000 if self.cuda() else 6000) * attempt

    def predict_runtime(self, wildcards, attempt: int) -> int:
        return (12 * 60 if self.cuda() else 30) * attempt
