# 3D-CompNets (paper 1): every model of `compnets.models` (dual-head baselines and neural mesh models) trained on the
# train split of the data route (compnets.data.source: the synthetic benchmark or ImageNet3D), neural mesh models
# with the compnets loss reading the calibration split's confusion; per-sample predictions of exactly the
# (model, split, variant, level) cells the tables read; the scaling run of Figure 2; Tables 1-4, the claims and
# Figures 1-2. On ImageNet3D, the splits the paper uses but the dataset does not ship are derived as manifests
# pointing at the converted files. On the synthetic benchmark with compnets.data.unseen_classes this stage holds
# those classes out itself (seen-class train/calibration/test/style/variants, `unseen` = their test images,
# `unseen_procedural` = the benchmark's procedural unseen split), as manifests under <results>/compnets/data/; the
# other papers keep every class. With compnets.data.separate_unseen_models every model is trained twice: <model> on
# all classes, <model>@unseen on the seen ones (<derived root>/seen/), which alone predicts the unseen splits.
# The plan (paths, input functions, resources) is STAGES["compnets"] (robust3d.papers.compnets.Plan, built in
# common.smk); outputs live under <results>/compnets/.
from robust3d.papers.compnets.routes import HELD_OUT_SPLITS, HeldOutSyntheticRoute, ImageNet3DRoute

COMPNETS = STAGES["compnets"]
COMPNETS_THREADS = config["compnets"]["train"]["num_threads"]
INET3D = ImageNet3DRoute(config)
INET3D_UNSEEN = " ".join(config["compnets"]["data"]["unseen_classes"])
SYNTH_HELD_OUT = HeldOutSyntheticRoute(config)


rule compnets_train:
    input:
        train=COMPNETS.train_input,  # <model>@unseen: the seen classes' (separate model sets)
        calibration=COMPNETS.calibration_input,
        cad=COMPNETS.cad_input,
        ssl=COMPNETS.ssl_input,  # weights: ssl:<name> -> the pretraining stage's backbone.pt
    output:
        model=f"{COMPNETS.root}/models/{{model}}/model.pt",
        metrics=f"{COMPNETS.root}/models/{{model}}/train.json",
    params:
        config=COMPNETS.train_config_file,
        cad_link=COMPNETS.cad_link_command,  # held-out synthetic route: <derived root>/cad -> the benchmark's CAD
    wildcard_constraints:
        model="|".join(COMPNETS.models),
    log:
        side_log("compnets/train/{model}.log"),
    benchmark:
        side_benchmark("compnets/train/{model}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: COMPNETS_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=COMPNETS.train_mem,
        runtime=COMPNETS.train_runtime,
    shell:
        "{params.cad_link}python -m robust3d train-model --config {params.config} --paper compnets "
        "--model {wildcards.model} --input train={input.train} --input calibration={input.calibration} "
        "--out {output.model} "
        "--metrics {output.metrics} > {log} 2>&1"


rule compnets_predict:
    input:
        model=f"{COMPNETS.root}/models/{{model}}/model.pt",
        manifest=COMPNETS.predict_input,
    output:
        f"{COMPNETS.root}/predictions/{COMPNETS.benchmark}/{{model}}/{{split}}/{{variant}}/{{level}}.csv",
    params:
        config=COMPNETS.config_file,
        manifest=COMPNETS.predict_manifest,
        unseen=COMPNETS.unseen_flag,
    wildcard_constraints:
        model="|".join(COMPNETS.models),
        split="[a-z0-9_]+",  # also this stage's own unseen_procedural
    log:
        side_log("compnets/predict/{model}/{split}/{variant}/{level}.log"),
    benchmark:
        side_benchmark("compnets/predict/{model}/{split}/{variant}/{level}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: COMPNETS_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=COMPNETS.predict_mem,
        runtime=COMPNETS.predict_runtime,
    shell:
        "python -m robust3d predict --config {params.config} --paper compnets --model {wildcards.model} "
        "--checkpoint {input.model} --manifest {params.manifest} --out {output} {params.unseen} > {log} 2>&1"


rule compnets_scaling:
    output:
        COMPNETS.scaling,
    params:
        config=COMPNETS.config_file,
    log:
        side_log("compnets/scaling.log"),
    benchmark:
        side_benchmark("compnets/scaling.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: COMPNETS_THREADS
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime=lambda wildcards, attempt: 60 * attempt,
    shell:
        "python -m robust3d compnets-scaling --config {params.config} --out {output} > {log} 2>&1"


rule compnets_tables:
    input:
        metrics=COMPNETS.metrics,
        train=COMPNETS.train_metrics(),
        scaling=COMPNETS.scaling,
        predictions=COMPNETS.predictions(),  # per-sample: Table 3's classes, the claims' paired bootstrap
    output:
        # Each table's CSV in the Snakemake report (`snakemake --report`); the .md beside it is the same table.
        tables=[
            report(path, caption="../../report/papers/compnets/table.rst", category="Tables",
                   subcategory="3D-CompNets", labels={"table": Path(path).stem})
            if path.endswith(".csv") else path
            for path in COMPNETS.table_outputs()
        ],
        claims=report(COMPNETS.claims, caption="../../report/papers/compnets/claims.rst", category="Tables",
                      subcategory="3D-CompNets"),
        byom_claims=COMPNETS.byom_claims,  # where the brought models (config byom:) stand in the claims' cells
        chance=report(COMPNETS.chance, caption="../../report/papers/compnets/chance.rst", category="Tables",
                      subcategory="3D-CompNets"),
        figure1=report(COMPNETS.figures()[0], caption="../../report/papers/compnets/figure1.rst",
                       category="Figures", subcategory="3D-CompNets"),
        figure2=report(COMPNETS.figures()[1], caption="../../report/papers/compnets/figure2.rst",
                       category="Figures", subcategory="3D-CompNets"),
    params:
        config=COMPNETS.tables_config_file,
        benchmark=COMPNETS.benchmark,
        tables=COMPNETS.tables_dir_param,
        figures=COMPNETS.figures_dir_param,
    log:
        side_log("compnets/tables.log"),
    benchmark:
        side_benchmark("compnets/tables.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    shell:
        "python -m robust3d tables --paper compnets --config {params.config} --metrics {input.metrics} "
        "--benchmark {params.benchmark} --train-metrics {input.train} --extra scaling={input.scaling} "
        "--predictions {input.predictions} --out-dir {params.tables} --figures-dir {params.figures} > {log} 2>&1"


# ImageNet3D route (compnets.data.source: imagenet3d; never requested on the synthetic route): the seen classes'
# train objects minus a held-out calibration share, the val objects of the seen and of the unseen classes, and
# the val variants restricted to the seen classes (robust3d.papers.compnets.routes).


rule compnets_holdout:
    input:
        INET3D.converted_manifest("train"),
    output:
        train=INET3D.manifest("train"),
        calibration=INET3D.manifest("calibration"),
    params:
        unseen=INET3D.exclude_flag,  # every class when the all-class model set trains on it
        fraction=config["compnets"]["data"]["calibration_fraction"],
        seed=config["seed"],
    log:
        side_log("compnets/data/holdout.log"),
    benchmark:
        side_benchmark("compnets/data/holdout.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q} --out {output.train:q} "
        "{params.unseen} --held-out {output.calibration:q} --fraction {params.fraction} "
        "--seed {params.seed} > {log} 2>&1"


rule compnets_val_subset:
    input:
        INET3D.converted_manifest("test"),
    output:
        f"{INET3D.derived_root}/{{part}}/manifest.csv",
    params:
        classes=lambda wildcards: (f"--classes {INET3D_UNSEEN}" if wildcards.part == "unseen"
                                   else INET3D.exclude_flag),
    wildcard_constraints:
        part="test|unseen",
    log:
        side_log("compnets/data/{part}.log"),
    benchmark:
        side_benchmark("compnets/data/{part}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q} --out {output:q} {params.classes} > {log} 2>&1"


rule compnets_variant_subset:
    input:
        INET3D.converted_variant("{variant}", "{level}"),
    output:
        INET3D.variant_manifest("{variant}", "{level}"),
    params:
        unseen=INET3D.exclude_flag,
    log:
        side_log("compnets/data/variants/{variant}/{level}.log"),
    benchmark:
        side_benchmark("compnets/data/variants/{variant}/{level}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q}/manifest.csv --out {output:q} "
        "{params.unseen} > {log} 2>&1"


# Synthetic route with compnets.data.unseen_classes (never requested otherwise): this stage's splits of the
# benchmark (robust3d.papers.compnets.routes.HeldOutSyntheticRoute), manifests pointing at the benchmark's files.


rule compnets_synthetic_subset:
    input:
        lambda wildcards: SYNTH_HELD_OUT.source_manifest(wildcards.part),
    output:
        f"{SYNTH_HELD_OUT.derived_root}/{{part}}/manifest.csv",
    params:
        classes=lambda wildcards: SYNTH_HELD_OUT.subset_flags(wildcards.part),
    wildcard_constraints:
        part="|".join(HELD_OUT_SPLITS),
    log:
        side_log("compnets/data/synthetic/{part}.log"),
    benchmark:
        side_benchmark("compnets/data/synthetic/{part}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q} --out {output:q} {params.classes} > {log} 2>&1"


rule compnets_synthetic_variant_subset:
    input:
        SYNTH_HELD_OUT.source_variant("{variant}", "{level}"),
    output:
        SYNTH_HELD_OUT.variant_manifest("{variant}", "{level}"),
    params:
        classes=SYNTH_HELD_OUT.subset_flags("test"),
    log:
        side_log("compnets/data/synthetic/variants/{variant}/{level}.log"),
    benchmark:
        side_benchmark("compnets/data/synthetic/variants/{variant}/{level}.tsv")
    conda:
        "../../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q}/manifest.csv --out {output:q} {params.classes} "
        "> {log} 2>&1"


# Separate model sets (compnets.data.separate_unseen_models): the seen-class training data of <model>@unseen, the
# all-class train / calibration manifests of the route less the unseen classes (the same images held out).
if COMPNETS.seen_set_parts():

    rule compnets_seen_set:
        input:
            lambda wildcards: COMPNETS.manifest(wildcards.part),
        output:
            f"{COMPNETS.route.derived_root}/seen/{{part}}/manifest.csv",
        params:
            unseen=" ".join(COMPNETS.route.unseen_classes),
        wildcard_constraints:
            part="|".join(COMPNETS.seen_set_parts()),
        log:
            side_log("compnets/data/seen/{part}.log"),
        benchmark:
            side_benchmark("compnets/data/seen/{part}.tsv")
        conda:
            "../../../envs/robust3d.yaml"
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "python -m robust3d subset-manifest --manifest {input:q} --out {output:q} "
            "--exclude-classes {params.unseen} > {log} 2>&1"
