"""Backbone weights by name: the pretraining stage's ``ssl:<name>`` and the released DINO / MoCo checkpoints load
exactly (every tensor), wrong files are refused clearly, and each real-weight name fails offline in one line that
says what to fetch and where. Offline throughout: no cached file is found and no download is attempted."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from robust3d.models.backbone_shapes import unknown_weights
from robust3d.models.backbones import WeightsUnavailable, build_backbone
from robust3d.models.ssl_weights import (
    RELEASED_SSL,
    SSL_FORMAT,
    load_ssl_weights,
    moco_to_torchvision,
    save_ssl_weights,
    ssl_name,
    ssl_weights_path,
)

TINY = {"depth": 1, "embed_dim": 48, "num_heads": 2}
VIT = {"kind": "vit", "arch": "vit_small_patch14_dinov2", **TINY}
RESNET = {"kind": "resnetext", "arch": "resnet18"}


@pytest.fixture()
def hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub / Hugging Face cache under tmp_path, and downloads that fail as without network."""
    import torch.hub
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    assert torch.hub.get_dir() == str(tmp_path / "torch" / "hub")
    return tmp_path / "torch" / "hub"


def _random_state(module: torch.nn.Module, seed: int) -> dict:
    """Random values for every tensor of ``module`` (BatchNorm statistics and counters too)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in module.state_dict().items():
        if v.is_floating_point():
            out[k] = torch.randn(v.shape, generator=g).to(v.dtype)
        else:
            out[k] = torch.randint(0, 1000, v.shape, generator=g).to(v.dtype)
    return out


def _assert_same(module: torch.nn.Module, state: dict) -> None:
    own = module.state_dict()
    assert own.keys() == state.keys()
    assert all(torch.equal(own[k], state[k]) for k in own), [k for k in own if not torch.equal(own[k], state[k])]


def _part(net: torch.nn.Module) -> torch.nn.Module:
    return net.vit if hasattr(net, "vit") else net.body


# ------------------------------------------------------------------------------------------- ssl:<name>

@pytest.mark.parametrize("entry", [VIT, RESNET], ids=["vit", "resnetext"])
def test_ssl_weights_load_exactly(entry, tmp_path, hub):
    template = _part(build_backbone({**entry, "weights": None}, 8))
    state = _random_state(template, seed=1)
    sizes = {k: entry.get(k) for k in TINY}
    path = ssl_weights_path(tmp_path / "results", "run-1")
    assert path == tmp_path / "results" / "pretrain" / "run-1" / "backbone.pt"
    save_ssl_weights(path, "run-1", entry["kind"], entry["arch"], sizes, state)
    assert torch.load(path, weights_only=True)["format"] == SSL_FORMAT

    net = build_backbone({**entry, "weights": "ssl:run-1"}, 8, ssl_root=tmp_path / "results")
    _assert_same(_part(net), state)
    assert not all(torch.equal(a, b) for a, b in zip(template.state_dict().values(), state.values(), strict=True))
    with torch.no_grad():
        assert net.eval()(torch.rand(1, 3, 56, 56)).shape[:2] == (1, 8)


def test_ssl_name_and_path():
    assert ssl_name("ssl:dino_small.v2") == "dino_small.v2"
    assert ssl_name("lvd142m") is None and ssl_name(None) is None
    for bad in ("ssl:", "ssl:../x", "ssl:a/b"):
        with pytest.raises(ValueError, match="name after 'ssl:'"):
            ssl_name(bad)
    assert ssl_weights_path("results", "a") == Path("results/pretrain/a/backbone.pt")


def test_missing_ssl_weights_name_the_pretrain_command(tmp_path):
    path = ssl_weights_path(tmp_path, "absent")
    with pytest.raises(WeightsUnavailable) as err:
        build_backbone({**VIT, "weights": "ssl:absent"}, 8, ssl_root=tmp_path)
    msg = str(err.value)
    assert f"`snakemake --cores all {path}`" in msg and "pretrain rule" in msg and "\n" not in msg


def _saved(tmp_path, **changes) -> Path:
    """A valid ViT ``backbone.pt`` for VIT, with ``changes`` made to its payload."""
    path = ssl_weights_path(tmp_path, "run")
    save_ssl_weights(path, "run", "vit", VIT["arch"], TINY, {"x": torch.zeros(1)})
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, **changes}, path)
    return path


@pytest.mark.parametrize(("changes", "expected"), [
    ({"format": "robust3d.pretrain/0"}, "has format 'robust3d.pretrain/0', not 'robust3d.pretrain/1'"),
    ({"arch": "vit_base_patch14_dinov2"}, "arch 'vit_base_patch14_dinov2' (the entry has 'vit_small_patch14_dinov2')"),
    ({"sizes": {**TINY, "depth": 2}}, "sizes {'depth': 2, 'embed_dim': 48, 'num_heads': 2} (the entry has {'depth': 1"),
    ({"kind": "resnetext"}, "kind 'resnetext' (the entry has 'vit')"),
])
def test_ssl_weights_for_another_entry_are_refused(tmp_path, changes, expected):
    path = _saved(tmp_path, **changes)
    with pytest.raises(ValueError) as err:
        load_ssl_weights(path, "vit", VIT["arch"], TINY)
    assert expected in str(err.value) and f"snakemake --cores all --force {path}" in str(err.value)


def test_ssl_weights_absent_sizes_mean_the_arch_own(tmp_path):
    """An entry without sizes matches a file saved without them (None = absent), not one with explicit sizes."""
    path = ssl_weights_path(tmp_path, "r")
    save_ssl_weights(path, "r", "vit", "vit_small_patch14_dinov2", dict.fromkeys(TINY), {"x": torch.ones(2)})
    assert torch.equal(load_ssl_weights(path, "vit", "vit_small_patch14_dinov2", {})["x"], torch.ones(2))
    with pytest.raises(ValueError, match="sizes"):
        load_ssl_weights(path, "vit", "vit_small_patch14_dinov2", TINY)


def test_ssl_weights_that_do_not_fit_the_module_are_refused(tmp_path):
    """Right header, wrong tensors (a wider ViT): one line naming the tensors, not torch's multi-line dump."""
    wide = _part(build_backbone({**VIT, "embed_dim": 64, "weights": None}, 8))
    save_ssl_weights(ssl_weights_path(tmp_path, "w"), "w", "vit", VIT["arch"], TINY, wide.state_dict())
    with pytest.raises(ValueError) as err:
        build_backbone({**VIT, "weights": "ssl:w"}, 8, ssl_root=tmp_path)
    assert "do not fit vit_small_patch14_dinov2" in str(err.value) and "cls_token" in str(err.value)
    assert "\n" not in str(err.value)


def test_save_refuses_sizes_for_a_resnet(tmp_path):
    with pytest.raises(ValueError, match="only vit backbones have sizes"):
        save_ssl_weights(tmp_path / "b.pt", "b", "resnetext", "resnet18", {"depth": 2}, {})


# --------------------------------------------------------------------------------- released checkpoints

def _moco_checkpoint(encoder_q: dict, seed: int) -> dict:
    """``encoder_q`` (torchvision names) wrapped as MoCo v2 saves it: DDP prefixes, MLP head, key encoder, queue."""
    g = torch.Generator().manual_seed(seed)
    width = encoder_q["fc.weight"].shape[1]
    body = {k: v for k, v in encoder_q.items() if not k.startswith("fc.")}
    head = {"fc.0.weight": torch.randn(width, width, generator=g), "fc.0.bias": torch.randn(width, generator=g),
            "fc.2.weight": torch.randn(128, width, generator=g), "fc.2.bias": torch.randn(128, generator=g)}
    state = {f"module.encoder_q.{k}": v for k, v in {**body, **head}.items()}
    state |= {f"module.encoder_k.{k}": v + 1 for k, v in {**body, **head}.items()}
    state |= {"module.queue": torch.randn(128, 16, generator=g), "module.queue_ptr": torch.zeros(1, dtype=torch.long)}
    return {"epoch": 800, "arch": "resnet50", "state_dict": state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.03, "momentum": 0.9, "params": [0, 1]}]}}


def test_moco_checkpoint_loads_its_query_encoder_exactly(hub):
    """The on-disk layout of moco_v2_800ep_pretrain.pth.tar (in the torch hub cache), on a ResNet-18."""
    import torchvision

    tv = _random_state(torchvision.models.resnet18(), seed=2)
    checkpoint = _moco_checkpoint(tv, seed=3)
    converted = moco_to_torchvision(checkpoint)
    assert converted.keys() == {k for k in tv if not k.startswith("fc.")}
    assert all(converted[k] is checkpoint["state_dict"][f"module.encoder_q.{k}"] for k in converted)

    target = hub / "checkpoints" / Path(RELEASED_SSL["moco_v2_800ep"].url).name
    assert target.name == "moco_v2_800ep_pretrain.pth.tar"
    target.parent.mkdir(parents=True)
    torch.save(checkpoint, target)
    net = build_backbone({**RESNET, "weights": "moco_v2_800ep"}, 8)
    _assert_same(net.body, converted)


def test_moco_converter_refuses_other_checkpoints():
    with pytest.raises(ValueError, match="not a MoCo checkpoint"):
        moco_to_torchvision({"state_dict": {"conv1.weight": torch.zeros(1)}})


_FAKE_DINO_HUBCONF = '''
import timm
import torch

dependencies = ["torch", "timm"]
URL = "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth"


def dino_vits16(pretrained=True, **kwargs):
    """Stands in for DINO's entry point: build a ViT-S/16 (tiny here) and load the checkpoint strictly."""
    model = timm.create_model("vit_small_patch16_224", num_classes=0, depth=1, embed_dim=48, num_heads=2)
    if pretrained:
        model.load_state_dict(torch.hub.load_state_dict_from_url(URL, map_location="cpu"), strict=True)
    return model
'''


def test_dino_hub_weights_load_exactly_from_the_cached_repo_and_checkpoint(hub):
    """torch.hub's offline layout: <hub>/facebookresearch_dino_main/hubconf.py and <hub>/checkpoints/<file>.pth.

    The stand-in hubconf builds a timm model, so this checks the plumbing and the exact copy; that DINO's own
    names are timm's is read from facebookresearch/dino's vision_transformer.py, not checked here.
    """
    import timm

    repo = hub / "facebookresearch_dino_main"
    repo.mkdir(parents=True)
    (repo / "hubconf.py").write_text(_FAKE_DINO_HUBCONF)
    state = _random_state(timm.create_model("vit_small_patch16_224", num_classes=0, **TINY), seed=4)
    (hub / "checkpoints").mkdir()
    torch.save(state, hub / "checkpoints" / "dino_deitsmall16_pretrain.pth")

    net = build_backbone({"kind": "vit", "arch": "vit_small_patch16_224", "weights": "dino_vits16", **TINY}, 8)
    _assert_same(net.vit, state)
    assert net.stride == 16
    with torch.no_grad():
        assert net.eval()(torch.rand(1, 3, 40, 50)).shape == (1, 8, 3, 4)


def test_released_weights_are_refused_for_the_other_kind():
    with pytest.raises(ValueError, match="'moco_v2_800ep' are for a resnetext backbone"):
        build_backbone({"kind": "vit", "arch": "vit_small_patch16_224", "weights": "moco_v2_800ep"}, 8)


# ------------------------------------------------------------------------------------------ offline names

OFFLINE = [
    # ViTs at tiny sizes: the message depends on the name only, and ViT-L itself takes seconds and GBs to build
    pytest.param({"kind": "vit", "arch": "vit_small_patch14_dinov2", "weights": "lvd142m", **TINY},
                 ["timm/vit_small_patch14_dinov2.lvd142m", "{hf}", "hf download"], id="vit_small_lvd142m"),
    pytest.param({"kind": "vit", "arch": "vit_base_patch14_dinov2", "weights": "lvd142m", **TINY},
                 ["timm/vit_base_patch14_dinov2.lvd142m", "{hf}", "hf download"], id="vit_base_lvd142m"),
    pytest.param({"kind": "vit", "arch": "vit_large_patch14_dinov2", "weights": "lvd142m", **TINY},
                 ["timm/vit_large_patch14_dinov2.lvd142m", "{hf}", "hf download"], id="vit_large_lvd142m"),
    pytest.param({"kind": "vit", "arch": "vit_small_patch16_224", "weights": "dino_vits16"},
                 ["torch.hub.load('facebookresearch/dino:main', 'dino_vits16')",
                  "https://github.com/facebookresearch/dino/archive/main.zip", "{hub}/facebookresearch_dino_main",
                  RELEASED_SSL["dino_vits16"].url, "{hub}/checkpoints/dino_deitsmall16_pretrain.pth"],
                 id="dino_vits16"),
    pytest.param({"kind": "resnetext", "arch": "resnet50", "weights": "moco_v2_800ep"},
                 [RELEASED_SSL["moco_v2_800ep"].url, "{hub}/checkpoints/moco_v2_800ep_pretrain.pth.tar"],
                 id="moco_v2_800ep"),
    pytest.param({"kind": "resnetext", "arch": "resnet50", "weights": "ResNet50_Weights.IMAGENET1K_V1"},
                 ["https://download.pytorch.org/models/resnet50-", "{hub}/checkpoints/resnet50-"],
                 id="ResNet50_Weights.IMAGENET1K_V1"),
]


@pytest.mark.parametrize(("entry", "expected"), OFFLINE)
def test_offline_real_weights_say_in_one_line_what_to_fetch_and_where(entry, expected, hub):
    with pytest.raises(WeightsUnavailable) as err:
        build_backbone(entry, 8)
    msg = str(err.value)
    assert "\n" not in msg and "weights to null" in msg
    for part in expected:
        assert part.format(hub=hub, hf=hub.parent.parent / "hf") in msg, (part, msg)
    assert unknown_weights(entry["kind"], entry["arch"], entry["weights"].split(".")[-1]) is None


def test_config_names_of_the_new_weights():
    """What the config checks (torch-free) accept: any well-formed ssl: name, released names on their own arch."""
    assert unknown_weights("vit", "vit_small_patch14_dinov2", "ssl:run") is None
    assert unknown_weights("resnetext", "resnet50", "ssl:run") is None
    assert "name after 'ssl:'" in unknown_weights("vit", "vit_small_patch14_dinov2", "ssl:")
    assert unknown_weights("resnetext", "resnet18", "moco_v2_800ep") == (
        "'moco_v2_800ep' are weights for resnetext 'resnet50', not resnetext 'resnet18'")
    assert "not vit 'vit_small_patch14_dinov2'" in unknown_weights("vit", "vit_small_patch14_dinov2", "dino_vits16")
