# Self-supervised pretraining (shared stage): DINO on the unlabelled pool, one job per pretrain.backbones entry.
# A paper's backbone entry with `weights: ssl:<name>` starts from <results>/pretrain/<name>/backbone.pt.


rule pretrain:
    input:
        pool=expand(f"{SYNTH_ROOT}/{{split}}/manifest.csv", split=PRETRAIN["splits"]),
        memory_bank=f"{SYNTH_ROOT}/train/manifest.csv",
        scored=f"{SYNTH_ROOT}/test/manifest.csv",
    output:
        weights=f"{RESULTS}/pretrain/{{backbone}}/backbone.pt",
        record=f"{RESULTS}/pretrain/{{backbone}}/train.json",
    params:
        config=PRETRAIN_CONFIG,
    log:
        side_log("pretrain/{backbone}.log"),
    benchmark:
        side_benchmark("pretrain/{backbone}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 2
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=6000,
        runtime=lambda wildcards, attempt: 120 * attempt,
    shell:
        "python -m robust3d pretrain --config {params.config} --name {wildcards.backbone} --pool {input.pool} "
        "--memory-bank {input.memory_bank} --scored {input.scored} --out {output.weights} "
        "--record {output.record} > {log} 2>&1"
