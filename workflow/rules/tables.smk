# 3D-CompNets Tables 1-4 (ours beside the paper's printed numbers), the data of Figures 1-2, the paper's claims
# checked on our numbers, and the figures (PNG).


rule compnets_tables:
    input:
        metrics=COMPNETS.metrics,
        train=COMPNETS.train_metrics(),
        scaling=COMPNETS.scaling,
        predictions=COMPNETS.unseen_predictions(),
    output:
        tables=COMPNETS.table_outputs(),
        claims=report(COMPNETS.claims, caption="../report/compnets_claims.rst", category="Tables",
                      subcategory="3D-CompNets"),
        figure1=report(COMPNETS.figures()[0], caption="../report/compnets_figure1.rst", category="Figures",
                       subcategory="3D-CompNets"),
        figure2=report(COMPNETS.figures()[1], caption="../report/compnets_figure2.rst", category="Figures",
                       subcategory="3D-CompNets"),
    params:
        config=COMPNETS.tables_config_file,
        benchmark=COMPNETS.benchmark,
        tables=COMPNETS.tables_dir_param,
        figures=COMPNETS.figures_dir_param,
    log:
        "logs/compnets/tables.log",
    benchmark:
        "benchmarks/compnets/tables.tsv"
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d tables --paper compnets --config {params.config} --metrics {input.metrics} "
        "--benchmark {params.benchmark} --train-metrics {input.train} --scaling {input.scaling} "
        "--predictions {input.predictions} --out-dir {params.tables} --figures-dir {params.figures} > {log} 2>&1"
