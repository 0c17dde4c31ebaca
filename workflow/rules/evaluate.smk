# Per-sample predictions of each model on each (split, variant, level) the tables read, then the tidy metrics
# of the data route's benchmark (benchmark, paper, model, split, variant, level, metric, value, n).


rule predict:
    input:
        model=f"{RESULTS}/models/{{model}}/model.pt",
        manifest=COMPNETS.predict_input,
    output:
        f"{RESULTS}/predictions/{{model}}/{{split}}/{{variant}}/{{level}}.csv",
    params:
        config=COMPNETS.config_file,
        manifest=COMPNETS.predict_manifest,
        unseen=COMPNETS.unseen_flag,
    wildcard_constraints:
        model="|".join(COMPNETS.models),
    log:
        "logs/compnets/predict/{model}/{split}/{variant}/{level}.log",
    benchmark:
        "benchmarks/compnets/predict/{model}/{split}/{variant}/{level}.tsv"
    conda:
        "../../envs/robust3d.yaml"
    threads: config["compnets"]["train"]["num_threads"]
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=COMPNETS.predict_mem,
        runtime=COMPNETS.predict_runtime,
    shell:
        "python -m robust3d predict --config {params.config} --model {wildcards.model} --checkpoint {input.model} "
        "--manifest {params.manifest} --out {output} {params.unseen} > {log} 2>&1"


rule metrics:
    input:
        COMPNETS.predictions(),
    output:
        COMPNETS.metrics,
    params:
        benchmark=COMPNETS.benchmark,
    log:
        "logs/compnets/metrics.log",
    benchmark:
        "benchmarks/compnets/metrics.tsv"
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d evaluate --predictions {input} --benchmark {params.benchmark} --paper compnets "
        "--out {output} > {log} 2>&1"
