# Template matching (paper 5): every model of `templates.models` with a schedule fine-tuned on the seen objects'
# training queries (queries_train); every row model (those, the frozen and random-init matchers, the computed oracle
# and chance rows, raw pixels) scored on the clean and occluded queries against the template bank; the scores and
# predictions gathered; the tables and claims. The plan is STAGES["templates"] (robust3d.papers.templates.Plan,
# common.smk); outputs live under <results>/templates/.
TEMPLATES = STAGES["templates"]
TEMPLATES_THREADS = config["templates"]["num_threads"]


rule templates_train:
    input:
        unpack(TEMPLATES.train_inputs),
    output:
        model=f"{TEMPLATES.root}/models/{{model}}/model.pt",
        record=f"{TEMPLATES.root}/models/{{model}}/train.json",
    params:
        config=TEMPLATES.config_file,
    wildcard_constraints:
        model="|".join(TEMPLATES.finetuned) or "no-model",
    log:
        side_log("templates/train/{model}.log"),
    benchmark:
        side_benchmark("templates/train/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: TEMPLATES_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=TEMPLATES.train_mem,
        runtime=TEMPLATES.train_runtime,
    shell:
        "python -m robust3d templates-train --config {params.config} --model {wildcards.model} "
        "--train {input.train} --templates {input.templates} --queries {input.queries} "
        "--queries-occluded {input.queries_occluded} --out {output.model} --record {output.record} > {log} 2>&1"


rule templates_evaluate:
    input:
        unpack(TEMPLATES.evaluate_inputs),
    output:
        metrics=f"{TEMPLATES.root}/evaluations/{{model}}/metrics.csv",
        predictions=f"{TEMPLATES.root}/evaluations/{{model}}/predictions.csv",
    params:
        config=TEMPLATES.config_file,
        checkpoint=TEMPLATES.evaluate_flags,
    wildcard_constraints:
        model="|".join(TEMPLATES.evaluated),
    log:
        side_log("templates/evaluate/{model}.log"),
    benchmark:
        side_benchmark("templates/evaluate/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: TEMPLATES_THREADS
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d templates-evaluate --config {params.config} --model {wildcards.model} "
        "--templates {input.templates} --queries {input.queries} --queries-occluded {input.queries_occluded} "
        "{params.checkpoint} --out-predictions {output.predictions} --out-metrics {output.metrics} > {log} 2>&1"


rule templates_gather:
    input:
        metrics=TEMPLATES.evaluation_files("metrics"),
        predictions=TEMPLATES.evaluation_files("predictions"),
    output:
        metrics=TEMPLATES.metrics,
        predictions=TEMPLATES.predictions_file,
    log:
        side_log("templates/gather.log"),
    benchmark:
        side_benchmark("templates/gather.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "(python -m robust3d gather-csv --inputs {input.metrics} --out {output.metrics} && "
        "python -m robust3d gather-csv --inputs {input.predictions} --out {output.predictions}) > {log} 2>&1"


rule templates_tables:
    input:
        metrics=TEMPLATES.metrics,
        predictions=TEMPLATES.predictions_file,
        records=TEMPLATES.train_records(),
    output:
        tables=[
            report(path, caption="../../report/papers/templates/table.rst", category="Tables",
                   subcategory="Template matching", labels={"table": Path(path).stem})
            if path.endswith(".csv") else path
            for path in TEMPLATES.table_outputs()
        ],
        claims=report(TEMPLATES.claims, caption="../../report/papers/templates/claims.rst", category="Tables",
                      subcategory="Template matching"),
    params:
        config=TEMPLATES.config_file,
        tables=lambda wildcards, output: str(Path(output.claims).parent),
    log:
        side_log("templates/tables.log"),
    benchmark:
        side_benchmark("templates/tables.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d tables --paper templates --config {params.config} --metrics {input.metrics} "
        "--benchmark synthetic --train-metrics {input.records} --extra predictions={input.predictions} "
        "--out-dir {params.tables} > {log} 2>&1"


rule templates_figures:
    input:
        unpack(lambda wildcards: TEMPLATES.data_inputs()),
        metrics=TEMPLATES.metrics,
        predictions=TEMPLATES.predictions_file,
    output:
        thresholds=report(f"{TEMPLATES.figures_dir}/templates_thresholds.png",
                          caption="../../report/papers/templates/figures.rst", category="Figures",
                          subcategory="Template matching"),
        retrievals=report(f"{TEMPLATES.figures_dir}/templates_retrievals.png",
                          caption="../../report/papers/templates/figures.rst", category="Figures",
                          subcategory="Template matching"),
    params:
        config=TEMPLATES.config_file,
        out=lambda wildcards, output: str(Path(output.thresholds).parent),
    log:
        side_log("templates/figures.log"),
    benchmark:
        side_benchmark("templates/figures.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 10 * attempt,
    shell:
        "python -m robust3d templates-figures --config {params.config} --metrics {input.metrics} "
        "--predictions {input.predictions} --templates {input.templates} --queries {input.queries} "
        "--queries-occluded {input.queries_occluded} --out-dir {params.out} > {log} 2>&1"
