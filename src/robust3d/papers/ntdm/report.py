"""Building and writing the NTDM tables and claims from the stage's metrics."""

from __future__ import annotations

from robust3d.papers.ntdm.claims import REFERENCE, claims
from robust3d.papers.ntdm.tables import PAPER, table_specs
from robust3d.tables.stage import stage_io


def intro_lines(config: dict | None, dataset: str) -> list[str]:
    lines = [f"paper: {dataset}"]
    if not config:
        return ["ours: pipeline outputs (no config given).", *lines]
    s = config[PAPER]
    t, m, i = s["texture"], s["mesh"], s["inference"]
    return [f"ours: the synthetic benchmark ({len(config['synthetic']['categories'])} classes, "
            f"{config['synthetic']['image_size']} px); d = {s['feature_dim']}, icosphere level {m['template_level']}, "
            f"{t['bins']} viewing bins of {t['size']} x {t['size']} textures; {s['train']['epochs']} training epochs; "
            f"{i['steps']} refinement steps (lr {i['lr']}), {i['classify_top']} class(es) refined for "
            "classification.", *lines]


build, write = stage_io(PAPER, table_specs, claims, REFERENCE, intro_lines)
