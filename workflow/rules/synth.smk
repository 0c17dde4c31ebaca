# The embedded synthetic benchmark: CAD models, then each split rendered in parallel chunks.


rule synth_cad:
    output:
        directory(f"{SYNTH_ROOT}/cad"),
    params:
        config=SYNTH_CONFIG,
    log:
        side_log("synth/cad.log"),
    benchmark:
        side_benchmark("synth/cad.tsv")
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d synth-cad --config {params.config} --out {output} > {log} 2>&1"


rule synth_render:
    input:
        f"{SYNTH_ROOT}/cad",
    output:
        directory(f"{SYNTH_ROOT}/{{split}}/chunk{{chunk}}"),
    params:
        config=SYNTH_CONFIG,
    log:
        side_log("synth/{split}/chunk{chunk}.log"),
    benchmark:
        side_benchmark("synth/{split}/chunk{chunk}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    shell:
        "python -m robust3d synth-render --config {params.config} --split {wildcards.split} "
        "--chunk {wildcards.chunk} --cad-root {input} --out {output} --threads {threads} --sheet > {log} 2>&1"


# The split's contact sheet is chunk 0's (up to `chunk_size` samples), drawn by its render job.
rule synth_manifest:
    input:
        synth_chunks,
    output:
        manifest=f"{SYNTH_ROOT}/{{split}}/manifest.csv",
        sheet=report(f"{SYNTH_ROOT}/{{split}}/contact_sheet.png", caption="../report/contact_sheet.rst",
                     category="Datasets", subcategory="synthetic", labels={"split": "{split}"}),
    log:
        side_log("synth/{split}/manifest.log"),
    benchmark:
        side_benchmark("synth/{split}/manifest.tsv")
    conda:
        "../../envs/robust3d.yaml"
    shell:
        "python -m robust3d merge-manifests {input} --out {output.manifest} --sheet {output.sheet} > {log} 2>&1"


# A class subset of a split (synthetic.subsets, e.g. OOD-CV's 10 classes): a manifest pointing at the split's files.
rule synth_subset:
    input:
        f"{SYNTH_ROOT}/{{split}}/manifest.csv",
    output:
        f"{SYNTH_ROOT}/subsets/{{subset}}/{{split}}/manifest.csv",
    params:
        classes=lambda wildcards: " ".join(SYNTH["subsets"][wildcards.subset]["classes"]),
    wildcard_constraints:
        subset="|".join(SYNTH["subsets"]) or "no_subset",
    log:
        side_log("synth/subsets/{subset}/{split}.log"),
    benchmark:
        side_benchmark("synth/subsets/{subset}/{split}.tsv")
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q} --out {output:q} --classes {params.classes} "
        "> {log} 2>&1"
