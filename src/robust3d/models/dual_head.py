"""The dual-head baselines of 3D-CompNets (Sec. 4.2): a backbone, a classification head and a pose head.

The paper: "ResNet50 and DINOv2 are trained with a dual regression head ... The classification head has an output
size of the number of object classes. Pose estimation produces an output size of 3, representing elevation,
in-plane rotation, and azimuth ... Each baseline uses standard cross-entropy loss and is optimized to best
performance on the validation set."

Reading: cross-entropy needs classes, so the pose head classifies each of the 3 angles into bins (the usual
viewpoint-as-classification baseline of the NeMo line of work), and "output size of 3" is read as 3 angle outputs,
each a softmax over its bins (the section's ``dual_head`` bin counts). The loss is the class CE plus the three angle
CEs, unweighted; a prediction is the centre of the arg-max bin. The other reading, a 3-number regression (e.g. L1
or MSE on the angles), would contradict "cross-entropy" and is not implemented.

Bins: azimuth over [0, 2pi) and theta over [-pi, pi) are periodic, with bin ``i`` centred at ``low + i * width``
(so 0 is a bin centre for both and the bins wrap around); elevation over [-pi/2, pi/2] is an interval cut into
equal bins with centres ``low + (i + 0.5) * width`` (angles outside are clamped into the end bins).

Both heads are linear layers on the backbone's standard image embedding (Sec. 5.2's baselines;
``global_features`` of :mod:`robust3d.models.backbones`): a ResNet's pooled final stage (2048-D for ResNet50) or a
ViT's class token, as a classifier on that backbone is usually built (not the D-dimensional map the neural mesh
models read). Training (the section's ``train``: Adam or AdamW, optional warm-up) is resumable from ``<out>.ckpt``
and evaluates the calibration split after every epoch; "optimized to best performance on the validation set" is
read as model selection: the written weights are those of the epoch with the best calibration score, the mean of
class accuracy and pose accuracy at pi/6 (the first such epoch on ties); with ``train.convergence`` training stops
once that score has stopped gaining (:class:`robust3d.models.runtime.Convergence`). Every epoch's numbers (loss,
scores, wall and CPU seconds) are in the training-metrics JSON's ``history``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from robust3d.models.runtime import resolve_device
from robust3d.models.spec import ModelSpec

WEIGHTS_FORMAT = "robust3d.dual_head/1"
ANGLES = ("azimuth", "elevation", "theta")
TWO_PI = 2 * math.pi


@dataclass(frozen=True)
class AngleBins:
    """``n`` equal bins over ``[low, low + span)``; periodic bins wrap and are centred on ``low + i * width``."""

    low: float
    span: float
    n: int
    periodic: bool

    @property
    def width(self) -> float:
        return self.span / self.n

    def encode(self, angles: torch.Tensor) -> torch.Tensor:
        """Bin index (long) of each angle in radians."""
        angles = torch.as_tensor(angles, dtype=torch.float64)
        if self.periodic:
            pos = torch.remainder(angles - self.low, self.span) / self.width
            return torch.remainder(torch.round(pos), self.n).long()
        return torch.floor((angles - self.low) / self.width).clamp(0, self.n - 1).long()

    def decode(self, index: torch.Tensor) -> torch.Tensor:
        """Bin centre (radians, float64) of each index."""
        index = torch.as_tensor(index, dtype=torch.float64)
        offset = 0.0 if self.periodic else 0.5
        return self.low + (index + offset) * self.width


def bin_counts(section: dict) -> dict[str, int]:
    """Bins per angle from a paper section's ``dual_head`` (``azimuth_bins``, ``elevation_bins``, ``theta_bins``)."""
    dh = section["dual_head"]
    counts = {a: int(dh[f"{a}_bins"]) for a in ANGLES}
    bad = {a: n for a, n in counts.items() if n < 1}
    if bad:
        raise ValueError(f"dual_head bin counts must be >= 1, got {bad}")
    return counts


def angle_bins(counts: dict[str, int]) -> dict[str, AngleBins]:
    """The three angle binnings: azimuth [0, 2pi) and theta [-pi, pi) periodic, elevation [-pi/2, pi/2]."""
    return {"azimuth": AngleBins(0.0, TWO_PI, int(counts["azimuth"]), True),
            "elevation": AngleBins(-math.pi / 2, math.pi, int(counts["elevation"]), False),
            "theta": AngleBins(-math.pi, TWO_PI, int(counts["theta"]), True)}


class DualHeadNet(nn.Module):
    """Backbone -> pooled feature -> (class logits ``(B, Y)``, per-angle bin logits ``{angle: (B, n_angle)}``)."""

    def __init__(self, backbone_entry: dict, feature_dim: int, n_classes: int, counts: dict[str, int],
                 ssl_root: str = "results") -> None:
        super().__init__()
        from robust3d.models.backbones import build_backbone

        self.backbone = build_backbone(backbone_entry, feature_dim, ssl_root).embedding_only()
        dim = int(self.backbone.global_dim)
        self.classifier = nn.Linear(dim, n_classes)
        self.bin_counts = {a: int(counts[a]) for a in ANGLES}
        self.pose_head = nn.Linear(dim, sum(self.bin_counts.values()))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        feat = self.backbone.global_features(images)
        pose = self.pose_head(feat).split(list(self.bin_counts.values()), dim=1)
        return self.classifier(feat), dict(zip(ANGLES, pose, strict=True))


def dual_head_loss(class_logits: torch.Tensor, pose_logits: dict[str, torch.Tensor], class_index: torch.Tensor,
                   pose_bins: dict[str, torch.Tensor]) -> torch.Tensor:
    """Class cross-entropy plus the three angle-bin cross-entropies (unweighted sum)."""
    loss = F.cross_entropy(class_logits, class_index)
    for a in ANGLES:
        loss = loss + F.cross_entropy(pose_logits[a], pose_bins[a])
    return loss


# ------------------------------------------------------------------------------------------------ helpers

def _epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches of the shared ``(seed, epoch)`` order, so a resumed run replays an uninterrupted one."""
    from robust3d.models.runtime import epoch_order

    perm = epoch_order(n, seed, epoch).tolist()
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def _loader(dataset, batch_size: int, batches: list[list[int]] | None = None):
    from torch.utils.data import DataLoader

    from robust3d.models.data import collate

    if batches is None:
        return DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate)
    return DataLoader(dataset, batch_sampler=batches, collate_fn=collate)


@torch.no_grad()
def _infer(net: DualHeadNet, dataset, bins: dict[str, AngleBins], batch_size: int, device: torch.device,
           progress: bool = False, desc: str = "predict") -> dict[str, Any]:
    """Class indices, decoded angles and per-sample forward seconds over a whole dataset (eval mode)."""
    from tqdm.auto import tqdm

    was_training = net.training
    net.eval()
    out: dict[str, list] = {"class": [], "seconds": [], "rows": [], **{a: [] for a in ANGLES},
                            **{f"true_{a}": [] for a in ANGLES}, "class_index": []}
    for batch in tqdm(_loader(dataset, batch_size), desc=desc, disable=not progress, unit="batch"):
        images = batch["image"].to(device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        class_logits, pose_logits = net(images)
        pred_class = class_logits.argmax(1).cpu()
        pred_bins = {a: pose_logits[a].argmax(1).cpu() for a in ANGLES}  # .cpu() waits for the device
        seconds = (time.perf_counter() - start) / len(images)
        out["class"] += pred_class.tolist()
        out["seconds"] += [seconds] * len(images)
        out["rows"] += batch["row"]
        out["class_index"] += batch["class_index"].tolist()
        for a in ANGLES:
            out[a] += bins[a].decode(pred_bins[a]).tolist()
            out[f"true_{a}"] += batch["camera"][a].tolist()
    net.train(was_training)
    return out


def _calibration_scores(result: dict[str, Any]) -> dict[str, float]:
    """Class accuracy and pose accuracy at pi/6 (percent, as in metrics.csv) of an :func:`_infer` result."""
    from robust3d.geometry.pose_metrics import ACC_PI_6, accuracy_at, pose_error

    pred = tuple(torch.tensor(result[a], dtype=torch.float64) for a in ANGLES)
    true = tuple(torch.tensor(result[f"true_{a}"], dtype=torch.float64) for a in ANGLES)
    class_acc = 100.0 * float((torch.tensor(result["class"]) == torch.tensor(result["class_index"])).double().mean())
    pose_acc = 100.0 * accuracy_at(pose_error(pred, true), ACC_PI_6)
    return {"class_accuracy": class_acc, "pose_acc_pi6": pose_acc, "score": 0.5 * (class_acc + pose_acc)}


# ----------------------------------------------------------------------------------------------- training

def train(section: dict, spec: ModelSpec, inputs: Mapping[str, Path], out: Path, metrics: Path, *, seed: int = 0,
          device: str = "cpu", progress: bool = True, stop_after_epochs: int | None = None,
          ssl_root: str = "results") -> None:
    """Train the baseline ``spec`` on ``inputs["train"]`` and write the weights of the best epoch on
    ``inputs["calibration"]`` to ``out`` and the JSON to ``metrics``. ``section``: the paper's config section.

    Resumes from ``<out>.ckpt`` (written every ``checkpoint_every`` epochs) when present; a checkpoint written
    with another configuration is an error. ``stop_after_epochs`` stops after checkpointing that many epochs, as
    a killed job would (for tests). ``ssl_root``: the results folder ``weights: ssl:<name>`` is read from.
    """
    from robust3d.models.runtime import training_settings

    with training_settings(int(section["train"]["num_threads"])):
        _train(section, spec, Path(inputs["train"]), Path(inputs["calibration"]), Path(out), Path(metrics),
               int(seed), resolve_device(device), progress, stop_after_epochs, ssl_root)


def _train(section: dict, spec: ModelSpec, train_manifest: Path, calibration_manifest: Path, out: Path, metrics: Path,
           seed: int, device: torch.device, progress: bool, stop_after_epochs: int | None, ssl_root: str) -> None:
    from tqdm.auto import tqdm

    from robust3d.data.io import atomic_path
    from robust3d.models.data import ManifestDataset, manifest_classes
    from robust3d.models.runtime import (
        Convergence,
        checkpoint_path,
        load_checkpoint,
        make_optimizer,
        rng_state,
        save_checkpoint,
        set_rng_state,
        write_json,
    )

    if spec.family != "dual_head":
        raise ValueError(f"model '{spec.name}' is a {spec.family} model, not a dual_head baseline")
    tc = section["train"]
    epochs, batch_size, every = int(tc["epochs"]), int(tc["batch_size"]), int(tc["checkpoint_every"])
    bins = angle_bins(bin_counts(section))
    entry = dict(section["backbones"][spec.backbone])
    classes = manifest_classes(train_manifest)
    train_set = ManifestDataset(train_manifest, classes)
    calib_set = ManifestDataset(calibration_manifest, classes)
    run_config = {"model": spec.name, "backbone": entry, "feature_dim": int(section["feature_dim"]),
                  "bins": {a: b.n for a, b in bins.items()}, "classes": classes, "epochs": epochs,
                  "batch_size": batch_size, "lr": float(tc["lr"]), "weight_decay": float(tc["weight_decay"]),
                  "optimizer": tc.get("optimizer", "adam"), "warmup_epochs": float(tc.get("warmup_epochs", 0)),
                  "convergence": tc.get("convergence"), "seed": seed, "train": str(train_manifest.resolve()),
                  "calibration": str(calibration_manifest.resolve())}
    convergence = Convergence.of(tc)

    random.seed(seed)
    torch.manual_seed(seed)
    net = DualHeadNet(entry, run_config["feature_dim"], len(classes), run_config["bins"], ssl_root).to(device)
    steps_per_epoch = math.ceil(len(train_set) / batch_size)
    optimizer, schedule = make_optimizer(net.parameters(), tc, steps_per_epoch)
    ckpt_path = checkpoint_path(out)
    state: dict[str, Any] = {"epoch": 0, "steps": 0, "elapsed": 0.0, "cpu": 0.0, "history": [], "best": None,
                             "stop_reason": f"epoch cap ({epochs})"}
    ckpt = load_checkpoint(ckpt_path, run_config)
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        schedule.load_state_dict(ckpt["schedule"])
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]
    resumed_from, elapsed_before, started = state["epoch"], state["elapsed"], time.perf_counter()
    cpu_before, cpu_started = state["cpu"], time.process_time()

    def checkpoint() -> None:
        state["elapsed"] = elapsed_before + time.perf_counter() - started
        state["cpu"] = cpu_before + time.process_time() - cpu_started
        save_checkpoint(ckpt_path, {"config": run_config, "model": net.state_dict(),
                                    "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                                    "rng": rng_state(), "state": state, "epoch": state["epoch"]})

    bar = tqdm(total=epochs * steps_per_epoch, initial=state["steps"], disable=not progress, unit="step",
               desc=f"train {spec.name}")
    while state["epoch"] < epochs:
        epoch = state["epoch"]
        epoch_wall, epoch_cpu = time.perf_counter(), time.process_time()
        net.train()
        loss_sum, n_steps = 0.0, 0
        for batch in _loader(train_set, batch_size, _epoch_batches(len(train_set), batch_size, seed, epoch)):
            images, labels = batch["image"].to(device), batch["class_index"].to(device)
            targets = {a: bins[a].encode(batch["camera"][a]).to(device) for a in ANGLES}
            class_logits, pose_logits = net(images)
            loss = dual_head_loss(class_logits, pose_logits, labels, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_value = float(loss.detach())
            loss_sum, n_steps = loss_sum + loss_value, n_steps + 1
            state["steps"] += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss_value:.3f}")
        scores = _calibration_scores(_infer(net, calib_set, bins, batch_size, device))
        state["history"].append({"epoch": epoch, "loss": loss_sum / max(n_steps, 1), "train_loss": loss_sum / max(
            n_steps, 1), **scores, "calibration_score": scores["score"],
            "seconds": time.perf_counter() - epoch_wall, "cpu_seconds": time.process_time() - epoch_cpu})
        if state["best"] is None or scores["score"] > state["best"]["score"]:
            state["best"] = {"epoch": epoch, "score": scores["score"],
                             "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}}
        state["epoch"] = epoch + 1
        done = convergence is not None and convergence.reached([h["score"] for h in state["history"]])
        if done:
            state["stop_reason"] = (f"converged: the last {convergence.patience} calibration scores gained less "
                                    f"than {convergence.min_gain} points")
        if not done and state["epoch"] < epochs and (state["epoch"] % every == 0
                                                     or state["epoch"] == stop_after_epochs):
            checkpoint()
        if done:
            break
        if stop_after_epochs is not None and state["epoch"] >= stop_after_epochs and state["epoch"] < epochs:
            bar.close()
            return
    bar.close()
    state["elapsed"] = elapsed_before + time.perf_counter() - started
    state["cpu"] = cpu_before + time.process_time() - cpu_started

    best = state["best"]
    with atomic_path(out) as tmp:
        torch.save({"format": WEIGHTS_FORMAT, "model": spec.name, "classes": classes, "backbone_entry": entry,
                    "feature_dim": run_config["feature_dim"], "bins": run_config["bins"],
                    "state_dict": best["state_dict"], "best_epoch": best["epoch"]}, tmp)
    history = state["history"]
    summary = {"model": spec.name, "family": spec.family, "backbone": spec.backbone, "loss": None,
               "cross_samples": None, "classes": classes, "epochs": state["epoch"], "max_epochs": epochs,
               "converged": None if convergence is None else state["stop_reason"].startswith("converged"),
               "stop_reason": state["stop_reason"] if convergence is not None else f"fixed schedule ({epochs} epochs)",
               "steps": state["steps"], "train_seconds": state["elapsed"], "train_cpu_seconds": state["cpu"],
               "seconds_per_epoch": state["elapsed"] / max(state["epoch"], 1),
               "loss_gflops_per_step": None, "final_loss": history[-1]["train_loss"] if history else None,
               "resumed_from": resumed_from, "weights": entry.get("weights"),
               "selection": "weights of the epoch with the best calibration score "
                            "(mean of class accuracy and pose accuracy at pi/6)",
               "best_epoch": best["epoch"], "history": history, "calibration": history}
    write_json(metrics, summary)
    ckpt_path.unlink(missing_ok=True)  # the final weights supersede it


# --------------------------------------------------------------------------------------------- prediction

def load_model(checkpoint: Path, device: torch.device | str = "cpu") -> tuple[DualHeadNet, dict[str, Any]]:
    """The trained baseline (eval mode) and its metadata (classes, bins, best epoch)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"dual-head weights {checkpoint} do not exist; train them with train-model")
    blob = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if blob.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{checkpoint} is not a dual-head model ({WEIGHTS_FORMAT}); got {blob.get('format')}")
    entry = {**blob["backbone_entry"], "weights": None}  # the trained tensors follow; no start weights are read
    net = DualHeadNet(entry, blob["feature_dim"], len(blob["classes"]), blob["bins"])
    net.load_state_dict(blob["state_dict"])
    return net.to(device).eval(), {k: v for k, v in blob.items() if k != "state_dict"}


def predict(section: dict, spec: ModelSpec, checkpoint: Path, manifest: Path, out_csv: Path, *, device: str = "cpu",
            unseen: bool = False, progress: bool = True) -> None:
    """Write the predictions CSV of ``manifest`` (one row per sample, the contract's columns).

    ``pose_class`` is ``pred_class``: the pose head is shared by all classes, so the pose never depends on a
    class. With ``unseen`` the manifest's classes may lie outside the model's (Table 3); the pose head is used
    directly, as the paper does for its baselines, and ``pred_class`` is still the classification head's answer.
    """
    import pandas as pd

    from robust3d.evaluate.predictions import sample_keys, write_predictions
    from robust3d.models.data import ManifestDataset

    threads_before = torch.get_num_threads()
    torch.set_num_threads(int(section["train"]["num_threads"]))
    try:
        device = resolve_device(device)
        net, meta = load_model(checkpoint, device)
        bins = angle_bins(meta["bins"])  # the binning the model was trained with
        dataset = ManifestDataset(manifest, meta["classes"], allow_unknown=unseen)
        res = _infer(net, dataset, bins, int(section["train"]["batch_size"]), device, progress,
                     desc=f"predict {spec.name}")
    finally:
        torch.set_num_threads(threads_before)
    rows = pd.DataFrame(res["rows"])
    keys = sample_keys(rows, manifest)
    pred_class = [meta["classes"][i] for i in res["class"]]
    df = pd.DataFrame({"sample_id": rows["sample_id"], "class": rows["class"], "pred_class": pred_class,
                       **{a: res[f"true_{a}"] for a in ANGLES}, **{f"pred_{a}": res[a] for a in ANGLES},
                       "pose_class": pred_class, "seconds": res["seconds"], "model": spec.name,
                       "split": keys["split"], "variant": keys["variant"], "level": keys["level"]})
    write_predictions(df, out_csv)
