"""Contract checks every registered paper stage passes (timm's list_models() pattern), and a throwaway paper that
registers itself with one package, one rules file, one config section and one schema fragment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from robust3d.papers import PAPERS, stage, validate_config
from robust3d.tables.reference import load_reference

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


@pytest.fixture(scope="module")
def smoke() -> dict:
    return validate_config(yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text()))


@pytest.fixture(scope="module")
def smoke_dry_run() -> str:
    proc = subprocess.run([*SNAKEMAKE, "-n", "--forceall", "--configfile", "configs/smoke.yaml"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("paper", list(PAPERS))
def test_the_stage_exposes_the_module_convention(paper):
    module = stage(paper)
    assert paper == module.PAPER
    for name in ("Plan", "table_specs", "claims", "build", "write", "models", "seeds", "unavailable", "check_config",
                 "report_files"):
        assert callable(getattr(module, name)), name
    assert Path(module.REFERENCE).name == "reference.yaml" and Path(module.REFERENCE).is_file()
    assert (REPO / "workflow" / "rules" / "papers" / f"{paper}.smk").is_file()
    assert (REPO / "workflow" / "schemas" / "papers" / f"{paper}.schema.yaml").is_file()


@pytest.mark.parametrize("paper", list(PAPERS))
def test_reference_keys_are_table_keys(paper):
    module = stage(paper)
    ref = load_reference(module.REFERENCE)
    specs = {s.name: s for s in module.table_specs(None)}
    assert ref.paper and ref.tables
    for name, table in ref.tables.items():
        assert name in specs, f"reference table {name} has no spec"
        assert set(table["rows"]) <= {r.key for r in specs[name].rows}, name
        for row in table["rows"].values():
            assert set(row["values"]) <= {c.key for c in specs[name].columns}, (name, row["label"])


@pytest.mark.parametrize("paper", list(PAPERS))
def test_every_claim_names_an_existing_cell(paper, smoke):
    module = stage(paper)
    specs = {s.name: s for s in module.table_specs(smoke)}
    claims = module.claims(smoke)
    assert claims
    for claim in claims:
        for ref in (*claim.left, *claim.right, *(claim.paper_left or ()), *(claim.paper_right or ())):
            assert ref.table in specs, (claim.id, str(ref))
            assert ref.row in {r.key for r in specs[ref.table].rows}, (claim.id, str(ref))
            assert ref.column in {c.key for c in specs[ref.table].columns}, (claim.id, str(ref))


@pytest.mark.parametrize("paper", list(PAPERS))
def test_the_smoke_plan_keeps_its_files_in_the_paper_namespace(paper, smoke, tmp_path):
    module = stage(paper)
    plan = module.Plan.prepare(smoke, tmp_path)
    root, results = f"{smoke['results']}/{paper}/", smoke["results"]
    outputs = plan.outputs()
    assert outputs and all(p.startswith((root, f"{results}/tables/{paper}_", f"{results}/figures/{paper}_"))
                           for p in outputs)
    assert all(p.startswith(root + "predictions/") for p in plan.predictions())
    assert plan.predictions("no_such_benchmark") == []
    if plan.predictions():  # a stage scored by the shared metrics rule: what it predicts is buildable
        for _model, split, variant, level in plan.evaluations():
            assert module.unavailable(smoke, split, variant, level) is None
        assert all(plan.checkpoint(m).startswith(root + "models/") for m in module.models(smoke))


@pytest.mark.parametrize("paper", list(PAPERS))
def test_the_dry_run_plans_the_paper_tables(paper, smoke_dry_run):
    assert f"{paper}_tables" in smoke_dry_run


# ---------------------------------------------------------------------------------------------- a throwaway paper

TOY_STAGE = '''"""A throwaway paper: one table of one metric, nothing trained."""

from pathlib import Path

from robust3d.data.config_files import write_resolved_config
from robust3d.tables.claims import Claim, Ref, claims_frame
from robust3d.tables.render import build_table, write_table
from robust3d.tables.reference import load_reference
from robust3d.tables.spec import MetricColumn, Row, TableSpec

PAPER = "toy"
REFERENCE = Path(__file__).parent / "reference.yaml"


def table_specs(config=None, sources=None):
    return [TableSpec(PAPER, "table1", "Table 1: a toy", [Row("m", "m", "M")],
                      [MetricColumn("acc", "accuracy", percent=True, metric="class_accuracy")])]


def claims(config=None, sources=None):
    return [Claim("acc_at_most_100", "accuracy is a percentage", "ratio_at_most", (Ref("table1", "m", "acc"),),
                  (Ref("table1", "m", "acc"),), threshold=1.0)]


def models(config):
    return list(config[PAPER]["models"])


def seeds(config):
    return None


def unavailable(config, split, variant, level):
    return None


def check_config(config):
    return None


def build(sources, config=None):
    reference = load_reference(REFERENCE)
    tables = [build_table(spec, sources, reference) for spec in table_specs(config, sources)]
    lookup = {t.spec.name: t for t in tables}

    def side(source):
        return lambda ref: lookup[ref.table].cell(source, ref.row, ref.column)

    return tables, claims_frame(claims(config), side("ours"), side("paper"))


def write(tables, claims_df, out_dir, figures_dir):
    out_dir = Path(out_dir)
    written = [p for table in tables for p in write_table(table, out_dir)]
    claims_df.to_csv(out_dir / f"{PAPER}_claims.csv", index=False)
    return [*written, out_dir / f"{PAPER}_claims.csv"]


def report_files(config):
    tables = f"{config['results']}/tables"
    return {"title": "Toy: a throwaway paper", "doc": "docs/papers/toy.md", "tables": [f"{tables}/toy_table1.csv"],
            "claims": f"{tables}/toy_claims.csv", "figures": []}


class Plan:
    def __init__(self, config, config_file):
        self.config, self.config_file = config, config_file

    @classmethod
    def prepare(cls, config, folder):
        return cls(config, write_resolved_config(config, folder, PAPER, ("toy",)))

    def evaluations(self):
        return []

    def predictions(self, benchmark=None):
        return []

    def outputs(self):
        if not self.config[PAPER]["enabled"]:
            return []
        return [f"{self.config['results']}/tables/toy_table1.csv", f"{self.config['results']}/tables/toy_claims.csv"]
'''
TOY_REFERENCE = {"paper": "toy", "citation": "A. Toy. 2026.", "dataset": "nothing",
                 "tables": {"table1": {"printed_as": "Table 1", "columns": {"acc": "accuracy"},
                                       "rows": {"m": {"label": "M", "values": {"acc": 50.0}}}}}}
TOY_RULES = '''TOY = STAGES["toy"]


rule toy_tables:
    output:
        table=f"{RESULTS}/tables/toy_table1.csv",
        claims=f"{RESULTS}/tables/toy_claims.csv",
    params:
        config=TOY.config_file,
        tables=lambda wildcards, output: str(Path(output.claims).parent),
    log:
        "logs/toy/tables.log",
    benchmark:
        "benchmarks/toy/tables.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "python -m robust3d tables --paper toy --config {params.config} --out-dir {params.tables} > {log} 2>&1"
'''
TOY_SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "additionalProperties": False, "default": {},
              "properties": {"enabled": {"type": "boolean", "default": True},
                             "models": {"type": "object", "default": {"m": {}}}}}


def _toy_checkout(tmp_path: Path) -> Path:
    """A copy of the workflow and the package with the toy paper added: one package, one rules file, one schema
    fragment, one config section and one line in the registry."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    root.mkdir()
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / name, root / name)
    for name in ("workflow", "src", "profiles", "envs"):
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    package = root / "src" / "robust3d" / "papers" / "toy"
    package.mkdir()
    (package / "__init__.py").write_text(TOY_STAGE)
    (package / "reference.yaml").write_text(yaml.safe_dump(TOY_REFERENCE))
    (root / "workflow" / "rules" / "papers" / "toy.smk").write_text(TOY_RULES)
    (root / "workflow" / "schemas" / "papers" / "toy.schema.yaml").write_text(yaml.safe_dump(TOY_SCHEMA))
    registry = root / "src" / "robust3d" / "papers" / "__init__.py"
    registry.write_text(registry.read_text() + '\nPAPERS["toy"] = "robust3d.papers.toy"\n')
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["toy"] = {"enabled": True}
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


@pytest.mark.slow
def test_a_throwaway_paper_plugs_in_and_its_tables_run(tmp_path):
    root = _toy_checkout(tmp_path)
    dry = subprocess.run([*SNAKEMAKE, "-n"], cwd=root, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "toy_tables" in dry.stdout and "compnets_tables" in dry.stdout
    run = subprocess.run([*SNAKEMAKE, "--cores", "1", "results/tables/toy_claims.csv"], cwd=root,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = (root / "results" / "tables" / "toy_table1.csv").read_text()
    assert "paper" in table and "50.0" in table  # the paper's number beside our (missing) one
    assert "no metrics.csv given" in table
    # The report gives the new paper its section through the registry alone (the rest of this run is missing, and
    # the report says so rather than failing).
    report = subprocess.run([sys.executable, "-m", "robust3d", "report", "--config", "config.yaml", "--out",
                             "results/report/index.html"], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root / "src")})
    assert report.returncode == 0, report.stderr[-3000:]
    html = (root / "results" / "report" / "index.html").read_text()
    assert 'id="paper-toy"' in html and 'id="paper-toy-toy_table1"' in html and "accuracy is a percentage" in html
    assert 'id="paper-compnets"' in html and "does not exist" in html
    # Switching the section off removes the stage from the plan.
    config = yaml.safe_load((root / "config.yaml").read_text())
    config["toy"]["enabled"] = False
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    off = subprocess.run([*SNAKEMAKE, "-n", "--forceall"], cwd=root, capture_output=True, text=True)
    assert off.returncode == 0 and "toy_tables" not in off.stdout
