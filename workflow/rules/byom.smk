# Bring your own model (config `byom:`, docs/byom.md): each brought model predicts exactly the (split, variant,
# level) cells of the tables its outputs fill, in every paper it takes part in, as <results>/<paper>/predictions/
# <benchmark>/byom-<name>/... beside the paper's own models; the shared metrics rule and the paper's tables read
# them unchanged. Its label set (and fit()'s data) is the paper's train split; it is never trained by a rule.
# (BYOM, BYOM_CONFIG and byom_stage live in common.smk.)


rule byom_predict:
    input:
        model=lambda wildcards: str(model_file(BYOM[wildcards.name]["file"])),  # editing it reruns its predictions
        train=lambda wildcards: byom_stage(wildcards).byom_train_input(wildcards),
        manifest=lambda wildcards: byom_stage(wildcards).predict_input(wildcards),
    output:
        f"{RESULTS}/{{paper}}/predictions/{{benchmark}}/byom-{{name}}/{{split}}/{{variant}}/{{level}}.csv",
    params:
        config=BYOM_CONFIG,
        manifest=lambda wildcards, input: byom_stage(wildcards).predict_manifest(wildcards, input),
        unseen=lambda wildcards: byom_stage(wildcards).unseen_flag(wildcards),
    wildcard_constraints:
        paper="|".join(STAGES) or "none",
        name="|".join(BYOM) or "none",
        split="[a-z0-9_]+",
    log:
        side_log("byom/{paper}/{name}/{benchmark}/{split}/{variant}/{level}.log"),
    benchmark:
        side_benchmark("byom/{paper}/{name}/{benchmark}/{split}/{variant}/{level}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=lambda wildcards, attempt: 4000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    shell:
        "python -m robust3d byom-predict --config {params.config} --name {wildcards.name} --train {input.train} "
        "--manifest {params.manifest} --out {output} {params.unseen} --no-progress > {log} 2>&1"
