# Real datasets (config `datasets`, off by default): check each raw dataset once (or download it when
# `datasets.download` is true), convert every split of the enabled blocks to the shared sample format, and
# build the `variants` section's 2D variants of the `variant_splits`. The plan (paths, job configs, input
# functions) is REAL_DATASETS (robust3d.data.datasets.plan, built in common.smk), so this file holds only rules.
from robust3d.data.datasets.registry import RAW_DATASETS

REAL_OUT = REAL_DATASETS.out_root


rule raw_dataset:
    output:
        ensure(f"{REAL_DATASETS.marker_dir}/{{raw}}.ready", non_empty=True),
    params:
        raw_root=REAL_DATASETS.raw_root_param,
        mode=REAL_DATASETS.fetch_mode,
    wildcard_constraints:
        raw="|".join(RAW_DATASETS),
    log:
        side_log("datasets/raw/{raw}.log"),
    benchmark:
        side_benchmark("datasets/raw/{raw}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    localrule: True
    retries: REAL_DATASETS.retries  # 3 when downloading (flaky networks), 0 when only checking
    resources:
        mem_mb=2000,
        runtime=lambda wildcards, attempt: 240 * attempt,
    shell:
        "python -m robust3d fetch-dataset --name {wildcards.raw} --raw-root {params.raw_root:q} {params.mode} "
        "--marker {output:q} > {log} 2>&1"


rule convert_dataset:
    input:
        REAL_DATASETS.raw_markers,
    output:
        f"{REAL_OUT}/{{dataset}}/{{real_split}}/manifest.csv",
    params:
        config=REAL_DATASETS.config_file,
        out=REAL_DATASETS.dataset_root,
    wildcard_constraints:
        dataset="|".join(DATASET_BLOCKS),
        real_split="[a-z0-9_]+",
    log:
        side_log("datasets/{dataset}/{real_split}.log"),
    benchmark:
        side_benchmark("datasets/{dataset}/{real_split}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 360 * attempt,
    shell:
        "python -m robust3d convert-dataset --config {params.config:q} --dataset {wildcards.dataset} "
        "--split {wildcards.real_split} --out {params.out:q} > {log} 2>&1"


rule real_variant:
    input:
        f"{REAL_OUT}/{{dataset}}/{{real_split}}/manifest.csv",
    output:
        directory(f"{REAL_OUT}/{{dataset}}/variants/{{real_split}}/{{variant}}/{{level}}"),
    params:
        config=VARIANT_CONFIG,
    wildcard_constraints:
        dataset="|".join(DATASET_BLOCKS),
        real_split="[a-z0-9_]+",
    log:
        side_log("datasets/{dataset}/variants/{real_split}/{variant}/{level}.log"),
    benchmark:
        side_benchmark("datasets/{dataset}/variants/{real_split}/{variant}/{level}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=lambda wildcards, attempt: 3000 * attempt,
        runtime=lambda wildcards, attempt: 120 * attempt,
    shell:
        "python -m robust3d make-variant --config {params.config} --manifest {input:q} "
        "--variant {wildcards.variant} --level {wildcards.level} --out {output:q} > {log} 2>&1"
