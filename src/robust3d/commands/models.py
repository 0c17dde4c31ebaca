"""CLI commands that train a model of a paper and predict with it (registered into robust3d.cli).

Both dispatch through the model registry (``<paper>.models.<id>`` -> family module), so one command serves every
family of every paper; the family receives the paper's section of the config, the seed and the device.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robust3d.cli_registry import command, config_argument


def _model_argument(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--paper", default="compnets", help="the paper whose config section lists the model")
    p.add_argument("--model", required=True,
                   help="model id: a key of <paper>.models, or <key>@s<k> for seed k of <paper>.seeds")


def _input(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, Path(path)


def _train_args(p: argparse.ArgumentParser) -> None:
    _model_argument(p)
    p.add_argument("--input", dest="inputs", type=_input, action="append", default=[], metavar="NAME=MANIFEST",
                   help="a named input manifest (train=..., calibration=...; which ones depends on the family)")
    p.add_argument("--train", help="manifest of the training split (same as --input train=...)")
    p.add_argument("--calibration", help="manifest of the calibration split (same as --input calibration=...)")
    p.add_argument("--out", required=True, help="model file to write (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--metrics", required=True, help="training-metrics JSON to write")


def _section(args: argparse.Namespace) -> tuple[dict, dict]:
    from robust3d.errors import ConfigError
    from robust3d.papers import load_config

    cfg = load_config(args.config)
    if args.paper not in cfg:
        raise ConfigError(f"key '{args.paper}': the config has no section for paper '{args.paper}'")
    return cfg, cfg[args.paper]


def _check_inputs(cfg: dict, manifests: list[Path]) -> None:
    """Every input manifest lists existing files and, for the synthetic benchmark, exactly the planned samples."""
    from robust3d.data.format import check_manifest
    from robust3d.synth.plan import planned_sample_ids

    for manifest in manifests:
        check_manifest(manifest, planned_sample_ids(cfg, manifest))


@command("train-model", "train one model of a paper's models (resumable from <out>.ckpt)", _train_args)
def train_model(args: argparse.Namespace) -> None:
    from robust3d.models.registry import family_module, model_spec

    cfg, section = _section(args)
    inputs = dict(args.inputs)
    inputs.update({k: Path(v) for k, v in (("train", args.train), ("calibration", args.calibration)) if v})
    from robust3d.models.seeds import split_id

    spec = model_spec(section, args.model)
    seed = split_id(args.model)[1]
    _check_inputs(cfg, list(inputs.values()))
    family_module(spec).train(section, spec, inputs, Path(args.out), Path(args.metrics),
                              seed=int(cfg["seed"] if seed is None else seed), device=cfg["device"],
                              ssl_root=cfg["results"])


def _predict_args(p: argparse.ArgumentParser) -> None:
    _model_argument(p)
    p.add_argument("--checkpoint", required=True, help="trained model file (from train-model)")
    p.add_argument("--manifest", required=True, help="manifest of the split to predict")
    p.add_argument("--out", required=True, help="predictions CSV to write, one row per sample")
    p.add_argument("--unseen", action="store_true",
                   help="the split's classes are unseen in training: pose from the best-fitting known class")


@command("predict", "classify and estimate poses of a split with a trained model", _predict_args)
def predict(args: argparse.Namespace) -> None:
    from robust3d.models.registry import family_module, model_spec

    cfg, section = _section(args)
    spec = model_spec(section, args.model)
    _check_inputs(cfg, [Path(args.manifest)])
    family_module(spec).predict(section, spec, Path(args.checkpoint), Path(args.manifest), Path(args.out),
                                device=cfg["device"], unseen=args.unseen)
