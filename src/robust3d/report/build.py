"""The whole report of one run: every configured paper's section (through the paper registry), the data, the
shared stages and the run's metadata, written as one self-contained HTML file.

What each paper shows comes from its stage (``robust3d.papers.<id>.report_files(config)``: its table CSVs,
claims, chance verdicts and figures), so a paper stage that lands later appears here without touching this module.
"""

from __future__ import annotations

from pathlib import Path

from robust3d.report.html import esc, page, tag


def sheet_paths(config: dict) -> list[tuple[Path, str]]:
    """The contact sheets of the synthetic splits and of every variant the config builds, with captions."""
    from robust3d.synth.plan import active_splits
    from robust3d.variants import variant_pairs

    root = Path(config["synthetic"]["root"])
    sheets = [(root / split / "contact_sheet.png", f"split {split}") for split in active_splits(config)]
    sheets += [(root / "variants" / split / variant / f"{level}.png", f"{split}: {variant} {level}")
               for split in config["variants"]["splits"] for variant, level in variant_pairs(config["variants"])]
    return sheets


def build_report(config: dict, out: str | Path, repo: str | Path | None = None,
                 benchmarks: str | Path | None = None) -> Path:
    """Write ``out`` (atomically) from the run's files; returns its path."""
    from robust3d.data.io import atomic_path
    from robust3d.papers import configured, stage
    from robust3d.report.browser import CHECK_SCRIPT
    from robust3d.report.metadata import job_times, run_metadata
    from robust3d.report.sections import data_section, metadata_section, paper_section, pretrain_section

    benchmarks = Path(benchmarks) if benchmarks is not None else None
    papers = {name: stage(name).report_files(config) for name in configured(config)
              if config[name].get("enabled", True)}
    nav = [tag("a", esc(files["title"].split(":")[0]), href=f"#paper-{name}") for name, files in papers.items()]
    nav += [tag("a", "data", href="#data"), tag("a", "pretraining", href="#pretrain"), tag("a", "run", href="#run")]
    results = config["results"]
    pretrain = {name: Path(results) / "pretrain" / name / "train.json" for name in config["pretrain"]["backbones"]}
    body = [tag("h1", "robust3d: results of this run"),
            tag("p", f"Results folder <code>{esc(results)}</code>. Ours beside the paper's numbers (the paper's are "
                "references, never outputs); every empty cell says why; every claim shows its interval and "
                "verdict.", class_="small"),
            tag("nav", " ".join(nav)),
            *(paper_section(name, files) for name, files in papers.items()),
            data_section(sheet_paths(config)),
            pretrain_section(pretrain) if pretrain else "",
            metadata_section(run_metadata(config, Path(repo) if repo else None, benchmarks),
                             job_times(benchmarks) if benchmarks else job_times(Path("/nonexistent")))]
    out = Path(out)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(page("robust3d report", "".join(body), CHECK_SCRIPT), encoding="utf-8")
    return out
