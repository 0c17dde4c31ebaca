"""Building and writing PDR's tables and claims from the gathered metrics and assignments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from robust3d.papers.pdr.claims import REFERENCE, claims
from robust3d.papers.pdr.tables import PAPER, table_specs

CONTRAST = {False: "NT-Xent on cosine similarity, as the paper", True: "SupCon on raw dot products, as the code"}

if TYPE_CHECKING:
    import pandas as pd

    from robust3d.tables.render import BuiltTable
    from robust3d.tables.sources import Sources


def intro_lines(config: dict | None, dataset: str) -> list[str]:
    lines = [f"paper: {dataset}"]
    if not config:
        return ["ours: pipeline outputs (no config given).", *lines]
    s = config[PAPER]
    nets, train = s["networks"], s["train"]
    return [f"ours: synthetic faces and cars ({', '.join(s['datasets'])}) at {s['size']} px; de-renderers nf "
            f"{nets['nf']}/{nets['nf_encoder']}, zdim {nets['zdim']}, {train['epochs']} epochs of batch "
            f"{train['batch_size']}, perceptual loss: {s['perceptual']}; LOOCC weight {s['loocc']['weight']}, "
            f"temperature {s['loocc']['temperature']} ({CONTRAST[bool(s['loocc']['code_faithful'])]}).", *lines]


def build(sources: Sources, config: dict | None = None) -> tuple[list[BuiltTable], pd.DataFrame]:
    from robust3d.tables.claims import claims_frame
    from robust3d.tables.lookups import TableLookups
    from robust3d.tables.reference import load_reference
    from robust3d.tables.render import build_table

    reference = load_reference(REFERENCE)
    intro = intro_lines(config, reference.dataset)
    tables = [build_table(spec, sources, reference, intro) for spec in table_specs(config, sources)]
    cells = TableLookups(tables, sources)
    frame = claims_frame(claims(config, sources), cells.side("ours"), cells.side("paper"), samples=cells.samples)
    return tables, frame


def write(tables: list[BuiltTable], claims_df: pd.DataFrame, out_dir: str | Path, figures_dir: str | Path
          ) -> list[Path]:
    from robust3d.data.io import atomic_path
    from robust3d.tables.render import write_table

    out_dir = Path(out_dir)
    written = [p for table in tables for p in write_table(table, out_dir)]
    claims_path = out_dir / f"{PAPER}_claims.csv"
    with atomic_path(claims_path) as tmp:
        claims_df.to_csv(tmp, index=False)
    return [*written, claims_path]
