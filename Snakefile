# robust3d: the whole pipeline. Rules are thin: each calls one `python -m robust3d <command>`.
# The embedded default (config.yaml) is a synthetic benchmark the pipeline renders itself. There is no
# `configfile:` directive: common.smk reads config.yaml, or the --configfile files with their `extends:` chains,
# then the --config overrides, by robust3d.config_layers' rules (Snakemake's own merge cannot remove anything).
# common.smk validates the config and builds every plan (the shared stages' and each paper's, STAGES) before any
# include uses them; shared stages have one rules file each, every paper one under workflow/rules/papers/.
from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/synth.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/depth.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/real_datasets.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/byom.smk"
include: "workflow/rules/report.smk"


# One rules file per paper stage (robust3d.papers.PAPERS), each reading its plan from STAGES.
for _paper in STAGES:

    include: f"workflow/rules/papers/{_paper}.smk"


rule all:
    default_target: True
    input:
        final_outputs(),  # shared outputs + every enabled paper stage's (common.smk)


# The shared data alone (synthetic splits, variants, subsets, pseudo-depth): `snakemake --cores all data`, then
# `python scripts/data_budget.py` sums its job time.
rule data:
    input:
        data_outputs(),


# The pretrained backbones alone: `snakemake --cores all pretrain_all`; their job time is under benchmarks/pretrain/.
rule pretrain_all:
    input:
        pretrain_outputs(),
