"""Predictions of a trained NTDM model on a split: pose, shape, amodal mask and class by render-and-compare.

Per batch: unit backbone features, then :func:`robust3d.models.ntdm.inference.predict` per camera (the starts are
cached per camera). The pose, shape and mask columns come from the fit of the ground-truth class (NeMo's protocol,
against which Table 1 compares: ``pose_class``); the class is the lowest final loss among the refined classes. The
amodal mask is the final mesh rasterised at full image resolution (``render.scene.rasterize_object``); its IoU (%)
with the dataset's ``mask_amodal`` is ``amodal_iou`` (empty where the split has no masks). Samples of classes the
model does not know are left out (the ablation models know 3 classes), and ``ntdm.evaluate.max_per_class`` keeps
the first images of each class (render-and-compare is the stage's costliest step). ``seconds``: the batch's wall
time over its size.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

EXTRA_COLUMNS = ("amodal_iou", "pred_cad", "pred_scale_x", "pred_scale_y", "pred_scale_z", "loss")


def inference_options(section: dict, spec: dict):
    from robust3d.models.ntdm.inference import InferenceOptions

    return InferenceOptions.of({**section["inference"], **(spec.get("inference") or {})})


def first_per_class(class_index: list[int], limit: int | None) -> list[int]:
    """Rows of known classes (index >= 0), at most ``limit`` per class in manifest order (None: all)."""
    seen: dict[int, int] = {}
    out = []
    for i, y in enumerate(class_index):
        if y < 0 or (limit is not None and seen.get(y, 0) >= limit):
            continue
        seen[y] = seen.get(y, 0) + 1
        out.append(i)
    return out


def predict(section: dict, name: str, checkpoint: str | Path, manifests: str | Path | list, out_csv: str | Path, *,
            device: str = "cpu", progress: bool = True, seed: int = 0) -> pd.DataFrame:
    """Write the predictions (contract columns plus :data:`EXTRA_COLUMNS`) of every manifest of ``manifests`` to
    one CSV ``out_csv`` (rows keep their split, variant and level); the start renders are made once for all."""
    from robust3d.evaluate.predictions import write_predictions
    from robust3d.models.neural_mesh.inference import initial_pose_grid
    from robust3d.models.ntdm.inference import StartCache
    from robust3d.models.ntdm.model import NTDMModel
    from robust3d.models.runtime import resolve_device

    spec = section["models"][name]
    icfg = section["inference"]
    dev = resolve_device(device)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(int(section["train"]["num_threads"]))
    try:
        model = NTDMModel.load(checkpoint, map_location=dev)
        run = _Run(section, name, spec, model, model.build_backbone().to(dev), model.bank(dev),
                   StartCache(initial_pose_grid(icfg), max_bytes=int(icfg["cache_mb"]) * 2**20),
                   torch.Generator().manual_seed(seed), dev, progress)
        paths = [manifests] if isinstance(manifests, str | Path) else list(manifests)
        table = pd.concat([run.split(Path(m)) for m in paths], ignore_index=True)
    finally:
        torch.set_num_threads(threads_before)
    write_predictions(table, out_csv)
    return table


class _Run:
    """One model's predictions over several splits, sharing its backbone, bank and start cache."""

    def __init__(self, section, name, spec, model, backbone, bank, cache, generator, device, progress) -> None:
        self.section, self.name, self.spec, self.model = section, name, spec, model
        self.backbone, self.bank, self.cache, self.gen, self.dev = backbone, bank, cache, generator, device
        self.progress = progress
        self.opts = inference_options(section, spec)
        self.classify = bool(spec.get("classify", True))

    def split(self, manifest: Path) -> pd.DataFrame:
        from torch.utils.data import DataLoader, Subset
        from tqdm.auto import tqdm

        from robust3d.data.format import read_manifest
        from robust3d.evaluate.predictions import PREDICTION_COLUMNS, sample_keys
        from robust3d.models.data import ManifestDataset, collate

        ds = ManifestDataset(manifest, self.model.classes, allow_unknown=True)
        limit = self.spec.get("max_per_class", self.section["evaluate"].get("max_per_class"))
        keep = first_per_class(ds.class_index, limit)
        loader = DataLoader(Subset(ds, keep), batch_size=int(self.section["inference"]["batch_size"]), shuffle=False,
                            collate_fn=collate)
        results: dict[int, dict] = {}
        bar = tqdm(total=len(keep), disable=not self.progress, desc=f"predict {self.name} {manifest.parent.name}",
                   unit="img")
        for batch in loader:
            results.update(self.batch(batch, ds.root))
            bar.update(len(batch["index"]))
        bar.close()
        df = read_manifest(manifest)
        keys = sample_keys(df, manifest)
        return pd.DataFrame([{"sample_id": df["sample_id"].iloc[i], **results[i], "model": self.name,
                              **keys.iloc[i].to_dict()} for i in keep], columns=[*PREDICTION_COLUMNS, *EXTRA_COLUMNS])

    def batch(self, batch: dict, root: Path) -> dict[int, dict]:
        from robust3d.data.io import read_mask
        from robust3d.evaluate.metrics import mask_iou
        from robust3d.models.neural_mesh.inference import FeatureCamera
        from robust3d.models.ntdm.inference import predict as fit_batch
        from robust3d.render.scene import rasterize_object

        model, bank = self.model, self.bank
        start = time.perf_counter()
        with torch.no_grad():
            fmap = F.normalize(self.backbone(batch["image"].to(self.dev)), dim=1)
        cams = [FeatureCamera.from_annotation(a, model.stride, fmap.shape[-2:]) for a in batch["annotation"]]
        gt = batch["class_index"].to(self.dev)
        fits: dict[int, tuple] = {}
        for cam in dict.fromkeys(cams):
            sel = torch.tensor([c == cam for c in cams]).nonzero().squeeze(1)
            out = fit_batch(fmap[sel], gt[sel], bank, cam, self.cache, self.opts, classify=self.classify,
                            generator=self.gen)
            for j, s in enumerate(sel.tolist()):
                fits[s] = (out.pose_fit, j, int(out.pred_class[j]))
        seconds = (time.perf_counter() - start) / len(cams)
        results = {}
        for s, i in enumerate(batch["index"].tolist()):
            fit, j, pred = fits[s]
            ann, row = batch["annotation"][s], batch["row"][s]
            y = int(gt[s])
            latent, scale = fit.latent[j, : bank.n_latent(y)], fit.scale[j]
            with torch.no_grad():
                verts = bank.meshes[y](latent[None], scale[None])[0].cpu()
            h, w = batch["image"].shape[-2:]
            pose = (*(float(fit.pose[j, n]) for n in range(3)), float(ann["distance"]))
            frag = rasterize_object(verts, bank.meshes[y].faces.cpu(), pose, float(ann["focal"]),
                                    float(ann["viewport"]), (int(h), int(w)),
                                    tuple(float(x) for x in np.asarray(ann["principal"]).reshape(2)))
            iou = mask_iou(frag.face.numpy() >= 0, read_mask(root / row["mask_amodal"]) > 0) \
                if row.get("mask_amodal") else ""
            results[i] = {"class": row["class"], "pred_class": model.classes[pred] if self.classify else "",
                          **{a: float(ann[a]) for a in ("azimuth", "elevation", "theta")},
                          **{f"pred_{a}": float(fit.pose[j, n]) for n, a in enumerate(("azimuth", "elevation",
                                                                                       "theta"))},
                          "pose_class": model.classes[y], "seconds": seconds, "amodal_iou": iou,
                          "pred_cad": model.cad_indices[y][int(latent.argmax())],
                          **{f"pred_scale_{a}": float(scale[n]) for n, a in enumerate("xyz")},
                          "loss": float(fit.loss[j])}
        return results
