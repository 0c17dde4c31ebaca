"""The `compnets` config section: defaults, the paper-scale values, and cross-field errors naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from robust3d.errors import ConfigError
from robust3d.papers import load_config, validate_config

REPO = Path(__file__).resolve().parents[2]
MODELS = yaml.safe_load((REPO / "config.yaml").read_text())["compnets"]["models"]


@pytest.fixture
def raw(raw_smoke_config) -> dict:
    raw_smoke_config["compnets"]["models"] = copy.deepcopy(MODELS)
    return raw_smoke_config


def test_defaults_fill_every_model_entry(raw):
    cfg = validate_config(raw)["compnets"]
    assert cfg["models"]["resnet50"] == {"family": "dual_head", "backbone": "resnet50", "loss": None,
                                         "cross_samples": None, "vertices_per_class": None}
    assert cfg["backbones"]["resnet50"]["weights"] == "ssl:resnet"  # the pretraining stage's, as config.yaml
    assert cfg["pose"]["refine_steps"] == 3 and cfg["pose"]["lr"] == 0.05  # smoke value, schema default
    del raw["compnets"]
    assert validate_config(raw)["compnets"]["mesh"]["vertices_per_class"] == 200  # the whole section defaults


def test_embedded_and_paper_values():
    default = load_config(REPO / "config.yaml")["compnets"]
    assert list(default["models"]) == list(MODELS) and default["mesh"]["background_features"] == 512
    paper = load_config(REPO / "configs" / "paper-compnets.yaml")["compnets"]
    assert paper["backbones"]["resnet50"] == {"kind": "resnetext", "arch": "resnet50", "weights": "IMAGENET1K_V1",
                                              "amp": False}
    vit = paper["backbones"]["vitb14"]
    assert (vit["arch"], vit["weights"], vit["depth"], vit["embed_dim"]) == ("vit_base_patch14_dinov2", "lvd142m",
                                                                              12, 768)
    assert (paper["mesh"]["vertices_per_class"], paper["mesh"]["background_features"],
            paper["mesh"]["background_per_image"]) == (500, 2560, 5)
    assert (paper["train"]["epochs"], paper["train"]["novum_epochs"]) == (12, 100)
    assert paper["scaling"]["classes"][-1] >= 100


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["models"]["resnet50"].update(backbone="vgg"),
         "key 'compnets.models.resnet50.backbone': unknown backbone 'vgg'"),
        (lambda c: c["models"]["resnet50"].update(family="transformer"),
         "key 'compnets.models.resnet50.family': 'transformer' is not one of"),
        (lambda c: c["models"]["resnet50"].update(loss="novum"),
         "key 'compnets.models.resnet50.loss': dual_head models have no contrastive loss"),
        (lambda c: c["models"]["compnets_vitb14"].pop("cross_samples"),
         "key 'compnets.models.compnets_vitb14.cross_samples': the compnets loss needs N"),
        (lambda c: c["models"]["novum_resnet50"].update(cross_samples=32),
         "key 'compnets.models.novum_resnet50.cross_samples': the novum loss contrasts every vertex"),
        (lambda c: c["models"]["novum_resnet50"].pop("loss"),
         "key 'compnets.models.novum_resnet50.loss': neural_mesh models need a loss"),
        (lambda c: c["mesh"].update(vertices_per_class=48),
         "key 'compnets.models.compnets_resnet50_n64.cross_samples': 64 exceeds compnets.mesh.vertices_per_class"),
        (lambda c: c["models"]["compnets_vitb14"].update(vertices_per_class=16),
         "key 'compnets.models.compnets_vitb14.cross_samples': 32 exceeds compnets.models.compnets_vitb14.vertices"),
        (lambda c: c["models"]["resnet50"].update(vertices_per_class=100),
         "key 'compnets.models.resnet50.vertices_per_class': dual_head models have no contrastive loss or mesh"),
        (lambda c: c["mesh"].update(background_per_image=100), "key 'compnets.mesh.background_per_image'"),
        (lambda c: c["train"].update(epoch=3), "unknown key 'compnets.train.epoch'"),
        (lambda c: c["backbones"]["vitb14"].pop("num_heads"),
         "key 'compnets.backbones.vitb14.num_heads': give all of depth, embed_dim, num_heads or none"),
        (lambda c: c["backbones"]["vitb14"].update(num_heads=5),
         "key 'compnets.backbones.vitb14.num_heads': 5 does not divide embed_dim 48"),
        (lambda c: c["backbones"]["vitb14"].update(weights="lvd142m"),
         "key 'compnets.backbones.vitb14.depth': pretrained vit_base_patch14_dinov2 weights need"),
        (lambda c: c["backbones"]["vitb14"].update(weights="ssl:nope"),
         "key 'compnets.backbones.vitb14.weights': 'ssl:nope' needs pretrain.backbones.nope"),
        (lambda c: c["backbones"]["vitb14"].update(embed_dim=96),
         "key 'compnets.backbones.vitb14.weights': 'ssl:vit_b14' was pretrained as another architecture (embed_dim "
         "96 vs 48)"),
        (lambda c: c["backbones"]["resnet50"].update(upsample=2.0),
         "key 'compnets.backbones.resnet50.upsample': only vit backbones resize their input"),
        (lambda c: c["backbones"]["vitb14"].update(upsample=1.5),
         "key 'compnets.backbones.vitb14.upsample': 1.5 makes 9.33333-pixel cells of a patch-14 ViT"),
        (lambda c: c["backbones"]["resnet50"].update(depth=4),
         "key 'compnets.backbones.resnet50.depth': only vit backbones take"),
        (lambda c: c["backbones"]["resnet50"].update(arch="vit_base_patch16_224"),
         "key 'compnets.backbones.resnet50.arch': resnetext needs a ResNet"),
        (lambda c: c["backbones"]["resnet50"].update(arch="resnet5O"),
         "key 'compnets.backbones.resnet50.arch': timm 1.0.31 has no architecture 'resnet5O' (closest: resnet50"),
        (lambda c: c["backbones"]["vitb14"].update(arch="vit_small_patch14_dino"),
         "key 'compnets.backbones.vitb14.arch': timm 1.0.31 has no architecture 'vit_small_patch14_dino'"),
        (lambda c: c["backbones"]["resnet50"].update(weights="IMAGENET1K_V3"),
         "key 'compnets.backbones.resnet50.weights': torchvision has no weights 'IMAGENET1K_V3' for 'resnet18'"),
        (lambda c: c["backbones"]["resnet50"].update(weights="a9_in1k"),
         "key 'compnets.backbones.resnet50.weights': timm 1.0.31 has no pretrained weights 'resnet18.a9_in1k'"),
    ],
)
def test_bad_compnets_config_is_refused_with_one_line(raw, mutate, expected):
    mutate(raw["compnets"])
    with pytest.raises(ConfigError) as err:
        validate_config(raw)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_a_model_can_have_its_own_vertex_count():
    """The paper's NOVUM has about twice 3D-CompNets' vertices per class (Figure 2 caption); K is per model."""
    from robust3d.models.neural_mesh.options import MeshOptions
    from robust3d.models.registry import model_spec

    def k(cfg: dict, model: str) -> int:
        return MeshOptions.of(model_spec(cfg["compnets"], model), cfg["compnets"]).n_vertices

    cfg = load_config(REPO / "config.yaml")
    assert k(cfg, "novum_resnet50") == 2 * k(cfg, "compnets_resnet50_n32") == 2 * cfg["compnets"]["mesh"][
        "vertices_per_class"]
    paper = load_config(REPO / "configs" / "paper-compnets.yaml")
    assert k(paper, "novum_resnet50") == 1000
    assert k(paper, "compnets_resnet50_n32") == 500
