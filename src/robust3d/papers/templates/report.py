"""Building and writing the template-matching tables and claims from the gathered metrics and predictions."""

from __future__ import annotations

from robust3d.papers.templates.claims import REFERENCE, claims
from robust3d.papers.templates.tables import PAPER, table_specs
from robust3d.tables.stage import stage_io


def intro_lines(config: dict | None, dataset: str) -> list[str]:
    lines = [f"paper: {dataset}"]
    if not config:
        return ["ours: pipeline outputs (no config given).", *lines]
    s, tm = config[PAPER], config["synthetic"]["templates"]
    from robust3d.geometry.viewpoints import covering_radius_deg, upper_hemisphere

    views = len(upper_hemisphere(int(tm["icosphere_level"])))
    backbones = "; ".join(f"{k}: {v['arch']} ({v.get('weights') or 'random init'})" for k, v in s["backbones"].items())
    return [f"ours: {len(tm['categories'])} synthetic objects ({len(tm['unseen_categories'])} unseen: "
            f"{', '.join(tm['unseen_categories'])}), {views} templates each (covering radius "
            f"{covering_radius_deg(int(tm['icosphere_level'])):.1f} deg), {tm['queries_per_object']} clean and "
            f"occluded queries and {tm['train_queries_per_object']} training queries per object, at "
            f"{s['image_size']} px; backbones {backbones}; cut {s['threshold']}, InfoNCE temperature "
            f"{s['temperature']}.", *lines]


build, write = stage_io(PAPER, table_specs, claims, REFERENCE, intro_lines)
