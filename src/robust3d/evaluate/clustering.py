"""Clustering evaluation of de-rendering features (PDR / LOOCC Table 1) and the PCC between feature groups.

The protocol follows the authors' ``clustering/get_feats_pdr.py`` and ``clustering/cluster_eval.py``
(tzofi/physically-disentangled-representations), re-implemented, with two deliberate departures:

- :func:`track_means` averages **every** frame of a face track. The reference iterates
  ``sorted(os.listdir(track))[:-1]`` and so silently drops the last frame of each track (a bug, not a choice).
- Hungarian accuracy is the standard one-to-one assignment on the **raw** cluster ids (the reference applies it to
  the majority-mapped labels, where it can only lose against WCP, and never prints it).

Metrics (all fractions in ``[0, 1]``, like the paper's Table 1, never percent):

- ``cluster_acc``: weighted cluster purity (WCP) = sum over clusters of the majority-label count / N. This is what
  the reference script prints and what the video face-clustering literature calls "clustering accuracy"; we read
  Table 1's "Cluster Accuracy" as WCP (an inference: the paper's supplement defining it is not available).
- ``cluster_acc_hungarian``: best one-to-one matching of clusters to labels (``linear_sum_assignment``).
  Always <= WCP, equal when clusters and labels are in bijection.
- ``f1_weighted`` / ``precision_weighted`` / ``recall_weighted``: sklearn's support-weighted scores of the true
  labels against the majority-mapped labels (:func:`majority_mapping`), ``zero_division=0``. This is the
  reference's "F1" (Table 1's F1-Score column), not the BCubed F the face-clustering literature prints.
- ``bcubed_f``: BCubed F-measure (harmonic mean of BCubed precision and recall), an extra.
- ``nmi``: ``2 MI / (H(Y) + H(C))`` with log2, the reference's own function (equal to sklearn's NMI with the
  arithmetic mean).

Labels and cluster ids may be any sortable hashables (ints, strings); they are compared by equality only.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import combinations
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import f1_score, precision_score, recall_score

#: Keys of :func:`clustering_metrics`, in table order.
METRIC_KEYS: tuple[str, ...] = (
    "cluster_acc",
    "cluster_acc_hungarian",
    "f1_weighted",
    "precision_weighted",
    "recall_weighted",
    "bcubed_f",
    "nmi",
)


# --------------------------------------------------------------------------------------------------------------
# Features: track means and Ward clustering
# --------------------------------------------------------------------------------------------------------------


def _features_2d(features: np.ndarray, what: str = "features") -> np.ndarray:
    """``features`` as a finite float64 (N, D) array with N >= 1, D >= 1, or a ValueError saying what is wrong."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (N, D) array, got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} must have at least one sample and one dimension, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} contain non-finite values (NaN or inf)")
    return x


def track_means(features: np.ndarray, groups: Sequence[Hashable], l2: bool = False) -> tuple[np.ndarray, list]:
    """Mean feature of every group (a face track) over **all** of its members.

    ``features``: (N, D), one row per frame; ``groups``: length N, the track id of each frame (any hashable).
    Returns ``(means, keys)``: ``means`` (G, D) float64 and ``keys`` the G track ids, in order of first appearance
    in ``groups`` (so the output order does not depend on how the ids sort).

    Every frame counts: the authors' ``get_feats_pdr.py`` iterates ``sorted(listdir(track))[:-1]`` and thereby
    drops the last frame of each track. That is a bug and is deliberately not reproduced.

    ``l2=True`` L2-normalises each mean (the SSiam MATLAB protocol that PDR follows does; PDR itself does not, so
    the default is off). A mean of norm 0 cannot be normalised and raises ValueError naming the track.
    """
    x = _features_2d(features)
    if len(groups) != x.shape[0]:
        raise ValueError(f"groups has {len(groups)} entries but features has {x.shape[0]} rows")
    index: dict[Hashable, int] = {}
    inverse = np.array([index.setdefault(g, len(index)) for g in groups], dtype=np.intp)
    sums = np.zeros((len(index), x.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, x)
    means = sums / np.bincount(inverse, minlength=len(index))[:, None]
    keys = list(index)
    if l2:
        norms = np.linalg.norm(means, axis=1)
        if (zero := np.flatnonzero(norms == 0)).size:
            raise ValueError(f"track {keys[zero[0]]!r} has an all-zero mean feature: it cannot be L2-normalised")
        means = means / norms[:, None]
    return means, keys


def _first_appearance(ids: np.ndarray) -> np.ndarray:
    """Relabel integer ids 0..K-1 in order of first appearance (sample 0's cluster is 0, ...): canonical output."""
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inverse.ravel()]


def ward_clusters(features: np.ndarray, n_clusters: int) -> np.ndarray:
    """Ward agglomerative clustering of ``features`` (G, D) into ``n_clusters``; returns (G,) int cluster ids.

    ``sklearn.cluster.AgglomerativeClustering(linkage="ward")`` on the raw (Euclidean) features, as the reference
    ``cluster_eval.py``; it has no random state, so the result is deterministic. Ids are renumbered 0..K-1 in order
    of first appearance so they do not depend on sklearn's internal numbering. ``1 <= n_clusters <= G``.
    """
    from sklearn.cluster import AgglomerativeClustering

    x = _features_2d(features)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise ValueError(f"n_clusters must be an integer, got {n_clusters!r}")
    if not 1 <= n_clusters <= x.shape[0]:
        raise ValueError(f"n_clusters must be between 1 and the number of samples ({x.shape[0]}), got {n_clusters}")
    if n_clusters == 1:  # sklearn refuses a single sample; one cluster needs no fit anyway
        return np.zeros(x.shape[0], dtype=np.intp)
    ids = AgglomerativeClustering(n_clusters=int(n_clusters), linkage="ward").fit(x).labels_
    return _first_appearance(ids)


# --------------------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------------------


def _pair(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D ``labels`` and ``clusters`` of equal, non-zero length."""
    y, c = np.asarray(labels), np.asarray(clusters)
    for name, a in (("labels", y), ("clusters", c)):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D (one entry per sample), got shape {a.shape}")
    if y.size != c.size:
        raise ValueError(f"labels and clusters differ in length: {y.size} vs {c.size}")
    if y.size == 0:
        raise ValueError("labels and clusters are empty: clustering metrics are undefined")
    return y, c


def _contingency(y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K clusters, L labels) count matrix, rows in sorted cluster order, columns in sorted label order; and the
    sorted unique labels (column names)."""
    label_names, yi = np.unique(y, return_inverse=True)
    cluster_names, ci = np.unique(c, return_inverse=True)
    table = np.zeros((cluster_names.size, label_names.size), dtype=np.int64)
    np.add.at(table, (ci.ravel(), yi.ravel()), 1)
    return table, label_names


def majority_mapping(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> np.ndarray:
    """Per-sample predicted label: each sample gets its cluster's majority true label. Returns (N,).

    ``labels`` (N,) true labels, ``clusters`` (N,) cluster ids. This is the reference's ``WCP`` mapping
    (``scipy.stats.mode``); a tie between labels goes to the **smallest** label (in sorted order), which is also
    what ``mode`` picks, so the mapping is deterministic. Several clusters may map to the same label.
    """
    y, c = _pair(labels, clusters)
    table, label_names = _contingency(y, c)
    winner = label_names[np.argmax(table, axis=1)]  # argmax takes the first (= smallest) label on ties
    _, ci = np.unique(c, return_inverse=True)
    return winner[ci.ravel()]


def cluster_purity(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Weighted cluster purity (WCP): sum over clusters of its majority-label count, divided by N.

    Table 1's "Cluster Accuracy" (the reference script's printed ``WCP``). Grows to 1 as clusters get smaller, so
    it is only meaningful at a fixed number of clusters (here: the number of true labels).
    """
    y, c = _pair(labels, clusters)
    table, _ = _contingency(y, c)
    return float(table.max(axis=1).sum() / y.size)


def hungarian_accuracy(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Clustering accuracy under the best one-to-one matching of cluster ids to labels (Hungarian algorithm).

    Applied to the raw cluster ids (the standard ACC), not to majority-mapped labels as the reference does. With
    more clusters than labels the unmatched clusters count as wrong, so ACC <= WCP always.
    """
    y, c = _pair(labels, clusters)
    table, _ = _contingency(y, c)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / y.size)


def _weighted(score, labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """sklearn ``score(true, majority-mapped, average="weighted", zero_division=0)``."""
    y, c = _pair(labels, clusters)
    return float(score(y, majority_mapping(y, c), average="weighted", zero_division=0))


def f1_weighted(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Support-weighted F1 of the true labels vs the majority-mapped labels (Table 1's "F1-Score")."""
    return _weighted(f1_score, labels, clusters)


def precision_weighted(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Support-weighted precision of the true labels vs the majority-mapped labels (a label no cluster maps to
    has precision 0, ``zero_division=0``)."""
    return _weighted(precision_score, labels, clusters)


def recall_weighted(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Support-weighted recall of the true labels vs the majority-mapped labels. Equals WCP (weighted recall is
    plain accuracy), kept because the reference prints it."""
    return _weighted(recall_score, labels, clusters)


def bcubed_f(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """BCubed F-measure: harmonic mean of BCubed precision and recall (Bagga & Baldwin; Amigo et al. 2009).

    Per sample i: precision_i = |cluster(i) with label(i)| / |cluster(i)|, recall_i = the same count /
    |label(i)|; P and R are means over samples (each sample counts itself). With counts n_kl (cluster k,
    label l): P = sum n_kl^2 / n_k / N, R = sum n_kl^2 / n_l / N.
    """
    y, c = _pair(labels, clusters)
    table, _ = _contingency(y, c)
    squares = table.astype(np.float64) ** 2
    precision = (squares / table.sum(axis=1, keepdims=True)).sum() / y.size
    recall = (squares / table.sum(axis=0, keepdims=True)).sum() / y.size
    return float(2 * precision * recall / (precision + recall))


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy in bits of a count vector (zeros ignored)."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def nmi(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> float:
    """Normalised mutual information ``2 (H(Y) - H(Y|C)) / (H(Y) + H(C))`` in bits (the reference's ``NMI``).

    The reference docstring's examples hold: Y = [1]*5 + [2]*10 + [3]*5 with
    C = [1,1,1,2,2,1,1,1,2,2,2,2,2,2,2,1,1,1,1,2] gives 0.1089 and C = [1,1,1,2,2,1,1,1,1,1,1,1,2,2,2,2,2,2,2,2]
    gives 0.2533. When both Y and C are a single block, H(Y) + H(C) = 0 and the reference divides 0 by 0; the two
    partitions are then identical, and we return 1.0 (as sklearn does).
    """
    y, c = _pair(labels, clusters)
    table, _ = _contingency(y, c)
    h_y, h_c = _entropy(table.sum(axis=0)), _entropy(table.sum(axis=1))
    if h_y + h_c == 0:
        return 1.0
    h_y_given_c = sum(row.sum() / y.size * _entropy(row) for row in table)
    return float(2 * (h_y - h_y_given_c) / (h_y + h_c))


def clustering_metrics(labels: Sequence | np.ndarray, clusters: Sequence | np.ndarray) -> dict[str, float]:
    """All metrics of one clustering, keys :data:`METRIC_KEYS`, values fractions in [0, 1] (not percent)."""
    y, c = _pair(labels, clusters)
    return {
        "cluster_acc": cluster_purity(y, c),
        "cluster_acc_hungarian": hungarian_accuracy(y, c),
        "f1_weighted": f1_weighted(y, c),
        "precision_weighted": precision_weighted(y, c),
        "recall_weighted": recall_weighted(y, c),
        "bcubed_f": bcubed_f(y, c),
        "nmi": nmi(y, c),
    }


# --------------------------------------------------------------------------------------------------------------
# PCC between feature groups (paper §4)
# --------------------------------------------------------------------------------------------------------------


def group_pcc(groups: Sequence[np.ndarray], on_constant: Literal["raise", "skip"] = "raise") -> tuple[float, float]:
    """Mean Pearson correlation between equally sized feature groups, per sample: ``(mean r, mean |r|)``.

    ``groups``: k >= 2 arrays, each (N, d) with the same N and d >= 2 (e.g. the four 256-d depth / albedo / light /
    view features of N samples). For every sample n and every pair (A, B) of groups (k(k-1)/2 pairs, 6 for four
    groups), r = Pearson correlation of the vectors A[n] and B[n] over the d dimensions (``scipy.stats.pearsonr``
    of the two vectors). Returns the mean of r and of |r| over all (sample, pair) entries. This is our reading of
    the paper's §4 PCC "between each combination of the four learned physical features", which neither the paper
    nor the authors' code defines; the signed mean is the number compared with the paper's 0.26 / 0.18.

    A constant vector (max == min, e.g. an all-zero ReLU bottleneck) has no correlation. ``on_constant="raise"``
    (default) raises ValueError naming the group and the sample, so an undefined value never enters a table
    silently; ``"skip"`` drops every (sample, pair) entry that involves a constant vector from both means, and
    raises only when no entry is left.
    """
    if on_constant not in ("raise", "skip"):
        raise ValueError(f"on_constant must be 'raise' or 'skip', got {on_constant!r}")
    if len(groups) < 2:
        raise ValueError(f"group_pcc needs at least 2 feature groups, got {len(groups)}")
    arrays = [_features_2d(g, what=f"feature group {i}") for i, g in enumerate(groups)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"feature groups must all have the same (N, d) shape, got {[a.shape for a in arrays]}")
    if arrays[0].shape[1] < 2:
        raise ValueError("feature groups need at least 2 dimensions for a Pearson correlation")
    stack = np.stack(arrays)  # (k, N, d)
    constant = stack.max(axis=2) == stack.min(axis=2)  # (k, N); exact, so a tiny but real spread still counts
    if on_constant == "raise" and constant.any():
        group, sample = np.argwhere(constant)[0]
        raise ValueError(f"feature group {group} is constant for sample {sample}: its Pearson r is undefined "
                         "(use on_constant='skip' to leave such entries out)")
    centred = stack - stack.mean(axis=2, keepdims=True)
    norms = np.linalg.norm(centred, axis=2)  # (k, N)
    rs, keep = [], []
    for a, b in combinations(range(len(arrays)), 2):
        ok = ~(constant[a] | constant[b])
        dot = (centred[a] * centred[b]).sum(axis=1)
        rs.append(np.clip(np.divide(dot, norms[a] * norms[b], out=np.zeros_like(dot), where=ok), -1.0, 1.0))
        keep.append(ok)
    r, ok = np.stack(rs), np.stack(keep)  # (pairs, N)
    if not ok.any():
        raise ValueError("every (sample, pair) entry involves a constant feature group: the PCC is undefined")
    return float(r[ok].mean()), float(np.abs(r[ok]).mean())
