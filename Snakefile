# robust3d: the whole pipeline. Rules are thin: each calls one `python -m robust3d <command>`.
# The embedded default (config.yaml) is a synthetic benchmark the pipeline renders itself.
from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/depth.smk"
include: "workflow/rules/real_datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/compnets_data.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
        COMPNETS.outputs(),  # train.smk: 3D-CompNets tables, claims and figures
