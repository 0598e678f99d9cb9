"""lecturekit.metrics: MPE, rigid Procrustes, per-keypoint errors, 2D RMSE and PCK, each checked
against a brute-force computation or a known transform."""

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


def test_mpe_and_per_keypoint_error_by_brute_force_with_nan():
    rng = np.random.default_rng(6)
    true = _poses()
    pred = true + rng.normal(0, 3, true.shape)
    pred[2, 3] = np.nan
    dist = [[np.sqrt(np.sum((pred[t, k] - true[t, k]) ** 2)) for k in range(true.shape[1])] for t in range(true.shape[0])]
    dist = np.array(dist)
    assert metrics.mpe(pred, true) == pytest.approx(np.nanmean(dist))
    expected_k = [np.mean([d for d in dist[:, k] if np.isfinite(d)]) for k in range(true.shape[1])]
    np.testing.assert_allclose(metrics.per_keypoint_error(pred, true), expected_k)
    # a frame with fewer than 3 keypoints cannot be aligned and is ignored
    pred[5, 2:] = np.nan
    aligned = metrics.procrustes_align(pred, true)
    assert np.isnan(aligned[5]).all() and np.isfinite(aligned[0]).all()


def test_rmse_and_pck_by_hand():
    true = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [np.nan, np.nan]])
    pred = np.array([[3.0, 4.0], [10.0, 1.0], [np.nan, np.nan], [5.0, 5.0]])
    assert metrics.rmse(pred, true) == pytest.approx(np.sqrt((25 + 1) / 2))
    assert metrics.pck(pred, true, 2.0) == pytest.approx(1 / 3)  # missing prediction = miss
    assert metrics.pck(pred, true, 5.0) == pytest.approx(2 / 3)


def test_metric_inputs_are_validated():
    with pytest.raises(ValueError, match="pred: expected the same shape"):
        metrics.mpe(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"pred: expected shape \(\.\.\., 2\)"):
        metrics.rmse(np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="threshold"):
        metrics.pck(np.zeros((3, 2)), np.zeros((3, 2)), 0.0)
    with pytest.raises(ValueError, match="at least 3 points"):
        metrics.rigid_transform(np.zeros((2, 3)), np.zeros((2, 3)))
