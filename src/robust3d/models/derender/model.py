"""Unsup3D's de-renderer (Wu et al. CVPR'20) with PDR's leave-one-out cycle contrast (LOOCC), as one module.

One image in, four factors out: a canonical depth and albedo (decoders), a light and a view (encoders), plus a
confidence map. The canonical image is the albedo shaded by the depth's normals under the light; the
reconstruction is the canonical image warped to the predicted view by the rendered depth
(:mod:`.renderer`). Depth and albedo are also flipped horizontally (the symmetry prior) and reconstruct the same
image. With LOOCC (``loocc``: ``light`` or ``light_view``) the predicted light or view is perturbed, the scene is
re-rendered and re-encoded, and the features of the factors that did not change are contrasted with the
original's (:mod:`.loocc`). The representation is the four bottleneck features (``features``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from robust3d.models.derender.loocc import (
    SUPCON_SCALE,
    choose_factor,
    leave_one_out,
    nt_xent,
    perturb_light,
    perturb_view,
)
from robust3d.models.derender.networks import ConfNet, EDDeconv, Encoder
from robust3d.models.derender.renderer import DepthWarp, DerenderCamera, depth_to_normals, shade

EPS = 1e-7
#: The feature groups (bottlenecks) in the order every concatenation uses.
GROUPS = ("depth", "albedo", "light", "view")
LOOCC_MODES = ("none", "light", "light_view")


@dataclass(frozen=True)
class DerenderSettings:
    """Everything that shapes the model and its losses (Unsup3D's per-dataset yml values, build notes §2.1)."""

    size: int = 64
    nf: int = 64  # depth, albedo and confidence nets
    nf_encoder: int = 32  # light and view encoders (their features are 8 * nf_encoder wide)
    zdim: int = 256
    min_depth: float = 0.9
    max_depth: float = 1.1
    border_depth: float | None = None  # default 0.7 * max + 0.3 * min
    min_ambient: float = 0.0
    max_ambient: float = 1.0
    min_diffuse: float = 0.0
    max_diffuse: float = 1.0
    rotation_deg: float = 60.0
    xy_translation: float = 0.1
    z_translation: float = 0.0
    fov_deg: float = 10.0
    confidence: bool = True
    lam_flip: float = 0.5
    lam_perc: float = 1.0
    lam_depth_smooth: float = 0.0
    loocc: str = "none"
    loocc_weight: float = 0.01
    temperature: float = 0.5
    code_faithful_contrast: bool = False  # SupCon on raw dot products x 0.5/0.07, as the authors' code
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.loocc not in LOOCC_MODES:
            raise ValueError(f"loocc must be one of {LOOCC_MODES}, got {self.loocc!r}")
        if self.zdim != 8 * self.nf_encoder:
            raise ValueError(f"zdim ({self.zdim}) must equal 8 * nf_encoder ({8 * self.nf_encoder}) so the four "
                             "feature groups are equally wide (the PCC compares them)")

    @property
    def border(self) -> float:
        return self.border_depth if self.border_depth is not None else 0.7 * self.max_depth + 0.3 * self.min_depth


def _rescale(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """A tanh output in [-1, 1] mapped to [low, high]."""
    return (x + 1) / 2 * (high - low) + low


def photometric_loss(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor, sigma: torch.Tensor | None
                     ) -> torch.Tensor:
    """Unsup3D's L1 with confidence: ``|a - b| * sqrt(2) / sigma + log sigma``, masked mean (plain masked L1
    without sigma). ``a, b`` (B, 3, H, W); ``mask`` (B, H, W); ``sigma`` (B, 1, H, W) or None."""
    loss = (a - b).abs()
    if sigma is not None:
        loss = loss * math.sqrt(2) / (sigma + EPS) + (sigma + EPS).log()
    mask = mask.unsqueeze(1).expand_as(loss)
    return (loss * mask).sum() / mask.sum().clamp_min(EPS)


def depth_smoothness(depth: torch.Tensor, span: float) -> torch.Tensor:
    """Mean absolute horizontal + vertical depth gradient over the depth range (Unsup3D's cars regulariser)."""
    dx = (depth[:, :, 1:] - depth[:, :, :-1]).abs().mean()
    dy = (depth[:, 1:, :] - depth[:, :-1, :]).abs().mean()
    return (dx + dy) / span


class Derenderer(nn.Module):
    """The networks of Unsup3D (netD, netA, netL, netV, netC) and the losses of one training step."""

    def __init__(self, settings: DerenderSettings, perceptual: nn.Module | None = None) -> None:
        super().__init__()
        s = self.settings = settings
        self.net_depth = EDDeconv(3, 1, nf=s.nf, zdim=s.zdim, activation=None, size=s.size)
        self.net_albedo = EDDeconv(3, 3, nf=s.nf, zdim=s.zdim, size=s.size)
        self.net_light = Encoder(3, 4, nf=s.nf_encoder, size=s.size)
        self.net_view = Encoder(3, 6, nf=s.nf_encoder, size=s.size)
        self.net_conf = ConfNet(3, 2, nf=s.nf, zdim=s.zdim // 2, size=s.size) if s.confidence else None
        self.warp = DepthWarp(DerenderCamera(s.size, s.fov_deg), 1.0, s.min_depth, s.max_depth)
        self.perceptual = perceptual  # relu3_3 of VGG16 with confidence, or None (pdr.perceptual: none)

    # ------------------------------------------------------------------ encoding
    def encode(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """``image`` (B, 3, S, S) in [-1, 1] -> raw outputs and the four bottleneck features."""
        s = self.settings
        depth_raw, f_depth = self.net_depth(image)
        albedo, f_albedo = self.net_albedo(image)
        light, f_light = self.net_light(image)
        view, f_view = self.net_view(image)
        depth = depth_raw[:, 0]
        depth = torch.tanh(depth - depth.mean(dim=(1, 2), keepdim=True))
        depth = _rescale(depth, s.min_depth, s.max_depth)
        depth = self._with_border(depth)
        return {"depth": depth, "albedo": albedo, "light": light, "view": view,
                "features": {"depth": f_depth, "albedo": f_albedo, "light": f_light, "view": f_view}}

    def _with_border(self, depth: torch.Tensor) -> torch.Tensor:
        """A 2-pixel image border at ``border_depth`` (Unsup3D's background plane), without in-place edits."""
        inner = torch.zeros_like(depth, dtype=torch.bool)
        inner[:, 2:-2, 2:-2] = True
        return torch.where(inner, depth, torch.full_like(depth, self.settings.border))

    def light_parameters(self, light: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 4) tanh -> ambient (B,), diffuse (B,), unit direction (B, 3) = normalise([l2, l3, 1])."""
        s = self.settings
        ambient = _rescale(light[:, 0], s.min_ambient, s.max_ambient)
        diffuse = _rescale(light[:, 1], s.min_diffuse, s.max_diffuse)
        direction = torch.cat([light[:, 2:4], torch.ones_like(light[:, :1])], dim=1)
        return ambient, diffuse, F.normalize(direction, dim=1)

    def view_parameters(self, view: torch.Tensor) -> torch.Tensor:
        """(B, 6) tanh -> rotation (radians, at most ``rotation_deg``) and translation (world units)."""
        s = self.settings
        rotation = view[:, :3] * math.radians(s.rotation_deg)
        shift = torch.cat([view[:, 3:5] * s.xy_translation, view[:, 5:6] * s.z_translation], dim=1)
        return torch.cat([rotation, shift], dim=1)

    # ------------------------------------------------------------------ rendering
    def render(self, depth: torch.Tensor, albedo: torch.Tensor, ambient: torch.Tensor, diffuse: torch.Tensor,
               direction: torch.Tensor, view: torch.Tensor) -> dict[str, torch.Tensor]:
        """The 2B reconstructions (original and flipped canonical depth/albedo; light and view per image as
        given for 2B rows) and their shared mask (both halves' masks multiplied, detached)."""
        normals = depth_to_normals(depth, self.warp.camera)
        canon, shading = shade(albedo, normals, ambient, diffuse, direction)
        recon, recon_depth, mask = self.warp.render(depth, canon, view)
        b = depth.shape[0] // 2
        both = (mask[:b] * mask[b:]).detach()
        return {"canon": canon, "shading": shading, "normals": normals, "recon": recon, "recon_depth": recon_depth,
                "mask": torch.cat([both, both])}

    def reconstruct(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode ``image`` (B, 3, S, S) in [-1, 1] and render it back (2B rows: original, then flipped)."""
        enc = self.encode(image)
        depth = torch.cat([enc["depth"], enc["depth"].flip(2)])
        albedo = torch.cat([enc["albedo"], enc["albedo"].flip(3)])
        ambient, diffuse, direction = (p.repeat(2, *([1] * (p.dim() - 1)))
                                       for p in self.light_parameters(enc["light"]))
        view = self.view_parameters(enc["view"]).repeat(2, 1)
        out = self.render(depth, albedo, ambient, diffuse, direction, view)
        out.update({"encoded": enc, "depth2": depth, "albedo2": albedo, "ambient": ambient, "diffuse": diffuse,
                    "direction": direction, "view2": view})
        return out

    # ------------------------------------------------------------------ losses
    def losses(self, image: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Every loss term of one step on ``image`` (B, 3, S, S) in [-1, 1]; ``total`` is what is minimised.
        ``generator`` draws LOOCC's factor and perturbation (one factor per batch)."""
        s = self.settings
        out = self.reconstruct(image)
        b = image.shape[0]
        conf = self.net_conf(image) if self.net_conf is not None else None
        sigma, sigma_perc = (conf if conf is not None else (None, None))
        recon, mask = out["recon"], out["mask"]
        l1 = photometric_loss(recon[:b], image, mask[:b], None if sigma is None else sigma[:, 0:1])
        l1_flip = photometric_loss(recon[b:], image, mask[b:], None if sigma is None else sigma[:, 1:2])
        terms = {"photometric": l1, "photometric_flip": l1_flip}
        total = l1 + s.lam_flip * l1_flip
        if self.perceptual is not None:
            perc = self.perceptual(recon[:b], image, mask[:b], None if sigma_perc is None else sigma_perc[:, 0:1])
            perc_flip = self.perceptual(recon[b:], image, mask[b:],
                                        None if sigma_perc is None else sigma_perc[:, 1:2])
            terms.update({"perceptual": perc, "perceptual_flip": perc_flip})
            total = total + s.lam_perc * (perc + s.lam_flip * perc_flip)
        if s.lam_depth_smooth:
            smooth = depth_smoothness(out["encoded"]["depth"], s.max_depth - s.min_depth)
            terms["depth_smooth"] = smooth
            total = total + s.lam_depth_smooth * smooth
        if s.loocc != "none":
            contrast = self.cycle_contrast(out, generator)
            terms["loocc"] = contrast
            total = total + s.loocc_weight * contrast
        terms["total"] = total
        return terms

    def cycle_contrast(self, out: dict[str, torch.Tensor], generator: torch.Generator | None) -> torch.Tensor:
        """LOOCC: perturb the light or the view of the predicted scene (all 2B rows), re-render, re-encode the
        non-flipped half and contrast the features of the three unchanged factors with the original's."""
        s = self.settings
        factor = choose_factor(s.loocc, generator)
        ambient, diffuse, direction, view = out["ambient"], out["diffuse"], out["direction"], out["view2"]
        if factor == "light":
            ambient, diffuse, direction = perturb_light(ambient, diffuse, direction, generator)
        else:
            view = perturb_view(view, generator)
        again = self.render(out["depth2"], out["albedo2"], ambient, diffuse, direction, view)
        b = out["depth2"].shape[0] // 2
        cycled = self.encode(again["recon"][:b])["features"]
        z_x = leave_one_out(out["encoded"]["features"], factor)
        z_aug = leave_one_out(cycled, factor)
        if s.code_faithful_contrast:
            return nt_xent(z_x, z_aug, s.temperature, normalize=False, scale=SUPCON_SCALE)
        return nt_xent(z_x, z_aug, s.temperature)

    @torch.no_grad()
    def features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The four (B, zdim) bottleneck features of ``image`` (B, 3, S, S) in [-1, 1]."""
        return self.encode(image)["features"]
