"""VQ-VAE baseline: shapes, a few Adam steps lower the loss, nearest-code lookup (brute force), straight-through
gradients (encoder from the reconstruction, codebook only from the VQ term)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from robust3d.models.vqvae import VQCVAE, nearest_codes


def smooth_images(n: int = 8, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Random smooth images in (-1, 1): 4x4 noise upsampled bilinearly."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 3, 4, 4, generator=g)
    return torch.tanh(F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False))


def test_shapes() -> None:
    torch.manual_seed(0)
    model = VQCVAE(d=16, k=32, size=16)
    out = model(smooth_images())
    assert out["recon"].shape == (8, 3, 16, 16) and out["recon"].abs().max() <= 1
    assert out["z_e"].shape == out["z_q"].shape == (8, 16, 4, 4)
    assert out["codes"].shape == (8, 4, 4) and int(out["codes"].max()) < 32
    for key in ("loss", "mse", "vq", "commit"):
        assert out[key].dim() == 0
    torch.testing.assert_close(out["loss"], out["mse"] + out["vq"] + 0.5 * out["commit"])
    model.eval()
    feats = model.features(smooth_images())
    assert feats.shape == (8, 16 * 4 * 4) == (8, model.feature_dim)
    torch.testing.assert_close(feats, model(smooth_images())["z_q"].flatten(1))


def test_adam_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    model = VQCVAE(d=16, k=32, size=16)
    x = smooth_images()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(12):
        out = model(x)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_lookup_picks_the_nearest_code() -> None:
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 8, 5, 5, generator=g)
    codebook = torch.randn(20, 8, generator=g)
    codes = nearest_codes(z, codebook)
    for b in range(3):
        for i in range(5):
            for j in range(5):
                dists = [float(torch.linalg.vector_norm(z[b, :, i, j].double() - c.double())) for c in codebook]
                assert dists[int(codes[b, i, j])] <= min(dists) + 1e-5
    # and the model's quantised embedding is made of those codes
    torch.manual_seed(0)
    model = VQCVAE(d=16, k=32, size=16)
    out = model(smooth_images())
    codes = nearest_codes(out["z_e"], model.codebook)
    torch.testing.assert_close(out["z_q"], model.codebook[codes].permute(0, 3, 1, 2))


def test_straight_through_gradients() -> None:
    torch.manual_seed(0)
    model = VQCVAE(d=16, k=32, size=16)
    out = model(smooth_images())
    out["mse"].backward(retain_graph=True)
    first_conv = model.encoder[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0  # through the straight-through estimator
    assert model.codebook.grad is None or model.codebook.grad.abs().sum() == 0  # codebook detached for the decoder
    model.zero_grad()
    out["vq"].backward(retain_graph=True)
    assert model.codebook.grad.abs().sum() > 0
    assert first_conv.grad is None or first_conv.grad.abs().sum() == 0  # the VQ term does not move the encoder
    model.zero_grad()
    out["commit"].backward()
    assert first_conv.grad.abs().sum() > 0
    assert model.codebook.grad is None or model.codebook.grad.abs().sum() == 0


def test_codebook_gradient_is_the_mean_over_assigned_positions() -> None:
    torch.manual_seed(0)
    model = VQCVAE(d=4, k=6, size=8)
    z_e = torch.randn(2, 4, 2, 2)
    _, emb, codes = model.quantize(z_e)
    emb.sum().backward()
    counts = torch.bincount(codes.flatten(), minlength=6)
    expected = (counts > 0).float()[:, None].expand(6, 4)  # sum of ones / count = 1 for every used code
    torch.testing.assert_close(model.codebook.grad, expected)
