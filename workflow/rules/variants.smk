# Nuisance variants of clean splits: occlusion levels, 2D and 3D corruptions, style shifts.


rule make_variant:
    input:
        f"{SYNTH_ROOT}/{{split}}/manifest.csv",
    output:
        directory(f"{SYNTH_ROOT}/variants/{{split}}/{{variant}}/{{level}}"),
    params:
        config=VARIANT_CONFIG,
    log:
        side_log("variants/{split}/{variant}/{level}.log"),
    benchmark:
        side_benchmark("variants/{split}/{variant}/{level}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m robust3d make-variant --config {params.config} --manifest {input} "
        "--variant {wildcards.variant} --level {wildcards.level} --out {output} > {log} 2>&1"


rule variant_contact_sheet:
    input:
        variant=f"{SYNTH_ROOT}/variants/{{split}}/{{variant}}/{{level}}",
        cad=f"{SYNTH_ROOT}/cad",
    output:
        report(f"{SYNTH_ROOT}/variants/{{split}}/{{variant}}/{{level}}.png", caption="../report/variant.rst",
               category="Variants", subcategory="{variant}", labels={"split": "{split}", "level": "{level}"}),
    log:
        side_log("variants/{split}/{variant}/{level}_sheet.log"),
    benchmark:
        side_benchmark("variants/{split}/{variant}/{level}_sheet.tsv")
    conda:
        "../../envs/robust3d.yaml"
    shell:
        "python -m robust3d contact-sheet --manifest {input.variant}/manifest.csv --cad-root {input.cad} "
        "--out {output} > {log} 2>&1"
