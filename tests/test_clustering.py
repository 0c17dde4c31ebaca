"""Clustering metrics, track means, Ward HAC and the group PCC of the PDR / LOOCC stage (robust3d.evaluate.clustering).

Build notes §4 unit tests 8-10: hand-made labellings with known values (the reference ``cluster_eval.py``
docstring's NMI examples), the track-mean regression against the reference's dropped-last-frame bug, and the PCC
on groups with known correlation.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import f1_score, normalized_mutual_info_score, precision_score, recall_score

from robust3d.evaluate.clustering import (
    METRIC_KEYS,
    bcubed_f,
    cluster_purity,
    clustering_metrics,
    f1_weighted,
    group_pcc,
    hungarian_accuracy,
    majority_mapping,
    nmi,
    precision_weighted,
    recall_weighted,
    track_means,
    ward_clusters,
)

# The reference cluster_eval.py NMI docstring (after the course notes it cites).
Y_DOC = np.array([1] * 5 + [2] * 10 + [3] * 5)
C_DOC_1 = np.array([1, 1, 1, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 2])
C_DOC_2 = np.array([1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2])


# ---------------------------------------------------------------------------------------------------- test 8: metrics


@pytest.mark.parametrize(("clusters", "expected"), [(C_DOC_1, 0.1089), (C_DOC_2, 0.2533)])
def test_nmi_matches_reference_docstring(clusters: np.ndarray, expected: float) -> None:
    assert round(nmi(Y_DOC, clusters), 4) == expected
    # 2 MI / (H(Y) + H(C)) is sklearn's NMI with the arithmetic mean
    assert nmi(Y_DOC, clusters) == pytest.approx(normalized_mutual_info_score(Y_DOC, clusters), abs=1e-12)


def test_wcp_at_least_hungarian_on_random_labellings() -> None:
    for seed in range(200):
        rng = np.random.default_rng(seed)
        n, n_labels, n_clusters = int(rng.integers(1, 60)), int(rng.integers(1, 6)), int(rng.integers(1, 8))
        y, c = rng.integers(0, n_labels, n), rng.integers(0, n_clusters, n)
        wcp, acc = cluster_purity(y, c), hungarian_accuracy(y, c)
        assert 0 < acc <= wcp + 1e-12 <= 1 + 1e-12, (seed, wcp, acc)
        assert recall_weighted(y, c) == pytest.approx(wcp)  # weighted recall of mapped labels is plain accuracy


def test_wcp_equals_hungarian_on_a_bijection() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 100)
    c = np.array([7, 3, 9, 5])[y]  # a relabelling of the truth ...
    flip = rng.random(100) < 0.3
    c[flip] = rng.choice([7, 3, 9, 5], flip.sum())  # ... with noise: still 4 clusters whose majorities differ
    assert len(set(majority_mapping(y, c))) == 4
    assert cluster_purity(y, c) == pytest.approx(hungarian_accuracy(y, c))
    assert cluster_purity(y, c) < 1


def test_perfect_clustering_scores_one_everywhere() -> None:
    y = np.array(["howard", "penny", "raj", "penny", "howard", "raj", "raj"])
    c = np.array([2, 0, 5, 0, 2, 5, 5])  # same partition, unrelated ids
    metrics = clustering_metrics(y, c)
    assert tuple(metrics) == METRIC_KEYS
    assert all(v == pytest.approx(1.0) for v in metrics.values()), metrics


def test_single_cluster_wcp_is_majority_share() -> None:
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    c = np.zeros(10, dtype=int)
    assert cluster_purity(y, c) == pytest.approx(0.5)
    assert hungarian_accuracy(y, c) == pytest.approx(0.5)
    assert (majority_mapping(y, c) == 2).all()
    assert nmi(y, c) == pytest.approx(0.0)


def test_weighted_scores_on_a_three_class_example() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    c = np.array([5, 5, 5, 6, 6, 6, 7, 7, 7, 5])
    mapped = majority_mapping(y, c)
    np.testing.assert_array_equal(mapped, [0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    assert f1_weighted(y, c) == pytest.approx(f1_score(y, mapped, average="weighted"))
    assert precision_weighted(y, c) == pytest.approx(precision_score(y, mapped, average="weighted"))
    assert recall_weighted(y, c) == pytest.approx(recall_score(y, mapped, average="weighted"))
    # by hand: class 0 P 3/4 R 3/4, class 1 P 2/3 R 2/3, class 2 P 2/3 R 2/3; weights 4/10, 3/10, 3/10
    assert f1_weighted(y, c) == pytest.approx(0.4 * 0.75 + 0.6 * 2 / 3)
    assert cluster_purity(y, c) == pytest.approx(0.7)


def test_majority_tie_goes_to_smallest_label() -> None:
    y = np.array(["b", "a", "c", "c"])
    c = np.array([0, 0, 1, 1])
    np.testing.assert_array_equal(majority_mapping(y, c), ["a", "a", "c", "c"])


def test_unmapped_label_has_zero_precision_without_warning() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    c = np.array([0, 0, 0, 0, 1, 1])  # label 1 is nobody's majority (tie -> 0)
    with np.errstate(all="raise"):
        p = precision_weighted(y, c)
    assert p == pytest.approx((2 / 6) * 0.5 + 0 + (2 / 6) * 1.0)
    assert hungarian_accuracy(y, c) == pytest.approx(4 / 6)


def test_bcubed_hand_computed() -> None:
    # cluster A = {a, a, b}, cluster B = {b, b, c}
    y = np.array(["a", "a", "b", "b", "b", "c"])
    c = np.array(["A", "A", "A", "B", "B", "B"])
    # precision per sample: a,a: 2/3; b in A: 1/3; b,b in B: 2/3; c: 1/3  -> mean 10/18
    # recall per sample:    a,a: 1;   b in A: 1/3; b,b in B: 2/3; c: 1    -> mean 14/18
    p, r = 10 / 18, 14 / 18
    assert bcubed_f(y, c) == pytest.approx(2 * p * r / (p + r))


def test_nmi_of_two_single_blocks_is_one() -> None:
    assert nmi([3, 3, 3], [0, 0, 0]) == 1.0


@pytest.mark.parametrize(
    ("labels", "clusters", "match"),
    [([0, 1], [0], "differ in length"), ([], [], "empty"), ([[0, 1]], [[0, 1]], "1-D")],
)
def test_metric_inputs_validated(labels, clusters, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        clustering_metrics(labels, clusters)


# ------------------------------------------------------------------------------------------------ test 9: track means


def test_track_mean_uses_every_frame() -> None:
    """Regression: the reference get_feats_pdr.py iterates sorted(listdir(track))[:-1] and drops each track's last
    frame; here track "t1" would average to [0, 0] and "t2" to [4, 4] with that bug."""
    features = np.array([[0, 0], [0, 0], [3, 3], [4, 4], [6, 6]], dtype=np.float32)
    groups = ["t1", "t1", "t1", "t2", "t2"]
    means, keys = track_means(features, groups)
    assert keys == ["t1", "t2"]
    np.testing.assert_allclose(means, [[1, 1], [5, 5]])
    assert means.dtype == np.float64


def test_track_means_first_appearance_order_and_l2() -> None:
    features = np.array([[3.0, 4.0], [1.0, 0.0], [3.0, 4.0]])
    means, keys = track_means(features, [9, 2, 9])
    assert keys == [9, 2]
    np.testing.assert_allclose(means, [[3, 4], [1, 0]])
    unit, _ = track_means(features, [9, 2, 9], l2=True)
    np.testing.assert_allclose(unit, [[0.6, 0.8], [1, 0]])


def test_track_means_validated() -> None:
    with pytest.raises(ValueError, match="groups has 2 entries"):
        track_means(np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        track_means(np.zeros(3), ["a", "b", "c"])
    with pytest.raises(ValueError, match="track 'z'"):
        track_means(np.zeros((1, 2)), ["z"], l2=True)


# ------------------------------------------------------------------------------------------------------- Ward HAC


def test_ward_recovers_separated_blobs() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 20, (5, 16))
    truth = np.repeat(np.arange(5), 12)
    rng.shuffle(truth)
    features = centres[truth] + rng.normal(0, 0.5, (truth.size, 16))
    clusters = ward_clusters(features, 5)
    assert clusters.shape == truth.shape
    assert cluster_purity(truth, clusters) == 1.0 and hungarian_accuracy(truth, clusters) == 1.0
    assert clusters[0] == 0 and set(clusters) == set(range(5))  # first-appearance numbering
    np.testing.assert_array_equal(ward_clusters(features, 5), clusters)  # deterministic


def test_ward_validated() -> None:
    np.testing.assert_array_equal(ward_clusters(np.ones((1, 3)), 1), [0])
    with pytest.raises(ValueError, match="between 1 and the number of samples"):
        ward_clusters(np.zeros((4, 2)), 5)
    with pytest.raises(ValueError, match="between 1"):
        ward_clusters(np.zeros((4, 2)), 0)
    with pytest.raises(ValueError, match="integer"):
        ward_clusters(np.zeros((4, 2)), 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-finite"):
        ward_clusters(np.array([[0.0, np.nan], [1.0, 1.0]]), 2)


# ------------------------------------------------------------------------------------------------------ test 10: PCC


def test_pcc_identical_groups_is_one() -> None:
    x = np.random.default_rng(0).normal(size=(20, 64))
    assert group_pcc([x, x, x, x]) == pytest.approx((1.0, 1.0))


def test_pcc_negated_group_is_minus_one() -> None:
    x = np.random.default_rng(0).normal(size=(20, 64))
    assert group_pcc([x, -x]) == pytest.approx((-1.0, 1.0))


def test_pcc_independent_groups_near_zero() -> None:
    rng = np.random.default_rng(0)
    groups = [rng.normal(size=(100, 256)) for _ in range(4)]
    mean_r, mean_abs = group_pcc(groups)
    assert abs(mean_r) < 0.05
    assert 0 < mean_abs < 0.1  # E|r| ~ sqrt(2 / (pi d)) = 0.05 for d = 256


def test_pcc_matches_scipy_pearsonr() -> None:
    rng = np.random.default_rng(3)
    a, b, c = (rng.normal(size=(5, 10)) for _ in range(3))
    b = b + a  # some real correlation
    rs = [pearsonr(u[n], v[n])[0] for u, v in ((a, b), (a, c), (b, c)) for n in range(5)]
    assert group_pcc([a, b, c]) == pytest.approx((np.mean(rs), np.mean(np.abs(rs))))


def test_pcc_constant_vector_raises_or_is_skipped() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    a[1] = 0.0  # e.g. a dead ReLU bottleneck
    with pytest.raises(ValueError, match="group 0 is constant for sample 1"):
        group_pcc([a, b])
    kept = [pearsonr(a[n], b[n])[0] for n in (0, 2)]
    assert group_pcc([a, b], on_constant="skip") == pytest.approx((np.mean(kept), np.mean(np.abs(kept))))
    with pytest.raises(ValueError, match="every"):
        group_pcc([np.zeros((2, 4)), b[:2, :4]], on_constant="skip")


def test_pcc_validated() -> None:
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match="at least 2 feature groups"):
        group_pcc([x])
    with pytest.raises(ValueError, match="same"):
        group_pcc([np.ones((3, 4)), np.ones((3, 5))])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        group_pcc([np.ones((3, 1)), np.ones((3, 1))])
