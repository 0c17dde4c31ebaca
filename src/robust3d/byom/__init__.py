"""Bring your own model: a Python file outside the package, named in the config's ``byom:`` section, whose
predictions join every table its outputs can fill (docs/byom.md).

:mod:`.interface` loads the file and checks what it returns against what its entry says it provides;
:mod:`.run` feeds it a split and writes the predictions CSV every model family writes (or a features file for the
probe-based papers). Its model ids are ``byom-<name>`` (:func:`model_id`), so they never collide with a paper's.
"""

from __future__ import annotations

from pathlib import Path

PREFIX = "byom-"
#: What a model can provide (the ``provides`` list of its entry).
OUTPUTS = ("class", "pose", "amodal_mask", "features")


def model_id(name: str) -> str:
    """The id of the ``byom:`` entry ``name`` in predictions, metrics and tables."""
    return f"{PREFIX}{name}"


def entry_name(model: str) -> str | None:
    """The ``byom:`` entry of a model id, or None for a paper's own model."""
    return model[len(PREFIX):] if model.startswith(PREFIX) else None


def entries_for(config: dict, paper: str) -> dict[str, dict]:
    """The ``byom:`` entries that take part in ``paper`` (all of them unless an entry lists its ``papers``)."""
    return {name: entry for name, entry in (config.get("byom") or {}).items()
            if not entry.get("papers") or paper in entry["papers"]}


#: The checkout this package runs from: a relative model file missing from the working folder is looked up here,
#: so the shipped examples (examples/byom/) work from any working folder (``snakemake --directory``).
CHECKOUT = Path(__file__).resolve().parents[3]


def model_file(path: str | Path) -> Path:
    """The model file an entry names: as given (relative to the working folder), else relative to the checkout."""
    given = Path(path)
    if given.is_file():
        return given
    if not given.is_absolute() and (CHECKOUT / given).is_file():
        return CHECKOUT / given
    raise FileNotFoundError(f"{path} does not exist (relative paths are looked up in the working folder, "
                            f"{Path.cwd()}, then in {CHECKOUT})")
