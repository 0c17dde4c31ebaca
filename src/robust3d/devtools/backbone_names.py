"""Regenerate ``robust3d/models/backbone_names.json``: the timm architectures and pretrained tags, and the
torchvision ResNet weights, that a config may name, so config checks need not import timm or torch (seconds).

    python -m robust3d.devtools.backbone_names          # rewrite the file from the installed timm / torchvision

``tests/test_backbone_names.py`` fails when the file and the installed (pinned) libraries disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from robust3d.models.backbone_shapes import BACKBONE_NAMES_PATH, family_of


def collect() -> dict:
    """The names from the installed libraries, restricted to the families the backbone kinds build."""
    import timm
    import torchvision

    archs = sorted(a for a in timm.list_models() if family_of(a))
    tags = sorted(t for t in timm.list_pretrained() if family_of(t.split(".")[0]))
    resnet_weights = {}
    for arch in archs:
        try:
            enum = torchvision.models.get_model_weights(arch)
        except ValueError:
            continue
        resnet_weights[arch] = sorted(enum.__members__)
    return {"timm": timm.__version__, "torchvision": torchvision.__version__, "timm_architectures": archs,
            "timm_pretrained": tags, "torchvision_weights": resnet_weights}


def main() -> int:
    Path(BACKBONE_NAMES_PATH).write_text(json.dumps(collect(), indent=0) + "\n")
    print(f"wrote {BACKBONE_NAMES_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
