"""Bad configs are refused before any job runs, with one line naming the key."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from robust3d.errors import ConfigError
from robust3d.papers import load_config, validate_config

REPO = Path(__file__).resolve().parents[1]


def test_shipped_configs_are_valid():
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        cfg = load_config(path)
        assert cfg["synthetic"]["splits"]["train"] > 0


def test_defaults_are_filled(raw_smoke_config):
    del raw_smoke_config["synthetic"]["splits"]["style"]
    cfg = validate_config(raw_smoke_config)
    assert cfg["synthetic"]["splits"]["style"] == 0
    assert cfg["synthetic"]["root"] == "results/smoke/data/synthetic"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(sedd=1), "unknown key 'sedd'"),
        (lambda c: c["synthetic"].update(image_sise=64), "unknown key 'synthetic.image_sise'"),
        (lambda c: c["synthetic"].update(image_size="big"), "key 'synthetic.image_size': 'big' is not of type"),
        (lambda c: c.pop("seed"), "missing required key 'seed'"),
        (lambda c: c["synthetic"]["camera"].pop("viewport"), "missing required key 'synthetic.camera.viewport'"),
        (lambda c: c.update(device="tpu"), "key 'device': 'tpu' is not one of"),
        (lambda c: c["synthetic"]["categories"].append("unicorn"), "unknown category 'unicorn'"),
        (lambda c: c["synthetic"].update(unseen_categories=["aeroplane", "car", "chair"]), "fewer than 2 to train"),
        (lambda c: c["synthetic"].update(unseen_categories=["bus"]), "'bus' is not in synthetic.categories"),
        (lambda c: c["synthetic"]["splits"].update(train=0), "key 'synthetic.splits.train': needs at least 1"),
        (lambda c: c["synthetic"]["splits"].update(test=-1), "key 'synthetic.splits.test'"),
        (lambda c: c["synthetic"].update(ood_instances_per_category=3), "ood_instances_per_category"),
        (lambda c: c["synthetic"]["pose"].update(elevation=[40, 10]), "min 40 is larger than max 10"),
    ],
)
def test_bad_config_is_refused_with_one_line_naming_the_key(raw_smoke_config, mutate, expected):
    mutate(raw_smoke_config)
    with pytest.raises(ConfigError) as err:
        validate_config(raw_smoke_config)
    message = str(err.value)
    assert expected in message
    assert "\n" not in message


def test_cli_refuses_bad_config_before_work(tmp_path, raw_smoke_config):
    raw_smoke_config["synthetic"]["categories"].append("unicorn")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw_smoke_config))
    out = tmp_path / "cad"
    proc = subprocess.run([sys.executable, "-m", "robust3d", "synth-cad", "--config", str(path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown category 'unicorn'" in proc.stderr
    assert not out.exists()


def test_cli_help_lists_subcommands():
    proc = subprocess.run([sys.executable, "-m", "robust3d", "--help"], capture_output=True, text=True, check=True)
    for name in ("check-config", "synth-cad", "synth-render", "merge-manifests", "contact-sheet"):
        assert name in proc.stdout
