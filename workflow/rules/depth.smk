# Pseudo-depth for the 3D-Prior paper: the local network is trained on the held-out `depth_train` split's true
# depth, then predicts depth for the listed splits; `zoedepth` runs the real ZoeDepth from torch.hub instead.


rule train_depth_local:
    input:
        f"{SYNTH_ROOT}/depth_train/manifest.csv",
    output:
        model=f"{RESULTS}/depth/local/model/model.pt",
        metrics=f"{RESULTS}/depth/local/model/metrics.json",
    params:
        config=DEPTH_CONFIG,
    log:
        side_log("depth/train_local.log"),
    benchmark:
        side_benchmark("depth/train_local.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 2
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    shell:
        "python -m robust3d train-depth --config {params.config} --manifest {input} --out {output.model} "
        "--metrics {output.metrics} > {log} 2>&1"


rule extract_depth:
    input:
        unpack(depth_inputs),
    output:
        folder=directory(f"{SYNTH_ROOT}/pseudo_depth/{DEPTH_BACKEND}/{{split}}"),
        metrics=f"{RESULTS}/depth/{DEPTH_BACKEND}/{{split}}.json",
    params:
        config=DEPTH_CONFIG,
        weights=lambda wildcards, input: f"--weights {input.weights}" if DEPTH_BACKEND == "local" else "",
    log:
        side_log("depth/extract_{split}.log"),
    benchmark:
        side_benchmark("depth/extract_{split}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 2
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 30 * attempt,
    shell:
        "python -m robust3d extract-depth --config {params.config} --manifest {input.manifest} {params.weights} "
        "--out {output.folder} --metrics {output.metrics} > {log} 2>&1"
