# The tidy metrics of one benchmark (benchmark, paper, model, split, variant, level, metric, value, n): every
# enabled paper stage's predictions on it, each row's paper taken from its file's path
# (<results>/<paper>/predictions/<benchmark>/...).


rule metrics:
    input:
        stage_predictions,
    output:
        f"{RESULTS}/{{benchmark}}/metrics.csv",
    wildcard_constraints:
        benchmark="[a-z0-9_]+",
    log:
        side_log("metrics/{benchmark}.log"),
    benchmark:
        side_benchmark("metrics/{benchmark}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d evaluate --predictions {input} --benchmark {wildcards.benchmark} --out {output} "
        "> {log} 2>&1"
