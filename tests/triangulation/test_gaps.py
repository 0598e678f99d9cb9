"""lecturekit.triangulation.gaps: the one gap filling and initialisation, against np.interp by
hand and against the triangulation it wraps."""

from __future__ import annotations

import numpy as np
import pytest

from lecturekit import geometry
from lecturekit import triangulation as tri


def test_interpolate_missing_is_linear_in_time_and_holds_the_edges():
    rng = np.random.default_rng(0)
    truth = np.cumsum(rng.normal(size=(12, 3, 3)), axis=0)
    x = truth.copy()
    x[[0, 1, 5, 6, 11], 0] = np.nan      # keypoint 0: both edges and an inner gap
    x[4, 1, 2] = np.nan                  # one NaN coordinate makes the row missing
    out = tri.interpolate_missing(x)
    assert np.isfinite(out).all() and out.shape == x.shape
    np.testing.assert_array_equal(out[[2, 3, 4, 7, 8, 9, 10], 0], truth[[2, 3, 4, 7, 8, 9, 10], 0])
    np.testing.assert_allclose(out[0, 0], truth[2, 0])                 # held constant before the first
    np.testing.assert_allclose(out[11, 0], truth[10, 0])               # and after the last
    np.testing.assert_allclose(out[5, 0], truth[4, 0] + (truth[7, 0] - truth[4, 0]) / 3)
    np.testing.assert_allclose(out[4, 1], (truth[3, 1] + truth[5, 1]) / 2)
    np.testing.assert_array_equal(out[:, 2], truth[:, 2])


def test_a_keypoint_never_seen_takes_the_mean_of_the_others_in_each_frame():
    x = np.arange(4 * 3 * 3, dtype=float).reshape(4, 3, 3)
    x[:, 1] = np.nan
    out = tri.interpolate_missing(x)
    np.testing.assert_allclose(out[:, 1], (x[:, 0] + x[:, 2]) / 2)
    np.testing.assert_array_equal(tri.interpolate_missing(np.full((3, 2, 3), np.nan)), 0.0)
    with pytest.raises(ValueError, match=r"positions: expected shape \(T, K, 3\)"):
        tri.interpolate_missing(np.zeros((3, 3)))


@pytest.mark.parametrize("method", ["ransac", "median", "dlt"])
def test_initial_positions_is_the_triangulation_with_its_gaps_filled(method):
    cams = [geometry.make_camera([600 * np.cos(a), 600 * np.sin(a), 300], [0, 0, 0], 700.0, k1=-0.05 * (i % 2),
                                 name=f"c{i}") for i, a in enumerate(np.linspace(0, 2 * np.pi, 4, endpoint=False))]
    X = np.random.default_rng(1).uniform(-100, 100, (10, 3, 3))
    y = geometry.project(cams, X)
    y[1:, 4, 2] = np.nan                  # seen by one camera only in frame 4
    raw = tri.initial_positions(cams, y, method, fill=False)
    assert np.isnan(raw[4, 2]).all() and np.isfinite(np.delete(raw.reshape(30, 3), 14, axis=0)).all()
    np.testing.assert_allclose(np.delete(raw.reshape(30, 3), 14, axis=0), np.delete(X.reshape(30, 3), 14, axis=0),
                               atol=1e-6)
    filled = tri.initial_positions(cams, y, method)
    np.testing.assert_allclose(filled, tri.interpolate_missing(raw))
    with pytest.raises(ValueError, match="method: expected 'ransac', 'median' or 'dlt'"):
        tri.initial_positions(cams, y, "magic")
    with pytest.raises(ValueError, match=r"points2d: expected shape \(C, T, K, 2\)"):
        tri.initial_positions(cams, y[:, 0])
