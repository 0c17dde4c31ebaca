# Config validation (before any job) and the helpers that turn config into target paths.
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))  # config validation needs only the package source, not an install

from robust3d.data.config_files import write_resolved_config  # noqa: E402
from robust3d.errors import ConfigError  # noqa: E402
from robust3d.papers import PAPERS, stage, validate_config  # noqa: E402

try:
    config.update(validate_config(config))  # the shared sections, then every paper's own checks
except ConfigError as err:
    sys.exit(f"robust3d: config error: {err}")

# Jobs read the validated config from a file (so `--config` overrides reach them too), named by a hash of
# the sections their stage reads: a params rerun-trigger then reruns exactly the affected stage.
SYNTH_CONFIG = write_resolved_config(config, "results/.config", "synthetic", ("seed", "synthetic"))
VARIANT_CONFIG = write_resolved_config(config, "results/.config", "variants", ("seed", "variants"))
DEPTH_CONFIG = write_resolved_config(config, "results/.config", "depth", ("seed", "device", "depth", "synthetic"))
DEPTH_BACKEND = config["depth"]["backend"]
RESULTS = config["results"]

# Jobs run `python -m robust3d` from the source tree, also inside conda envs (which block PYTHONPATH).
# Without --use-conda, `python` must be the interpreter running Snakemake (e.g. .venv/bin/python), which
# need not be on PATH. (Snakemake formats the prefix too, hence the doubled braces in the f-string.)
from snakemake.settings.types import DeploymentMethod  # noqa: E402

_PATH = "" if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method else (
    f'export PATH="{Path(sys.executable).parent}:$PATH"; '
)
shell.prefix(f'set -euo pipefail; {_PATH}export PYTHONPATH="{SRC}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; ')

SYNTH = config["synthetic"]
SYNTH_ROOT = SYNTH["root"]


from robust3d.synth.plan import SPLITS  # noqa: E402


wildcard_constraints:
    split="|".join(SPLITS),
    variant="[a-z0-9_]+",
    level="[A-Za-z0-9]+",
    chunk=r"\d{3}",


def synth_splits():
    """Splits of the synthetic benchmark that have images."""
    from robust3d.synth.plan import active_splits

    return active_splits(config)


def synth_chunks(wildcards):
    from robust3d.synth.plan import n_chunks

    n = n_chunks(config, wildcards.split)
    return expand(f"{SYNTH_ROOT}/{wildcards.split}/chunk{{chunk}}", chunk=[f"{i:03d}" for i in range(n)])


def variant_targets():
    """(variant, level) pairs the config asks for."""
    from robust3d.variants import variant_pairs

    return variant_pairs(config["variants"])


def variant_outputs():
    return [
        f"{SYNTH_ROOT}/variants/{split}/{variant}/{level}{suffix}"
        for split in config["variants"]["splits"]
        for variant, level in variant_targets()
        for suffix in ("", ".png")
    ]


def depth_inputs(wildcards):
    inputs = {"manifest": f"{SYNTH_ROOT}/{wildcards.split}/manifest.csv"}
    if DEPTH_BACKEND == "local":
        inputs["weights"] = f"{RESULTS}/models/depth_local/model.pt"
    return inputs


def depth_outputs():
    return [f"{RESULTS}/depth/{DEPTH_BACKEND}/{split}.json" for split in config["depth"]["splits"]]


# Plans of the shared real-dataset stage and of every paper stage, built here before any include uses them.
from robust3d.data.datasets.plan import DATASET_BLOCKS, RealDatasetPlan  # noqa: E402

REAL_DATASETS = RealDatasetPlan.prepare(config, variant_targets(), "results/.config")
#: Paper id -> its plan (robust3d.papers.<id>.Plan); a disabled stage plans no outputs and no predictions.
STAGES = {name: stage(name).Plan.prepare(config, "results/.config") for name in PAPERS if name in config}


def stage_predictions(wildcards):
    """Every stage's predictions on one benchmark (the shared metrics rule's input)."""
    return [path for plan in STAGES.values() for path in plan.predictions(wildcards.benchmark)]


def final_outputs():
    return (
        expand(f"{SYNTH_ROOT}/{{split}}/manifest.csv", split=synth_splits())
        + expand(f"{SYNTH_ROOT}/{{split}}/contact_sheet.png", split=synth_splits())
        + variant_outputs()
        + depth_outputs()
        + REAL_DATASETS.outputs()  # empty unless a `datasets` block is enabled
        + [path for plan in STAGES.values() for path in plan.outputs()]
    )
