"""Training a neural mesh model (NOVUM, 3D-CompNets or NeMo) on a manifest split, resumably.

Per step (paper Sec. 3.3, NeMo/NOVUM): backbone features, L2-normalised per cell; for each image the visible
vertices of its class's cuboid pick the feature of their cell (precomputed once per sample from the annotation's
camera: poses are fixed and there is no augmentation); the contrastive loss (NOVUM's or Eq. 5) updates the backbone
with Adam; then the bank's vertex features take a momentum step towards those features and T background features
per image, drawn from cells the object does not cover, enter the FIFO. For 3D-CompNets, every ``confusion_every``
epochs the calibration split is classified with Eq. 7 and omega is the row-normalised confusion matrix, zeroed below
``confusion_threshold`` (omega = 1 before the first calibration).

The metrics JSON holds, besides losses and times, the loss's GFLOPs (``flops.loss_gflops``): ``loss_gflops_per_step``
(Table 1: the first batch of epoch 0 with the final omega), ``loss_gflops_per_epoch`` (each epoch's first batch with
the omega in force in that epoch, kept in the epoch's history record so a resumed run has them too) and their mean
``loss_gflops_mean`` (the per-step cost averaged over training, calibrations included; counting is left out of
``train_seconds``), each epoch's wall time (``seconds`` in its history record, calibration included, counting
left out: the repeated timings behind the timing claims' intervals), and ``omega``: the final omega, rows and
columns in the order of ``classes`` (all ones for NOVUM, whose loss weighs every class pair 1; the identity for
NeMo, whose loss contrasts no pair of classes: ``omega_nonzero`` 0, never calibrated; its loss ignores omega, so its
GFLOPs are the same whatever omega is passed, e.g. ``flops.RealBatch.gflops("nemo")``'s default of ones). NeMo
trains ``train.epochs`` epochs, as 3D-CompNets.

After every epoch the calibration split is classified with Eq. 7 (its accuracy in percent is the epoch's
``calibration_score``; for 3D-CompNets its confusion also becomes omega every ``confusion_every`` epochs); with
``train.convergence`` training stops once that score has stopped gaining (:class:`Convergence`), the epochs being
the cap. Each epoch's CPU seconds (``cpu_seconds``) sit beside its wall seconds, ``train_cpu_seconds`` beside
``train_seconds``: CPU time does not grow when other jobs share the cores.

Resumable: every ``checkpoint_every`` epochs model, optimiser, bank, omega, epoch, history and RNG states go to
``<out>.ckpt``; a rerun continues from there and, since every random draw is a function of (seed, epoch, step),
ends with exactly the model an uninterrupted run gives. The model and the metrics JSON are written atomically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from robust3d.models.data import ManifestDataset, collate
from robust3d.models.neural_mesh.bank import FeatureBank, sample_background_cells
from robust3d.models.neural_mesh.classify import classify
from robust3d.models.neural_mesh.flops import loss_gflops
from robust3d.models.neural_mesh.losses import contrastive_loss, omega_from_confusion
from robust3d.models.neural_mesh.mesh import NeuralMeshModel, class_meshes, sample_geometry
from robust3d.models.neural_mesh.options import MeshOptions
from robust3d.models.runtime import (
    Convergence,
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
from robust3d.models.spec import ModelSpec


@torch.no_grad()
def confusion_matrix(net: nn.Module, ds: ManifestDataset, bank: FeatureBank, batch_size: int,
                     device: torch.device) -> torch.Tensor:
    """``(Y, Y)`` counts of (true class, Eq. 7 prediction) over the samples of known classes in ``ds``."""
    y_count = bank.features.shape[0]
    conf = torch.zeros(y_count, y_count, dtype=torch.long)
    was_training = net.training
    net.eval()
    keep = [i for i, c in enumerate(ds.class_index) if c >= 0]
    for start in range(0, len(keep), batch_size):
        batch = collate([ds[i] for i in keep[start:start + batch_size]])
        fmap = F.normalize(net(batch["image"].to(device)), dim=1)
        pred = classify(fmap, bank.features, bank.n_vertices, bank.background).argmax(1).cpu()
        conf.index_put_((batch["class_index"], pred), torch.ones_like(pred), accumulate=True)
    net.train(was_training)
    return conf


def train(section: dict, spec: ModelSpec, inputs: Mapping[str, Path], out: Path, metrics: Path, *, seed: int = 0,
          device: str = "cpu", stop_after: int | None = None, progress: bool = True,
          ssl_root: str = "results") -> dict[str, Any]:
    """Train ``spec`` on ``inputs["train"]`` (the compnets loss calibrates omega on ``inputs["calibration"]``);
    write the :class:`NeuralMeshModel` to ``out`` and the metrics JSON. ``section``: the paper's config section
    (``train``, ``mesh``, ``backbones``, ``feature_dim``); ``ssl_root``: where ``weights: ssl:<name>`` is read.

    ``stop_after`` stops after that many epochs (once checkpointed), as a killed job would: for tests.
    Returns the metrics (or ``{"stopped": True, ...}``).
    """
    with training_settings(int(section["train"]["num_threads"])):
        return _train(section, spec, MeshOptions.of(spec, section), Path(inputs["train"]),
                      Path(inputs.get("calibration", inputs["train"])), Path(out), Path(metrics), int(seed),
                      resolve_device(device), stop_after, progress, ssl_root)


def _train(c: dict, spec: ModelSpec, opt: MeshOptions, train_manifest: Path, calibration_manifest: Path, out: Path,
           metrics: Path, seed: int, device: torch.device, stop_after: int | None, progress: bool,
           ssl_root: str) -> dict[str, Any]:
    from robust3d.models.backbones import build_backbone

    tcfg, mcfg = c["train"], c["mesh"]
    if spec.family != "neural_mesh":
        raise ValueError(f"model '{spec.name}' is a {spec.family} model, not a neural mesh model")
    epochs = int(tcfg["novum_epochs"] if opt.loss == "novum" else tcfg["epochs"])
    batch_size, d = int(tcfg["batch_size"]), int(c["feature_dim"])
    temperature = float(mcfg["temperature"])
    entry = c["backbones"][spec.backbone]
    ckpt_path = checkpoint_path(out)
    config = {"model": spec.name, "loss": opt.loss, "cross_samples": opt.cross_samples, "backbone": dict(entry),
              "train_manifest": str(train_manifest.resolve()), "calibration": str(calibration_manifest.resolve()),
              "epochs": epochs, "mesh": {**mcfg, "vertices_per_class": opt.n_vertices}, "feature_dim": d,
              "seed": seed,
              "train": {k: v for k, v in tcfg.items() if k not in ("num_threads", "checkpoint_every")}}
    started = time.perf_counter()

    meshes = class_meshes(train_manifest, opt.n_vertices)
    classes, vertices, faces = meshes.classes, meshes.vertices, meshes.faces

    torch.manual_seed(seed)
    net = build_backbone(entry, d, ssl_root).to(device)
    train_ds = ManifestDataset(train_manifest, classes)
    calib_ds = ManifestDataset(calibration_manifest, classes, allow_unknown=True)
    image_hw = tuple(train_ds[0]["image"].shape[-2:])
    geom = sample_geometry(train_ds, vertices, faces, image_hw, net.stride)
    bank = FeatureBank([len(v) for v in vertices], d, int(mcfg["background_features"]), float(mcfg["momentum"]),
                       generator=torch.Generator().manual_seed(seed)).to(device)
    steps_per_epoch = math.ceil(len(train_ds) / batch_size)
    optimizer, schedule = make_optimizer(net.parameters(), tcfg, steps_per_epoch)
    convergence = Convergence.of(tcfg)
    y_count = len(classes)
    # NeMo contrasts no class pair (its loss ignores omega): recorded as the identity, never calibrated.
    omega = torch.eye(y_count) if opt.loss == "nemo" else torch.ones(y_count, y_count)
    state: dict[str, Any] = {"epoch": 0, "history": [], "elapsed": 0.0, "cpu": 0.0, "calibrations": [],
                             "stop_reason": f"epoch cap ({epochs})"}

    ckpt = load_checkpoint(ckpt_path, config)
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["schedule"])
        bank.load_state_dict(ckpt["bank"])
        omega = ckpt["omega"]
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    resumed_from, elapsed_before = state["epoch"], state["elapsed"]
    cpu_before, cpu_started = state["cpu"], time.process_time()

    def save() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - started
        state["cpu"] = cpu_before + time.process_time() - cpu_started
        save_checkpoint(ckpt_path, {"config": config, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                                    "schedule": schedule.state_dict(), "bank": bank.state_dict(), "omega": omega,
                                    "epoch": state["epoch"],
                                    "rng": rng_state(), "state": state})

    def batch_features(idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        batch = collate([train_ds[int(i)] for i in idx])
        fmap = F.normalize(net(batch["image"].to(device)), dim=1)
        if tuple(fmap.shape[-2:]) != geom.grid:
            raise RuntimeError(f"feature map {tuple(fmap.shape[-2:])} != expected grid {geom.grid}")
        flat = fmap.flatten(2)
        img, vertex = geom.visible[idx].nonzero(as_tuple=True)
        cell = geom.cell[idx][img, vertex]
        f = flat[img.to(device), :, cell.to(device)]
        cls = batch["class_index"][img].to(device)
        return f, cls, vertex.to(device), flat

    def count_gflops(f: torch.Tensor, cls: torch.Tensor, vertex: torch.Tensor, near: torch.Tensor,
                     clutter: torch.Tensor) -> float:
        """The loss's GFLOPs on these visible vertices and background features with the omega in force (no
        training RNG is drawn)."""
        if not len(f):
            return 0.0
        return loss_gflops(opt.loss, f, cls, vertex, bank.features, bank.n_vertices.to(device), bank.background,
                           temperature, near.to(device), omega, opt.cross_samples, seed,
                           background_weight=opt.background_weight, clutter=clutter, regularizer=opt.regularizer)

    net.train()
    bar = tqdm(total=epochs * steps_per_epoch, initial=state["epoch"] * steps_per_epoch, disable=not progress,
               desc=spec.name, unit="step")
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        epoch_started, epoch_cpu = time.perf_counter(), time.process_time()
        order = epoch_order(len(train_ds), seed, epoch)
        losses = []
        epoch_gflops = 0.0
        counting = counting_cpu = 0.0
        for step, idx in enumerate(order.split(batch_size)):
            gen = step_generator(seed, epoch, step)
            f, cls, vertex, flat = batch_features(idx)
            # The step's T background cells per image, drawn before the loss: NOVUM's regulariser takes their
            # features (with gradient), and the same features then enter the bank's FIFO.
            img, cells = sample_background_cells(geom.background[idx], int(mcfg["background_per_image"]), gen)
            clutter = flat[img.to(device), :, cells.to(device)]
            if step == 0:  # before the step's own loss (the two graphs are never alive together); its time is
                counting_from, counting_cpu_from = time.perf_counter(), time.process_time()  # not training time:
                epoch_gflops = count_gflops(f, cls, vertex, geom.near(idx, mcfg), clutter)  # both clocks skip it
                counting = time.perf_counter() - counting_from
                counting_cpu = time.process_time() - counting_cpu_from
                started += counting
                cpu_started += counting_cpu
            if len(f):
                loss = contrastive_loss(opt.loss, f, cls, vertex, bank.features, bank.n_vertices.to(f.device),
                                        bank.background, temperature, near=geom.near(idx, mcfg, device),
                                        omega=omega, cross_samples=opt.cross_samples, generator=gen,
                                        background_weight=opt.background_weight, clutter=clutter,
                                        regularizer=opt.regularizer)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bank.update_vertices(f.detach(), cls, vertex)
                losses.append(float(loss.detach()))
            if len(img):
                bank.push_background(clutter.detach())
            schedule.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3f}" if losses else "-")
        record: dict[str, Any] = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                                  "loss_gflops": epoch_gflops}
        omega_due = opt.loss == "compnets" and (epoch + 1) % int(mcfg["confusion_every"]) == 0 and epoch + 1 < epochs
        if convergence is not None or omega_due:  # every epoch when convergence reads it
            conf = confusion_matrix(net, calib_ds, bank, batch_size, device)
            record["calibration_accuracy"] = float(conf.diag().sum() / conf.sum().clamp_min(1))
            record["calibration_score"] = 100.0 * record["calibration_accuracy"]
        if omega_due:
            omega = omega_from_confusion(conf, float(mcfg["confusion_threshold"]))
            off = ~torch.eye(y_count, dtype=torch.bool)
            record["omega_nonzero"] = float((omega[off] > 0).float().mean()) if y_count > 1 else 0.0
        record["seconds"] = time.perf_counter() - epoch_started - counting  # the timing claims' repeats
        record["cpu_seconds"] = time.process_time() - epoch_cpu - counting_cpu
        state["history"].append(record)
        state["epoch"] = epoch + 1
        if convergence is not None and (state.get("best") is None
                                        or record["calibration_score"] > state["best"]["score"]):
            state["best"] = {"epoch": epoch, "score": record["calibration_score"], "omega": omega.clone(),
                             "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
                             "bank": {k: v.detach().cpu().clone() if torch.is_tensor(v) else v
                                      for k, v in bank.state_dict().items()}}
        done = convergence is not None and convergence.reached([h["calibration_score"] for h in state["history"]])
        if done:
            state["stop_reason"] = (f"converged: the last {convergence.patience} calibration scores gained less "
                                    f"than {convergence.min_gain} points")
            break
        if state["epoch"] < epochs and (state["epoch"] % int(tcfg["checkpoint_every"]) == 0
                                        or state["epoch"] == stop_after):
            save()
        if stop_after is not None and state["epoch"] >= stop_after and state["epoch"] < epochs:
            bar.close()
            return {"stopped": True, "epoch": state["epoch"], "resumed_from": resumed_from}
    bar.close()
    train_seconds = elapsed_before + time.perf_counter() - started
    train_cpu_seconds = cpu_before + time.process_time() - cpu_started
    run_epochs = state["epoch"]
    best = state.get("best")
    if best is not None:  # to convergence: the written model is the best calibration epoch's, as the dual heads'
        net.load_state_dict(best["model"])
        bank.load_state_dict(best["bank"])
        omega = best["omega"]

    # Table 1's GFLOPs: the loss alone on the first batch of epoch 0, with the final omega.
    with torch.no_grad():
        net.eval()
        first = epoch_order(len(train_ds), seed, 0)[:batch_size]
        f, cls, vertex, flat = batch_features(first)
        img, cells = sample_background_cells(geom.background[first], int(mcfg["background_per_image"]),
                                             step_generator(seed, 0, 0))  # step 0's cells
        clutter = flat[img.to(device), :, cells.to(device)]
        net.train()
    gflops = count_gflops(f, cls, vertex, geom.near(first, mcfg), clutter)
    # The per-step cost averaged over training: each epoch's first batch with that epoch's omega (a record of a
    # checkpoint written before this was counted has none: no mean then).
    per_epoch = [h.get("loss_gflops") for h in state["history"]]
    off = ~torch.eye(y_count, dtype=torch.bool)
    result = {
        "model": spec.name, "family": spec.family, "backbone": spec.backbone, "loss": opt.loss,
        "cross_samples": opt.cross_samples, "classes": classes, "epochs": run_epochs, "max_epochs": epochs,
        "converged": None if convergence is None else state["stop_reason"].startswith("converged"),
        "stop_reason": state["stop_reason"] if convergence is not None else f"fixed schedule ({epochs} epochs)",
        "best_epoch": None if best is None else best["epoch"],
        "steps": run_epochs * steps_per_epoch, "train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds,
        "seconds_per_epoch": train_seconds / run_epochs, "weights": entry.get("weights"),
        "loss_gflops_per_step": gflops, "loss_gflops_per_epoch": per_epoch,
        "loss_gflops_mean": float(np.mean(per_epoch)) if None not in per_epoch else None,
        "final_loss": state["history"][-1]["loss"], "resumed_from": resumed_from,
        "vertices_per_class": [len(v) for v in vertices], "omega_nonzero": float((omega[off] > 0).float().mean())
        if y_count > 1 else 0.0, "omega": omega.tolist(), "history": state["history"],
    }
    model = NeuralMeshModel(
        classes=classes, vertices=vertices, faces=faces, features=bank.features.cpu(), n_vertices=bank.n_vertices,
        background=bank.background.cpu(), backbone_entry=dict(entry), feature_dim=d, stride=int(net.stride),
        temperature=temperature, backbone_state=net.state_dict(),
        meta={k: result[k] for k in ("model", "family", "backbone", "loss", "cross_samples", "epochs")},
    )
    model.save(out)
    write_json(metrics, result)
    ckpt_path.unlink(missing_ok=True)  # the final model supersedes it; a rerun retrains from scratch
    return result
