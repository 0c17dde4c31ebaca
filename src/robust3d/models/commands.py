"""CLI commands for the 3D-CompNets models (registered into robust3d.cli): train, predict, scaling measurement.

``train-model`` and ``predict`` dispatch through the model registry (``compnets.models.<id>`` -> family module), so
one command serves the neural mesh models and the dual-head baselines alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robust3d.cli import _config_argument, command


def _model_argument(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    p.add_argument("--model", required=True, help="model id, a key of compnets.models")


def _train_args(p: argparse.ArgumentParser) -> None:
    _model_argument(p)
    p.add_argument("--train", required=True, help="manifest of the training split")
    p.add_argument("--calibration", required=True, help="manifest of the calibration split (confusion matrix)")
    p.add_argument("--out", required=True, help="model file to write (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--metrics", required=True, help="training-metrics JSON to write")


@command("train-model", "train one model of compnets.models (resumable from <out>.ckpt)", _train_args)
def train_model(args: argparse.Namespace) -> None:
    from robust3d.config import load_config
    from robust3d.models.registry import family_module, model_spec

    cfg = load_config(args.config)
    spec = model_spec(cfg, args.model)
    family_module(spec).train(cfg, spec, Path(args.train), Path(args.calibration), Path(args.out),
                              Path(args.metrics))


def _predict_args(p: argparse.ArgumentParser) -> None:
    _model_argument(p)
    p.add_argument("--checkpoint", required=True, help="trained model file (from train-model)")
    p.add_argument("--manifest", required=True, help="manifest of the split to predict")
    p.add_argument("--out", required=True, help="predictions CSV to write, one row per sample")
    p.add_argument("--unseen", action="store_true",
                   help="the split's classes are unseen in training: pose from the best-fitting known class")


@command("predict", "classify and estimate poses of a split with a trained model", _predict_args)
def predict(args: argparse.Namespace) -> None:
    from robust3d.config import load_config
    from robust3d.models.registry import family_module, model_spec

    cfg = load_config(args.config)
    spec = model_spec(cfg, args.model)
    family_module(spec).predict(cfg, spec, Path(args.checkpoint), Path(args.manifest), Path(args.out),
                                unseen=args.unseen)


def _scaling_args(p: argparse.ArgumentParser) -> None:
    _config_argument(p)
    p.add_argument("--out", required=True, help="CSV: model, n_classes, vertices_per_class, cross_samples, "
                                                "step_seconds, loss_gflops")


@command("compnets-scaling", "time training steps of NOVUM and 3D-CompNets against the number of classes "
         "(synthetic random banks)", _scaling_args)
def compnets_scaling(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from robust3d.config import load_config
    from robust3d.data.io import atomic_path
    from robust3d.depth.commands import resolve_device
    from robust3d.models.neural_mesh.flops import scaling_rows

    cfg = load_config(args.config)
    torch.set_num_threads(int(cfg["compnets"]["train"]["num_threads"]))
    rows = scaling_rows(cfg, resolve_device(cfg["device"]))
    with atomic_path(args.out) as tmp:
        pd.DataFrame(rows, columns=["model", "n_classes", "vertices_per_class", "cross_samples", "step_seconds",
                                    "loss_gflops"]).to_csv(tmp, index=False)
