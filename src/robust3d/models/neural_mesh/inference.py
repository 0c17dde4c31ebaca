"""Pose by render-and-compare (3D-CompNets Sec. 3.4, Eq. 8), batched over images.

The pose of an object is the camera pose whose rendered vertex features best explain the image's unit feature
map: the reconstruction loss (Eq. 8) scores rendered-foreground cells by ``f_i . C_i(alpha)`` and every other
cell by its best background feature ``max_n f_i . beta_n``. As in NeMo/NOVUM, inference starts from the best
of 144 initial poses and refines azimuth, elevation and theta with Adam (lr 0.05, betas (0.4, 0.6)) through the
differentiable rasteriser.

Speed comes from three facts. The 144 initial renders depend only on the class and the camera, not on the
image, so :class:`InitialPoseCache` renders them once and scoring all of them against a batch of images is one
matrix product (foreground term) plus one more (background term). Adam's update is per parameter, so refining
a batch of images jointly (summing their independent losses) gives each image the same trajectory as refining
it alone, at one rasterisation call per step for the whole batch. And during refinement the feature map is
fixed, so ``f_i . C_i(alpha) = sum_k w_k(alpha) (f_i . C_k)`` needs only the similarities of every vertex with
every cell (computed once) and the rasterised vertex weights, never the ``D``-channel render.

Deviations from NeMo/NOVUM, all documented where they happen: Eq. 8 is divided by the number of cells; the
returned pose is the lowest-loss one met during refinement (the start included), not the last iterate; the
learning rate is constant (NOVUM creates a scheduler but never steps it). The cache holds ``P x D x h x w``
floats per class, fine for 16 x 16 maps (19 MB per class) but not for paper-size 80 x 100 maps of 188 classes,
where it would have to keep rasterised fragments instead.

The distance, focal length and principal point are those of the annotation (the synthetic benchmark, like
NeMo's centre-and-resize preprocessing, fixes them); only the rotation is estimated and scored.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from robust3d.render.features import render_vertex_features


class MeshBank(Protocol):
    """What inference needs of a neural mesh model (``NeuralMeshModel`` satisfies it)."""

    classes: list[str]
    vertices: list[torch.Tensor]  # per class (K_y, 3)
    faces: list[torch.Tensor]  # per class (F_y, 3)
    features: torch.Tensor  # (Y, Kmax, D) unit, zero padding
    n_vertices: torch.Tensor  # (Y,)
    background: torch.Tensor  # (N_b, D) unit


@dataclass(frozen=True)
class FeatureCamera:
    """The PASCAL3D+ camera of an image at feature-map resolution (lengths in cells; cell = pixel // stride)."""

    distance: float
    focal: float  # viewport * focal / stride
    principal: tuple[float, float]  # (px, py) / stride
    size: tuple[int, int]  # (h, w) of the feature map

    @classmethod
    def from_annotation(cls, ann: dict, stride: int, size: tuple[int, int]) -> FeatureCamera:
        """Camera of an annotation (``distance, focal, viewport, principal``) for a stride-``stride`` map."""
        px, py = (float(x) / stride for x in np.asarray(ann["principal"]).reshape(2))
        return cls(distance=float(ann["distance"]), focal=float(ann["focal"]) * float(ann["viewport"]) / stride,
                   principal=(px, py), size=(int(size[0]), int(size[1])))


def initial_pose_grid(pose: dict | None = None) -> torch.Tensor:
    """``(P, 3)`` initial (azimuth, elevation, theta): NeMo's 12 x 4 x 3 = 144 poses by default.

    azimuth ``linspace(0, 2pi, A, endpoint=False)`` x elevation ``linspace(-pi/6, pi/3, E)`` x theta
    ``linspace(-pi/6, pi/6, T)``; ``A, E, T`` from a paper section's ``pose`` settings when given.
    """
    pose = pose or {}
    n_a, n_e, n_t = (int(pose.get(k, d)) for k, d in (("azimuth_bins", 12), ("elevation_bins", 4),
                                                        ("theta_bins", 3)))
    az = torch.arange(n_a, dtype=torch.float32) * (2 * math.pi / n_a)
    el = torch.linspace(-math.pi / 6, math.pi / 3, n_e)
    th = torch.linspace(-math.pi / 6, math.pi / 6, n_t)
    grid = torch.meshgrid(az, el, th, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grid], dim=-1)


def class_mesh(model: MeshBank, y: int, device: torch.device | str | None = None):
    """``(verts, faces, features)`` of class ``y``, padding rows dropped."""
    k = int(model.n_vertices[y])
    return (model.vertices[y].to(device), model.faces[y].to(device), model.features[y, :k].to(device))


def render_poses(model: MeshBank, classes: torch.Tensor | list[int], poses: torch.Tensor, camera: FeatureCamera,
                 chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Render class ``classes[b]`` at ``poses[b]`` for every ``b``: ``(B, D, h, w)`` and ``(B, h, w)``."""
    classes = [int(y) for y in classes]
    device = model.features.device
    out_r, out_fg = [], []
    meshes = {y: class_mesh(model, y, device) for y in set(classes)}
    for s in range(0, len(classes), chunk):
        part = classes[s : s + chunk]
        if len(set(part)) == 1:  # one class: a shared mesh, rendered without copies
            verts, faces, feats = meshes[part[0]]
        else:
            verts, faces, feats = ([meshes[y][i] for y in part] for i in range(3))
        p = poses[s : s + chunk].to(device)
        r, fg = render_vertex_features(verts, faces, feats, p[:, 0], p[:, 1], p[:, 2], camera.distance, camera.focal,
                                       camera.principal, camera.size)
        out_r.append(r)
        out_fg.append(fg)
    return torch.cat(out_r), torch.cat(out_fg)


@dataclass
class InitialPoseCache:
    """Renders of the initial poses per (model, class, camera), made once and reused for every image.

    Memory is ``P x D x h x w`` floats per class and camera (144 x 128 x 16 x 16 x 4 B = 19 MB at the embedded
    default, but 590 MB at ImageNet3D's 80 x 100 feature maps, 100 GB for 178 classes): ``max_bytes`` bounds it,
    dropping the least recently used entries (they are rendered again when needed). Entries are flattened so that
    scoring a batch is a matrix product.
    """

    poses: torch.Tensor  # (P, 3)
    max_bytes: int | None = None
    _store: OrderedDict = field(default_factory=OrderedDict, repr=False)
    renders: int = 0  # entries rendered so far (misses), for logs and tests

    def get(self, model: MeshBank, y: int, camera: FeatureCamera) -> tuple[torch.Tensor, torch.Tensor]:
        """``(renders (P, D*h*w), foreground (P, h*w) float)`` of class ``y`` seen by ``camera``."""
        key = (id(model.features), int(y), camera)
        if key in self._store:
            self._store.move_to_end(key)
        else:
            with torch.no_grad():
                r, fg = render_poses(model, [int(y)] * len(self.poses), self.poses, camera)
            self.renders += 1
            # Keep a reference to the features so their id cannot be reused while the entry lives.
            entry = (r.flatten(1), fg.flatten(1).to(r.dtype), model.features)
            while self._store and self.max_bytes is not None and self.nbytes + _entry_bytes(entry) > self.max_bytes:
                self._store.popitem(last=False)
            self._store[key] = entry
        r, fg, _ = self._store[key]
        return r, fg

    @property
    def nbytes(self) -> int:
        return sum(_entry_bytes(e) for e in self._store.values())

    def __len__(self) -> int:
        return len(self._store)


def _entry_bytes(entry: tuple[torch.Tensor, ...]) -> int:
    return sum(t.numel() * t.element_size() for t in entry[:2])


def background_score(feature_map: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """``max_n f_i . beta_n`` per cell, ``(B, h, w)``: the background term of Eq. 8 (and of Eq. 7)."""
    sims = torch.einsum("bdhw,nd->bnhw", feature_map, background.to(feature_map))
    return sims.amax(1)


def reconstruction_loss(feature_map: torch.Tensor, rendered: torch.Tensor, foreground: torch.Tensor,
                        background: torch.Tensor | None = None, bg_score: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8 per image, ``(B,)``, divided by the number of cells ``h w`` (so sizes compare; argmin unchanged).

    ``-(sum_{i in FG} f_i . C_i(alpha) + sum_{i in BG} max_n f_i . beta_n) / (h w)``, where FG are the cells
    the rendered mesh covers. Pass ``bg_score`` (from :func:`background_score`) to reuse it across poses.
    """
    if bg_score is None:
        if background is None:
            raise ValueError("reconstruction_loss needs the background features or their scores")
        bg_score = background_score(feature_map, background)
    fg_score = (feature_map * rendered).sum(1)
    per_cell = torch.where(foreground, fg_score, bg_score)
    return -per_cell.flatten(1).mean(1)


def initial_losses(feature_map: torch.Tensor, y: int, model: MeshBank, camera: FeatureCamera,
                   cache: InitialPoseCache, bg_score: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 8 of every cached initial pose of class ``y`` for every image: ``(B, P)``, two matrix products."""
    renders, fg = cache.get(model, y, camera)
    if bg_score is None:
        bg_score = background_score(feature_map, model.background)
    f = feature_map.flatten(1).to(renders)
    bg = bg_score.flatten(1).to(renders)
    # sum_FG f.C + sum_BG bg  =  f.R  +  bg.(1 - fg)  (R is zero outside FG).
    score = f @ renders.T + bg.sum(1, keepdim=True) - bg @ fg.T
    return -score / bg.shape[1]


def lowest_loss_class(feature_map: torch.Tensor, model: MeshBank, camera: FeatureCamera, cache: InitialPoseCache,
                      classes: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Unseen-category mode: per image, the class whose best initial pose has the lowest Eq. 8 loss.

    Returns ``(class_index (B,), loss (B,))``; the pose is then refined with that class's features.
    """
    classes = list(range(len(model.classes))) if classes is None else classes
    bg_score = background_score(feature_map, model.background)
    best = torch.stack([initial_losses(feature_map, y, model, camera, cache, bg_score).amin(1) for y in classes], 1)
    loss, idx = best.min(1)
    return torch.as_tensor(classes, device=idx.device)[idx], loss


def best_initial_pose(feature_map: torch.Tensor, class_index: torch.Tensor, model: MeshBank, camera: FeatureCamera,
                      cache: InitialPoseCache, bg_score: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(poses (B, 3), loss (B,))``: the best cached initial pose of each image's class."""
    if bg_score is None:
        bg_score = background_score(feature_map, model.background)
    batch = feature_map.shape[0]
    poses = torch.empty(batch, 3, device=feature_map.device)
    loss = torch.empty(batch, device=feature_map.device)
    for y in torch.unique(class_index).tolist():
        sel = (class_index == y).nonzero().squeeze(1)
        lo, idx = initial_losses(feature_map[sel], y, model, camera, cache, bg_score[sel]).min(1)
        poses[sel] = cache.poses.to(poses)[idx]
        loss[sel] = lo.to(loss)
    return poses, loss


@dataclass
class PoseEstimate:
    azimuth: torch.Tensor  # (B,) in [0, 2pi)
    elevation: torch.Tensor
    theta: torch.Tensor
    loss: torch.Tensor  # (B,) Eq. 8 / (h w) at the returned pose

    def __iter__(self):
        return iter((self.azimuth, self.elevation, self.theta, self.loss))


def _vertex_similarities(feature_map: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
    """``(V_packed, h*w)``: ``C_v . f_i`` of every packed vertex ``v`` (of image b) with every cell of image b."""
    flat = feature_map.flatten(2)
    return torch.cat([c.to(flat) @ flat[b] for b, c in enumerate(feats)], 0)


def _refinement_loss(sims: torch.Tensor, frags, bg_score: torch.Tensor) -> torch.Tensor:
    """Eq. 8 / (h w) from rasterised vertices: ``f_i . sum_k w_k C_k = sum_k w_k (f_i . C_k)``.

    Equal to :func:`reconstruction_loss` of the rendered features, without materialising the ``D``-channel
    render (the similarities are fixed during refinement; only the weights move with the pose).
    """
    _, h, w, _ = frags.vertex_index.shape
    cell = torch.arange(h * w, device=sims.device).reshape(1, h, w, 1)
    fg_score = (sims[frags.vertex_index, cell] * frags.bary.to(sims)).sum(-1)
    per_cell = torch.where(frags.foreground, fg_score, bg_score)
    return -per_cell.flatten(1).mean(1)


def estimate_pose(feature_map: torch.Tensor, class_index: torch.Tensor, model: MeshBank, camera: FeatureCamera,
                  cache: InitialPoseCache, steps: int = 30, lr: float = 0.05) -> PoseEstimate:
    """Render-and-compare pose of each image with the features of class ``class_index[b]`` (batched).

    Best cached initial pose, then ``steps`` Adam steps (betas (0.4, 0.6), as NeMo/NOVUM) on azimuth,
    elevation and theta. Returns the lowest-loss pose met along the way (the optimiser's start included), so
    refinement can never make an image's reconstruction worse; unpacks as ``(az, el, th, loss)``.
    """
    from robust3d.render.features import MeshBatch, rasterize_vertices

    feature_map = feature_map.detach()
    class_index = torch.as_tensor(class_index, device=feature_map.device).long().reshape(-1)
    bg_score = background_score(feature_map, model.background)
    init, init_loss = best_initial_pose(feature_map, class_index, model, camera, cache, bg_score)
    best_pose, best_loss = init.clone(), init_loss.clone()
    if steps > 0:
        by_class = {y: class_mesh(model, y, feature_map.device) for y in set(class_index.tolist())}
        meshes_ = [by_class[y] for y in class_index.tolist()]
        meshes = MeshBatch.build([m[0] for m in meshes_], [m[1] for m in meshes_], len(meshes_))
        sims = _vertex_similarities(feature_map, [m[2] for m in meshes_])
        params = [init[:, i].clone().requires_grad_(True) for i in range(3)]
        opt = torch.optim.Adam(params, lr=lr, betas=(0.4, 0.6))
        for step in range(steps + 1):
            with torch.set_grad_enabled(step < steps):
                frags = rasterize_vertices(meshes, *params, camera.distance, camera.focal, camera.principal,
                                           camera.size)
                loss = _refinement_loss(sims, frags, bg_score)
            better = loss.detach() < best_loss
            best_loss = torch.where(better, loss.detach(), best_loss)
            best_pose[better] = torch.stack([p.detach() for p in params], 1)[better]
            if step < steps:
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
    return PoseEstimate(torch.remainder(best_pose[:, 0], 2 * math.pi), best_pose[:, 1], best_pose[:, 2], best_loss)


# --- Synthetic inputs with a known answer (tests and scripts/bench_pose.py) -------------------------------------


@dataclass
class RandomMeshBank:
    """A :class:`MeshBank` of cuboids with random unit vertex and background features."""

    classes: list[str]
    vertices: list[torch.Tensor]
    faces: list[torch.Tensor]
    features: torch.Tensor
    n_vertices: torch.Tensor
    background: torch.Tensor


def random_mesh_bank(n_classes: int, n_vertices: int = 200, dim: int = 128, n_background: int = 512,
                     seed: int = 0) -> RandomMeshBank:
    """Cuboids of random proportions (unit-ish size, like the synthetic CAD models) with random features."""
    from robust3d.geometry import cuboid_mesh

    gen = torch.Generator().manual_seed(seed)
    verts, faces = [], []
    for _ in range(n_classes):
        half = 0.15 + 0.45 * torch.rand(3, generator=gen, dtype=torch.float64)
        v, f = cuboid_mesh(torch.stack([-half, half]).numpy(), n_vertices)
        verts.append(torch.from_numpy(v))
        faces.append(torch.from_numpy(f))
    k_max = max(len(v) for v in verts)
    feats = torch.zeros(n_classes, k_max, dim)
    for y, v in enumerate(verts):
        feats[y, : len(v)] = torch.nn.functional.normalize(torch.randn(len(v), dim, generator=gen), dim=1)
    background = torch.nn.functional.normalize(torch.randn(n_background, dim, generator=gen), dim=1)
    return RandomMeshBank([f"class{y:03d}" for y in range(n_classes)], verts, faces, feats,
                          torch.tensor([len(v) for v in verts]), background)


def synthetic_feature_maps(model: MeshBank, classes: torch.Tensor, poses: torch.Tensor, camera: FeatureCamera,
                           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit feature maps whose object cells are class ``classes[b]`` rendered at ``poses[b]`` and whose other
    cells are random background features; returns ``(feature_map (B, D, h, w), foreground (B, h, w))``."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        rendered, fg = render_poses(model, classes, poses, camera)
    idx = torch.randint(0, len(model.background), (len(poses), *camera.size), generator=gen)
    bg = model.background[idx].permute(0, 3, 1, 2).to(rendered)
    fmap = torch.nn.functional.normalize(torch.where(fg[:, None], rendered, bg), dim=1)
    return fmap, fg
