# 3D-CompNets models: every model of `compnets.models` (dual-head baselines and neural mesh models) trained on
# the train split of the data route (compnets.data.source: the synthetic benchmark or ImageNet3D); neural mesh
# models with the compnets loss read the calibration split's confusion.
# The plan (paths, input functions, resources) lives in robust3d.tables.plan, derived from the paper's tables.
from robust3d.tables.plan import CompnetsPlan

COMPNETS = CompnetsPlan.prepare(config, "results/.config")


rule train_model:
    input:
        train=COMPNETS.manifest("train"),
        calibration=COMPNETS.calibration_manifest,
        cad=COMPNETS.cad_input,
    output:
        model=f"{RESULTS}/models/{{model}}/model.pt",
        metrics=f"{RESULTS}/models/{{model}}/train.json",
    params:
        config=COMPNETS.train_config_file,
    wildcard_constraints:
        model="|".join(COMPNETS.models),
    log:
        "logs/compnets/train/{model}.log",
    benchmark:
        "benchmarks/compnets/train/{model}.tsv"
    conda:
        "../../envs/robust3d.yaml"
    threads: config["compnets"]["train"]["num_threads"]
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=COMPNETS.train_mem,
        runtime=COMPNETS.train_runtime,
    shell:
        "python -m robust3d train-model --config {params.config} --model {wildcards.model} --train {input.train} "
        "--calibration {input.calibration} --out {output.model} --metrics {output.metrics} > {log} 2>&1"


rule compnets_scaling:
    output:
        COMPNETS.scaling,
    params:
        config=COMPNETS.config_file,
    log:
        "logs/compnets/scaling.log",
    benchmark:
        "benchmarks/compnets/scaling.tsv"
    conda:
        "../../envs/robust3d.yaml"
    threads: config["compnets"]["train"]["num_threads"]
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    shell:
        "python -m robust3d compnets-scaling --config {params.config} --out {output} > {log} 2>&1"
