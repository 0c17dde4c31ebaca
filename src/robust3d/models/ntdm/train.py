"""Training NTDM (Sec. 3.3): backbone by gradient, neural textures by momentum, resumably.

Per training image the class's deformable mesh with the image's own CAD latent (the ground truth one-hot: the meshes
were fitted first, Sec. 3.1) is rasterised under the annotated pose at feature-map resolution. Poses are fixed and
there is no augmentation, so that geometry (per cell: texture coordinates, template-sphere point, coverage, viewing
coefficients) is computed once per sample. Per step:

1. unit backbone features ``F`` (one backbone for every class);
2. the features and viewing coefficients are splatted onto the texture plane (``render.uv.splat_to_texture``:
   the paper's image -> surface transformation, differentiable in the features), giving the visible texels ``V``;
3. ``positives`` texels of ``V`` per image enter Eq. 8 (``loss.ntdm_loss``) against same-class texels farther than
   ``tau`` on the sphere, other classes' texels and the background bank; Adam steps the backbone;
4. the textures take their momentum step on ``V`` (``texture.NeuralTextures.update``) and ``T`` background features
   per image (cells outside the rendered object and its amodal mask) enter the FIFO.

Resumable: every ``checkpoint_every`` epochs backbone, optimiser, textures, background, epoch and RNG states go to
``<out>.ckpt``; every draw is a function of (seed, epoch, step), so a resumed run ends with the uninterrupted
run's model. The model and the metrics JSON are written atomically.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from robust3d.models.data import ManifestDataset, collate, manifest_classes
from robust3d.models.neural_mesh.bank import FeatureBank, sample_background_cells
from robust3d.models.neural_mesh.inference import FeatureCamera
from robust3d.models.ntdm.loss import LossWeights, ntdm_loss, sample_negatives
from robust3d.models.ntdm.texture import NeuralTextures, texel_directions, texture_bytes
from robust3d.models.runtime import (
    checkpoint_path,
    epoch_order,
    load_checkpoint,
    make_optimizer,
    resolve_device,
    rng_state,
    save_checkpoint,
    set_rng_state,
    step_generator,
    training_settings,
    write_json,
)


@dataclass
class SampleSurfaces:
    """Per training sample, at feature-map resolution, under its annotated pose and CAD latent."""

    uv: torch.Tensor  # (N, h, w, 2)
    template_point: torch.Tensor  # (N, h, w, 3)
    covered: torch.Tensor  # (N, h, w) bool: the rendered object
    alpha: torch.Tensor  # (N, b, h, w) viewing coefficients (Eq. 5)
    background: torch.Tensor  # (N, h*w) bool: cells outside the object and its amodal mask


def texture_settings(section: dict, spec: dict) -> dict:
    """The model's texture block: the section's, with the model's own overrides (Table 3's ``bins: 1``)."""
    return {**section["texture"], **(spec.get("texture") or {})}


def model_classes(spec: dict, train_manifest: Path) -> list[str]:
    classes = manifest_classes(train_manifest)
    own = spec.get("classes")
    if own is None:
        return classes
    missing = sorted(set(own) - set(classes))
    if missing:
        raise ValueError(f"classes {missing} have no training images in {train_manifest}")
    return sorted(own)


@torch.no_grad()
def sample_surfaces(ds: ManifestDataset, rows: list[int], meshes: list, latent_of: list[int], rotations: torch.Tensor,
                    temperature: float, stride: int, grid: tuple[int, int]) -> SampleSurfaces:
    """Rasterise each sample's class mesh (latent ``latent_of[i]``: its CAD's one-hot) under its annotation."""
    from robust3d.data.format import load_annotation
    from robust3d.data.io import read_mask
    from robust3d.render.features import MeshBatch, rasterize_vertices
    from robust3d.render.uv import surface_geometry, view_coefficients

    n, (h, w), b = len(rows), grid, rotations.shape[0]
    uv, tp = torch.zeros(n, h, w, 2), torch.zeros(n, h, w, 3)
    covered, alpha = torch.zeros(n, h, w, dtype=torch.bool), torch.zeros(n, b, h, w)
    allowed = torch.zeros(n, h * w, dtype=torch.bool)
    for j, i in enumerate(rows):
        row = ds.rows[i]
        ann = load_annotation(ds.root / row["annotation"])
        cam = FeatureCamera.from_annotation(ann, stride, grid)
        net = meshes[ds.class_index[i]]
        z = F.one_hot(torch.tensor([latent_of[j]]), net.n_latent).float()
        mesh = MeshBatch.build(net(z), net.faces, 1)
        angles = [torch.tensor([float(ann[k])]) for k in ("azimuth", "elevation", "theta")]
        frags = rasterize_vertices(mesh, *angles, cam.distance, cam.focal, cam.principal, cam.size)
        geo = surface_geometry(mesh, frags, net.template, angles[0], angles[1], cam.distance)
        uv[j], tp[j], covered[j] = geo.uv[0], geo.template_point[0], geo.foreground[0]
        alpha[j] = view_coefficients(geo.normal, geo.to_camera, rotations, temperature)[0]
        taken = covered[j].clone()
        if row.get("mask_amodal"):
            mask = torch.from_numpy(read_mask(ds.root / row["mask_amodal"])).float()
            pad = torch.zeros(h * stride, w * stride)
            hh, ww = min(mask.shape[0], h * stride), min(mask.shape[1], w * stride)
            pad[:hh, :ww] = mask[:hh, :ww]
            taken |= F.max_pool2d(pad[None, None], stride)[0, 0] > 0
        allowed[j] = ~taken.reshape(-1)
    return SampleSurfaces(uv, tp, covered, alpha, allowed)


def train(section: dict, name: str, train_manifest: str | Path, meshes_file: str | Path, out: str | Path,
          metrics: str | Path, *, seed: int = 0, device: str = "cpu", stop_after: int | None = None,
          progress: bool = True, ssl_root: str = "results") -> dict[str, Any]:
    """Train model ``name`` of ``section`` (the config's ``ntdm`` block) on ``train_manifest`` with the meshes of
    ``meshes_file``; write the :class:`~robust3d.models.ntdm.model.NTDMModel` and the metrics JSON.

    ``stop_after`` stops after that many epochs (once checkpointed), as a killed job would: for tests.
    """
    with training_settings(int(section["train"]["num_threads"])):
        return _train(section, name, Path(train_manifest), Path(meshes_file), Path(out), Path(metrics), int(seed),
                      resolve_device(device), stop_after, progress, ssl_root)


def _train(c: dict, name: str, train_manifest: Path, meshes_file: Path, out: Path, metrics: Path, seed: int,
           device: torch.device, stop_after: int | None, progress: bool, ssl_root: str) -> dict[str, Any]:
    from robust3d.models.backbones import build_backbone
    from robust3d.models.ntdm.deform import deform_from_state
    from robust3d.models.ntdm.meshes import load_meshes
    from robust3d.models.ntdm.model import NTDMModel
    from robust3d.render.uv import bin_rotations, splat_to_texture

    spec = c["models"][name]
    if spec.get("family") != "ntdm":
        raise ValueError(f"model '{name}' is a {spec.get('family')} model, not an NTDM model")
    tcfg, tex_cfg = c["train"], texture_settings(c, spec)
    epochs, batch_size, d = int(tcfg["epochs"]), int(tcfg["batch_size"]), int(c["feature_dim"])
    bins, q = int(tex_cfg["bins"]), int(tex_cfg["size"])
    entry = c["backbones"][spec["backbone"]]
    classes = model_classes(spec, train_manifest)
    stored = load_meshes(meshes_file)
    absent = [y for y in classes if y not in stored]
    if absent:
        raise ValueError(f"{meshes_file} has no mesh for {absent}; refit the meshes for this training split")
    meshes = [deform_from_state(stored[y]["deform"]).eval().requires_grad_(False) for y in classes]
    cad_indices = [list(stored[y]["cad_indices"]) for y in classes]
    ckpt_path = checkpoint_path(out)
    config = {"model": name, "spec": dict(spec), "backbone": dict(entry),
              "train_manifest": str(train_manifest.resolve()),
              "meshes": str(meshes_file.resolve()), "feature_dim": d, "texture": tex_cfg, "seed": seed,
              "train": {k: v for k, v in tcfg.items() if k not in ("num_threads", "checkpoint_every")}}
    started, cpu_started = time.perf_counter(), time.process_time()

    torch.manual_seed(seed)
    net = build_backbone(entry, d, ssl_root).to(device)
    ds = ManifestDataset(train_manifest, classes, allow_unknown=True)
    rows = [i for i, y in enumerate(ds.class_index) if y >= 0]
    with torch.no_grad():
        net.eval()
        grid = tuple(net(ds[rows[0]]["image"][None].to(device)).shape[-2:])
        net.train()
    latent_of = [cad_indices[ds.class_index[i]].index(int(ds.rows[i]["cad_index"])) for i in rows]
    rotations = bin_rotations(bins, float(tex_cfg["bin_angle_deg"]))
    temperature = float(tex_cfg["temperature"])
    surf = sample_surfaces(ds, rows, meshes, latent_of, rotations, temperature, int(net.stride), grid)
    cls_of = torch.tensor([ds.class_index[i] for i in rows])
    textures = NeuralTextures(len(classes), bins, d, q, float(tex_cfg["momentum"]),
                              generator=torch.Generator().manual_seed(seed), update=tex_cfg["update"]).to(device)
    background = FeatureBank([1], d, int(tcfg["background_features"]), 0.0,  # only its background FIFO is used
                             generator=torch.Generator().manual_seed(seed + 1)).to(device)
    texel_dirs = texel_directions(q, device).reshape(-1, 3)
    weights = LossWeights(float(tcfg["w_con"]), float(tcfg["w_class"]), float(tcfg["w_bg"]))
    steps_per_epoch = math.ceil(len(rows) / batch_size)
    optimizer, schedule = make_optimizer(net.parameters(), tcfg, steps_per_epoch)
    state: dict[str, Any] = {"epoch": 0, "history": [], "elapsed": 0.0, "cpu": 0.0}
    ckpt = load_checkpoint(ckpt_path, config)
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["schedule"])
        textures.load_state_dict(ckpt["textures"])
        background.load_state_dict(ckpt["background"])
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    resumed_from, elapsed_before, cpu_before = state["epoch"], state["elapsed"], state["cpu"]

    def save() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - started
        state["cpu"] = cpu_before + time.process_time() - cpu_started
        save_checkpoint(ckpt_path, {"config": config, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                    "schedule": schedule.state_dict(), "textures": textures.state_dict(),
                                    "background": background.state_dict(), "epoch": state["epoch"],
                                    "rng": rng_state(), "state": state})

    bar = tqdm(total=epochs * steps_per_epoch, initial=state["epoch"] * steps_per_epoch, disable=not progress,
               desc=name, unit="step")
    net.train()
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        epoch_started = time.perf_counter()
        losses = []
        for step, part in enumerate(epoch_order(len(rows), seed, epoch).split(batch_size)):
            gen = step_generator(seed, epoch, step)
            batch = collate([ds[rows[int(j)]] for j in part])
            fmap = F.normalize(net(batch["image"].to(device)), dim=1)
            if tuple(fmap.shape[-2:]) != grid:
                raise RuntimeError(f"feature map {tuple(fmap.shape[-2:])} != expected grid {grid}")
            cls = cls_of[part].to(device)
            feats = torch.cat([fmap, surf.alpha[part].to(device)], 1)
            splat, seen = splat_to_texture(feats, surf.uv[part].to(device), surf.template_point[part].to(device),
                                           surf.covered[part].to(device), q, float(tex_cfg["splat_max_angle"]))
            img, texel = sample_background_cells(seen.flatten(1), int(tcfg["positives"]), gen)
            if len(img):
                flat = splat.flatten(2)
                f = F.normalize(flat[img.to(device), :d, texel.to(device)], dim=-1)
                a = flat[img.to(device), d:, texel.to(device)]
                a = a / a.sum(-1, keepdim=True).clamp_min(1e-8)  # a blend of coefficients that each sum to 1
                neg, cneg = sample_negatives(len(classes), q, int(tcfg["negatives"]), int(tcfg["class_negatives"]),
                                             gen)
                loss = ntdm_loss(f, a, cls[img.to(device)], texel.to(device), textures.textures,
                                 background.background, texel_dirs, temperature=float(tcfg["temperature"]),
                                 tau=float(tcfg["tau_rad"]), negatives=neg.to(device),
                                 class_negatives=None if cneg is None else (cneg[0].to(device), cneg[1].to(device)),
                                 weights=weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                textures.update(splat[:, :d].detach(), splat[:, d:].detach(), seen, cls)
                losses.append(float(loss.detach()))
            b_img, b_cell = sample_background_cells(surf.background[part], int(tcfg["background_per_image"]), gen)
            if len(b_img):
                background.push_background(fmap.detach().flatten(2)[b_img.to(device), :, b_cell.to(device)])
            schedule.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}" if losses else "-")
        state["history"].append({"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                                 "seconds": time.perf_counter() - epoch_started})
        state["epoch"] = epoch + 1
        if state["epoch"] < epochs and (state["epoch"] % int(tcfg["checkpoint_every"]) == 0
                                        or state["epoch"] == stop_after):
            save()
        if stop_after is not None and state["epoch"] >= stop_after and state["epoch"] < epochs:
            bar.close()
            return {"stopped": True, "epoch": state["epoch"], "resumed_from": resumed_from}
    bar.close()
    train_seconds = elapsed_before + time.perf_counter() - started
    result = {"model": name, "family": "ntdm", "backbone": spec["backbone"], "classes": classes, "epochs": epochs,
              "steps": epochs * steps_per_epoch, "train_seconds": train_seconds,
              "train_cpu_seconds": cpu_before + time.process_time() - cpu_started,
              "seconds_per_step": train_seconds / max(epochs * steps_per_epoch, 1), "weights": entry.get("weights"),
              "final_loss": state["history"][-1]["loss"], "first_loss": state["history"][0]["loss"],
              "resumed_from": resumed_from, "texture": tex_cfg,
              "texture_bytes": texture_bytes(len(classes), bins, d, q), "history": state["history"]}
    NTDMModel(classes=classes, meshes=[stored[y]["deform"] for y in classes], cad_indices=cad_indices,
              textures=textures.textures.cpu(), background=background.background.cpu(), backbone_entry=dict(entry),
              feature_dim=d, stride=int(net.stride), texture=tex_cfg, backbone_state=net.state_dict(),
              meta={"model": name, "epochs": epochs}).save(out)
    write_json(metrics, result)
    ckpt_path.unlink(missing_ok=True)
    return result
