"""NTDM inference (Sec. 3.4, Eq. 9): render-and-compare over pose, shape latent and instance scale at once.

For a class ``c`` the deformable mesh ``Gamma(z, s') = s' * s * (v + Psi(v, z))`` is rasterised at feature-map
resolution; every covered cell gets the template-sphere point it comes from (so its texture coordinates), the
surface normal and the direction to the camera, hence its viewing coefficients ``alpha_b`` (Eq. 5) and its rendered
feature ``f'_i = sum_b alpha_b theta_b(u_i, v_i)``. The reconstruction loss (Eq. 9, divided by ``h w``)

    ``L = -(1 / hw) (sum_{i in O} max(f_i . f'_i, f_i . beta) + sum_{i not in O} f_i . beta)``

labels a covered cell foreground when it matches the object better than the background (``beta``: the best
background-bank feature of the cell), else occluded; ``O`` (what the mesh covers) is the amodal mask.

Starts: every (pose, latent) pair of NeMo's 144-pose grid times the ``k`` one-hot latents of the class's training
CADs, at ``s' = 1`` (Table 3's ablations start from the average latent ``1/k`` or a random one). The starts do not
depend on the image, so their renders are made once per (model, class, camera) and every image of a batch scores
all of them in one product. The best start is refined by Adam (300 steps in the paper, lr 0.05; betas (0.4, 0.6)
are NeMo's) on azimuth, elevation, theta, the free latent ``z`` and ``s'`` jointly, batched over images (Adam is
per parameter: a batch's summed loss gives each image its own trajectory); the lowest-loss iterate is kept.

Classification (Sec. 3.4, as NeMo-cls): fit the classes and take the lowest final loss. To bound the cost only the
``classify_top`` classes with the best starts are refined (all of them at paper scale).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from robust3d.models.neural_mesh.inference import FeatureCamera, background_score
from robust3d.render.features import MeshBatch, rasterize_vertices
from robust3d.render.uv import sample_texture, surface_geometry, view_coefficients

LATENT_INITS = ("one_hot", "average", "random")
BACKGROUND_MODES = ("max", "none")
CLUTTER_MODES = ("max", "mean")


@dataclass(frozen=True)
class InferenceOptions:
    """Refinement and scoring settings (config ``ntdm.inference``; Table 3's inference ablations change them)."""

    steps: int = 30
    lr: float = 0.05
    shape_lr: float | None = None  # latent and instance scale (None: lr, the paper's one rate for all)
    betas: tuple[float, float] = (0.4, 0.6)
    background: str = "max"  # "none": Table 3's "w/o BG" (only the object's cells count, with f . f')
    clutter: str = "max"  # beta of a cell: the best background-bank feature, or NeMo's one normalised mean feature
    latent_init: str = "one_hot"
    optimise_latent: bool = True
    optimise_scale: bool = True
    classify_top: int = 2
    chunk: int = 96  # hypotheses rendered at once

    def __post_init__(self) -> None:
        if self.latent_init not in LATENT_INITS:
            raise ValueError(f"latent_init must be one of {', '.join(LATENT_INITS)}, got {self.latent_init!r}")
        if self.clutter not in CLUTTER_MODES:
            raise ValueError(f"clutter must be one of {', '.join(CLUTTER_MODES)}, got {self.clutter!r}")
        if self.background not in BACKGROUND_MODES:
            raise ValueError(f"background must be one of {', '.join(BACKGROUND_MODES)}, got {self.background!r}")

    @classmethod
    def of(cls, cfg: dict) -> InferenceOptions:
        keys = {k: cfg[k] for k in ("steps", "lr", "shape_lr", "background", "latent_init", "optimise_latent",
                                    "optimise_scale", "classify_top", "chunk", "clutter") if k in cfg}
        if "betas" in cfg:
            keys["betas"] = tuple(float(b) for b in cfg["betas"])
        return cls(**keys)


class TexturedMeshes:
    """What inference needs of a trained NTDM model: per class a deformable mesh and its textures.

    ``meshes[y]``: a ``DeformNet`` (``forward(z (B, k), scale (B, 3)) -> (B, V, 3)``, buffers ``template``, ``faces``);
    ``textures (Y, b, d, q, q)``; ``background (N_b, d)``; ``rotations (b, 3, 3)`` and ``alpha_temperature``: Eq. 5.
    """

    def __init__(self, classes: list[str], meshes: list, textures: torch.Tensor, background: torch.Tensor,
                 rotations: torch.Tensor, alpha_temperature: float) -> None:
        self.classes, self.meshes = list(classes), list(meshes)
        self.textures, self.background = textures, background
        self.rotations, self.alpha_temperature = rotations, float(alpha_temperature)

    def n_latent(self, y: int) -> int:
        return int(self.meshes[y].n_latent)


@dataclass
class Rendered:
    features: torch.Tensor  # (B, d, h, w) view-specific rendered features, zero outside O
    covered: torch.Tensor  # (B, h, w) bool: O, what the mesh covers (the amodal mask at feature resolution)


def render(bank: TexturedMeshes, y: int, z: torch.Tensor, scale: torch.Tensor, poses: torch.Tensor,
           camera: FeatureCamera) -> Rendered:
    """Render class ``y``'s mesh with latents ``z (B, k)`` and instance scales ``scale (B, 3)`` at ``poses (B, 3)``
    (azimuth, elevation, theta); differentiable in all three."""
    net = bank.meshes[y]
    verts = net(z, scale)
    batch = verts.shape[0]
    mesh = MeshBatch.build(verts, net.faces, batch)
    az, el, th = poses[:, 0], poses[:, 1], poses[:, 2]
    frags = rasterize_vertices(mesh, az, el, th, camera.distance, camera.focal, camera.principal, camera.size)
    geo = surface_geometry(mesh, frags, net.template, az, el, camera.distance)
    alpha = view_coefficients(geo.normal, geo.to_camera, bank.rotations.to(verts), bank.alpha_temperature)
    bins, d, q, _ = bank.textures.shape[1:]
    tex = sample_texture(bank.textures[y].reshape(1, bins * d, q, q).expand(batch, -1, -1, -1).to(verts), geo.uv)
    tex = tex.reshape(batch, bins, d, *camera.size)
    features = (alpha[:, :, None] * tex).sum(1) * geo.foreground[:, None]
    return Rendered(features, geo.foreground)


def clutter_score(feature_map: torch.Tensor, bank: TexturedMeshes, mode: str = "max") -> torch.Tensor:
    """``f_i . beta`` per cell ``(B, h, w)``: the best feature of the background bank (``max``, this project's
    3D-CompNets reading), or NeMo's single normalised mean of the bank (``mean``, a weaker background)."""
    if mode == "max":
        return background_score(feature_map, bank.background)
    beta = torch.nn.functional.normalize(bank.background.mean(0), dim=0).to(feature_map)
    return torch.einsum("bdhw,d->bhw", feature_map, beta)


def cell_scores(feature_map: torch.Tensor, rendered: torch.Tensor, covered: torch.Tensor, bg_score: torch.Tensor,
                background: str = "max") -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 9 per image ``(B,)`` and the foreground (non-occluded) map ``(B, h, w)``.

    ``background="none"`` (Table 3's w/o BG): only the covered cells count, each with ``f . f'``; every covered
    cell is foreground.
    """
    obj = (feature_map * rendered).sum(1)
    if background == "none":
        per_cell = torch.where(covered, obj, torch.zeros_like(obj))
        return -per_cell.flatten(1).mean(1), covered
    fg = covered & (obj > bg_score)
    per_cell = torch.where(covered, torch.maximum(obj, bg_score), bg_score)
    return -per_cell.flatten(1).mean(1), fg


def start_latents(k: int, mode: str, batch: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """The latents inference starts from: ``(k, k)`` one-hots, ``(1, k)`` average, or ``(batch, k)`` draws from
    the uniform distribution on the simplex (Dirichlet(1), Table 3's "random")."""
    if mode == "one_hot":
        return torch.eye(k)
    if mode == "average":
        return torch.full((1, k), 1.0 / k)
    e = -torch.log(torch.rand(batch, k, generator=generator).clamp_min(1e-12))
    return e / e.sum(1, keepdim=True)


@dataclass
class StartCache:
    """Renders of every (pose, latent) start per (model, class, camera, latent mode), made once and reused
    (``P k x d x h x w`` floats per entry: 576 x 64 x 16 x 16 x 4 B = 38 MB at the embedded default); bounded by
    ``max_bytes``, least recently used dropped first."""

    poses: torch.Tensor  # (P, 3)
    max_bytes: int | None = None
    _store: OrderedDict = field(default_factory=OrderedDict, repr=False)
    renders: int = 0

    def get(self, bank: TexturedMeshes, y: int, camera: FeatureCamera, mode: str, chunk: int = 96
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(renders (S, d*h*w), covered (S, h*w) float, poses (S, 3), latents (S, k))`` of the starts."""
        key = (id(bank.textures), int(y), camera, mode)
        if key in self._store:
            self._store.move_to_end(key)
            return self._store[key][:4]
        latents = start_latents(bank.n_latent(y), mode)
        poses = self.poses.repeat(len(latents), 1)
        z = latents.repeat_interleave(len(self.poses), 0)
        device = bank.textures.device
        with torch.no_grad():
            parts = [render(bank, y, z[s:s + chunk].to(device), torch.ones(len(z[s:s + chunk]), 3, device=device),
                            poses[s:s + chunk].to(device), camera) for s in range(0, len(z), chunk)]
        r = torch.cat([p.features for p in parts]).flatten(1)
        c = torch.cat([p.covered for p in parts]).flatten(1).to(r.dtype)
        entry = (r, c, poses, z, bank.textures)  # the textures' reference keeps their id from being reused
        self.renders += 1
        size = r.numel() * r.element_size() + c.numel() * c.element_size()
        while self._store and self.max_bytes is not None and self.nbytes + size > self.max_bytes:
            self._store.popitem(last=False)
        self._store[key] = entry
        return entry[:4]

    @property
    def nbytes(self) -> int:
        return sum(e[0].numel() * e[0].element_size() + e[1].numel() * e[1].element_size()
                   for e in self._store.values())


def start_losses(feature_map: torch.Tensor, bg_score: torch.Tensor, renders: torch.Tensor, covered: torch.Tensor,
                 background: str = "max", chunk: int = 128) -> torch.Tensor:
    """Eq. 9 of every cached start for every image, ``(B, S)``: per-cell products of ``(B, d, hw)`` features with
    ``(S, d, hw)`` renders, in chunks of starts (the max with the background needs them per cell)."""
    b, d = feature_map.shape[:2]
    f = feature_map.flatten(2).to(renders)
    bg = bg_score.flatten(1).to(renders)
    n = f.shape[-1]
    out = []
    for s in range(0, len(renders), chunk):
        r = renders[s:s + chunk].reshape(-1, d, n)
        cov = covered[s:s + chunk]
        obj = torch.einsum("bdn,sdn->bsn", f, r)
        if background == "none":
            score = (obj * cov[None]).sum(-1)
        else:
            inside = torch.maximum(obj, bg[:, None])
            score = (inside * cov[None]).sum(-1) + (bg[:, None] * (1 - cov[None])).sum(-1)
        out.append(-score / n)
    return torch.cat(out, 1)


@dataclass
class Fit:
    """One image's fit of one class."""

    pose: torch.Tensor  # (B, 3) azimuth in [0, 2 pi), elevation, theta
    latent: torch.Tensor  # (B, k)
    scale: torch.Tensor  # (B, 3) instance scale s'
    loss: torch.Tensor  # (B,) Eq. 9 / (h w) of the returned parameters
    start_loss: torch.Tensor  # (B,) of the best start


def fit_class(feature_map: torch.Tensor, y: int, bank: TexturedMeshes, camera: FeatureCamera, cache: StartCache,
              opts: InferenceOptions = InferenceOptions(), bg_score: torch.Tensor | None = None,
              generator: torch.Generator | None = None) -> Fit:
    """Fit class ``y`` to every image of ``feature_map (B, d, h, w)`` (unit per cell): best start, then Adam."""
    feature_map = feature_map.detach()
    device = feature_map.device
    batch = feature_map.shape[0]
    k = bank.n_latent(y)
    if bg_score is None:
        bg_score = clutter_score(feature_map, bank, opts.clutter)
    if opts.latent_init == "random":  # one random latent per image: its starts cannot be shared
        z0 = start_latents(k, "random", batch, generator).to(device)
        losses = torch.stack([_own_start_losses(feature_map[i:i + 1], bg_score[i:i + 1], bank, y, z0[i], cache.poses,
                                                camera, opts) for i in range(batch)])
        loss0, idx = losses.min(1)
        pose0, lat0 = cache.poses.to(device)[idx], z0
    else:
        renders, covered, poses, latents = cache.get(bank, y, camera, opts.latent_init, opts.chunk)
        loss0, idx = start_losses(feature_map, bg_score, renders, covered, opts.background).min(1)
        pose0, lat0 = poses.to(device)[idx], latents.to(device)[idx]
    scale0 = torch.ones(batch, 3, device=device)
    best = Fit(pose0.clone(), lat0.clone(), scale0.clone(), loss0.to(device).clone(), loss0.to(device).clone())
    if opts.steps <= 0:
        best.pose[:, 0] = torch.remainder(best.pose[:, 0], 2 * math.pi)
        return best
    angles = [pose0[:, i].clone().requires_grad_(True) for i in range(3)]
    z = lat0.clone().requires_grad_(opts.optimise_latent)
    scale = scale0.clone().requires_grad_(opts.optimise_scale)
    shape = [p for p in (z, scale) if p.requires_grad]
    groups = [{"params": angles}] + ([{"params": shape, "lr": opts.shape_lr or opts.lr}] if shape else [])
    opt = torch.optim.Adam(groups, lr=opts.lr, betas=opts.betas)
    for step in range(opts.steps + 1):
        with torch.set_grad_enabled(step < opts.steps):
            pose = torch.stack(angles, 1)
            out = render(bank, y, z, scale, pose, camera)
            loss, _ = cell_scores(feature_map, out.features, out.covered, bg_score, opts.background)
        better = loss.detach() < best.loss
        best.loss = torch.where(better, loss.detach(), best.loss)
        best.pose[better] = pose.detach()[better]
        best.latent[better] = z.detach()[better]
        best.scale[better] = scale.detach()[better]
        if step < opts.steps:
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
    best.pose[:, 0] = torch.remainder(best.pose[:, 0], 2 * math.pi)
    return best


def _own_start_losses(feature_map, bg_score, bank, y, z, poses, camera, opts) -> torch.Tensor:
    """``(P,)`` Eq. 9 of the grid's poses with one image's own latent (no cache)."""
    device = feature_map.device
    out = []
    with torch.no_grad():
        for s in range(0, len(poses), opts.chunk):
            p = poses[s:s + opts.chunk].to(device)
            r = render(bank, y, z.expand(len(p), -1), torch.ones(len(p), 3, device=device), p, camera)
            out.append(start_losses(feature_map, bg_score, r.features.flatten(1), r.covered.flatten(1).float(),
                                    opts.background)[0])
    return torch.cat(out)


def masks(feature_map: torch.Tensor, y: int, bank: TexturedMeshes, camera: FeatureCamera, fit: Fit,
          background: str = "max", clutter: str = "max") -> tuple[torch.Tensor, torch.Tensor]:
    """``(covered, foreground)`` ``(B, h, w)`` of a fit: the amodal mask O and the non-occluded part of it."""
    with torch.no_grad():
        out = render(bank, y, fit.latent, fit.scale, fit.pose, camera)
        _, fg = cell_scores(feature_map, out.features, out.covered,
                            clutter_score(feature_map, bank, clutter), background)
    return out.covered, fg


@dataclass
class Prediction:
    """Per image: the fit of the class given for pose (``pose_class``), the predicted class and its loss."""

    pose_fit: Fit
    pose_class: torch.Tensor  # (B,)
    pred_class: torch.Tensor  # (B,)
    class_losses: dict[int, torch.Tensor]  # y -> (B,) final loss where refined, NaN elsewhere


def predict(feature_map: torch.Tensor, pose_class: torch.Tensor | None, bank: TexturedMeshes, camera: FeatureCamera,
            cache: StartCache, opts: InferenceOptions = InferenceOptions(), classify: bool = True,
            generator: torch.Generator | None = None) -> Prediction:
    """Pose, shape and class of a batch (one camera).

    ``pose_class (B,)``: the class whose fit gives the pose/shape/mask columns (the ground truth, NeMo's protocol);
    None: the predicted class. Classification refines the ``opts.classify_top`` classes whose best starts score
    best and takes the lowest final loss; the given pose class is not among the candidates unless its start is.
    """
    device = feature_map.device
    batch = feature_map.shape[0]
    bg_score = clutter_score(feature_map, bank, opts.clutter)
    fits: dict[int, Fit] = {}
    rows: dict[int, torch.Tensor] = {}
    losses = {y: torch.full((batch,), float("nan"), device=device) for y in range(len(bank.classes))}
    pred = torch.zeros(batch, dtype=torch.long, device=device)
    if classify:
        start = torch.stack([_best_start(feature_map, bg_score, bank, y, camera, cache, opts)
                             for y in range(len(bank.classes))], 1)
        top = start.topk(min(opts.classify_top, start.shape[1]), dim=1, largest=False).indices
        for y in torch.unique(top).tolist():
            sel = (top == y).any(1).nonzero().squeeze(1)
            fit = fit_class(feature_map[sel], y, bank, camera, cache, opts, bg_score[sel], generator)
            losses[y][sel] = fit.loss
            fits[y], rows[y] = fit, sel
        pred = torch.stack([losses[y] for y in range(len(bank.classes))], 1).nan_to_num(float("inf")).argmin(1)
    target = pred if pose_class is None else torch.as_tensor(pose_class, device=device).long()
    k_max = max(bank.n_latent(y) for y in range(len(bank.classes)))
    out = Fit(torch.zeros(batch, 3, device=device), torch.zeros(batch, k_max, device=device),
              torch.ones(batch, 3, device=device), torch.zeros(batch, device=device), torch.zeros(batch, device=device))
    for y in torch.unique(target).tolist():
        need = (target == y).nonzero().squeeze(1)
        have = rows.get(y)
        reuse = torch.isin(need, have) if have is not None else torch.zeros_like(need, dtype=torch.bool)
        if (~reuse).any():
            extra = need[~reuse]
            fit = fit_class(feature_map[extra], y, bank, camera, cache, opts, bg_score[extra], generator)
            _put(out, extra, fit)
        if reuse.any():
            pos = {int(i): j for j, i in enumerate(have.tolist())}
            src = torch.tensor([pos[int(i)] for i in need[reuse].tolist()], device=device)
            _put(out, need[reuse], _take(fits[y], src))
    return Prediction(out, target, pred, losses)


def _best_start(feature_map, bg_score, bank, y, camera, cache, opts) -> torch.Tensor:
    renders, covered, _, _ = cache.get(bank, y, camera, "one_hot" if opts.latent_init == "random" else opts.latent_init,
                                       opts.chunk)
    return start_losses(feature_map, bg_score, renders, covered, opts.background).amin(1)


def _take(fit: Fit, idx: torch.Tensor) -> Fit:
    return Fit(fit.pose[idx], fit.latent[idx], fit.scale[idx], fit.loss[idx], fit.start_loss[idx])


def _put(out: Fit, rows: torch.Tensor, fit: Fit) -> None:
    out.pose[rows] = fit.pose
    out.latent[rows] = 0.0
    out.latent[rows, : fit.latent.shape[1]] = fit.latent
    out.scale[rows], out.loss[rows], out.start_loss[rows] = fit.scale, fit.loss, fit.start_loss


__all__ = ["InferenceOptions", "StartCache", "TexturedMeshes", "cell_scores", "clutter_score", "fit_class", "masks",
           "predict", "render", "start_latents", "start_losses"]
