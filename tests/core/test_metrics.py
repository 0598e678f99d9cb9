"""lecturekit.metrics: MPE, rigid Procrustes, per-keypoint errors, RMSE, PCK and the one NaN rule,
each checked against a hand-computed case, a brute-force computation or a known transform."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lecturekit import metrics


def _poses(T=20, K=9, seed=0):
    return np.random.default_rng(seed).normal(0, 50, (T, K, 3))


def test_procrustes_recovers_a_known_rigid_transform():
    rng = np.random.default_rng(1)
    true = _poses()
    R = Rotation.random(random_state=2).as_matrix()
    t = rng.normal(0, 100, 3)
    moved = (true - t) @ R  # true = moved @ R^T + t
    Rhat, that = metrics.rigid_transform(moved[0], true[0])
    np.testing.assert_allclose(Rhat, R, atol=1e-9)
    np.testing.assert_allclose(that, t, atol=1e-8)
    assert np.linalg.det(Rhat) == pytest.approx(1.0)
    np.testing.assert_allclose(metrics.procrustes_align(moved, true), true, atol=1e-8)
    assert metrics.mpe(moved, true) > 10
    assert metrics.mpe(moved, true, procrustes=True) < 1e-8


def test_procrustes_never_reflects_or_scales():
    true = _poses(T=1, K=6)[0]
    mirrored = true * np.array([1.0, 1.0, -1.0])  # a reflection cannot be undone by a rotation
    R, _ = metrics.rigid_transform(mirrored, true)
    assert np.linalg.det(R) == pytest.approx(1.0)
    assert metrics.mpe(mirrored[None], true[None], procrustes=True) > 1.0
    scaled = 2.0 * true
    aligned = metrics.procrustes_align(scaled[None], true[None])[0]
    # no scaling: the aligned pose keeps its size
    assert np.linalg.norm(aligned - aligned.mean(0)) == pytest.approx(np.linalg.norm(scaled - scaled.mean(0)))


def test_procrustes_is_optimal_against_random_rotations():
    rng = np.random.default_rng(4)
    true = _poses(T=1, K=8)[0]
    noisy = true @ Rotation.random(random_state=5).as_matrix().T + rng.normal(0, 5, true.shape) + 30
    aligned = metrics.procrustes_align(noisy[None], true[None])[0]
    best = np.sum((aligned - true) ** 2)
    for seed in range(200):  # brute force: no random rigid motion near the optimum does better
        R = Rotation.from_rotvec(rng.normal(0, 0.05, 3)).as_matrix()
        trial = (aligned - aligned.mean(0)) @ R.T + aligned.mean(0) + rng.normal(0, 0.5, 3)
        assert np.sum((trial - true) ** 2) >= best - 1e-9


def _brute_force_distances(pred, true):
    """(T, K) Euclidean distances by explicit loops (an independent computation)."""
    T, K = true.shape[:2]
    return np.array([[np.sqrt(np.sum((pred[t, k] - true[t, k]) ** 2)) for k in range(K)] for t in range(T)])


def test_mpe_rmse_and_per_keypoint_error_by_brute_force():
    rng = np.random.default_rng(6)
    true = _poses()
    pred = true + rng.normal(0, 3, true.shape)
    dist = _brute_force_distances(pred, true)
    assert metrics.mpe(pred, true) == pytest.approx(dist.mean())
    assert metrics.rmse(pred, true) == pytest.approx(np.sqrt(np.mean(dist**2)))
    np.testing.assert_allclose(metrics.per_keypoint_error(pred, true), dist.mean(axis=0))
    np.testing.assert_allclose(metrics.position_errors(pred, true), dist)
    # 2D (px) works alike, Procrustes included
    pred2, true2 = pred[..., :2], true[..., :2]
    assert metrics.mpe(pred2, true2) == pytest.approx(_brute_force_distances(pred2, true2).mean())
    theta = 0.3
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert metrics.mpe(true2 @ R.T + 7.0, true2, procrustes=True) < 1e-9


def test_nan_truth_is_not_labelled_and_is_excluded_everywhere():
    rng = np.random.default_rng(7)
    true = _poses()
    pred = true + rng.normal(0, 3, true.shape)
    true[2, 3] = np.nan
    dist = _brute_force_distances(pred, true)
    ok = np.isfinite(dist)
    assert metrics.mpe(pred, true) == pytest.approx(dist[ok].mean())  # no `missing=` needed: nothing is missing
    assert metrics.rmse(pred, true) == pytest.approx(np.sqrt(np.mean(dist[ok] ** 2)))
    expected_k = [np.mean([d for d in dist[:, k] if np.isfinite(d)]) for k in range(true.shape[1])]
    np.testing.assert_allclose(metrics.per_keypoint_error(pred, true), expected_k)
    assert metrics.coverage(pred, true) == 1.0
    # a frame with fewer than 3 labelled keypoints cannot be aligned
    pred[5, 2:] = np.nan
    aligned = metrics.procrustes_align(pred, true)
    assert np.isnan(aligned[5]).all() and np.isfinite(aligned[0]).all()


def test_nan_prediction_of_a_labelled_point_is_a_miss():
    rng = np.random.default_rng(8)
    true = _poses()
    pred = true + rng.normal(0, 3, true.shape)
    pred[2, 3] = np.nan
    pred[4, :2] = np.nan
    with pytest.raises(ValueError, match=r"3 of 180 labelled points have no prediction.*missing='exclude'"):
        metrics.mpe(pred, true)
    with pytest.raises(ValueError, match="missing='exclude'"):
        metrics.rmse(pred, true)
    with pytest.raises(ValueError, match="missing='exclude'"):
        metrics.per_keypoint_error(pred, true)
    dist = _brute_force_distances(pred, true)
    ok = np.isfinite(dist)
    assert metrics.mpe(pred, true, missing="exclude") == pytest.approx(dist[ok].mean())
    assert metrics.rmse(pred, true, missing="exclude") == pytest.approx(np.sqrt(np.mean(dist[ok] ** 2)))
    assert metrics.coverage(pred, true) == pytest.approx(177 / 180)
    # PCK counts the 3 misses as incorrect: with a huge threshold every other point is correct
    assert metrics.pck(pred, true, 1e9) == pytest.approx(177 / 180)
    # giving up on the hard points does not buy a better PCK
    hard = dist > np.nanpercentile(dist, 80)
    gave_up = np.where(hard[..., None], np.nan, pred)
    thr = np.nanpercentile(dist, 90)
    assert metrics.pck(gave_up, true, thr) < metrics.pck(pred, true, thr)
    with pytest.raises(ValueError, match="missing: expected one of"):
        metrics.mpe(pred, true, missing="ignore")


def test_rmse_and_pck_by_hand():
    true = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [np.nan, np.nan]])
    pred = np.array([[3.0, 4.0], [10.0, 1.0], [np.nan, np.nan], [5.0, 5.0]])
    # errors: 5, 1, missing (labelled), not labelled
    assert metrics.rmse(pred, true, missing="exclude") == pytest.approx(np.sqrt((25 + 1) / 2))
    assert metrics.mpe(pred, true, missing="exclude") == pytest.approx(3.0)
    assert metrics.coverage(pred, true) == pytest.approx(2 / 3)
    assert metrics.pck(pred, true, 2.0) == pytest.approx(1 / 3)  # missing prediction = miss
    assert metrics.pck(pred, true, 5.0) == pytest.approx(2 / 3)
    np.testing.assert_allclose(metrics.pck_curve(pred, true, [0.5, 2.0, 5.0]), [0, 1 / 3, 2 / 3])


def test_one_answer_for_one_missing_prediction():
    """The two old copies disagreed here (0.5 vs 1.0): one labelled point right, one not predicted."""
    true = np.array([[[0.0, 0.0], [10.0, 10.0]]])
    pred = np.array([[[0.5, 0.0], [np.nan, np.nan]]])
    assert metrics.pck(pred, true, 2.0) == 0.5
    with pytest.raises(ValueError, match="1 of 2 labelled points"):
        metrics.rmse(pred, true)
    assert metrics.rmse(pred, true, missing="exclude") == pytest.approx(0.5)
    assert metrics.coverage(pred, true) == 0.5


def test_visible_mask_and_per_frame_threshold():
    truth = np.array([[[0.0, 0.0], [np.nan, np.nan], [10.0, 10.0]], [[0.0, 0.0], [5.0, 5.0], [1.0, 1.0]]])
    pred = np.array([[[3.0, 4.0], [1.0, 1.0], [10.0, 11.0]], [[0.0, 2.0], [5.0, 8.0], [1.0, 1.0]]])
    # errors: frame 0: 5, (unlabelled), 1; frame 1: 2, 3, 0
    visible = np.array([[False, True, True], [True, True, True]])
    assert metrics.rmse(pred[:1], truth[:1]) == pytest.approx(np.sqrt((25 + 1) / 2))
    assert metrics.rmse(pred, truth, visible=visible) == pytest.approx(np.sqrt((1 + 4 + 9 + 0) / 4))
    assert metrics.pck(pred, truth, 2.0, visible=visible) == pytest.approx(3 / 4)
    # per-frame thresholds: 1 px in frame 0, 2.5 px in frame 1 -> 1 of 2 and 2 of 3 correct
    assert metrics.pck(pred, truth, np.array([1.0, 2.5])) == pytest.approx(3 / 5)
    assert metrics.coverage(pred, truth, visible=visible) == 1.0
    with pytest.raises(ValueError, match=r"threshold: expected a scalar or shape \(2,\)"):
        metrics.pck(pred, truth, np.ones(3))
    with pytest.raises(ValueError, match="visible: expected a bool mask of shape"):
        metrics.rmse(pred, truth, visible=np.ones(3, bool))


def test_pck_agrees_with_an_independent_count():
    rng = np.random.default_rng(9)
    true = rng.uniform(0, 100, (30, 5, 2))
    pred = true + rng.normal(0, 4, true.shape)
    true[rng.random((30, 5)) < 0.1] = np.nan
    pred[rng.random((30, 5)) < 0.1] = np.nan
    correct = total = 0
    for t in range(30):
        for k in range(5):
            if np.isnan(true[t, k]).any():
                continue
            total += 1
            d = np.hypot(*(pred[t, k] - true[t, k]))
            correct += bool(d <= 5.0)  # NaN <= 5 is False: a miss
    assert metrics.pck(pred, true, 5.0) == pytest.approx(correct / total)


def test_metric_inputs_are_validated():
    with pytest.raises(ValueError, match="pred: expected the same shape"):
        metrics.mpe(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"pred: expected shape \(\.\.\., 2\) or \(\.\.\., 3\)"):
        metrics.procrustes_align(np.zeros((3, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="threshold"):
        metrics.pck(np.zeros((3, 2)), np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="at least 3 points"):
        metrics.rigid_transform(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="true: no labelled"):
        metrics.rmse(np.zeros((3, 2)), np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="coverage 0"):
        metrics.rmse(np.full((3, 2), np.nan), np.zeros((3, 2)), missing="exclude")
