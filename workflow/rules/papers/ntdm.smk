# NTDM (paper 2): the deformable meshes fitted to the training CADs; every model of `ntdm.models` with weights of
# its own trained on `train`; every row model (checkpoint_of rows read another's weights with another inference)
# predicting its evaluations (test, its occlusion levels, the OOD-CV-like splits) in one job; the stage's metrics; the tables
# and claims. The plan is STAGES["ntdm"] (robust3d.papers.ntdm.Plan, common.smk); outputs under <results>/ntdm/.
NTDM = STAGES["ntdm"]
NTDM_THREADS = config["ntdm"]["num_threads"]


rule ntdm_meshes:
    input:
        train=NTDM.train_manifest,
    output:
        meshes=NTDM.meshes,
        record=NTDM.meshes_record,
    params:
        config=NTDM.config_file,
        obj=lambda wildcards, output: str(Path(output.meshes).parent / "obj"),
    log:
        side_log("ntdm/meshes.log"),
    benchmark:
        side_benchmark("ntdm/meshes.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: NTDM_THREADS
    resources:
        mem_mb=lambda wildcards, attempt: 3000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d ntdm-meshes --config {params.config} --train {input.train} --out {output.meshes} "
        "--record {output.record} --obj-dir {params.obj} > {log} 2>&1"


rule ntdm_train:
    input:
        unpack(NTDM.train_inputs),
    output:
        model=f"{NTDM.root}/models/{{model}}/model.pt",
        record=f"{NTDM.root}/models/{{model}}/train.json",
    params:
        config=NTDM.config_file,
    wildcard_constraints:
        model="|".join(NTDM.trained) or "no-model",
    log:
        side_log("ntdm/train/{model}.log"),
    benchmark:
        side_benchmark("ntdm/train/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: NTDM_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=NTDM.train_mem,
        runtime=NTDM.train_runtime,
    shell:
        "python -m robust3d ntdm-train --config {params.config} --model {wildcards.model} --train {input.train} "
        "--meshes {input.meshes} --out {output.model} --record {output.record} > {log} 2>&1"


rule ntdm_predict:
    input:
        unpack(NTDM.predict_inputs),
    output:
        f"{NTDM.root}/predictions/synthetic/{{model}}.csv",
    params:
        config=NTDM.config_file,
    wildcard_constraints:
        model="|".join(NTDM.models) or "no-model",
    log:
        side_log("ntdm/predict/{model}.log"),
    benchmark:
        side_benchmark("ntdm/predict/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: NTDM_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=NTDM.predict_runtime,
    shell:
        "python -m robust3d ntdm-predict --config {params.config} --model {wildcards.model} "
        "--checkpoint {input.model} --manifests {input.manifests} --out {output} > {log} 2>&1"


rule ntdm_metrics:
    input:
        NTDM.prediction_files(),
    output:
        NTDM.metrics,
    log:
        side_log("ntdm/metrics.log"),
    benchmark:
        side_benchmark("ntdm/metrics.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python -m robust3d evaluate --predictions {input} --benchmark synthetic --paper ntdm --out {output} "
        "> {log} 2>&1"


rule ntdm_tables:
    input:
        metrics=NTDM.metrics,
        records=NTDM.train_records(),
        predictions=NTDM.prediction_files(),  # per-sample: the claims' paired bootstrap
    output:
        tables=[
            report(path, caption="../../report/papers/ntdm/table.rst", category="Tables", subcategory="NTDM",
                   labels={"table": Path(path).stem})
            if path.endswith(".csv") else path
            for path in NTDM.table_outputs()
        ],
        claims=report(NTDM.claims, caption="../../report/papers/ntdm/claims.rst", category="Tables",
                      subcategory="NTDM"),
    params:
        config=NTDM.config_file,
        tables=lambda wildcards, output: str(Path(output.claims).parent),
    log:
        side_log("ntdm/tables.log"),
    benchmark:
        side_benchmark("ntdm/tables.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d tables --paper ntdm --config {params.config} --metrics {input.metrics} "
        "--benchmark synthetic --train-metrics {input.records} --predictions {input.predictions} "
        "--out-dir {params.tables} > {log} 2>&1"
