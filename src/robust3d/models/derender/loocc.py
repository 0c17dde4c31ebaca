"""PDR's leave-one-out cycle contrast (LOOCC): perturb light or view, re-render, contrast the other factors.

Per batch, one factor is chosen (:func:`choose_factor`), the predicted parameters are perturbed
(:func:`perturb_light` / :func:`perturb_view`, or :func:`perturb` on the whole parameter dict), the image is
re-rendered and re-encoded, and the features of every factor *except* the perturbed one (:func:`leave_one_out`) of
the original and the re-rendering are pulled together by :func:`nt_xent`. Source: ``pdr/model.py::forward``
(``cyclic=True``) and ``pdr/trainer.py::run_epoch`` of ``tzofi/physically-disentangled-representations``.

Randomness: every draw comes from the ``torch.Generator`` passed in (created on the parameters' device, or the
CPU), in the reference's order (ambient, diffuse, direction; pitch, yaw), so a run is reproducible from the seed of
that generator and other consumers of the global RNG do not shift it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

FACTORS = ("light", "view")
MODES = ("light", "light_view")
#: Half-widths of the uniform perturbations, as the active code (whose ``0.785398`` is pi/4 to 6 digits).
LIGHT_INTENSITY_HALF = 0.5
LIGHT_DIR_HALF = math.pi / 8
PITCH_HALF = math.pi / 16
YAW_HALF = math.pi / 8
#: ``SupConLoss(temperature=0.5)`` multiplies its loss by ``temperature / base_temperature`` (0.07).
SUPCON_BASE_TEMPERATURE = 0.07
SUPCON_SCALE = 0.5 / SUPCON_BASE_TEMPERATURE


def choose_factor(mode: str, generator: torch.Generator) -> str:
    """The factor to perturb for one batch: ``"light"`` or ``"view"``.

    ``mode="light"`` (Light Only) always returns ``"light"`` and draws nothing (the authors comment the coin out);
    ``mode="light_view"`` flips one fair coin for the whole batch (``randint(0, 2)``: 0 relight, 1 new view).
    """
    if mode == "light":
        return "light"
    if mode == "light_view":
        coin = int(torch.randint(0, 2, (1,), generator=generator, device=generator.device).item())
        return FACTORS[coin]
    raise ValueError(f"unknown LOOCC mode {mode!r}; expected one of {MODES}")


def _uniform(like: torch.Tensor, half: float, generator: torch.Generator) -> torch.Tensor:
    """U(-half, half) of ``like``'s shape and dtype, drawn on the generator's device, moved to ``like``'s."""
    u = torch.rand(like.shape, generator=generator, device=generator.device, dtype=like.dtype)
    return ((2 * u - 1) * half).to(like.device)


def perturb_light(ambient: torch.Tensor, diffuse: torch.Tensor, light_dir: torch.Tensor,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Relight: ``a + U(-0.5, 0.5)``, ``b + U(-0.5, 0.5)``, ``d_l + U(-pi/8, pi/8)`` per xyz component.

    ``ambient``, ``diffuse`` (N,) (or (N, 1)) are the *rescaled* intensities, ``light_dir`` (N, 3) the unit
    direction; one independent draw per element (all 2B rows, original and flipped). As the code, the results are
    **not clamped** to the light ranges (the ambient can go negative, the diffuse above its maximum) and the
    direction is **not renormalised**; the renderer must stay finite on them. Returns new tensors (differentiable
    in the inputs).
    """
    return (ambient + _uniform(ambient, LIGHT_INTENSITY_HALF, generator),
            diffuse + _uniform(diffuse, LIGHT_INTENSITY_HALF, generator),
            light_dir + _uniform(light_dir, LIGHT_DIR_HALF, generator))


def perturb_view(view: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """New view: ``view (N, 6) = (rx, ry, rz [rad], tx, ty, tz)`` with ``rx += U(-pi/16, pi/16)`` (pitch) and
    ``ry += U(-pi/8, pi/8)`` (yaw), added after the +-60 degree scaling; the other four entries are returned
    bit-identical (not ``+ 0``). These are the active code's ranges; the commented "stronger" variant (+-pi/8,
    +-pi/4) is what the earlier research notes list.
    """
    pitch = _uniform(view[:, :1], PITCH_HALF, generator)
    yaw = _uniform(view[:, 1:2], YAW_HALF, generator)
    return torch.cat([view[:, :1] + pitch, view[:, 1:2] + yaw, view[:, 2:]], dim=1)


def perturb(factor: str, params: Mapping[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Perturb one factor of a parameter dict, pass everything else through (the same tensor objects).

    ``params`` needs ``ambient``, ``diffuse``, ``light_dir`` for ``factor="light"`` and ``view`` for ``"view"``;
    other keys (``depth``, ``albedo``, ...) are returned untouched.
    """
    out = dict(params)
    if factor == "light":
        out["ambient"], out["diffuse"], out["light_dir"] = perturb_light(
            params["ambient"], params["diffuse"], params["light_dir"], generator)
    elif factor == "view":
        out["view"] = perturb_view(params["view"], generator)
    else:
        raise ValueError(f"unknown factor {factor!r}; expected one of {FACTORS}")
    return out


def leave_one_out(features: Mapping[str, torch.Tensor], perturbed: str) -> torch.Tensor:
    """The contrasted vector: ``cat[depth, albedo, view]`` if light was perturbed, ``cat[depth, albedo, light]`` if
    view was (dim 1; each feature flattened to (B, C), so 1x1 maps are accepted). Shape (B, C_d + C_a + C_other).
    """
    if perturbed not in FACTORS:
        raise ValueError(f"unknown factor {perturbed!r}; expected one of {FACTORS}")
    kept = "view" if perturbed == "light" else "light"
    return torch.cat([features[k].flatten(1) for k in ("depth", "albedo", kept)], dim=1)


def nt_xent(z_x: torch.Tensor, z_aug: torch.Tensor, temperature: float = 0.5, normalize: bool = True,
            scale: float = 1.0) -> torch.Tensor:
    """NT-Xent (SimCLR) over the 2B views ``[z_x; z_aug]`` (each (B, D)); a scalar.

    For anchor ``i`` the positive is its other view, the negatives the remaining 2B-2 views:
    ``l_i = -log(exp(s_ip / t) / sum_{k != i} exp(s_ik / t))``, loss = ``scale * mean_i l_i``. ``normalize=True``
    uses cosine similarity (the paper's Eq. 1, read as SimCLR's loss). ``normalize=False, scale=SUPCON_SCALE``
    is the code: Khosla/Tian ``SupConLoss(temperature=0.5)`` in its unsupervised mode (``contrast_mode='all'``,
    raw dot products, loss multiplied by ``temperature / base_temperature`` = 0.5/0.07).
    """
    if z_x.shape != z_aug.shape or z_x.dim() != 2:
        raise ValueError(f"z_x and z_aug must both be (B, D); got {tuple(z_x.shape)} and {tuple(z_aug.shape)}")
    b = z_x.shape[0]
    z = torch.cat([z_x, z_aug], dim=0)
    if normalize:
        z = F.normalize(z, dim=1)
    logits = z @ z.T / temperature
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return scale * F.cross_entropy(logits, positives)
