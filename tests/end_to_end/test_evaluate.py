"""Part 6 evaluation: every number against a by-hand or independent computation."""

import numpy as np
import pytest

from lecturekit import metrics
from lecturekit.end_to_end import (
    format_keypoint_error_table,
    format_stage_table,
    goal_lines,
    goal_ratios,
    keypoint_error_table,
    lag1_error_correlation,
    left_right_swaps,
    stage_table,
)


def test_keypoint_error_table_by_hand():
    truth = np.zeros((2, 2, 2, 2))                               # C=2, T=2, K=2
    offsets = np.array([[[3.0, 1.0], [0.5, 4.0]], [[1.0, 1.0], [2.0, 2.0]]])   # error lengths (C, T, K) px
    points = truth.copy()
    points[..., 0] = offsets
    visible = np.array([[[True, True], [True, False]], [[True, True], [True, True]]])
    tab = keypoint_error_table(points, truth, visible, threshold_px=1.5)
    np.testing.assert_allclose(tab["rmse_visible"], [np.sqrt((9 + 1 + 0.25) / 3), np.sqrt((1 + 1 + 4 + 4) / 4)])
    np.testing.assert_allclose(tab["rmse_occluded"][0], 4.0)
    assert np.isnan(tab["rmse_occluded"][1]) and np.isnan(tab["pck_occluded"][1])
    np.testing.assert_allclose(tab["pck_visible"], [2 / 3, 2 / 4])
    np.testing.assert_allclose(tab["pck_occluded"][0], 0.0)
    np.testing.assert_array_equal(tab["n_visible"], [3, 4])
    # and the library's metrics agree on camera 0's visible points
    assert np.isclose(tab["rmse_visible"][0], metrics.rmse(points[0], truth[0], visible=visible[0]))
    text = format_keypoint_error_table(tab, ["a", "b"], 1.5)
    assert "1.8 px" in text.splitlines()[1] and "4.0 px" in text.splitlines()[1]   # sqrt(10.25 / 3) = 1.85
    assert len(text.splitlines()) == 3


def test_missing_detection_is_a_pck_miss_and_left_out_of_rmse():
    truth = np.zeros((1, 1, 3, 2))
    points = np.array([[[[1.0, 0.0], [np.nan, np.nan], [0.0, 0.5]]]])
    tab = keypoint_error_table(points, truth, np.ones((1, 1, 3), bool), threshold_px=2.0)
    np.testing.assert_allclose(tab["rmse_visible"], [np.sqrt((1 + 0.25) / 2)])
    np.testing.assert_allclose(tab["pck_visible"], [2 / 3])


def test_left_right_swaps():
    truth = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 5.0]]])     # keypoints 0 and 1 are partners, 2 midline
    mirror = np.array([1, 0, 2])
    points = np.array([[[9.0, 0.5], [10.5, 0.0], [5.0, 5.0]]])     # 0 landed on its partner; 1 fine
    np.testing.assert_array_equal(left_right_swaps(points, truth, mirror), [[True, False, False]])
    halfway = np.array([[[5.0, 0.0], [10.0, 0.0], [40.0, 40.0]]])  # ambiguous: not a swap; midline never is
    np.testing.assert_array_equal(left_right_swaps(halfway, truth, mirror), [[False, False, False]])
    np.testing.assert_array_equal(left_right_swaps(points, truth, mirror, min_error_px=9.5), [[False, False, False]])
    np.testing.assert_array_equal(left_right_swaps(points, truth, mirror, min_error_px=9.0), [[True, False, False]])


def test_lag1_correlation_recovers_an_ar1_coefficient():
    rng = np.random.default_rng(0)
    rho, T = 0.8, 4000
    e = np.zeros((2, T, 3, 2))
    e[:, 0] = rng.normal(size=(2, 3, 2))
    for t in range(1, T):
        e[:, t] = rho * e[:, t - 1] + np.sqrt(1 - rho**2) * rng.normal(size=(2, 3, 2))
    truth = rng.uniform(0, 100, e.shape)
    assert abs(lag1_error_correlation(truth + e, truth) - rho) < 0.03
    assert abs(lag1_error_correlation(truth + rng.normal(size=e.shape), truth)) < 0.03
    with pytest.raises(ValueError, match="points"):
        lag1_error_correlation(truth[:, :2], truth[:, :2])


def test_stage_table_against_direct_metric_calls_and_by_hand():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 20, (7, 5, 3))
    shifted = truth + np.array([3.0, 4.0, 0.0])                     # 5 mm off, exact after Procrustes
    noisy = truth + rng.normal(0, 2, truth.shape)
    noisy[2, 3] = np.nan
    rows = stage_table({"shifted": shifted, "noisy": noisy}, truth)
    assert list(rows) == ["shifted", "noisy"]
    np.testing.assert_allclose(rows["shifted"], (5.0, 0.0), atol=1e-9)
    assert rows["noisy"] == (metrics.mpe(noisy, truth, missing="exclude"),
                             metrics.mpe(noisy, truth, procrustes=True, missing="exclude"))
    by_hand = np.nanmean(np.linalg.norm(noisy - truth, axis=-1))
    assert np.isclose(rows["noisy"][0], by_hand)
    text = format_stage_table({"A": rows, "B": {"noisy": (1.0, 2.0)}})
    assert "5.0 mm" in text and "-" in text.splitlines()[2]


def test_goals():
    assert goal_ratios(10.0, 40.0, 4.0) == (0.25, 2.5)
    lines = goal_lines(10.0, 40.0, 4.0)
    assert lines[0].endswith("PASS") and lines[1].endswith("NOT MET")
    assert goal_lines(10.0, 15.0, 6.0)[0].endswith("NOT MET") and goal_lines(10.0, 15.0, 6.0)[1].endswith("PASS")


@pytest.mark.parametrize("call, match", [
    (lambda: keypoint_error_table(np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 3, 2)), np.ones((1, 2, 3)), 1.0), "visible"),
    (lambda: keypoint_error_table(np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 3, 2)), np.ones((1, 2, 3), bool), 0.0),
     "threshold_px"),
    (lambda: keypoint_error_table(np.zeros((1, 2, 4, 2)), np.zeros((1, 2, 3, 2)), np.ones((1, 2, 3), bool), 1.0),
     "points"),
    (lambda: left_right_swaps(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), [0, 1]), "mirror"),
    (lambda: left_right_swaps(np.zeros((2, 3, 2)), np.zeros((2, 3, 2)), [0, 1, 2], min_error_px=-1), "min_error_px"),
    (lambda: stage_table({"a": np.zeros((2, 3, 3))}, np.zeros((2, 4, 3))), "estimates"),
    (lambda: stage_table({}, np.zeros((2, 4, 3))), "estimates"),
    (lambda: stage_table({"a": np.zeros((2, 4, 3))}, np.zeros((2, 4))), "truth"),
    (lambda: goal_ratios(1.0, 0.0, 1.0), "dlt_cnn"),
    (lambda: format_stage_table({}), "columns"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----- one source, no drift: notebook 06's inline solutions agree with lecturekit --------------

def test_notebook_06_solutions_agree_with_lecturekit():
    from lecturekit.course import release
    from lecturekit.triangulation import bayes3d

    root = release.course_root(__file__)
    namespace = {"np": np, "metrics": metrics}
    prior = release.solution_function(root, "06_end_to_end", "confidence_outlier_prior", namespace)
    table = release.solution_function(root, "06_end_to_end", "stage_table", namespace)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        s = rng.uniform(-0.3, 1.3, (4, 5, 6))
        s[rng.uniform(size=s.shape) < 0.1] = np.nan
        np.testing.assert_allclose(prior(s, 0.15, s.shape), bayes3d.confidence_outlier_prior(s, 0.15, s.shape))
        truth = rng.normal(0, 10, (6, 5, 3))
        est = {"a": truth + rng.normal(0, 1, truth.shape), "b": truth + 2.0}
        est["a"][1, 1] = np.nan
        got, ref = table(est, truth), stage_table(est, truth)
        assert list(got) == list(ref) and all(np.allclose(got[k], ref[k]) for k in ref)
