# Config validation (before any job) and the helpers that turn config into target paths.
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))  # config validation needs only the package source, not an install

from robust3d.data.config_files import write_resolved_config  # noqa: E402
from robust3d.data.tracking import refresh_folder_timestamps  # noqa: E402
from robust3d.errors import ConfigError  # noqa: E402
from robust3d.papers import PAPERS, load_config, stage  # noqa: E402

# The config the workflow runs: config.yaml, or the --configfile files (each with its `extends:` chain), then the
# --config overrides, layered and validated exactly as `python -m robust3d check-config` does (one code path).
# (config.yaml of the working directory, as a `configfile:` directive would read it; --directory moves it.)
_CONFIG_FILES = [str(p) for p in workflow.config_settings.configfiles] or ["config.yaml"]
try:
    _resolved = load_config(_CONFIG_FILES, dict(workflow.config_settings.config))
except ConfigError as err:
    sys.exit(f"robust3d: config error: {err}")
config.clear()
config.update(_resolved)
RESULTS = config["results"]

# Side outputs follow the results root, so two configs never overwrite each other's: the job configs always
# (<results>/.config/), job logs and benchmarks under <results>/ too, except for the default root `results`, whose
# logs/ and benchmarks/ stay at the top of the work folder (where `make clean-results` and the time budget look).
CONFIG_DIR = f"{RESULTS}/.config"
SIDE_ROOT = "" if Path(RESULTS) == Path("results") else f"{RESULTS}/"


def side_log(path):
    """A job log's path: logs/<path> for the default results root, <results>/logs/<path> otherwise."""
    return f"{SIDE_ROOT}logs/{path}"


def side_benchmark(path):
    """A job benchmark's path (same rule as side_log)."""
    return f"{SIDE_ROOT}benchmarks/{path}"


# Jobs read the validated config from a file (so `--config` overrides reach them too), named by a hash of
# the sections their stage reads: a params rerun-trigger then reruns exactly the affected stage.
SYNTH_CONFIG = write_resolved_config(config, CONFIG_DIR, "synthetic", ("seed", "synthetic"))
VARIANT_CONFIG = write_resolved_config(config, CONFIG_DIR, "variants", ("seed", "variants"))
DEPTH_CONFIG = write_resolved_config(config, CONFIG_DIR, "depth", ("seed", "device", "depth", "synthetic"))
DEPTH_BACKEND = config["depth"]["backend"]
PRETRAIN = config["pretrain"]
PRETRAIN_CONFIG = write_resolved_config(config, CONFIG_DIR, "pretrain", ("seed", "device", "pretrain"))

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
# A file replaced inside a chunk or variant folder dates the folder (robust3d.data.tracking): what reads it reruns.
if Path(SYNTH_ROOT).is_dir():
    refresh_folder_timestamps(SYNTH_ROOT)


from robust3d.synth.plan import SPLITS  # noqa: E402


wildcard_constraints:
    split="|".join(SPLITS),
    backbone="[a-z][a-z0-9_]*",
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


def variant_groups():
    """Config key (occlusion, corruptions_3d, ...) -> its (variant, level) pairs; one job builds a group."""
    from robust3d.variants import variant_groups

    return variant_groups(config["variants"])


def variant_outputs():
    return [
        f"{SYNTH_ROOT}/variants/{split}/{variant}/{level}{suffix}"
        for split in config["variants"]["splits"]
        for variant, level in variant_targets()
        for suffix in ("", ".png")
    ]


def subset_outputs():
    """The class subsets of splits the config asks for (synthetic.subsets)."""
    from robust3d.synth.plan import subset_manifest_path

    return [subset_manifest_path(config, name, split) for name, subset in SYNTH["subsets"].items()
            for split in subset["splits"]]


def depth_inputs(wildcards):
    inputs = {"manifest": f"{SYNTH_ROOT}/{wildcards.split}/manifest.csv"}
    if DEPTH_BACKEND == "local":
        inputs["weights"] = f"{RESULTS}/depth/local/model/model.pt"
    return inputs


def depth_outputs():
    return [f"{RESULTS}/depth/{DEPTH_BACKEND}/{split}.json" for split in config["depth"]["splits"]]


# Plans of the shared real-dataset stage and of every paper stage, built here before any include uses them.
from robust3d.data.datasets.plan import DATASET_BLOCKS, RealDatasetPlan  # noqa: E402

REAL_DATASETS = RealDatasetPlan.prepare(config, variant_targets(), CONFIG_DIR)
#: Paper id -> its plan (robust3d.papers.<id>.Plan); a disabled stage plans no outputs and no predictions.
STAGES = {name: stage(name).Plan.prepare(config, CONFIG_DIR) for name in PAPERS if name in config}


# Brought models (config `byom:`, workflow/rules/byom.smk): their entries and the config file their jobs read.
from robust3d.byom import model_file  # noqa: E402
BYOM = config["byom"]
BYOM_CONFIG = write_resolved_config(config, CONFIG_DIR, "byom", ("byom",))


def byom_stage(wildcards):
    """The plan of the paper a brought model's prediction job belongs to."""
    return STAGES[wildcards.paper]


def stage_predictions(wildcards):
    """Every stage's predictions on one benchmark (the shared metrics rule's input)."""
    return [path for plan in STAGES.values() for path in plan.predictions(wildcards.benchmark)]


def data_outputs():
    """The shared data stages' outputs: splits with their sheets, variants, subsets, pseudo-depth (`snakemake data`)."""
    return (
        expand(f"{SYNTH_ROOT}/{{split}}/manifest.csv", split=synth_splits())
        + expand(f"{SYNTH_ROOT}/{{split}}/contact_sheet.png", split=synth_splits())
        + variant_outputs()
        + subset_outputs()
        + depth_outputs()
    )


def pretrain_outputs():
    """Every pretrained backbone's weights and record (`snakemake --cores all pretrain_all`)."""
    return expand(f"{RESULTS}/pretrain/{{backbone}}/{{file}}", backbone=list(PRETRAIN["backbones"]),
                  file=["backbone.pt", "train.json"])


def report_inputs():
    """Everything the report shows: the shared outputs and every enabled paper stage's."""
    return (
        data_outputs()
        + pretrain_outputs()
        + REAL_DATASETS.outputs()  # empty unless a `datasets` block is enabled
        + [path for plan in STAGES.values() for path in plan.outputs()]
    )


def final_outputs():
    """The targets of `all`: the report and everything it shows."""
    return report_inputs() + [f"{RESULTS}/report/index.html"]
