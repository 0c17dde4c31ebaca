"""Radar chart over tasks (3D-CompNets Figure 1): one polygon per model, each axis scaled to its best model.

The paper draws each axis on its own scale; here every axis runs from 0 to its best model's value (printed at
the axis label), so models compare per task while tasks with low accuracies stay readable.
"""

from __future__ import annotations

import math
from pathlib import Path


def axis_best(values: dict[str, dict[str, float]], tasks: list[str]) -> dict[str, float]:
    """Each task's best value over the models that have one (the axis's outer ring)."""
    return {t: max(values[m][t] for m in values if _finite(values[m].get(t))) for t in tasks}


def axis_label(task: str, best: float) -> str:
    """The axis name and what its outer ring stands for; an axis where every model scores 0 says so."""
    return f"{task}\n(best {best:.1f})" if best > 0 else f"{task}\n(all models 0)"


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def radar_figure(values: dict[str, dict[str, float | None]], out: str | Path, title: str) -> Path:
    """``values``: model label -> task label -> value (None for missing). Tasks no model has are dropped;
    a model's missing task is drawn at the centre with a hollow marker. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from robust3d.data.io import atomic_path

    tasks = list(dict.fromkeys(t for per_model in values.values() for t in per_model))
    tasks = [t for t in tasks if any(_finite(values[m].get(t)) for m in values)]
    fig = plt.figure(figsize=(7.5, 7.5))
    if len(tasks) < 3:
        ax = fig.add_subplot(111)
        ax.axis("off")
        ax.text(0.5, 0.5, f"{title}\n\nfewer than 3 tasks have results ({', '.join(tasks) or 'none'})",
                ha="center", va="center", wrap=True)
    else:
        best = axis_best(values, tasks)
        scale = {t: best[t] if best[t] > 0 else 1.0 for t in tasks}  # an all-zero axis stays at the centre
        angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False)
        ax = fig.add_subplot(111, polar=True)
        for model, per_task in values.items():
            if not any(_finite(per_task.get(t)) for t in tasks):
                continue
            radii = np.array([per_task[t] / scale[t] if _finite(per_task.get(t)) else 0.0 for t in tasks])
            closed_a, closed_r = np.append(angles, angles[0]), np.append(radii, radii[0])
            (line,) = ax.plot(closed_a, closed_r, marker="o", label=model)
            ax.fill(closed_a, closed_r, alpha=0.08, color=line.get_color())
            missing = [i for i, t in enumerate(tasks) if not _finite(per_task.get(t))]
            ax.plot(angles[missing], radii[missing], "o", mfc="white", color=line.get_color())
        ax.set_xticks(angles)
        ax.set_xticklabels([axis_label(t, best[t]) for t in tasks], fontsize=8)
        ax.set_yticks([0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels([])
        ax.set_ylim(0, 1.05)
        ax.set_title(title, fontsize=10, pad=24)
        ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.12), fontsize=8)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out
