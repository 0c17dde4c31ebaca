"""Label functions over manifests: which target a probe or classifier learns, as data rather than code paths.

``class`` is the object category. ``instance`` is the CAD-instance identity, ``"<class>/<cad_index:02d>"``: the
synthetic benchmark's fine-grained task (3D-Prior's stand-in for iNat21), with no new renders, since every object
split already records which CAD instance it drew. ``train``, ``calibration`` and ``test`` draw the same training
instances, so a probe fitted on ``train`` sees every test identity; ``ood_shape`` draws held-out ones.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd


def _class(df: pd.DataFrame) -> pd.Series:
    return df["class"].astype(str)


def _instance(df: pd.DataFrame) -> pd.Series:
    if "cad_index" not in df.columns:
        raise ValueError("the 'instance' label needs a 'cad_index' column (synthetic object splits have one)")
    index = pd.to_numeric(df["cad_index"], errors="coerce")
    if index.isna().any():
        raise ValueError("the 'instance' label needs an integer cad_index on every row")
    return df["class"].astype(str) + "/" + index.astype(int).map("{:02d}".format)


LABELS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {"class": _class, "instance": _instance}


def labels(df: pd.DataFrame, name: str) -> pd.Series:
    """The ``name`` label of every row of a manifest (a Series of strings aligned with ``df``)."""
    if name not in LABELS:
        raise ValueError(f"unknown label '{name}' (known: {', '.join(LABELS)})")
    return LABELS[name](df).rename(name)
