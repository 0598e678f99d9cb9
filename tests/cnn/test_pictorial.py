"""Pictorial structures: the distance transform and the tree MAP against brute force."""

import itertools

import numpy as np
import pytest

from lecturekit.cnn import heatmaps, pictorial


@pytest.mark.parametrize("shift", [0.0, 1.7, -2.4, 9.0])
def test_distance_transform_1d_matches_brute_force(shift):
    rng = np.random.default_rng(0)
    f = rng.normal(size=23) * 3
    values, arg = pictorial.distance_transform_1d(f, 0.37, shift)
    p, q = np.arange(23)[:, None], np.arange(23)[None, :]
    brute = f[None, :] - 0.37 * (p + shift - q) ** 2
    np.testing.assert_allclose(values, brute.max(1), atol=1e-12)
    np.testing.assert_array_equal(arg, brute.argmax(1))


def test_max_transform_2d_matches_brute_force():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(6, 7))
    M, a, b = pictorial.max_transform_2d(f, (0.5, 1.3), (0.6, -1.2))
    for i, j in itertools.product(range(6), range(7)):
        aa, bb = np.mgrid[:6, :7]
        scores = f - 0.5 * (j + 0.6 - bb) ** 2 - 1.3 * (i - 1.2 - aa) ** 2
        assert M[i, j] == pytest.approx(scores.max())
        assert (a[i, j], b[i, j]) == np.unravel_index(scores.argmax(), scores.shape)


def _brute_force_map(U, parents, mu, w):
    K, H, W = U.shape
    cells = [(i, j) for i in range(H) for j in range(W)]
    best, arg = -np.inf, None
    for combo in itertools.product(cells, repeat=K):
        s = sum(U[k][combo[k]] for k in range(K))
        for c, p in enumerate(parents):
            if p >= 0:
                dy = combo[c][0] - combo[p][0] - mu[c, 1]
                dx = combo[c][1] - combo[p][1] - mu[c, 0]
                s -= w[c, 0] * dx ** 2 + w[c, 1] * dy ** 2
        if s > best:
            best, arg = s, combo
    return np.array(arg), best


@pytest.mark.parametrize("parents", [(-1, 0, 0), (1, -1, 1), (2, 0, -1)])
def test_tree_map_equals_brute_force_on_a_tiny_problem(parents):
    rng = np.random.default_rng(sum(parents) + 5)
    U = rng.normal(size=(3, 4, 5)) * 2
    mu = rng.normal(size=(3, 2))
    w = rng.uniform(0.2, 1.0, size=(3, 2))
    cells, best = pictorial.tree_map(U, parents, mu, w)
    want_cells, want_best = _brute_force_map(U, parents, mu, w)
    assert best == pytest.approx(want_best)
    np.testing.assert_array_equal(cells, want_cells)


def test_pictorial_decode_fixes_a_jump_to_a_distractor():
    # two keypoints 6 px apart; keypoint 1's heatmap has a stronger distractor far away
    truth = np.array([[[10.0, 10.0], [16.0, 10.0]]])
    h = heatmaps.heatmap_targets(truth, (32, 32), sigma=1.5) * 0.9 + 1e-3
    h[0, 1] += 0.95 * heatmaps.heatmap_targets(np.array([[[28.0, 28.0]]]), (32, 32), sigma=1.5)[0, 0]
    independent, _ = heatmaps.decode_heatmaps(h, 1)
    assert np.linalg.norm(independent[0, 1] - [28, 28]) < 1  # the argmax jumps
    train = truth + np.random.default_rng(0).normal(scale=1.0, size=(50, 2, 2))
    model = pictorial.fit_pairwise(train, (-1, 0))
    np.testing.assert_allclose(model.offset_mean[1], [6.0, 0.0], atol=0.5)
    fixed = pictorial.pictorial_decode(h, model, stride=1)
    np.testing.assert_allclose(fixed[0], truth[0], atol=0.3)


def test_tree_validation_messages():
    with pytest.raises(ValueError, match="exactly one root"):
        pictorial.tree_order((-1, -1))
    with pytest.raises(ValueError, match="not a tree"):
        pictorial.tree_order((-1, 2, 1))
    with pytest.raises(ValueError, match="weight"):
        pictorial.distance_transform_1d(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="finite"):
        pictorial.tree_map(np.full((2, 3, 3), -np.inf), (-1, 0), np.zeros((2, 2)), np.ones((2, 2)))


@pytest.mark.parametrize("parents", [(-1, 0, 0), (1, -1, 1), (2, 0, -1)])
def test_batched_tree_map_equals_brute_force_frame_by_frame(parents):
    rng = np.random.default_rng(sum(parents) + 11)
    U = rng.normal(size=(4, 3, 4, 5)) * 2
    mu = rng.normal(size=(3, 2))
    w = rng.uniform(0.2, 1.0, size=(3, 2))
    cells, best = pictorial.tree_map_batch(U, parents, mu, w)
    for n in range(4):
        want_cells, want_best = _brute_force_map(U[n], parents, mu, w)
        assert best[n] == pytest.approx(want_best)
        np.testing.assert_array_equal(cells[n], want_cells)


def test_tempered_unaries_are_log_sigmoid_of_scaled_logits():
    h = np.array([0.01, 0.2, 0.5, 0.9])
    z = np.log(h / (1 - h))
    np.testing.assert_allclose(pictorial.tempered_unaries(h, 2.0), np.log(1 / (1 + np.exp(-z / 2))), rtol=1e-12)
    np.testing.assert_allclose(pictorial.tempered_unaries(h, 1.0), np.log(h))
    with pytest.raises(ValueError, match="temperature"):
        pictorial.tempered_unaries(h, 0.0)


def test_pictorial_decode_with_very_weak_springs_is_the_argmax():
    rng = np.random.default_rng(3)
    h = rng.uniform(0.01, 0.99, size=(2, 3, 6, 7))
    model = pictorial.PairwiseModel((-1, 0, 1), np.zeros((3, 2)), np.ones((3, 2)))
    tree = pictorial.pictorial_decode(h, model, stride=2, strength=1e-9, refine="none")
    argmax, _ = heatmaps.decode_heatmaps(h, 2, refine="none")
    np.testing.assert_allclose(tree, argmax)


def _brute_force_scorecard(pred, truth, vis, mirror, gross):
    sq, gross_n, swaps = [], 0, 0
    for n in range(pred.shape[0]):
        for k in range(pred.shape[1]):
            if vis[n, k]:
                d = np.hypot(*(pred[n, k] - truth[n, k]))
                sq.append(d * d)
                gross_n += d > gross
            m = mirror[k]
            if k < m and vis[n, k] and vis[n, m]:
                d = lambda a, b: np.hypot(*(pred[n, a] - truth[n, b]))  # noqa: E731
                swaps += d(k, m) < d(k, k) and d(m, k) < d(m, m)
    return np.sqrt(np.mean(sq)), gross_n, swaps


def test_decoder_scorecard_matches_a_loop_over_frames_and_keypoints():
    rng = np.random.default_rng(4)
    truth = rng.uniform(0, 50, (20, 5, 2))
    pred = truth + rng.normal(scale=6.0, size=truth.shape)
    pred[3, [1, 2]] = truth[3, [2, 1]]  # an exact swap of pair (1, 2)
    vis = rng.uniform(size=(20, 5)) > 0.2
    vis[3] = True
    mirror = np.array([0, 2, 1, 4, 3])
    got = pictorial.decoder_errors(pred, truth, vis, mirror, gross_px=8.0)
    rmse, gross, swaps = _brute_force_scorecard(pred, truth, vis, mirror, 8.0)
    assert got["rmse_px"] == pytest.approx(rmse)
    assert (got["gross"], got["swaps"]) == (gross, swaps)
    assert swaps >= 1
    with pytest.raises(ValueError, match="pred, truth, visible"):
        pictorial.decoder_errors(pred[:, :4], truth, vis, mirror)
