"""The VQ-VAE baseline of PDR: ``VQ_CVAE`` of ``baselines/vae/vae.py`` (van den Oord et al., NeurIPS 2017).

The reference (``tzofi/physically-disentangled-representations``, itself from ``nadavbh12/VQ-VAE``) uses
``VQ_CVAE(d=416, k=512)`` on 64x64 images; the embedded default is ``d=64, k=128``. Shapes (B batch, S = ``size``):
``x (B, 3, S, S) in [-1, 1] -> z_e (B, d, S/4, S/4) -> z_q`` (nearest of ``k`` codes of dim ``d``) ``-> recon (B, 3,
S, S)`` (tanh). The clustering features are the quantised embedding, flattened: ``d·(S/4)²`` numbers per image.

Kept from the reference (read, not copied):

- Encoder Conv4x4 s2 + BN + ReLU twice, then two :class:`ResBlock` (with BN inside), each followed by BN; decoder
  two :class:`ResBlock` (without BN inside; a BN between them), ConvT4x4 s2 + BN + ReLU, ConvT4x4 s2 to 3, tanh.
  Convs keep their biases (unlike Unsup3D's).
- Initialisation: Conv2d (not ConvTranspose2d, which is not a Conv2d subclass) weights N(0, 0.02), biases 0; the
  last encoder BN's scale 1/40; codebook N(0, 0.02) (the reference's ``torch.fmod(..., 0.04)`` discards its
  result, so nothing is truncated).
- Straight-through estimator: the decoder reads the codes with the encoder's gradient passed through unchanged and
  no gradient to the codebook; the codebook learns only from the VQ term, where (as ``NearestEmbedFunc.backward``)
  the gradient of a code is the *mean*, not the sum, over the latents assigned to it.
- Loss ``MSE + 1·vq + 0.5·commit`` with ``vq = mean ||(e - sg[z_e])²||_2`` and ``commit = mean ||(sg[e] - z_e)²||_2``
  (the norm over channels of the *squared* difference, as the reference; not the usual squared distance), the mean
  over batch and positions.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    """``x + Conv1x1(ReLU([BN](Conv3x3(ReLU(x)))))`` at constant width ``d``; shape-preserving (B, d, H, W)."""

    def __init__(self, d: int, bn: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReLU(), nn.Conv2d(d, d, 3, padding=1), nn.ReLU(), nn.Conv2d(d, d, 1)]
        if bn:
            layers.insert(2, nn.BatchNorm2d(d))
        self.convs = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.convs(x)


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Index of the nearest code (Euclidean) for every position: ``z (B, d, H, W)``, ``codebook (k, d)`` ->
    ``(B, H, W)`` long."""
    b, d, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, d)
    dist = (flat * flat).sum(1, keepdim=True) - 2 * flat @ codebook.T + (codebook * codebook).sum(1)
    return dist.argmin(1).view(b, h, w)


def lookup(codes: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Code vectors at ``codes (B, H, W)`` -> ``(B, d, H, W)``; the gradient of each code is averaged over the
    positions that chose it (the reference's ``NearestEmbedFunc.backward``), with an unchanged forward value."""
    k = codebook.shape[0]
    counts = torch.bincount(codes.flatten(), minlength=k).clamp(min=1).to(codebook.dtype)
    picked = codebook[codes]  # (B, H, W, d)
    picked = picked.detach() + (picked - picked.detach()) / counts[codes].unsqueeze(-1)
    return picked.permute(0, 3, 1, 2)


class VQCVAE(nn.Module):
    """Convolutional VQ-VAE: ``forward(x (B, 3, S, S) in [-1, 1]) -> dict`` with ``recon`` (B, 3, S, S), ``z_e``
    and ``z_q`` (B, d, S/4, S/4), ``codes`` (B, S/4, S/4), and the scalars ``loss = mse + vq_coef·vq +
    commit_coef·commit``, ``mse``, ``vq``, ``commit``. ``size`` (a multiple of 4) fixes S for :meth:`features`."""

    def __init__(self, d: int = 64, k: int = 128, size: int = 64, *, vq_coef: float = 1.0,
                 commit_coef: float = 0.5) -> None:
        super().__init__()
        if size % 4:
            raise ValueError(f"size must be a multiple of 4 (two stride-2 stages), got {size}")
        self.d, self.k, self.size = d, k, size
        self.vq_coef, self.commit_coef = vq_coef, commit_coef
        self.encoder = nn.Sequential(
            nn.Conv2d(3, d, 4, stride=2, padding=1), nn.BatchNorm2d(d), nn.ReLU(inplace=True),
            nn.Conv2d(d, d, 4, stride=2, padding=1), nn.BatchNorm2d(d), nn.ReLU(inplace=True),
            ResBlock(d, bn=True), nn.BatchNorm2d(d),
            ResBlock(d, bn=True), nn.BatchNorm2d(d))
        self.decoder = nn.Sequential(
            ResBlock(d), nn.BatchNorm2d(d), ResBlock(d),
            nn.ConvTranspose2d(d, d, 4, stride=2, padding=1), nn.BatchNorm2d(d), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(d, 3, 4, stride=2, padding=1))
        self.codebook = nn.Parameter(torch.empty(k, d))
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.encoder[-1].weight.fill_(1 / 40)
        nn.init.normal_(self.codebook, 0.0, 0.02)

    @property
    def feature_dim(self) -> int:
        """Length of :meth:`features`: ``d·(S/4)²``."""
        return self.d * (self.size // 4) ** 2

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"expected (B, 3, {self.size}, {self.size}) images, got {tuple(x.shape)}")

    def quantize(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``z_e (B, d, h, w) -> (z_q, emb, codes)``: ``z_q`` carries the codes forward and ``z_e``'s gradient
        backward (straight-through, codebook detached); ``emb`` = the codes of ``sg[z_e]`` with the codebook's
        gradient (for the VQ term); both equal in value."""
        codes = nearest_codes(z_e.detach(), self.codebook.detach())
        z_q = z_e + (self.codebook.detach()[codes].permute(0, 3, 1, 2) - z_e).detach()
        return z_q, lookup(codes, self.codebook), codes

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check_input(x)
        z_e = self.encoder(x)
        z_q, emb, codes = self.quantize(z_e)
        recon = torch.tanh(self.decoder(z_q))
        mse = F.mse_loss(recon, x)
        vq = torch.linalg.vector_norm((emb - z_e.detach()) ** 2, dim=1).mean()
        commit = torch.linalg.vector_norm((emb.detach() - z_e) ** 2, dim=1).mean()
        loss = mse + self.vq_coef * vq + self.commit_coef * commit
        return {"recon": recon, "z_e": z_e, "z_q": z_q, "codes": codes, "loss": loss, "mse": mse, "vq": vq,
                "commit": commit}

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Clustering features: the quantised embedding flattened, ``(B, d·(S/4)²)``; no gradient. Call after
        ``eval()`` for BatchNorm's running statistics, as the reference's extractor does."""
        self._check_input(x)
        z_e = self.encoder(x)
        codes = nearest_codes(z_e, self.codebook)
        return self.codebook[codes].permute(0, 3, 1, 2).flatten(1)
