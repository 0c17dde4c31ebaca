# The 3D-CompNets stage on ImageNet3D (compnets.data.source: imagenet3d): the splits the paper uses but the
# dataset does not ship, as manifests pointing at the converted files (robust3d.tables.routes): the seen classes'
# train objects minus a held-out calibration share, the val objects of the seen and of the unseen classes, and the
# val variants restricted to the seen classes. Unused (never requested) on the synthetic route.
from robust3d.tables.routes import ImageNet3DRoute

INET3D = ImageNet3DRoute(config)
INET3D_UNSEEN = " ".join(config["compnets"]["data"]["unseen_classes"])


rule compnets_holdout:
    input:
        INET3D.converted_manifest("train"),
    output:
        train=INET3D.manifest("train"),
        calibration=INET3D.manifest("calibration"),
    params:
        unseen=INET3D_UNSEEN,
        fraction=config["compnets"]["data"]["calibration_fraction"],
        seed=config["seed"],
    log:
        "logs/compnets/data/holdout.log",
    benchmark:
        "benchmarks/compnets/data/holdout.tsv"
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q} --out {output.train:q} "
        "--exclude-classes {params.unseen} --held-out {output.calibration:q} --fraction {params.fraction} "
        "--seed {params.seed} > {log} 2>&1"


rule compnets_val_subset:
    input:
        INET3D.converted_manifest("test"),
    output:
        f"{INET3D.derived_root}/{{part}}/manifest.csv",
    params:
        classes=lambda wildcards: ("--classes " if wildcards.part == "unseen" else "--exclude-classes ")
        + INET3D_UNSEEN,
    wildcard_constraints:
        part="test|unseen",
    log:
        "logs/compnets/data/{part}.log",
    benchmark:
        "benchmarks/compnets/data/{part}.tsv"
    conda:
        "../../envs/robust3d.yaml"
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
        unseen=INET3D_UNSEEN,
    log:
        "logs/compnets/data/variants/{variant}/{level}.log",
    benchmark:
        "benchmarks/compnets/data/variants/{variant}/{level}.tsv"
    conda:
        "../../envs/robust3d.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "python -m robust3d subset-manifest --manifest {input:q}/manifest.csv --out {output:q} "
        "--exclude-classes {params.unseen} > {log} 2>&1"
