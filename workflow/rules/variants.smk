# Nuisance variants of clean splits: occlusion levels, 2D and 3D corruptions, style shifts. One job per split and
# config group (`variants.occlusion`, `corruptions_3d`, ...) builds every (variant, level) folder of the group with
# its contact sheet: a job spends ~3 s importing before its first image, and ImageNet-3DCC alone is 9 x 5 folders.

for _group, _pairs in variant_groups().items():

    rule:
        name:
            f"variants_{_group}"
        input:
            manifest=f"{SYNTH_ROOT}/{{split}}/manifest.csv",
            cad=f"{SYNTH_ROOT}/cad",
        output:
            folders=[directory(f"{SYNTH_ROOT}/variants/{{split}}/{v}/{level}") for v, level in _pairs],
            sheets=[
                report(f"{SYNTH_ROOT}/variants/{{split}}/{v}/{level}.png", caption="../report/variant.rst",
                       category="Variants", subcategory=v, labels={"split": "{split}", "level": level})
                for v, level in _pairs
            ],
        params:
            config=VARIANT_CONFIG,
            variants=" ".join(v for v, _ in _pairs),
            levels=" ".join(level for _, level in _pairs),
        log:
            side_log(f"variants/{{split}}/{_group}.log"),
        benchmark:
            side_benchmark(f"variants/{{split}}/{_group}.tsv")
        conda:
            "../../envs/robust3d.yaml"
        threads: 1
        resources:
            mem_mb=3000,
            runtime=5 + 2 * len(_pairs),
        shell:
            "python -m robust3d make-variant --config {params.config} --manifest {input.manifest} "
            "--variant {params.variants} --level {params.levels} --out {output.folders} --sheet {output.sheets} "
            "--cad-root {input.cad} --threads {threads} > {log} 2>&1"
