"""Building and writing PDR's tables and claims from the gathered metrics and assignments."""

from __future__ import annotations

from robust3d.papers.pdr.claims import REFERENCE, claims
from robust3d.papers.pdr.tables import PAPER, table_specs
from robust3d.tables.stage import stage_io

CONTRAST = {False: "NT-Xent on cosine similarity, as the paper", True: "SupCon on raw dot products, as the code"}



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


build, write = stage_io(PAPER, table_specs, claims, REFERENCE, intro_lines)
