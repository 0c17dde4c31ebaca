"""Label functions: the fine-grained CAD-instance identity (3D-Prior's iNat21 stand-in) from the planned splits."""

from __future__ import annotations

import pandas as pd
import pytest

from robust3d.data.labels import LABELS, labels
from robust3d.papers import load_config
from robust3d.synth.plan import plan_split


def _frame(config: dict, split: str) -> pd.DataFrame:
    return pd.DataFrame([{"class": s.category, "cad_index": str(s.cad_index)} for s in plan_split(config, split)])


@pytest.fixture(scope="module")
def config() -> dict:
    return load_config("config.yaml")


def test_instance_labels_cover_the_training_instances_and_only_them(config):
    syn = config["synthetic"]
    train = labels(_frame(config, "train"), "instance")
    n_classes = len(syn["categories"]) - len(syn["unseen_categories"])
    n_train_instances = syn["instances_per_category"] - syn["ood_instances_per_category"]
    assert train.nunique() == n_classes * n_train_instances == 48
    for split in ("calibration", "test"):
        assert set(labels(_frame(config, split), "instance")) <= set(train), split
    assert not set(labels(_frame(config, "ood_shape"), "instance")) & set(train)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_every_label_is_one_string_per_row(name):
    df = pd.DataFrame({"class": ["car", "car", "boat"], "cad_index": ["1", "3", "1"]})
    out = labels(df, name)
    assert len(out) == 3 and out.name == name and out.map(type).eq(str).all()


def test_instance_label_format_and_errors():
    df = pd.DataFrame({"class": ["car", "boat"], "cad_index": ["3", "12"]})
    assert labels(df, "instance").tolist() == ["car/03", "boat/12"]
    with pytest.raises(ValueError, match="cad_index"):
        labels(df.drop(columns="cad_index"), "instance")
    with pytest.raises(ValueError, match="integer"):
        labels(df.assign(cad_index=["3", ""]), "instance")
    with pytest.raises(ValueError, match="unknown label"):
        labels(df, "species")
