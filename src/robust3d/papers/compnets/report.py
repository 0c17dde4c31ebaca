"""Building and writing 3D-CompNets' tables, claims and figures: what "ours" is for a run, the tables from the
sources and the reference, the claims on both, and Figures 1-2 drawn from their tables' cells."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from robust3d.papers.compnets.claims import REFERENCE, claims
from robust3d.papers.compnets.routes import data_route
from robust3d.papers.compnets.tables import PAPER, table_specs

if TYPE_CHECKING:
    import pandas as pd

    from robust3d.tables.claims import Ref
    from robust3d.tables.render import BuiltTable
    from robust3d.tables.sources import Sources

__all__ = ["REFERENCE", "build", "intro_lines", "write"]


def intro_lines(config: dict | None, reference_dataset: str) -> list[str]:
    """What "ours" and "paper" mean for this run, above every Markdown table."""
    lines = [f"paper: {reference_dataset}."]
    if not config:
        return ["ours: pipeline outputs (no config given).", *lines]
    cfg = config["compnets"]
    backbones = "; ".join(
        f"{name} = {b['kind']} {b['arch']}" + (f" (depth {b['depth']}, width {b['embed_dim']})" if "depth" in b else "")
        + (f", weights {b['weights']}" if b.get("weights") else ", trained from scratch")
        for name, b in cfg["backbones"].items())
    return [f"ours: {data_route(config).describe()}; backbones: {backbones}; "
            f"epochs: {cfg['train']['epochs']} (NOVUM {cfg['train']['novum_epochs']}), K = "
            f"{cfg['mesh']['vertices_per_class']} vertices per class{_own_vertices(cfg['models'])}.", *lines]


def _own_vertices(models: dict) -> str:
    """Models with their own K (e.g. NOVUM's larger cuboids), as a clause of the intro line."""
    own = [f"{name} K = {m['vertices_per_class']}" for name, m in models.items() if m.get("vertices_per_class")]
    return f" ({'; '.join(own)})" if own else ""


def build(sources: Sources, config: dict | None = None) -> tuple[list[BuiltTable], pd.DataFrame]:
    """Every table (ours from ``sources``, the paper's from the reference) and the claims evaluated on both."""
    from robust3d.papers.compnets.tables import byom_provides
    from robust3d.tables.claims import byom_comparison, claims_frame
    from robust3d.tables.lookups import TableLookups
    from robust3d.tables.reference import load_reference
    from robust3d.tables.render import build_table

    reference = load_reference(REFERENCE)
    intro = intro_lines(config, reference.dataset)
    tables = [build_table(spec, sources, reference, intro) for spec in table_specs(config, sources)]
    cells = TableLookups(tables, sources)
    listed = claims(config, sources)
    frame = claims_frame(listed, cells.side("ours"), cells.side("paper"), cells.timing, cells.samples,
                         cells.replicates, cells.chance)
    brought = [m for m in byom_provides(config) if sources.has_model(m)]
    frame.attrs["byom"] = byom_comparison(listed, cells.side("ours"), brought, _counterpart(cells.by_name))
    return tables, frame


def _counterpart(by_name: dict[str, BuiltTable]):
    """``counterpart(ref, model)``: a brought model's row in the block of ``ref``'s row (same group and metric),
    at ``ref``'s column, or None."""
    from robust3d.tables.claims import Ref

    def find(ref: Ref, model: str) -> Ref | None:
        table = by_name.get(ref.table)
        rows = [r for r in table.spec.rows if r.key == ref.row] if table else []
        if not rows:
            return None
        block = (rows[0].group, rows[0].metric)
        mine = [r for r in table.spec.rows if r.model == model and (r.group, r.metric) == block and r.has(ref.column)]
        return Ref(ref.table, mine[0].key, ref.column) if mine else None
    return find


def write(tables: list[BuiltTable], claims_df: pd.DataFrame, out_dir: str | Path, figures_dir: str | Path
          ) -> list[Path]:
    """Tables (CSV + Markdown), the claims CSV and Figures 1-2 (PNG), each written atomically."""
    import pandas as pd

    from robust3d.data.io import atomic_path
    from robust3d.figures.radar import radar_figure
    from robust3d.figures.scaling import scaling_figure
    from robust3d.tables.claims import BYOM_COLUMNS
    from robust3d.tables.render import write_table

    out_dir, figures_dir = Path(out_dir), Path(figures_dir)
    written = [p for table in tables for p in write_table(table, out_dir)]
    claims_path = out_dir / f"{PAPER}_claims.csv"
    with atomic_path(claims_path) as tmp:
        claims_df.to_csv(tmp, index=False)
    byom_path = out_dir / f"{PAPER}_claims_byom.csv"  # the brought models' comparison rows (header only: none)
    with atomic_path(byom_path) as tmp:
        claims_df.attrs.get("byom", pd.DataFrame(columns=BYOM_COLUMNS)).to_csv(tmp, index=False)
    by_name = {t.spec.name: t for t in tables}
    fig1, fig2 = by_name["figure1"], by_name["figure2"]
    radar = {row.label if row.backbone == "" else f"{row.label} ({row.backbone})":
             {col.label: fig1.ours[(row.key, col.key)].value for col in fig1.spec.columns}
             for row in fig1.spec.rows}
    radar_figure(radar, figures_dir / f"{PAPER}_figure1.png",
                 "3D-CompNets Figure 1 (ours): accuracy (%) per task, each axis scaled to its best model")
    curves = {row.label: {col.n_classes: fig2.ours[(row.key, col.key)].value
                          for col in fig2.spec.columns if col.key.startswith("sec_")}
              for row in fig2.spec.rows}
    scaling_figure(curves, figures_dir / f"{PAPER}_figure2.png",
                   "3D-CompNets Figure 2 (ours): wall-clock time per training step against the number of classes")
    return [*written, claims_path, byom_path, *(figures_dir / f"{PAPER}_figure{n}.png" for n in (1, 2))]
