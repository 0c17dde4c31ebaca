# The one-page HTML report (python -m robust3d report): every enabled paper's tables (ours beside the paper's),
# claims with their intervals and verdicts, figures, the data's contact sheets, the pretraining sanity numbers and
# the run's metadata (commit, config hash, versions, machine, job time per stage from benchmarks/). One
# self-contained file (images embedded), readable offline and mailable; `snakemake --report` still makes
# Snakemake's own report of the same tables and figures.


rule report:
    input:
        report_inputs(),  # every other final output (common.smk)
    output:
        f"{RESULTS}/report/index.html",
    params:
        config=write_resolved_config(config, CONFIG_DIR, "report", tuple(config)),
        benchmarks=str(Path(side_benchmark("report.tsv")).parent),  # benchmarks/ (or <results>/benchmarks/)
    log:
        side_log("report.log"),
    benchmark:
        side_benchmark("report.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d report --config {params.config} --out {output} --benchmarks {params.benchmarks} "
        "> {log} 2>&1"
