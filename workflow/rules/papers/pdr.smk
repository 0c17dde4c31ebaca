# PDR / LOOCC (paper 4): every model of `pdr.models` (Unsup3D de-renderers with and without LOOCC, a VQ-VAE)
# trained from scratch on each dataset's training split (faces: faces_train, cars: cars_train); every row model
# (those plus the ours-only random-init and raw-pixel rows) scored on the dataset's evaluation split (clustering of
# its features, the PCC of the four feature groups, the shape check on the true depth); the scores gathered; Table
# 1, the PCC and shape tables and the claims. The plan is STAGES["pdr"] (robust3d.papers.pdr.Plan, common.smk);
# outputs live under <results>/pdr/.
PDR = STAGES["pdr"]
PDR_THREADS = config["pdr"]["train"]["num_threads"]


rule pdr_train:
    input:
        lambda wildcards: PDR.train_manifest(wildcards.dataset),
    output:
        model=f"{PDR.root}/models/{{dataset}}/{{model}}/model.pt",
        record=f"{PDR.root}/models/{{dataset}}/{{model}}/train.json",
    params:
        config=PDR.config_file,
    wildcard_constraints:
        dataset="|".join(PDR.datasets),
        model="|".join(PDR.trained),
    log:
        side_log("pdr/train/{dataset}/{model}.log"),
    benchmark:
        side_benchmark("pdr/train/{dataset}/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: PDR_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=PDR.train_mem,
        runtime=PDR.train_runtime,
    shell:
        "python -m robust3d pdr-train --config {params.config} --dataset {wildcards.dataset} "
        "--model {wildcards.model} --manifest {input} --out {output.model} --metrics {output.record} > {log} 2>&1"


rule pdr_evaluate:
    input:
        unpack(PDR.evaluate_inputs),
    output:
        metrics=f"{PDR.root}/evaluations/{{dataset}}/{{model}}/metrics.csv",
        assignments=f"{PDR.root}/evaluations/{{dataset}}/{{model}}/assignments.csv",
    params:
        config=PDR.config_file,
        source=PDR.evaluate_flags,
    wildcard_constraints:
        dataset="|".join(PDR.datasets),
        model="|".join(PDR.evaluated),
    log:
        side_log("pdr/evaluate/{dataset}/{model}.log"),
    benchmark:
        side_benchmark("pdr/evaluate/{dataset}/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d pdr-evaluate --config {params.config} --dataset {wildcards.dataset} "
        "--model {wildcards.model} --manifest {input.manifest} {params.source} --out-metrics {output.metrics} "
        "--out-assignments {output.assignments} > {log} 2>&1"


rule pdr_gather:
    input:
        metrics=[p for p in PDR.evaluation_files() if p.endswith("metrics.csv")],
        assignments=[p for p in PDR.evaluation_files() if p.endswith("assignments.csv")],
    output:
        metrics=PDR.metrics,
        assignments=PDR.assignments,
    log:
        side_log("pdr/gather.log"),
    benchmark:
        side_benchmark("pdr/gather.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "(python -m robust3d gather-csv --inputs {input.metrics} --out {output.metrics} && "
        "python -m robust3d gather-csv --inputs {input.assignments} --out {output.assignments}) > {log} 2>&1"


rule pdr_tables:
    input:
        metrics=PDR.metrics,
        assignments=PDR.assignments,
        records=PDR.train_records(),
    output:
        tables=[
            report(path, caption="../../report/papers/pdr/table.rst", category="Tables", subcategory="PDR",
                   labels={"table": Path(path).stem})
            if path.endswith(".csv") else path
            for path in PDR.table_outputs()
        ],
        claims=report(PDR.claims, caption="../../report/papers/pdr/claims.rst", category="Tables",
                      subcategory="PDR"),
    params:
        config=PDR.config_file,
        tables=lambda wildcards, output: str(Path(output.claims).parent),
    log:
        side_log("pdr/tables.log"),
    benchmark:
        side_benchmark("pdr/tables.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d tables --paper pdr --config {params.config} --metrics {input.metrics} "
        "--benchmark synthetic --train-metrics {input.records} --extra assignments={input.assignments} "
        "--out-dir {params.tables} > {log} 2>&1"
