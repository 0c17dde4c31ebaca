"""The Snakemake workflow: lint-clean, a dry run of the default config, and a real run of the smoke config."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def run_snakemake(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=REPO, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_lint_is_clean():
    proc = run_snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


def test_dry_run_of_default_config_lists_every_stage():
    proc = run_snakemake("-n", "--forceall")
    out = proc.stdout + proc.stderr
    for rule in ("synth_cad", "synth_render", "synth_manifest", "variants_occlusion", "variants_corruptions_3d",
                 "compnets_train", "compnets_predict", "metrics", "compnets_scaling", "compnets_tables", "pretrain"):
        assert rule in out


def test_seeds_train_and_predict_every_model_once_per_seed():
    """`compnets.seeds` (a --config override here) plans one training job per model and seed, ids <model>@s<k>."""
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    proc = run_snakemake("-n", "--forceall", "--configfile", "configs/smoke.yaml", "--config",
                         "compnets={seeds: [3, 5]}")
    out = proc.stdout + proc.stderr
    trained = {line.split("model=")[1].strip() for line in out.splitlines()
               if "wildcards: model=" in line and "split=" not in line}
    trained = {m for m in trained if m.split("@")[0] in cfg["compnets"]["models"]}  # not other papers' models
    assert trained == {f"{m}@s{k}" for m in cfg["compnets"]["models"] for k in (3, 5)}, trained


def test_bad_config_stops_snakemake_with_one_line(tmp_path):
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    cfg["synthetic"]["splits"]["train"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert "robust3d: config error: key 'synthetic.splits.train': needs at least 1 image" in proc.stderr


def smoke_targets(cfg: dict) -> list[str]:
    """A subset of the smoke config's outputs that still runs every rule at least once (each split kind goes
    through the same rules, and the unit tests render every split kind), to keep CI fast on 2 cores."""
    root = cfg["synthetic"]["root"]
    return [
        f"{root}/train/manifest.csv",  # two chunks: synth_cad, synth_render x2, synth_manifest (+ its sheet)
        f"{root}/train/contact_sheet.png",
        f"{root}/faces/manifest.csv",  # meshes built from identities, 64 px
        f"{root}/variants/test/occlusion/L1",  # variants_occlusion on another split
        f"{root}/variants/test/occlusion/L1.png",  # ... draws each level's sheet
        f"{root}/variants/test/fog_3d/3",  # a depth-aware corruption reads the rendered depth
        f"{cfg['results']}/depth/local/test.json",  # train_depth_local, extract_depth
        # 3D-CompNets: compnets_train (6 models), compnets_predict (clean, variant and unseen splits), metrics,
        # compnets_scaling, compnets_tables (tables, claims, figures)
        f"{cfg['results']}/tables/compnets_claims.csv",
        # pretrain: every backbone of the stage (DINO, the sanity numbers), a few steps each
        *(f"{cfg['results']}/pretrain/{name}/train.json" for name in cfg["pretrain"]["backbones"]),
        # the HTML report: every other output of the config (byom_predict: the example brought model)
        f"{cfg['results']}/report/index.html",
    ]


@pytest.fixture(scope="module")
def smoke_run() -> dict:
    """The smoke config run once from a clean slate (its config returned); the tests below read its outputs."""
    cfg = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    stages = ("models", "depth", "predictions", "synthetic", "compnets", "tables", "figures", "pretrain", "report")
    for folder in (REPO / cfg["synthetic"]["root"], *(REPO / cfg["results"] / s for s in stages)):
        if folder.exists():
            shutil.rmtree(folder)
    # Targets go first: --configfile takes several values.
    run_snakemake(*smoke_targets(cfg), "--cores", str(min(2, os.cpu_count() or 1)), "--configfile",
                  "configs/smoke.yaml")
    return cfg


@pytest.mark.slow
def test_report_opens_in_a_real_browser(smoke_run):
    """The report in headless Chromium: no broken link or image, every registered paper's tables present, every
    claim with its interval and verdict, the brought model's rows; a screenshot beside it. Without a browser the
    test is skipped (with the install command) outside CI and fails under CI=true."""
    from robust3d.papers import PAPERS, stage
    from robust3d.papers import load_config as load
    from robust3d.report.browser import INSTALL_HINT, find_browser, load_page, page_problems

    if find_browser() is None:
        message = f"no headless browser for the report test; install it with: {INSTALL_HINT}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    report = REPO / smoke_run["results"] / "report" / "index.html"
    screenshot = report.with_name("screenshot.png")
    dom = load_page(report, screenshot)
    assert page_problems(dom) == []
    assert screenshot.stat().st_size > 10_000
    config = load(REPO / "configs" / "smoke.yaml")
    for paper in PAPERS:
        files = stage(paper).report_files(config)
        assert f'id="paper-{paper}"' in dom
        for table in files["tables"]:
            anchor = f'id="paper-{paper}-{Path(table).stem}"'
            assert anchor in dom, f"{table} is not in the report"
        claims = pd.read_csv(REPO / files["claims"], keep_default_na=False)
        section = dom.split(f'id="paper-{paper}-claims"', 1)[1].split("</table>", 1)[0]
        assert section.count('class="claim"') == len(claims)
        for claim in claims.itertuples():  # each claim's row shows its verdict and (where computed) its interval
            row = section.split(f"({claim.claim_id})", 1)[1].split('<tr class="claim"', 1)[0]
            assert f">{claim.verdict}</span>" in row, claim.claim_id
            if claim.ci_low != "":
                assert row.count("[") >= 1 and "—" not in row.split("</td>")[3], claim.claim_id
    assert "thumbnail_knn (brought model)" in dom and "(brought model)</td>" in dom
    assert "Job time per stage" in dom and "git commit" in dom


@pytest.mark.slow
def test_smoke_workflow_runs_end_to_end(smoke_run):
    cfg = smoke_run
    root = REPO / cfg["synthetic"]["root"]
    targets = smoke_targets(cfg)
    train = pd.read_csv(root / "train" / "manifest.csv")
    n_cats = len(cfg["synthetic"]["categories"]) - len(cfg["synthetic"]["unseen_categories"])
    assert len(train) == cfg["synthetic"]["splits"]["train"] * n_cats
    assert (root / "train" / train["image"].iloc[0]).exists()
    assert (root / "train" / "contact_sheet.png").stat().st_size > 0
    faces = pd.read_csv(root / "faces" / "manifest.csv")
    fc = cfg["synthetic"]["faces"]
    assert len(faces) == fc["identities"] * fc["tracks_per_identity"] * fc["frames_per_track"]
    test = pd.read_csv(root / "test" / "manifest.csv")
    for variant in ("occlusion/L1", "fog_3d/3"):
        df = pd.read_csv(root / "variants" / "test" / variant / "manifest.csv")
        assert len(df) == len(test)
        assert (root / "variants" / "test" / variant / df["annotation"].iloc[0]).exists()
    for name in cfg["pretrain"]["backbones"]:
        record = json.loads((REPO / cfg["results"] / "pretrain" / name / "train.json").read_text())
        assert record["step"] == record["total_steps"] > 0 and len(record["monitor"]) == record["step"] + 1
        assert {"pretrained", "random_init", "raw_pixels", "colour_histogram"} <= set(record["sanity"])
        assert (REPO / cfg["results"] / "pretrain" / name / "backbone.pt").stat().st_size > 0
    metrics = json.loads((REPO / cfg["results"] / "depth" / "local" / "test.json").read_text())
    assert metrics["backend"] == "local" and 0 < metrics["abs_rel"] < 1
    results = REPO / cfg["results"]
    tidy = pd.read_csv(results / "synthetic" / "metrics.csv", dtype={"level": str})
    assert {"compnets_vitb14", "resnet50"} <= set(tidy["model"]) and {"test", "style", "unseen"} <= set(tidy["split"])
    for n in (1, 2, 3, 4):
        table = pd.read_csv(results / "tables" / f"compnets_table{n}.csv")
        assert set(table["source"]) == {"ours", "paper"} and table.loc[table["source"] == "ours", "value"].notna().any()
        assert "| paper |" in (results / "tables" / f"compnets_table{n}.md").read_text()
    claims = pd.read_csv(results / "tables" / "compnets_claims.csv", dtype={"holds": str})
    assert set(claims["holds"]) <= {"true", "false", "untestable"} and (claims["holds"] != "untestable").any()
    verdicts = set(claims["verdict"])  # smoke: occlusion averages over levels it does not build have no samples
    assert verdicts <= {"holds", "fails", "within noise", "untestable", "not assessed (one timed run)",
                        "not assessed (no per-sample values)"}, verdicts
    slopes = claims[claims["claim_id"].str.startswith("time_slope")]  # judged on the repeated step timings
    assert len(slopes) and slopes["verdict"].isin(["holds", "fails", "within noise"]).all(), slopes
    # one training epoch: no repeats to resample
    assert claims.set_index("claim_id").loc["train_time_7x", "verdict"] == "not assessed (one timed run)"
    chance = pd.read_csv(results / "tables" / "compnets_chance.csv", dtype={"level": str})
    assert set(chance["verdict"]) <= {"above chance", "at chance", "below chance"} and len(chance)
    assert not ((chance["split"] == "unseen") & (chance["metric"] == "class_accuracy")).any()
    assert "chance on test" in (results / "tables" / "compnets_table4.md").read_text()
    unseen_note = next(line for line in (results / "tables" / "compnets_table3.md").read_text().splitlines()
                       if "chance on unseen" in line)
    assert "pose π/6" in unseen_note and "class" not in unseen_note.split(":", 1)[1]  # no class accuracy there
    for n in (1, 2):
        assert (results / "figures" / f"compnets_figure{n}.png").stat().st_size > 0
    # The shipped brought model: its rows in the tables its outputs fill, its comparison rows beside the claims.
    table2 = pd.read_csv(results / "tables" / "compnets_table2.csv")
    brought = table2[(table2["row"] == "byom-thumbnail_knn") & (table2["source"] == "ours")]
    assert len(brought) == 2 and brought["value"].notna().all()
    assert len(pd.read_csv(results / "tables" / "compnets_claims_byom.csv"))
    # The standalone `tables` command, given the same config file, builds the same tables from the same results.
    from robust3d.cli import main
    from robust3d.papers import load_config
    from robust3d.papers.compnets.plan import CompnetsPlan

    plan = CompnetsPlan(load_config(REPO / "configs" / "smoke.yaml"), "unused")
    alone = results / "tables-standalone"
    assert main(["tables", "--paper", "compnets", "--config", str(REPO / "configs" / "smoke.yaml"),
                 "--metrics", str(REPO / plan.metrics), "--benchmark", plan.benchmark,
                 "--train-metrics", *(str(REPO / p) for p in plan.train_metrics()),
                 "--extra", f"scaling={REPO / plan.scaling}",
                 "--predictions", *(str(REPO / p) for p in plan.predictions()), "--out-dir", str(alone)]) == 0
    for name in (*(f"compnets_table{n}.csv" for n in (1, 2, 3, 4)), "compnets_claims.csv", "compnets_chance.csv"):
        assert (alone / name).read_text() == (results / "tables" / name).read_text(), name
    shutil.rmtree(alone)
    # A second run finds nothing to do.
    proc = run_snakemake(*targets, "-n", "--configfile", "configs/smoke.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # A file replaced inside a chunk folder (a restored image) reruns the split's merge and what reads it.
    image = next((root / "test" / "chunk000" / "images").iterdir())
    image.write_bytes(image.read_bytes())
    proc = run_snakemake(*targets, "-n", "--configfile", "configs/smoke.yaml")
    out = proc.stdout + proc.stderr
    assert "rule synth_manifest:" in out and "Updated input files" in out, out[-3000:]
    assert "rule compnets_predict:" in out
    # The README's report command: one HTML file holding every table, the claims and the figures.
    report = results / "report.html"
    run_snakemake(*targets, "--report", str(report), "--configfile", "configs/smoke.yaml")
    html = report.read_text()
    for name in (*(f"compnets_table{n}.csv" for n in (1, 2, 3, 4)), "compnets_claims.csv", "compnets_figure1.png"):
        assert name in html, f"{name} is not in the Snakemake report"
