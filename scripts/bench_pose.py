"""Benchmark render-and-compare pose inference: seconds per image, batched and cached vs. naive per image.

    python scripts/bench_pose.py [--images 144] [--batch 64] [--naive-images 4] [--threads 1] [--device cpu]

Sizes are the embedded default's (128 px images, stride 8 -> 16 x 16 feature maps, K = 200 vertices per class,
D = 128, N_b = 512 background features, 12 classes, 30 refinement steps); the feature maps are synthetic
(random-feature cuboids rendered at random poses over background features), so the timing is that of pose
inference alone, without the backbone. "batched" estimates the pose of ``--batch`` images at once with the
initial-pose cache (its one-off build is reported apart and also amortised over ``--images``); "naive" handles
one image at a time and renders the 144 initial poses for each, written plainly (PyTorch3D ``MeshRasterizer``
on the whole mesh, ``interpolate_face_attributes``, autograd through the rasteriser). A third timing runs the
optimised renderer one image at a time with a fresh cache per image, to show what caching plus batching alone
buy. Goals: <= 0.5 s per image, >= 10x speed-up over the naive version.

Use ``--threads 1`` on a shared machine: with more threads than free cores, torch's thread pool makes every
small operation wait, and the figures say more about the other jobs than about this code.
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from robust3d.geometry import pascal_to_pytorch3d, pose_error
from robust3d.models.neural_mesh.inference import (
    FeatureCamera,
    InitialPoseCache,
    MeshBank,
    class_mesh,
    estimate_pose,
    initial_pose_grid,
    random_mesh_bank,
    reconstruction_loss,
    synthetic_feature_maps,
)


def naive_pose(fmap: torch.Tensor, y: int, model: MeshBank, camera: FeatureCamera, grid: torch.Tensor, steps: int,
               lr: float = 0.05) -> torch.Tensor:
    """One image, written plainly: render all initial poses, pick the best, refine with Adam; ``(3,)`` pose."""
    from pytorch3d.ops import interpolate_face_attributes
    from pytorch3d.renderer import MeshRasterizer, RasterizationSettings
    from pytorch3d.structures import Meshes

    verts, faces, feats = class_mesh(model, y)
    settings = RasterizationSettings(image_size=camera.size, blur_radius=0.0, faces_per_pixel=1, bin_size=0)

    def render(a, e, t):
        cams = pascal_to_pytorch3d(a, e, t, camera.distance, camera.focal, 1.0, torch.tensor(camera.principal),
                                   image_size=camera.size)
        frags = MeshRasterizer(cameras=cams, raster_settings=settings)(Meshes([verts] * len(a), [faces] * len(a)))
        r = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords,
                                        feats[faces].repeat(len(a), 1, 1))[..., 0, :]
        return r.permute(0, 3, 1, 2), frags.pix_to_face[..., 0] >= 0

    with torch.no_grad():
        r, fg = render(grid[:, 0], grid[:, 1], grid[:, 2])
        loss = reconstruction_loss(fmap.expand(len(grid), -1, -1, -1), r, fg, model.background)
    params = [grid[int(loss.argmin()), i].reshape(1).clone().requires_grad_(True) for i in range(3)]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.4, 0.6))
    for _ in range(steps):
        r, fg = render(*params)
        loss = reconstruction_loss(fmap, r, fg, model.background)
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return torch.cat([p.detach() for p in params])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=144, help="the embedded default test split: 12 x 12")
    parser.add_argument("--batch", type=int, default=64, help="as predict.DEFAULT_BATCH")
    parser.add_argument("--naive-images", type=int, default=4, help="images timed for the naive version")
    parser.add_argument("--classes", type=int, default=12)
    parser.add_argument("--vertices", type=int, default=200)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    image_size, stride = 128, 8
    h = image_size // stride
    camera = FeatureCamera(distance=5.0, focal=500.0 / stride, principal=(h / 2, h / 2), size=(h, h))
    model = random_mesh_bank(args.classes, args.vertices, 128, 512, seed=0)
    model.features, model.background = model.features.to(device), model.background.to(device)
    gen = torch.Generator().manual_seed(1)
    classes = torch.randint(0, args.classes, (args.images,), generator=gen)
    poses = torch.stack([torch.rand(args.images, generator=gen) * 2 * math.pi,
                         (torch.rand(args.images, generator=gen) * 50 - 10) * math.pi / 180,
                         (torch.rand(args.images, generator=gen) * 30 - 15) * math.pi / 180], 1)
    fmaps, _ = synthetic_feature_maps(model, classes, poses, camera, seed=2)
    fmaps, classes = fmaps.to(device), classes.to(device)
    grid = initial_pose_grid()

    cache = InitialPoseCache(grid)
    t0 = time.perf_counter()
    for y in range(args.classes):
        cache.get(model, y, camera)
    cache_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    preds = []
    for s in range(0, args.images, args.batch):
        est = estimate_pose(fmaps[s : s + args.batch], classes[s : s + args.batch], model, camera, cache, args.steps)
        preds.append(torch.stack([est.azimuth, est.elevation, est.theta], 1))
    batched_s = (time.perf_counter() - t0) / args.images
    pred = torch.cat(preds).cpu()
    err = pose_error(tuple(pred.T), tuple(poses.T))

    t0 = time.perf_counter()
    naive = [naive_pose(fmaps[b : b + 1].cpu(), int(classes[b]), model, camera, grid, args.steps)
             for b in range(args.naive_images)]
    naive_s = (time.perf_counter() - t0) / args.naive_images
    agree = pose_error(tuple(torch.stack(naive).T), tuple(pred[: args.naive_images].T))

    t0 = time.perf_counter()
    for b in range(args.naive_images):
        estimate_pose(fmaps[b : b + 1], classes[b : b + 1], model, camera, InitialPoseCache(grid), args.steps)
    single_s = (time.perf_counter() - t0) / args.naive_images

    amortised = batched_s + cache_s / args.images
    print(f"device {device}, threads {args.threads}: {args.images} images of {image_size} px (stride {stride}), "
          f"{args.classes} classes x {args.vertices} vertices, {args.steps} steps, batch {args.batch}")
    print(f"cache build (144 poses x {args.classes} classes, once): {cache_s:.3f} s")
    print(f"batched + cached: {batched_s:.4f} s/image ({amortised:.4f} with the cache amortised over "
          f"{args.images} images) [goal <= 0.5]; acc pi/18 on these synthetic maps "
          f"{float((err < math.pi / 18).double().mean()):.2f}")
    print(f"naive per image:  {naive_s:.4f} s/image; speed-up {naive_s / batched_s:.1f}x "
          f"({naive_s / amortised:.1f}x amortised) [goal >= 10]; naive vs batched pose: median "
          f"{float(agree.median()) * 180 / math.pi:.2f} deg apart")
    print(f"optimised renderer, one image at a time, fresh cache: {single_s:.4f} s/image "
          f"(caching + batching alone: {single_s / batched_s:.1f}x)")


if __name__ == "__main__":
    main()
