"""Training time against the number of classes, log-log (3D-CompNets Figure 2), with each series' slope."""

from __future__ import annotations

import math
from pathlib import Path


def scaling_figure(curves: dict[str, dict[int, float | None]], out: str | Path, title: str) -> Path:
    """``curves``: series label -> number of classes -> seconds per step (None for missing). Written atomically;
    the legend gives each series' log-log slope (~1 linear, ~2 quadratic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robust3d.data.io import atomic_path
    from robust3d.evaluate.stats import loglog_slope

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    drawn = 0
    for label, points in curves.items():
        pts = sorted((y, s) for y, s in points.items() if s is not None and not math.isnan(s) and s > 0)
        if not pts:
            continue
        xs, ys = zip(*pts, strict=True)
        slope = loglog_slope(xs, ys)
        tag = f"slope {slope:.2f}" if not math.isnan(slope) else "one point"
        ax.plot(xs, ys, marker="o", label=f"{label} ({tag})")
        drawn += 1
    if drawn:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        ax.set_yscale("log")
        xs = sorted({y for points in curves.values() for y, s in points.items() if s is not None})
        ax.set_xticks(xs)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no scaling results", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("number of classes Y")
    ax.set_ylabel("seconds per training step")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
