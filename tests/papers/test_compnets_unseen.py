"""3D-CompNets' unseen classes (issue 17 items 3 and 8): held out by the stage from the synthetic benchmark's own
classes (seen-class train/calibration/test/style/variants, `unseen` = the test images of the held-out classes, the
procedural split kept as `unseen_procedural`), the seen class each unseen image borrowed and the claim that it is a
similar one, and the paper-scale second model set (`<model>@unseen`, trained without the unseen classes)."""

from __future__ import annotations

import copy
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures_real import write_imagenet3d

from robust3d.cli import main
from robust3d.data.format import MANIFEST_COLUMNS, manifest_split
from robust3d.errors import ConfigError
from robust3d.models.seeds import split_id
from robust3d.papers import compnets, validate_config
from robust3d.papers._routes import SyntheticRoute
from robust3d.papers.compnets import report
from robust3d.papers.compnets.claims import borrow_claims
from robust3d.papers.compnets.plan import CompnetsPlan, unavailable
from robust3d.papers.compnets.routes import (
    HELD_OUT_SPLITS,
    PROCEDURAL,
    HeldOutSyntheticRoute,
    base_model,
    check_data,
    data_route,
    is_unseen_set,
    unseen_set_id,
)
from robust3d.papers.compnets.tables import BORROWED, TABLE3_MODELS
from robust3d.synth.plan import train_categories
from robust3d.tables.render import long_frame
from robust3d.tables.sources import Sources

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
UNSEEN = ["motorbike", "bus"]
MESH_MODELS = ("novum_resnet50", "compnets_resnet50_n64", "compnets_resnet50_n32", "compnets_vitb14")


def default_raw() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.fixture
def config(tmp_path) -> dict:
    """config.yaml (motorbike and bus held out, siblings declared) with its outputs under tmp_path."""
    cfg = default_raw()
    cfg["results"] = str(tmp_path / "results")
    cfg["synthetic"]["root"] = str(tmp_path / "results" / "data" / "synthetic")
    return validate_config(cfg)


def seen(cfg: dict) -> list[str]:
    synth = cfg["synthetic"]
    return [c for c in synth["categories"] if c not in synth["unseen_categories"] and c not in UNSEEN]


# ---------------------------------------------------------------------------------------------- hand-made benchmark

def write_split(folder: Path, classes: list[str], per_class: int, split: str, variant: str = "clean",
                level: str = "") -> pd.DataFrame:
    """A manifest in the benchmark's layout whose image and annotation files exist (empty), ``per_class`` rows each."""
    rows = []
    for cls in classes:
        for i in range(per_class):
            sid = f"{split}_{cls}_{i:05d}"
            for sub, ext in (("images", "png"), ("annotations", "npz")):
                path = folder / "chunk000" / sub / f"{sid}.{ext}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
            rows.append({"sample_id": sid, "class": cls, "image": f"chunk000/images/{sid}.png",
                         "annotation": f"chunk000/annotations/{sid}.npz", "variant": variant, "level": level})
    df = pd.DataFrame(rows).reindex(columns=list(MANIFEST_COLUMNS), fill_value="")
    df.to_csv(folder / "manifest.csv", index=False)
    return df


def write_benchmark(cfg: dict) -> dict[str, pd.DataFrame]:
    """The splits the 3D-CompNets route reads, every training class in each, and one variant of test."""
    root = Path(cfg["synthetic"]["root"])
    train = train_categories(cfg["synthetic"])
    written = {split: write_split(root / split, train, 2, split) for split in ("train", "calibration", "test")}
    written["style"] = write_split(root / "style", train, 1, "style", "cartoon", "0")
    written["unseen"] = write_split(root / "unseen", cfg["synthetic"]["unseen_categories"], 2, "unseen")
    written["occlusion"] = write_split(root / "variants" / "test" / "occlusion" / "L1", train, 2, "test",
                                       "occlusion", "L1")
    return written


def derive(source: str, out: str, flags: str) -> pd.DataFrame:
    """What the rules run (`subset-manifest` with the route's class selection), read back."""
    assert main(["subset-manifest", "--manifest", source, "--out", out, *shlex.split(flags)]) == 0
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def test_derived_manifests_hold_exactly_the_seen_classes_and_unseen_the_held_out_test_images(config):
    bench = write_benchmark(config)
    before = {p: p.read_bytes() for p in Path(config["synthetic"]["root"]).rglob("manifest.csv")}
    route = data_route(config)
    assert isinstance(route, HeldOutSyntheticRoute) and route.unseen_classes == UNSEEN
    assert route.seen_classes == seen(config) and len(route.seen_classes) == 10
    derived = {part: derive(route.source_manifest(part), route.manifest(part), route.subset_flags(part))
               for part in HELD_OUT_SPLITS}
    for part in ("train", "calibration", "test", "style"):
        assert set(derived[part]["class"]) == set(seen(config)), part
        assert len(derived[part]) == len(bench[part]) - sum(bench[part]["class"].isin(UNSEEN))
    test = bench["test"]
    assert sorted(derived["unseen"]["sample_id"]) == sorted(test.loc[test["class"].isin(UNSEEN), "sample_id"])
    assert set(derived["unseen"]["class"]) == set(UNSEEN)
    assert sorted(derived[PROCEDURAL]["sample_id"]) == sorted(bench["unseen"]["sample_id"])
    assert set(derived[PROCEDURAL]["class"]) == {"proc000", "proc001"}
    for part, df in derived.items():  # the split a prediction reports is read from where its manifest lies
        folder = Path(route.manifest(part)).parent
        assert manifest_split(route.manifest(part)) == part and folder.is_relative_to(route.derived_root)
        assert all((folder / p).is_file() for p in df["image"]), part  # pointing at the benchmark's files
    occluded = derive(f"{route.source_variant('occlusion', 'L1')}/manifest.csv",
                      route.variant_manifest("occlusion", "L1"), route.subset_flags("test"))
    assert set(occluded["class"]) == set(seen(config)) and set(occluded["level"]) == {"L1"}
    assert manifest_split(route.variant_manifest("occlusion", "L1")) == "test"
    # The benchmark itself (what every other paper reads) is untouched and keeps all 12 training classes.
    assert {p: p.read_bytes() for p in Path(config["synthetic"]["root"]).rglob("manifest.csv")} == before
    every = train_categories(config["synthetic"])
    assert set(UNSEEN) <= set(every) and len(every) == 12
    shared = SyntheticRoute(config)
    assert shared.manifest("train") == f"{config['synthetic']['root']}/train/manifest.csv"
    assert shared.seen_manifest("train") == shared.manifest("train")


def test_no_held_out_class_reads_the_benchmark_as_it_is(config):
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"].update(unseen_classes=[], siblings={})
    route = data_route(validate_config(cfg))
    assert type(route) is SyntheticRoute and route.unseen_classes == ["proc000", "proc001"]
    assert route.manifest("unseen") == f"{cfg['synthetic']['root']}/unseen/manifest.csv"


# ---------------------------------------------------------------------------------------------- plan and config

class W:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_plan_reads_the_derived_splits_and_predicts_both_unseen_splits(config):
    plan = CompnetsPlan(config, "c.yaml")
    route = plan.route
    assert plan.models == list(config["compnets"]["models"])  # one model set
    assert plan.train_input(W(model="resnet50")) == route.manifest("train") == \
        f"{config['results']}/compnets/data/synthetic/train/manifest.csv"
    assert plan.calibration_input(W(model="resnet50")) == route.manifest("calibration")
    ev = plan.evaluations()
    assert {m for m, s, *_ in ev if s == "unseen"} == set(config["compnets"]["models"])  # Table 3 + borrowed
    assert {m for m, s, *_ in ev if s == PROCEDURAL} == set(TABLE3_MODELS)
    assert plan.predict_input(W(split="test", variant="occlusion", level="L1")) == \
        route.variant_manifest("occlusion", "L1")
    assert plan.predict_input(W(split="style", variant="cartoon", level="0")) == route.manifest("style")
    assert plan.unseen_flag(W(split=PROCEDURAL)) == plan.unseen_flag(W(split="unseen")) == "--unseen"
    assert plan.unseen_flag(W(split="test")) == ""
    assert f"{plan.tables_dir}/compnets_{BORROWED}.csv" in plan.table_outputs()
    assert unavailable(config, PROCEDURAL, "occlusion", "L1") == f"no variants of the '{PROCEDURAL}' split"
    assert "unseen: motorbike, bus (held out by 3D-CompNets)" in route.describe()
    assert "one model set for every table" in route.describe()


def test_model_set_ids_keep_the_seed_mark_last():
    assert unseen_set_id("resnet50") == "resnet50@unseen" == unseen_set_id("resnet50@unseen")
    assert unseen_set_id("resnet50@s3") == "resnet50@unseen@s3"
    assert split_id("resnet50@unseen@s3") == ("resnet50@unseen", 3)
    assert {base_model(i) for i in ("resnet50", "resnet50@s3", "resnet50@unseen", "resnet50@unseen@s3")} == {
        "resnet50"}
    assert is_unseen_set("resnet50@unseen@s3") and not is_unseen_set("resnet50@s3")


def test_separate_model_sets_train_every_model_twice(config):
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"]["separate_unseen_models"] = True
    cfg["compnets"]["seeds"] = [0, 1]
    plan = CompnetsPlan(validate_config(cfg), "c.yaml")
    route = plan.route
    plain = [f"{m}@s{k}" for m in cfg["compnets"]["models"] for k in (0, 1)]
    assert plan.models == [*plain, *(unseen_set_id(m) for m in plain)]
    # all-class models: the benchmark's own splits; the @unseen ones: those less the unseen classes
    assert plan.train_input(W(model="resnet50@s0")) == f"{cfg['synthetic']['root']}/train/manifest.csv"
    assert plan.train_input(W(model="resnet50@unseen@s1")) == f"{route.derived_root}/seen/train/manifest.csv"
    assert plan.calibration_input(W(model="novum_resnet50@unseen@s0")) == \
        f"{route.derived_root}/seen/calibration/manifest.csv"
    assert plan.seen_set_parts() == ["calibration", "train"]
    ev = plan.evaluations()
    assert all(is_unseen_set(m) for m, s, *_ in ev if s in ("unseen", PROCEDURAL))
    assert not any(is_unseen_set(m) for m, s, *_ in ev if s not in ("unseen", PROCEDURAL))
    assert ("compnets_vitb14@unseen@s1", "unseen", "clean", "0") in ev
    assert plan.predict_input(W(split="test", variant="occlusion", level="L1")) == \
        f"{cfg['synthetic']['root']}/variants/test/occlusion/L1"  # all classes
    assert plan.train_runtime(W(model="novum_resnet50@unseen@s1"), 1) == plan.train_runtime(
        W(model="novum_resnet50"), 1)
    assert "Table 3 from models of the 10 others" in route.describe()


@pytest.mark.parametrize(("change", "message"), [
    ({"unseen_classes": ["zebra"]}, r"\['zebra'\] are not training classes of the synthetic benchmark"),
    ({"unseen_classes": ["proc000"]}, r"\['proc000'\] are not training classes"),
    ({"siblings": {"car": ["bus"]}}, r"'compnets.data.siblings.car': not one of compnets.data.unseen_classes"),
    ({"siblings": {"bus": ["motorbike"]}}, r"'compnets.data.siblings.bus': \['motorbike'\] are not seen classes"),
    ({"unseen_classes": [], "siblings": {}, "separate_unseen_models": True},
     "'compnets.data.separate_unseen_models': needs compnets.data.unseen_classes"),
])
def test_check_data_names_the_key(config, change, message):
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"].update(change)
    with pytest.raises(ConfigError, match=message):
        check_data(cfg)
    check_data(config)  # the default passes


def test_holding_out_all_but_one_class_is_refused(config):
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"].update(unseen_classes=seen(config)[1:] + UNSEEN, siblings={})
    with pytest.raises(ConfigError, match="leaves fewer than 2 to train on"):
        check_data(cfg)


# ---------------------------------------------------------------------------------------------- borrowed classes

#: Per model, (class, pose_class) -> images: vitb14 borrows the siblings, NOVUM never does, N = 32 at chance-ish.
BORROWS = {
    "compnets_vitb14": {("motorbike", "bicycle"): 8, ("motorbike", "car"): 2, ("bus", "car"): 5, ("bus", "train"): 3,
                        ("bus", "boat"): 2},
    "novum_resnet50": {("motorbike", "chair"): 10, ("bus", "sofa"): 6, ("bus", "boat"): 4},
    "resnet50": {("motorbike", "bicycle"): 1, ("motorbike", "aeroplane"): 9, ("bus", "car"): 2, ("bus", "boat"): 8},
}


def write_borrowed(path: Path, borrows: dict, twin: bool = False) -> Path:
    """Hand-made unseen predictions: each image's `pose_class` as ``borrows`` says, every pose right."""
    rows = []
    for model, counts in borrows.items():
        i = 0
        for (cls, borrowed), n in counts.items():
            for _ in range(n):
                rows.append({"sample_id": f"test_{cls}_{i:05d}", "class": cls, "pred_class": borrowed,
                             "azimuth": 1.0, "elevation": 0.1, "theta": 0.0, "pred_azimuth": 1.0,
                             "pred_elevation": 0.1, "pred_theta": 0.0, "pose_class": borrowed, "seconds": 0.1,
                             "model": unseen_set_id(model) if twin else model, "split": "unseen",
                             "variant": "clean", "level": "0"})
                i += 1
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def built(config: dict, predictions: Path, train: list[Path] = (), monkeypatch=None):
    sources = Sources.load(None, train, {}, [predictions], models=compnets.models(config),
                           availability=lambda s, v, lv: unavailable(config, s, v, lv))
    if monkeypatch is not None:  # only the borrow claims (the lead adds them to claims() elsewhere)
        monkeypatch.setattr(report, "claims", borrow_claims)
    tables, claims = compnets.build(sources, config)
    return {t.spec.name: t for t in tables}, claims.set_index("claim_id")


def test_borrowed_counts_and_the_sibling_share_against_chance(config, tmp_path, monkeypatch):
    tables, claims = built(config, write_borrowed(tmp_path / "p.csv", BORROWS), monkeypatch=monkeypatch)
    borrowed = tables[BORROWED]
    keys = [c.key for c in borrowed.spec.columns]
    # declared siblings first, then every other class some model borrowed, per unseen class
    assert keys == ["sibling_share", "sibling_chance", "motorbike:bicycle", "motorbike:aeroplane", "motorbike:car",
                    "motorbike:chair", "bus:car", "bus:train", "bus:boat", "bus:sofa"]
    cell = borrowed.cell("ours", "compnets_vitb14", "motorbike:bicycle")
    assert (cell.value, cell.n) == (8.0, 10)
    assert borrowed.cell("ours", "compnets_vitb14", "bus:train").value == 3.0
    assert borrowed.cell("ours", "novum_resnet50", "motorbike:bicycle").value == 0.0
    for model, counts in BORROWS.items():  # each row's counts add up to the class's images
        for cls in UNSEEN:
            total = sum(borrowed.cell("ours", model, k).value for k in keys if k.startswith(f"{cls}:"))
            assert total == sum(n for (c, _), n in counts.items() if c == cls)
    share = borrowed.cell("ours", "compnets_vitb14", "sibling_share")
    assert share.value == pytest.approx(100 * 16 / 20) and share.n == 20
    # chance: a seen class drawn uniformly from the 10 seen classes (the config's; no train.json given)
    assert borrowed.cell("ours", "compnets_vitb14", "sibling_chance").value == pytest.approx((10 * 10 + 10 * 20) / 20)
    assert borrowed.cell("ours", "compnets_resnet50_n64", "sibling_share").missing  # no predictions of it
    assert "compnets_table3_borrowed" in " ".join(tables["table3"].spec.notes)
    df = long_frame(borrowed)
    assert set(df["table"]) == {BORROWED} and len(df[(df["source"] == "ours") & df["value"].notna()]) == 3 * 10
    # the claim, per neural mesh model, through the engine's paired bootstrap over the unseen images
    holds = claims.loc["unseen_borrows_siblings_compnets_vitb14"]
    assert holds["holds"] == "true" and holds["verdict"] == "holds" and holds["n_samples"] == 20
    assert holds["ci_low"] > 0 and holds["ours_statistic"] == pytest.approx(80 - 15)
    assert holds["paper_holds"] == "true" and holds["paper_evidence"].startswith("text: §5.3")
    fails = claims.loc["unseen_borrows_siblings_novum_resnet50"]
    assert fails["holds"] == "false" and fails["verdict"] == "fails" and fails["ci_high"] < 0
    assert claims.loc["unseen_borrows_siblings_compnets_resnet50_n64", "holds"] == "untestable"
    assert "resnet50" not in {i.removeprefix("unseen_borrows_siblings_") for i in claims.index}  # mesh models only


def test_chance_uses_the_models_own_classes_and_no_siblings_is_untestable(config, tmp_path, monkeypatch):
    train = tmp_path / "vit.json"
    train.write_text(pd.Series({"model": "compnets_vitb14", "family": "neural_mesh",
                                "classes": ["bicycle", "car", "boat", "chair"]}).to_json())
    tables, _ = built(config, write_borrowed(tmp_path / "p.csv", BORROWS), [train], monkeypatch)
    chance = tables[BORROWED].cell("ours", "compnets_vitb14", "sibling_chance")  # train is not among its classes
    assert chance.value == pytest.approx((10 * 25 + 10 * 25) / 20)
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"]["siblings"] = {}
    tables, claims = built(cfg, write_borrowed(tmp_path / "p.csv", BORROWS), monkeypatch=monkeypatch)
    assert "no unseen class has declared siblings" in tables[BORROWED].cell("ours", "compnets_vitb14",
                                                                            "sibling_share").note
    assert (claims["holds"] == "untestable").all()


def test_table3_has_the_held_out_and_the_procedural_columns(config, tmp_path):
    preds = write_borrowed(tmp_path / "p.csv", {"compnets_vitb14": BORROWS["compnets_vitb14"]})
    df = pd.read_csv(preds)
    procedural = df.head(4).assign(split=PROCEDURAL, **{"class": ["proc000"] * 2 + ["proc001"] * 2},
                                   sample_id=[f"unseen_proc_{i}" for i in range(4)], pred_azimuth=[1.0, 3.0, 1.0, 1.0])
    pd.concat([df, procedural]).to_csv(preds, index=False)
    t3 = built(config, preds)[0]["table3"]
    keys = [c.key for c in t3.spec.columns]
    assert keys[:2] == UNSEEN and keys[-3:] == [f"{PROCEDURAL}:proc000", f"{PROCEDURAL}:proc001",
                                               f"{PROCEDURAL}:average"]
    assert t3.cell("ours", "compnets_vitb14", "motorbike").value == 100.0  # every hand-made pose is right
    assert t3.cell("ours", "compnets_vitb14", f"{PROCEDURAL}:proc000").value == 50.0
    assert t3.cell("ours", "compnets_vitb14", "teapot").missing and t3.cell("paper", "compnets_vitb14", "teapot").value
    notes = " ".join(t3.spec.notes)
    assert "held out of training by this stage" in notes and "One model set for every table" in notes
    assert "procedural" in notes


def test_separate_sets_table3_reads_the_unseen_set(config, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["compnets"]["data"]["separate_unseen_models"] = True
    cfg = validate_config(cfg)
    tables = built(cfg, write_borrowed(tmp_path / "p.csv", BORROWS, twin=True))[0]
    assert tables["table3"].cell("ours", "compnets_vitb14", "motorbike").n == 10  # from compnets_vitb14@unseen
    assert tables[BORROWED].cell("ours", "compnets_vitb14", "motorbike:bicycle").value == 8.0
    assert "ids <model>@unseen" in " ".join(tables["table3"].spec.notes)
    plain = built(cfg, write_borrowed(tmp_path / "q.csv", BORROWS))[0]  # the all-class set predicts no unseen
    assert plain["table3"].cell("ours", "compnets_vitb14", "motorbike").missing


# ---------------------------------------------------------------------------------------------- dry runs

def dry_run(*args: str) -> dict[str, list[dict[str, str]]]:
    """Rule -> its jobs' `input`, `output` and shell command, from `snakemake -n -p`."""
    proc = subprocess.run([*SNAKEMAKE, "-n", "-p", "--forceall", *args], cwd=REPO, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in re.split(r"^(?:local)?rule ", text, flags=re.M)[1:]:
        fields = {k: m.group(1) for k in ("input", "output")
                  if (m := re.search(rf"^\s+{k}: (.*)$", block, flags=re.M))}
        shell = re.search(r"^Shell command: (.*)$", block, flags=re.M) or re.search(r"^\s+(python -m .*)$", block,
                                                                                     flags=re.M)
        fields["shell"] = shell.group(1) if shell else ""
        jobs.setdefault(block.split(":", 1)[0], []).append(fields)
    return jobs


def test_dry_run_of_the_default_config_derives_the_seen_and_unseen_splits():
    jobs = dry_run()
    derived = "results/compnets/data/synthetic"
    assert {j["output"] for j in jobs["compnets_synthetic_subset"]} == {
        f"{derived}/{p}/manifest.csv" for p in HELD_OUT_SPLITS}
    unseen = next(j for j in jobs["compnets_synthetic_subset"] if j["output"] == f"{derived}/unseen/manifest.csv")
    assert unseen["input"] == "results/data/synthetic/test/manifest.csv"
    assert "--classes motorbike bus" in unseen["shell"]
    assert len(jobs["compnets_synthetic_variant_subset"]) == 7  # occlusion L1-L3 and four corruptions of Table 4
    assert all(j["input"].startswith(f"{derived}/train/manifest.csv") for j in jobs["compnets_train"])
    predicted = {j["output"].split("/predictions/synthetic/")[1] for j in jobs["compnets_predict"]}
    assert {p.split("/")[0] for p in predicted if "/unseen/" in p} == set(default_raw()["compnets"]["models"])
    assert "compnets_seen_set" not in jobs


def test_dry_run_of_the_paper_config_plans_the_188_and_178_class_sets(tmp_path):
    write_imagenet3d(tmp_path / "raw")
    out = tmp_path / "out"
    jobs = dry_run("--configfile", "configs/paper-compnets.yaml", "--config",
                   f"datasets={{raw_root: {tmp_path / 'raw'}, out_root: {out}}}")
    derived = f"{out}/imagenet3d/compnets"
    models = list(yaml.safe_load((REPO / "configs" / "paper-compnets.yaml").read_text())["compnets"]["models"])
    trained = {j["output"].split("/models/")[1].split("/")[0]: j["input"] for j in jobs["compnets_train"]}
    assert set(trained) == {*models, *(unseen_set_id(m) for m in models)}  # 6 + 6 training jobs
    for m in models:
        assert trained[m].startswith(f"{derived}/train/manifest.csv, {derived}/calibration/manifest.csv")
        assert trained[unseen_set_id(m)].startswith(
            f"{derived}/seen/train/manifest.csv, {derived}/seen/calibration/manifest.csv")
    # the 188-class data keep every class; the 178-class set's are the same images less the unseen classes
    (holdout,) = jobs["compnets_holdout"]
    assert "--exclude-classes" not in holdout["shell"] and "--held-out" in holdout["shell"]
    seen_set = {j["output"]: j for j in jobs["compnets_seen_set"]}
    assert set(seen_set) == {f"{derived}/seen/{p}/manifest.csv" for p in ("train", "calibration")}
    assert all("--exclude-classes tricycle unicycle" in j["shell"] for j in seen_set.values())
    predicted = [j["output"].split("/predictions/imagenet3d/")[1].split("/") for j in jobs["compnets_predict"]]
    assert {m for m, split, *_ in predicted if split == "unseen"} == {unseen_set_id(m) for m in models}
    assert all(not is_unseen_set(m) for m, split, *_ in predicted if split != "unseen")
    assert {m for m, split, *_ in predicted if split == "test"} == set(models)
    tables_input = jobs["compnets_tables"][0]["input"]
    assert "results/compnets/models/compnets_vitb14@unseen/train.json" in tables_input


def test_paper_config_declares_the_papers_pairs_and_separate_sets():
    from robust3d.papers import load_config

    cfg = load_config(REPO / "configs" / "paper-compnets.yaml")
    data = cfg["compnets"]["data"]
    assert data["separate_unseen_models"] is True and len(data["unseen_classes"]) == 10
    assert data["siblings"] == {"unicycle": ["bicycle"], "teapot": ["kettle"]}
    check_data(cfg)
    smoke = validate_config(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()))
    check_data(smoke)
    assert isinstance(data_route(smoke), HeldOutSyntheticRoute) and not data_route(smoke).separate
    assert np.isin(["motorbike", "bus"], default_raw()["synthetic"]["categories"]).all()
