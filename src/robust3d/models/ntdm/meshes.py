"""The first NTDM stage (Sec. 3.1): a deformable mesh per class fitted to the class's training CAD models.

The latent of CAD ``k`` is the one-hot of its position among the class's training CADs, the ``cad_index`` values
the training manifest uses (on the synthetic benchmark 4 of 6: the ``ood_shape`` instances stay out). The fitted
meshes are written once (``meshes.pt``) and read by every NTDM model trained on that split, with the fit's Eq. 2
distances per CAD (``meshes.json``) and each fitted CAD mesh as ``.obj`` for a look.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from robust3d.data.format import read_manifest
from robust3d.data.io import atomic_path, write_json

FORMAT = "robust3d.ntdm_meshes/1"
FIT_KEYS = ("template_level", "width", "layers", "harmonics", "omega0", "steps", "lr", "points", "normal_weight",
            "laplacian_weight")


def training_cads(train_manifest: str | Path) -> dict[str, list[int]]:
    """Per class, the sorted CAD indices its training images show."""
    df = read_manifest(train_manifest)
    if "cad_index" not in df or (df["cad_index"] == "").any():
        raise ValueError(f"{train_manifest}: NTDM's latents need a cad_index for every training image")
    return {c: sorted({int(v) for v in g["cad_index"]}) for c, g in df.groupby("class")}


def read_cads(cad_root: str | Path, cls: str, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(verts, faces)`` of ``CAD/<cls>/<NN>.off`` for each index."""
    from robust3d.data.cad import read_off

    out = []
    for k in indices:
        path = Path(cad_root) / "CAD" / cls / f"{k:02d}.off"
        if not path.is_file():
            raise FileNotFoundError(f"CAD model {path} is missing (the training manifest shows {cls} CAD {k})")
        mesh = read_off(path)
        out.append((torch.as_tensor(mesh.verts, dtype=torch.float32), torch.as_tensor(mesh.faces, dtype=torch.long)))
    return out


def fit_meshes(train_manifest: str | Path, mesh_cfg: dict, out: str | Path, record: str | Path,
               obj_dir: str | Path | None = None, classes: list[str] | None = None, seed: int = 0,
               progress: bool = True) -> dict[str, Any]:
    """Fit every class of ``train_manifest`` (or ``classes``); write ``out`` (states), ``record`` (JSON)."""
    from robust3d.models.neural_mesh.mesh import find_cad_root
    from robust3d.models.ntdm.deform import deform_state, fit_class, save_obj

    cads = training_cads(train_manifest)
    classes = sorted(cads) if classes is None else list(classes)
    missing = sorted(set(classes) - set(cads))
    if missing:
        raise ValueError(f"{train_manifest} has no training images of {missing}")
    cad_root = find_cad_root(train_manifest)
    kwargs = {k: mesh_cfg[k] for k in FIT_KEYS if k in mesh_cfg}
    states, summary = {}, {}
    for cls in classes:
        started = time.perf_counter()
        net, fit = fit_class(read_cads(cad_root, cls, cads[cls]), seed=seed, progress=progress, **kwargs)
        states[cls] = {"deform": deform_state(net), "cad_indices": cads[cls]}
        summary[cls] = {"cad_indices": cads[cls], **fit, "seconds": time.perf_counter() - started}
        if obj_dir is not None:
            with torch.no_grad():
                verts = net(torch.eye(net.n_latent))
            for k, v in zip(cads[cls], verts, strict=True):
                save_obj(Path(obj_dir) / f"{cls}_{k:02d}.obj", v, net.faces)
    with atomic_path(out) as tmp:
        torch.save({"format": FORMAT, "classes": classes, "meshes": states,
                    "config": {k: mesh_cfg.get(k) for k in FIT_KEYS}}, tmp)
    write_json(record, {"classes": summary})
    return summary


def load_meshes(path: str | Path) -> dict[str, dict]:
    """Class -> ``{"deform": state, "cad_indices": [...]}`` of a :func:`fit_meshes` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NTDM meshes {path} do not exist; fit them with `robust3d ntdm-meshes`")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("format") != FORMAT:
        raise ValueError(f"{path} is not an NTDM mesh file ({FORMAT})")
    return blob["meshes"]
