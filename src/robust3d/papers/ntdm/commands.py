"""NTDM's CLI commands (registered into robust3d.cli): fit the deformable meshes, train a model, predict a split."""

from __future__ import annotations

import argparse

from robust3d.cli_registry import command, config_argument


def _meshes_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--train", required=True, help="the training split's manifest (its classes and CAD indices)")
    p.add_argument("--out", required=True, help="meshes.pt (every class's fitted deformable mesh)")
    p.add_argument("--record", required=True, help="meshes.json (Eq. 2 before / after per CAD)")
    p.add_argument("--obj-dir", help="write each fitted CAD mesh as <class>_<cad>.obj here")


@command("ntdm-meshes", "fit NTDM's deformable mesh of every class to its training CAD models (Eq. 1-2)",
         _meshes_args)
def ntdm_meshes(args: argparse.Namespace) -> None:
    from robust3d.models.ntdm.meshes import fit_meshes
    from robust3d.papers import load_config

    config = load_config(args.config)
    summary = fit_meshes(args.train, config["ntdm"]["mesh"], args.out, args.record, args.obj_dir,
                         seed=int(config["seed"]))
    for cls, s in summary.items():
        ratio = max(f / max(b, 1e-12) for f, b in zip(s["fitted"], s["sphere"], strict=True))
        print(f"ntdm mesh {cls}: {len(s['cad_indices'])} CADs, worst fitted / sphere distance {ratio:.3f}, "
              f"{s['seconds']:.1f} s")


def _train_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--model", required=True, help="a key of ntdm.models with its own weights")
    p.add_argument("--train", required=True, help="the training split's manifest")
    p.add_argument("--meshes", required=True, help="meshes.pt of ntdm-meshes")
    p.add_argument("--out", required=True, help="model weights (a checkpoint <out>.ckpt is kept beside it)")
    p.add_argument("--record", required=True, help="training record JSON")


@command("ntdm-train", "train an NTDM model (backbone by Eq. 8, neural textures by momentum), resumably",
         _train_args)
def ntdm_train(args: argparse.Namespace) -> None:
    from robust3d.models.ntdm.train import train
    from robust3d.papers import load_config

    config = load_config(args.config)
    result = train(config["ntdm"], args.model, args.train, args.meshes, args.out, args.record,
                   seed=int(config["seed"]), device=config["device"], ssl_root=config["results"])
    print(f"ntdm {args.model}: {result['epochs']} epochs, loss {result['first_loss']:.3f} -> "
          f"{result['final_loss']:.3f}, {result['train_seconds']:.0f} s")


def _predict_args(p: argparse.ArgumentParser) -> None:
    config_argument(p)
    p.add_argument("--model", required=True, help="a key of ntdm.models (an inference ablation reads another's "
                   "weights: checkpoint_of)")
    p.add_argument("--checkpoint", required=True, help="the weights (ntdm-train's model.pt)")
    p.add_argument("--manifests", nargs="+", required=True,
                   help="the splits to predict: manifests, or folders holding one (one start cache for all)")
    p.add_argument("--out", required=True, help="predictions CSV")


@command("ntdm-predict", "pose, shape, amodal mask and class of a split by NTDM's render-and-compare",
         _predict_args)
def ntdm_predict(args: argparse.Namespace) -> None:
    from pathlib import Path

    from robust3d.models.ntdm.predict import predict
    from robust3d.papers import load_config

    config = load_config(args.config)
    manifests = [Path(m) / "manifest.csv" if Path(m).is_dir() else Path(m) for m in args.manifests]
    df = predict(config["ntdm"], args.model, args.checkpoint, manifests, args.out, device=config["device"],
                 seed=int(config["seed"]))
    print(f"ntdm {args.model}: {len(df)} predictions -> {args.out} ({df['seconds'].astype(float).mean():.3f} s "
          "per image)")
