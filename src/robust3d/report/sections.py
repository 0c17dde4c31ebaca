"""The report's sections, each from files a run wrote: a paper's tables (long CSV + JSON), claims, chance verdicts
and figures; the data's contact sheets; the shared stages' sanity numbers; the run's metadata and job time.

A missing file is said in the page (what to run to make it), never skipped silently.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from robust3d.report.html import SHEET_WIDTH, bullet_list, esc, image, tag, td
from robust3d.report.html import table as html_table
from robust3d.tables.render import format_value

VERDICT_CLASS = {"holds": "v-holds", "fails": "v-fails", "within noise": "v-noise"}


def _missing(path: Path, what: str) -> str:
    return tag("p", f"{esc(what)}: <code>{esc(path)}</code> does not exist (run the workflow's rule that makes it).",
               class_="small")


def _number(value: object, percent: bool) -> str:
    return format_value(None if _nan(value) else float(value), percent)


def _nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def verdict_badge(verdict: str) -> str:
    return tag("span", esc(verdict), class_=f"verdict {VERDICT_CLASS.get(verdict, 'v-other')}")


def interval_text(low: object, high: object, percent: bool = True) -> str:
    return "" if _nan(low) or _nan(high) else f"[{_number(low, percent)}, {_number(high, percent)}]"


# ---------------------------------------------------------------------------------------------- one table
def table_section(csv: Path, anchor: str) -> str:
    """One paper table: title, what "ours" is, the grid (ours with its interval and chance level, the paper's
    below), the reason for every empty cell (numbered, linked) and the notes."""
    if not csv.is_file():
        return _missing(csv, "table")
    df = pd.read_csv(csv, keep_default_na=False, na_values={c: [""] for c in ("value", "sd", "chance", "ci_low",
                                                                               "ci_high")})
    meta_path = csv.with_suffix(".json")
    meta = pd.read_json(meta_path, typ="series").to_dict() if meta_path.is_file() else {}
    title = meta.get("title") or csv.stem
    rows = list(dict.fromkeys(zip(df["row"], df["row_label"], strict=True)))
    columns = list(dict.fromkeys(zip(df["column"], df["column_label"], strict=True)))
    cells = {(r.row, r.column, r.source): r for r in df.itertuples(index=False)}
    reasons: dict[str, int] = {}
    body, classes = [], []
    for key, label in rows:
        for source in ("ours", "paper"):
            line = [td(esc(label) if source == "ours" else ""), td(source)]
            for column, _ in columns:
                cell = cells.get((key, column, source))
                line.append(_cell_html(cell, source, reasons, anchor))
            body.append("".join(line))
            classes.append(source)
    grid = html_table(["Model", "source", *(c[1] for c in columns)], body, classes)
    reason_list = "".join(tag("li", esc(reason), id=f"{anchor}-r{i}") for reason, i in reasons.items())
    parts = [tag("h3", esc(title), id=anchor), tag("p", f"files: <code>{esc(csv)}</code> (+ .md, .json)",
                                                   class_="small"),
             bullet_list(meta.get("intro", []), "small"), grid]
    if reason_list:
        parts.append(tag("p", "Empty cells (—):", class_="small") + tag("ol", reason_list, class_="notes"))
    parts.append(bullet_list(meta.get("notes", [])))
    return "".join(parts)


def _cell_html(cell, source: str, reasons: dict[str, int], anchor: str) -> str:
    if cell is None:
        return td("")
    percent = _truthy(getattr(cell, "percent", False))
    if _nan(cell.value):
        reason = f"{source}: {cell.note or 'missing'}"
        i = reasons.setdefault(reason, len(reasons) + 1)
        return td(f'— <a href="#{anchor}-r{i}">[{i}]</a>', numeric=True, title=reason)
    text = _number(cell.value, percent)
    if not _nan(getattr(cell, "sd", None)):
        text += f" ± {_number(cell.sd, percent)}"
    if str(getattr(cell, "note", "")):
        text += " †"
    extra = ""
    if source == "ours":
        ci = interval_text(getattr(cell, "ci_low", None), getattr(cell, "ci_high", None), percent)
        if ci:
            extra += tag("span", f"95% {ci}", class_="ci")
        if not _nan(getattr(cell, "chance", None)):
            extra += tag("span", f"chance {_number(cell.chance, True)}", class_="chance")
    return td(esc(text) + extra, numeric=True, title=str(cell.note) or None)


# ---------------------------------------------------------------------------------------------- claims
def claims_section(csv: Path, byom_csv: Path | None, anchor: str) -> str:
    """Every claim with our statistic, its 95% interval and verdict beside the paper's; under a claim, each
    brought model's value in the claim's cells (the comparison rows; the claim itself stays about the paper's
    models)."""
    if not csv.is_file():
        return _missing(csv, "claims")
    claims = pd.read_csv(csv, keep_default_na=False, dtype=str)
    byom = (pd.read_csv(byom_csv, keep_default_na=False, dtype=str)
            if byom_csv is not None and byom_csv.is_file() else pd.DataFrame(columns=["claim_id"]))
    counts = claims["verdict"].value_counts()
    summary = ", ".join(f"{n} {esc(v)}" for v, n in counts.items())
    header = ["claim", "ours: left / right", "statistic", "95% interval", "verdict", "paper: statistic",
              "paper holds", "evidence, note"]
    body, classes = [], []
    for c in claims.itertuples(index=False):
        sides = " / ".join(_number(v, False) for v in (c.ours_left, c.ours_right) if not _nan(v)) or "—"
        evidence = esc(c.evidence) + (f"<br><span class=\"small\">{esc(c.note)}</span>" if c.note else "")
        body.append("".join([td(esc(c.claim) + f" <span class=\"small\">({esc(c.claim_id)})</span>"),
                             td(esc(sides), True), td(_number(c.ours_statistic, False), True),
                             td(interval_text(c.ci_low, c.ci_high, False) or "—", True),
                             td(verdict_badge(c.verdict)), td(_number(c.paper_statistic, False), True),
                             td(esc(c.paper_holds)), td(evidence)]))
        classes.append("claim")
        for b in byom[byom["claim_id"] == c.claim_id].itertuples(index=False):
            body.append("".join([td(f"&nbsp;&nbsp;↳ {esc(b.model)} (brought model)"), td(esc(b.values), True),
                                 td(""), td(""), td(esc(b.standing)), td(""), td(""), td(esc(b.cells))]))
            classes.append("byom")
    return (tag("h3", "Claims", id=anchor) + tag("p", f"{len(claims)} claims: {summary}. Verdicts on our run: "
                                                 "holds / fails when the 95% paired bootstrap interval of the "
                                                 "statistic lies wholly on one side of the threshold, within noise "
                                                 "otherwise.", class_="small")
            + html_table(header, body, classes))


def chance_section(csv: Path) -> str:
    """Per model, how many of its evaluations are above, at and below the chance of their samples."""
    if not csv.is_file():
        return _missing(csv, "chance verdicts")
    df = pd.read_csv(csv, keep_default_na=False, dtype=str)
    counts = df.groupby(["model", "metric", "verdict"]).size().unstack("verdict", fill_value=0)
    order = [v for v in ("above chance", "at chance", "below chance") if v in counts.columns]
    rows = [[td(esc(m)), td(esc(metric)), *(td(str(int(r[v])), True) for v in order)]
            for (m, metric), r in counts.iterrows()]
    return (tag("h3", "Accuracy against chance") + tag("p", "Evaluations (split, variant, level) whose 95% interval "
                                                       "lies above / straddles / lies below the chance level of "
                                                       f"their own samples (<code>{esc(csv)}</code>).",
                                                       class_="small")
            + html_table(["model", "metric", *order], rows))


def figures_section(figures: list[tuple[Path, str]]) -> str:
    parts = [image(p, caption) if p.is_file() else _missing(p, "figure") for p, caption in figures]
    return tag("h3", "Figures") + "".join(parts) if parts else ""


def paper_section(paper: str, files: dict) -> str:
    """A paper's whole section (files: the stage's ``report_files``)."""
    anchor = f"paper-{paper}"
    tables = [Path(p) for p in files["tables"]]
    toc = " · ".join(tag("a", esc(p.stem), href=f"#{anchor}-{p.stem}") for p in tables)
    parts = [tag("h2", esc(files["title"]), id=anchor),
             tag("p", f"How it is reproduced and how it differs from the paper: <code>{esc(files['doc'])}</code>. "
                 f"Tables: {toc} · " + tag("a", "claims", href=f"#{anchor}-claims"), class_="small"),
             claims_section(Path(files["claims"]), Path(files["byom_claims"]) if files.get("byom_claims") else None,
                            f"{anchor}-claims")]
    if files.get("chance"):
        parts.append(chance_section(Path(files["chance"])))
    parts.append(figures_section([(Path(p), c) for p, c in files.get("figures", [])]))
    parts += [table_section(p, f"{anchor}-{p.stem}") for p in tables]
    return tag("section", "".join(parts), class_="paper", id=f"{anchor}-section")


# ---------------------------------------------------------------------------------------------- data and stages
def data_section(sheets: list[tuple[Path, str]]) -> str:
    """Contact sheets of the splits and the variants (scaled down to keep the page mailable)."""
    shown = [image(p, caption, width=SHEET_WIDTH) for p, caption in sheets if p.is_file()]
    absent = [str(p) for p, _ in sheets if not p.is_file()]
    note = tag("p", f"{len(absent)} sheets not made yet: " + esc(", ".join(absent)), class_="small") if absent else ""
    return tag("section", tag("h2", "Data: splits and variants", id="data") + note + "".join(shown))


def pretrain_section(records: dict[str, Path]) -> str:
    """The pretraining stage's sanity numbers (k-NN and azimuth probe of each backbone against its baselines)."""
    import json

    rows = []
    for name, path in records.items():
        if not path.is_file():
            rows.append([td(esc(name)), td(f"no {esc(path)}")])
            continue
        sanity = json.loads(path.read_text()).get("sanity", {})
        for start, numbers in sanity.items():
            rows.append([td(esc(name)), td(esc(start)),
                         *(td(_number(numbers.get(k), True), True) for k in ("knn_top1", "azimuth_probe_top1"))])
    return tag("section", tag("h2", "Shared stage: self-supervised pretraining", id="pretrain")
               + tag("p", "Frozen-feature sanity numbers on the test split (%): the pretrained teacher against "
                     "random init, raw pixels, a colour histogram and chance.", class_="small")
               + html_table(["backbone", "features", "k-NN top-1", "azimuth probe top-1"], rows))


def metadata_section(meta: dict, job_times: pd.DataFrame) -> str:
    rows = [[td(esc(k)), td(esc(v))] for k, v in meta.items()]
    times = [[td(esc(r.stage)), td(str(int(r.jobs)), True), td(f"{r.minutes:.2f}", True)]
             for r in job_times.itertuples(index=False)]
    total = f"{job_times['minutes'].sum():.2f}" if len(job_times) else "0"
    times.append([td("<b>total</b>"), td(str(int(job_times["jobs"].sum())) if len(job_times) else "0", True),
                  td(f"<b>{total}</b>", True)])
    return tag("section", tag("h2", "Run", id="run") + html_table(["", ""], rows)
               + tag("h3", "Job time per stage") + tag("p", "Summed seconds of the Snakemake benchmark files "
                                                        "(benchmarks/&lt;stage&gt;/), in minutes.", class_="small")
               + html_table(["stage", "jobs", "minutes"], times))
