"""Benchmark the template-matching stage: retrieval over the whole template bank, the bank's memory, fine-tuning.

    python scripts/bench_templates.py [--config config.yaml] [--templates 1068] [--queries 64] [--threads 1]
                                      [--repeats 3] [--loop-queries 8] [--epochs-of vit_ft resnet_ft]

1. **Retrieval.** Milliseconds per query scored against every template (cells cached as unit vectors), batched
   (:func:`masked_cosine`: one matrix product, or chunked per-cell products with the 0.2 cut) against the per-template
   loop the reference code runs (:func:`masked_cosine_loop`), and the largest difference between their scores. Random
   descriptor maps of the embedded default's shapes (D = 32, 8 x 8 cells; ``--grid`` / ``--dim`` to change).
2. **Bank memory**: bytes of the cached unit cells and masks for ``--templates`` templates, per descriptor size.
3. **Fine-tuning**: seconds per epoch of each ``--epochs-of`` model of the config on random images of the config's
   size, as many steps as its schedule runs on the config's training queries (no evaluation), and the seconds to
   encode the bank and the test queries once (what each per-epoch evaluation adds), so the stage's time can be
   projected before running it.

Use ``--threads 1`` on a shared machine (as the stage's jobs run).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from robust3d.models.templates.similarity import info_nce, masked_cosine, masked_cosine_loop, unit_cells


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def retrieval(args: argparse.Namespace) -> None:
    g = torch.Generator().manual_seed(0)
    h = w = args.grid
    queries = torch.randn(args.queries, args.dim, h, w, generator=g)
    templates = torch.randn(args.templates, args.dim, h, w, generator=g)
    masks = torch.rand(args.templates, h, w, generator=g) > 0.3
    qc, tc = unit_cells(queries), unit_cells(templates)
    few = queries[:args.loop_queries]
    print(f"retrieval: {args.queries} queries x {args.templates} templates, D = {args.dim}, {h} x {w} cells")
    for cut in (None, 0.2):
        batched = timed(lambda c=cut: masked_cosine(qc, tc, masks, c), args.repeats) / args.queries
        loop = timed(lambda c=cut: masked_cosine_loop(few, templates, masks, c), 1) / len(few)
        diff = float((masked_cosine(unit_cells(few), tc, masks, cut) - masked_cosine_loop(few, templates, masks, cut))
                     .abs().max())
        label = "plain" if cut is None else f"cut {cut}"
        print(f"  {label:8s} batched {1e3 * batched:8.3f} ms/query   per-template loop {1e3 * loop:8.1f} ms/query   "
              f"speed-up {loop / batched:6.0f}x   max |difference| {diff:.2e}")
    from robust3d.models.templates.retrieval import TemplateBank

    for dim in sorted({args.dim, 16, 32, 384}):
        bank = TemplateBank(torch.randn(args.templates, dim, h, w, generator=g), masks, ["x"] * args.templates)
        print(f"  bank memory, D = {dim:3d}: {bank.nbytes() / 2**20:7.2f} MiB")


def finetuning(args: argparse.Namespace) -> None:
    from robust3d.papers import load_config
    from robust3d.papers.templates.fit import build

    config = load_config(args.config)
    section, tm = config["templates"], config["synthetic"]["templates"]
    size = int(section["image_size"])
    n_train = tm["train_queries_per_object"] * (len(tm["categories"]) - len(tm["unseen_categories"]))
    from robust3d.geometry.viewpoints import upper_hemisphere

    n_bank = len(upper_hemisphere(int(tm["icosphere_level"]))) * len(tm["categories"])
    n_queries = 2 * tm["queries_per_object"] * len(tm["categories"])
    for name in args.epochs_of:
        spec = section["models"][name]
        schedule = section["schedules"][spec["schedule"]]
        for entry in section["backbones"].values():
            entry["weights"] = None  # timing only: no pretraining run needed
        model = build(config, name)
        batch = int(schedule["batch_size"])
        steps = max(n_train // batch, 1)
        per_step, per_image = time_model(model, batch, size, args.repeats)
        print(f"fine-tuning {name}: {per_step:.3f} s/step x {steps} steps = {per_step * steps:.1f} s/epoch "
              f"({schedule['epochs']} epochs: {per_step * steps * schedule['epochs']:.0f} s); encoding "
              f"{1e3 * per_image:.2f} ms/image: the bank ({n_bank}) and queries ({n_queries}) "
              f"{per_image * (n_bank + n_queries):.1f} s per evaluation")


def time_model(model: torch.nn.Module, batch: int, size: int, repeats: int) -> tuple[float, float]:
    """(seconds per InfoNCE step of ``batch`` queries and templates, seconds per encoded image)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images = torch.rand(2 * batch, 3, size, size)
    masks = torch.ones(batch, *model.grid((size, size)), dtype=torch.bool)

    def step():
        loss = info_nce(model(images[:batch]), model(images[batch:]), masks)
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    per_step = timed(step, repeats)
    model.eval()
    with torch.no_grad():
        per_image = timed(lambda: model(images), repeats) / len(images)
    return per_step, per_image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config.yaml")
    p.add_argument("--templates", type=int, default=1068, help="bank size (default: 12 objects x 89 views)")
    p.add_argument("--queries", type=int, default=64)
    p.add_argument("--loop-queries", type=int, default=8, help="queries the slow loop scores")
    p.add_argument("--grid", type=int, default=8)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs-of", nargs="*", default=["vit_ft", "resnet_ft"])
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    retrieval(args)
    if args.epochs_of:
        finetuning(args)


if __name__ == "__main__":
    main()
