"""Training seeds as part of the model id: ``<model>@s<k>`` is model ``<model>`` trained with seed ``k``.

A paper's optional ``seeds:`` list trains each of its models once per seed. Putting the seed in the id keeps
every contract as it is (one model folder, one metrics row, one predictions file per id); tables and claims
fold the seeded ids of one model back into its row (mean +- sd, and a bootstrap that resamples the seeds too).
Without ``seeds:`` the ids are the plain model names and the top-level ``seed`` is used, as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SEED_MARK = "@s"
_SEEDED = re.compile(r"^(?P<model>.+)@s(?P<seed>\d+)$")


def seeded_id(model: str, seed: int) -> str:
    """``<model>@s<seed>``; refuses a model name that already carries a seed."""
    if _SEEDED.match(model):
        raise ValueError(f"model id '{model}' already names a seed")
    if int(seed) < 0:
        raise ValueError(f"seeds are non-negative integers, got {seed}")
    return f"{model}{SEED_MARK}{int(seed)}"


#: Marks a paper's model set trained without its unseen classes (``<model>@unseen``, ``<model>@unseen@s<k>``;
#: 3D-CompNets' Table 3 with ``compnets.data.separate_unseen_models``).
UNSEEN_SET = "@unseen"


def split_id(model_id: str) -> tuple[str, int | None]:
    """(model name, seed) of an id; the seed is None for a plain model name."""
    match = _SEEDED.match(model_id)
    return (match["model"], int(match["seed"])) if match else (model_id, None)


def model_ids(models: Iterable[str], seeds: Iterable[int] | None) -> list[str]:
    """The ids a paper trains: every model once per seed (seed-major within a model), or the plain names."""
    models = list(models)
    if seeds is None:
        return models
    return [seeded_id(m, s) for m in models for s in seeds]


def paper_seeds(section: dict) -> list[int] | None:
    """A paper section's ``seeds:`` list, or None when it runs one seed under the plain model names."""
    seeds = section.get("seeds")
    return None if seeds is None else [int(s) for s in seeds]
