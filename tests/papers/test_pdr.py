"""The PDR stage: its config checks, Table 1's rows (not-reproduced rows say why), every gradient path of a training
step (build notes test 5), and a tiny train -> evaluate -> tables run on the smoke benchmark's faces."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

from robust3d.cli import main
from robust3d.errors import ConfigError
from robust3d.models.derender.model import Derenderer, DerenderSettings
from robust3d.papers import validate_config
from robust3d.papers.pdr.tables import NOT_REPRODUCED, table_specs

NETS = ("net_depth", "net_albedo", "net_light", "net_view", "net_conf")


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> dict[str, float]:
    model.zero_grad()
    loss.backward(retain_graph=True)
    return {name: sum(float(p.grad.abs().sum()) for p in getattr(model, name).parameters() if p.grad is not None)
            for name in NETS if getattr(model, name) is not None}


@pytest.mark.parametrize("loocc", ["none", "light", "light_view"])
def test_a_training_step_reaches_every_network(loocc):
    torch.manual_seed(0)
    model = Derenderer(DerenderSettings(size=32, nf=8, nf_encoder=4, zdim=32, loocc=loocc))
    image = torch.rand(4, 3, 32, 32) * 2 - 1
    terms = model.losses(image, torch.Generator().manual_seed(1))
    grads = _grads(model, terms["total"])
    assert all(g > 0 for g in grads.values()), grads
    if loocc != "none":  # the contrastive term alone reaches all four factor networks through the re-render
        alone = _grads(model, terms["loocc"])
        assert all(alone[n] > 0 for n in NETS[:4]), alone


def test_config_checks_name_the_key(raw_smoke_config):
    cfg = copy.deepcopy(raw_smoke_config)
    cfg["pdr"]["networks"]["zdim"] = 30
    with pytest.raises(ConfigError, match="pdr.networks.zdim"):
        validate_config(cfg)
    cfg = copy.deepcopy(raw_smoke_config)
    cfg["pdr"]["models"]["unsup3d"]["loocc"] = "colour"
    with pytest.raises(ConfigError, match="loocc"):
        validate_config(cfg)
    cfg = copy.deepcopy(raw_smoke_config)
    cfg["pdr"]["models"]["raw_pixels"] = {"family": "derender"}
    with pytest.raises(ConfigError, match="sanity row"):
        validate_config(cfg)


def test_rows_the_paper_has_and_we_do_not_reproduce_say_why(smoke_config):
    table1 = next(s for s in table_specs(smoke_config) if s.name == "table1")
    for model, reason in NOT_REPRODUCED.items():
        row = table1.row(f"faces:{model}")
        assert row.columns == () and row.absent == reason
        assert not any(n[0] == model for n in table1.needs())  # nothing is planned for them
    assert not any(r.key.startswith("cars:stylegan2") for r in table1.rows)  # no car row in the paper either


def test_train_evaluate_and_tables_on_the_smoke_faces(tmp_path, smoke_config, smoke_dataset):
    cfg = copy.deepcopy(smoke_config)
    cfg["synthetic"]["root"] = str(smoke_dataset)
    cfg["results"] = str(tmp_path / "results")
    path = tmp_path / "config.yaml"
    import yaml

    path.write_text(yaml.safe_dump(cfg))
    faces_train, faces = (str(smoke_dataset / s / "manifest.csv") for s in ("faces_train", "faces"))
    model, record = tmp_path / "m" / "model.pt", tmp_path / "m" / "train.json"
    assert main(["pdr-train", "--config", str(path), "--dataset", "faces", "--model", "loocc_light", "--manifest",
                 faces_train, "--out", str(model), "--metrics", str(record)]) == 0
    outs = []
    for name, source in (("loocc_light", ["--checkpoint", str(model), "--record", str(record)]),
                         ("random_init", ["--random-init", "unsup3d"]), ("raw_pixels", ["--raw-pixels"])):
        metrics, assignments = tmp_path / f"{name}.csv", tmp_path / f"{name}_a.csv"
        assert main(["pdr-evaluate", "--config", str(path), "--dataset", "faces", "--model", name, "--manifest", faces,
                     *source, "--out-metrics", str(metrics), "--out-assignments", str(assignments)]) == 0
        outs.append((metrics, assignments))
    df = pd.read_csv(outs[0][0])
    got = set(zip(df["variant"], df["metric"], strict=True))
    assert {("depth_albedo", "cluster_acc"), ("all4", "f1_weighted"), ("all4", "pcc_mean"), ("shape", "side"),
            ("shape", "flat_side"), ("train", "val_end")} <= got
    assert df["value"].between(-1, 100).all() and set(df["paper"]) == {"pdr"}
    tracks = pd.read_csv(faces)["track"].nunique()
    assert len(pd.read_csv(outs[0][1]).query("variant == 'depth_albedo'")) == tracks  # one row per track
    merged = tmp_path / "metrics.csv"
    assigned = tmp_path / "assignments.csv"
    assert main(["gather-csv", "--inputs", *(str(m) for m, _ in outs), "--out", str(merged)]) == 0
    assert main(["gather-csv", "--inputs", *(str(a) for _, a in outs), "--out", str(assigned)]) == 0
    tables = tmp_path / "tables"
    assert main(["tables", "--paper", "pdr", "--config", str(path), "--metrics", str(merged), "--benchmark",
                 "synthetic", "--train-metrics", str(record), "--extra", f"assignments={assigned}",
                 "--out-dir", str(tables)]) == 0
    t1 = pd.read_csv(tables / "pdr_table1.csv")
    ours = t1[(t1["source"] == "ours") & (t1["column"] == "acc")].set_index("row")["value"]
    assert ours[["faces:loocc_light", "faces:random_init", "faces:raw_pixels"]].notna().all()
    assert ours[["faces:unsup3d", "faces:stylegan2"]].isna().all()  # not trained here / not reproduced
    claims = pd.read_csv(tables / "pdr_claims.csv")
    assert {"c1_faces_best_acc", "c7_loocc_lowers_pcc"} <= set(claims["claim_id"])


def test_the_paper_config_has_the_papers_sizes_and_vgg16_fails_with_the_fetch_message(tmp_path, monkeypatch):
    from pathlib import Path

    from robust3d.models.backbones import WeightsUnavailable
    from robust3d.models.derender.perceptual import perceptual_loss
    from robust3d.papers import load_config

    repo = Path(__file__).resolve().parents[2]
    cfg = load_config(repo / "configs" / "paper-pdr.yaml")
    assert (cfg["pdr"]["size"], cfg["pdr"]["networks"]["nf"], cfg["pdr"]["networks"]["zdim"]) == (64, 64, 256)
    assert cfg["pdr"]["perceptual"] == "vgg16" and not cfg["compnets"]["enabled"]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache, offline
    with pytest.raises(WeightsUnavailable, match="vgg16"):
        perceptual_loss("vgg16")
    assert perceptual_loss("none") is None
