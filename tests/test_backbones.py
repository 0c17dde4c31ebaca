"""Backbones: output shapes and strides, the pixel -> cell map, pooling, and the offline-weights error."""

from __future__ import annotations

import math

import pytest
import torch

from robust3d.models.backbones import WeightsUnavailable, build_backbone, pooled
from robust3d.models.registry import ModelSpec, family_module, model_spec

RESNET = {"kind": "resnetext", "arch": "resnet18", "weights": None}
VIT = {"kind": "vit", "arch": "vit_small_patch14_dinov2", "weights": None, "depth": 2, "embed_dim": 48,
       "num_heads": 2}
VIT_UP = {**VIT, "upsample": 1.75}  # 14-px patches of the image resized x1.75: 8-px cells, the ResNetExt's


@pytest.mark.parametrize(("entry", "stride"), [(RESNET, 8), (VIT, 14), (VIT_UP, 8)])
@pytest.mark.parametrize("hw", [(64, 64), (50, 90)])
def test_feature_map_shape_and_stride(entry, stride, hw):
    torch.manual_seed(0)
    net = build_backbone(entry, feature_dim=16).eval()
    assert net.stride == stride
    with torch.no_grad():
        out = net(torch.rand(2, 3, *hw))
    assert out.shape == (2, 16, math.ceil(hw[0] / stride), math.ceil(hw[1] / stride))
    assert pooled(out).shape == (2, 16)
    torch.testing.assert_close(pooled(out), out.mean(dim=(2, 3)))


@pytest.mark.parametrize(("entry", "tolerance"), [(RESNET, 1), (VIT, 0), (VIT_UP, 0)])
@pytest.mark.parametrize(("row", "col"), [(5, 2), (3, 6)])
def test_a_pixel_change_reaches_its_own_cell(entry, tolerance, row, col):
    """cell = floor(pixel / stride): a bright square inside one cell changes that cell's feature the most.

    Exactly for the ViT (a patch is a cell); within one cell for the random-init ResNetExt, whose upsampled deep
    layers spread a change over their coarser cells.
    """
    torch.manual_seed(0)
    net = build_backbone(entry, feature_dim=16).eval()
    s = net.stride
    base = torch.full((1, 3, 8 * s, 8 * s), 0.5)
    bumped = base.clone()
    bumped[..., row * s + 2: row * s + s - 2, col * s + 2: col * s + s - 2] = 1.0
    with torch.no_grad():
        delta = (net(bumped) - net(base)).norm(dim=1)[0]
    peak = divmod(int(delta.argmax()), delta.shape[1])
    assert abs(peak[0] - row) <= tolerance and abs(peak[1] - col) <= tolerance
    far = delta.clone()
    far[max(0, row - 2): row + 3, max(0, col - 2): col + 3] = 0
    assert delta[row, col] > far.max()


@pytest.mark.parametrize("entry", [RESNET, VIT])
def test_amp_runs_the_backbone_in_bfloat16_and_returns_float32(entry):
    torch.manual_seed(0)
    full = build_backbone(entry, feature_dim=16).eval()
    half = build_backbone({**entry, "amp": True}, feature_dim=16).eval()
    half.load_state_dict(full.state_dict())
    images = torch.rand(2, 3, 56, 56, requires_grad=True)
    seen = []
    first = next(m for m in half.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    hook = first.register_forward_hook(lambda module, args, out: seen.append(out))
    out = half(images)
    hook.remove()
    assert not full.amp and half.amp
    assert seen[0].dtype == torch.bfloat16 and out.dtype == torch.float32  # inside bf16, out float32
    with torch.no_grad():
        ref = full(images)
    assert torch.nn.functional.cosine_similarity(out.detach().flatten(1), ref.flatten(1)).min() > 0.99
    out.sum().backward()  # gradients flow to the (float32) weights and the input
    assert images.grad is not None and all(p.grad is not None for p in half.head.parameters())


@pytest.mark.parametrize(("entry", "dim"), [(RESNET, 512), (VIT, 48)])
def test_global_features_are_the_architectures_own_embedding(entry, dim):
    """The dual heads' input: a ResNet's pooled last stage (512-D for ResNet18), a ViT's class token."""
    torch.manual_seed(0)
    net = build_backbone(entry, feature_dim=16).eval()
    images = torch.rand(2, 3, 56, 56)
    import timm

    from robust3d.models.backbones import IMAGENET_MEAN, IMAGENET_STD

    # the reference: timm's own classifier embedding (pre-logits) of the same architecture and weights
    if entry["kind"] == "resnetext":
        ref_net = timm.create_model("resnet18", pretrained=False, num_classes=0)
        ref_net.load_state_dict(net.body.state_dict())
    else:
        ref_net = timm.create_model(entry["arch"], pretrained=False, num_classes=0, global_pool="token",
                                    depth=2, embed_dim=48, num_heads=2, dynamic_img_size=True)
        ref_net.load_state_dict(net.vit.state_dict())
    normalized = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        emb = net.global_features(images)
        ref = ref_net.eval()(normalized)
    assert net.global_dim == dim and emb.shape == (2, dim)
    torch.testing.assert_close(emb, ref)
    net.embedding_only()  # a classifier's backbone: the dense-map modules are gone, the embedding stays
    assert not hasattr(net, "head")
    torch.testing.assert_close(net.global_features(images), emb)


def test_an_upsample_that_splits_pixels_is_refused():
    with pytest.raises(ValueError, match="whole image pixels"):
        build_backbone({**VIT, "upsample": 1.5}, feature_dim=16)


def test_vit_sizes_come_from_the_config():
    net = build_backbone(VIT, feature_dim=8)
    assert len(net.vit.blocks) == 2 and net.vit.embed_dim == 48


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown backbone kind 'cnn'"):
        build_backbone({"kind": "cnn", "arch": "x"}, 8)


def test_offline_torchvision_weights_say_what_to_fetch_and_where(tmp_path, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(url, *args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailable) as err:
        build_backbone({**RESNET, "arch": "resnet50", "weights": "ResNet50_Weights.IMAGENET1K_V1"}, 8)
    msg = str(err.value)
    assert "https://download.pytorch.org/models/resnet50-" in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg and "weights to null" in msg


def test_offline_timm_weights_say_what_to_fetch_and_where(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailable) as err:
        build_backbone({**VIT, "weights": "lvd142m"}, 8)
    msg = str(err.value)
    assert "timm/vit_small_patch14_dinov2.lvd142m" in msg and str(tmp_path) in msg


def test_model_registry_specs_and_errors():
    from robust3d.models.neural_mesh.options import MeshOptions

    section = {
        "backbones": {"resnet50": RESNET}, "mesh": {"vertices_per_class": 200},
        "models": {"a": {"family": "neural_mesh", "backbone": "resnet50", "loss": "compnets", "cross_samples": 32},
                   "b": {"family": "neural_mesh", "backbone": "resnet50", "loss": "compnets"},
                   "c": {"family": "neural_mesh", "backbone": "vit", "loss": "novum"}}}
    assert model_spec(section, "a") == ModelSpec("a", "neural_mesh", "resnet50", {"loss": "compnets",
                                                                                  "cross_samples": 32})
    assert MeshOptions.of(model_spec(section, "a"), section) == MeshOptions("compnets", 32, 200)
    with pytest.raises(ValueError, match=r"unknown model 'z' \(allowed: a, b, c\)"):
        model_spec(section, "z")
    with pytest.raises(ValueError, match="cross_samples"):  # the family checks its own options
        MeshOptions.of(model_spec(section, "b"), section)
    with pytest.raises(ValueError, match="unknown backbone 'vit'"):
        model_spec(section, "c")
    cfg = section
    assert family_module(model_spec(cfg, "a")).__name__ == "robust3d.models.neural_mesh.family"


def test_every_backbone_kind_has_a_builder():
    """The config checks read the kinds from a torch-free module; each must have a builder in the registry."""
    from robust3d.models.backbone_shapes import KINDS
    from robust3d.models.backbones import BACKBONES

    assert tuple(BACKBONES) == KINDS
    with pytest.raises(ValueError, match="unknown backbone kind 'cnn'"):
        build_backbone({"kind": "cnn", "arch": "x"}, 8)
