"""lecturekit.triangulation and lecturekit.triangulation.bayes3d, each checked against an independent oracle:
exact recovery on noise-free data, finite differences, scipy.optimize, Monte Carlo simulation
with known truth, and (optionally) the real sleap-anipose session in ../shared/data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import least_squares, minimize

from lecturekit import formats, geometry, metrics
from lecturekit import triangulation as tri
from lecturekit.triangulation import bayes3d


def ring_rig(C=5, radius=800.0, height=400.0, k1=0.0):
    """C cameras on a ring around the origin (the world origin lies between the cameras)."""
    return [geometry.make_camera([radius * np.cos(2 * np.pi * c / C), radius * np.sin(2 * np.pi * c / C), height],
                                 [0, 0, 50], 850 + 30 * c, k1=k1 * (c % 2), name=f"cam{c}") for c in range(C)]


def random_points(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([-200, -200, 0], [200, 200, 150], tuple(shape) + (3,))


# DLT ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k1", [0.0, -0.08])
def test_dlt_is_exact_on_noise_free_data_for_every_subset_of_cameras(k1):
    cams = ring_rig(k1=k1)
    x = random_points((40,))
    y = geometry.project(cams, x)
    for size in range(2, len(cams) + 1):
        for subset in itertools.combinations(range(len(cams)), size):
            sub = [cams[i] for i in subset]
            for solver in ("svd", "adjugate"):
                est = tri.triangulate_dlt(sub, y[list(subset)], solver=solver)
                assert np.abs(est - x).max() < 1e-9, (subset, solver)


def test_dlt_keeps_leading_shape_and_handles_nan():
    cams = ring_rig()
    x = random_points((6, 4))
    y = geometry.project(cams, x)  # (C, 6, 4, 2)
    assert tri.triangulate_dlt(cams, y).shape == (6, 4, 3)
    y = y.copy()
    y[0, 0, 0] = np.nan  # camera 0 misses point (0, 0): ignored, still exact
    y[1:, 1, 1] = np.nan  # only camera 0 sees (1, 1): NaN
    y[2:, 2, 2] = np.nan  # exactly two cameras see (2, 2): exact
    y[1, 3, 3, 0] = np.nan  # one NaN coordinate removes the whole observation
    est = tri.triangulate_dlt(cams, y)
    assert np.isnan(est[1, 1]).all()
    ok = np.isfinite(est).all(axis=-1)
    assert ok.sum() == 6 * 4 - 1
    assert np.abs(est[ok] - x[ok]).max() < 1e-9


def test_adjugate_solver_agrees_with_batched_svd_on_noisy_data_with_outliers():
    rng = np.random.default_rng(2)
    cams = ring_rig(C=6)
    x = random_points((3000,), seed=1)
    y = geometry.project(cams, x) + rng.normal(0, 2, (6, 3000, 2))
    bad = rng.random((6, 3000)) < 0.2
    y[bad] = rng.uniform(0, 640, (bad.sum(), 2))
    y[rng.random((6, 3000)) < 0.2] = np.nan
    a = tri.triangulate_dlt(cams, y, solver="svd")
    b = tri.triangulate_dlt(cams, y, solver="adjugate")
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) < 1e-6


def test_unnormalised_dlt_fails_in_mm_with_the_origin_between_the_cameras():
    rng = np.random.default_rng(3)
    cams = ring_rig(C=6)
    x = random_points((2000,), seed=4)
    y = geometry.project(cams, x) + rng.normal(0, 2, (6, 2000, 2))
    clean_norm = metrics.mpe(tri.triangulate_dlt(cams, y), x)
    clean_raw = metrics.mpe(tri.triangulate_dlt(cams, y, normalize=False), x)
    assert clean_raw == pytest.approx(clean_norm, rel=0.05)  # same answer on Gaussian noise ...
    bad = rng.random((6, 2000)) < 0.1
    y[bad] = rng.uniform(0, 640, (bad.sum(), 2))
    normed = tri.triangulate_dlt(cams, y)
    raw = tri.triangulate_dlt(cams, y, normalize=False)
    err_norm = np.median(np.linalg.norm(normed - x, axis=-1))
    # a solution behind a camera that saw it is refused (NaN, cheirality): count it as lost
    lost_raw = np.nan_to_num(np.linalg.norm(raw - x, axis=-1), nan=np.inf)
    lost_norm = np.nan_to_num(np.linalg.norm(normed - x, axis=-1), nan=np.inf)
    err_raw_p99, err_norm_p99 = (np.percentile(e, 99, method="higher") for e in (lost_raw, lost_norm))
    print(f"median error normalised {err_norm:.1f} mm; 99th percentile normalised {err_norm_p99:.0f} mm, "
          f"unnormalised {err_raw_p99:.0f} mm; off by > 400 mm or refused: normalised "
          f"{np.mean(lost_norm > 400):.3f}, unnormalised {np.mean(lost_raw > 400):.3f}")
    assert err_raw_p99 > 5 * err_norm_p99  # ... but with outliers it runs off towards infinity
    assert np.mean(lost_raw > 400) > 5 * np.mean(lost_norm > 400)


def test_reprojection_error_and_projection_jacobian_against_finite_differences():
    cams = ring_rig(C=3)
    x = random_points((5,))
    y = geometry.project(cams, x)
    assert np.abs(tri.reprojection_error(cams, x, y)).max() < 1e-9
    shifted = y + np.array([3.0, 4.0])
    np.testing.assert_allclose(tri.reprojection_error(cams, x, shifted), 5.0, atol=1e-9)
    J = tri.projection_jacobian(cams, x)  # (C, N, 2, 3)
    h = 1e-4
    for d in range(3):
        e = np.zeros(3)
        e[d] = h
        fd = (geometry.project(cams, x + e) - geometry.project(cams, x - e)) / (2 * h)
        np.testing.assert_allclose(J[..., d], fd, rtol=1e-6, atol=1e-7)


def test_gauss_newton_matches_scipy_least_squares():
    rng = np.random.default_rng(5)
    cams = ring_rig(C=4, k1=-0.05)
    x = random_points((20,), seed=6)
    y = geometry.project(cams, x) + rng.normal(0, 3, (4, 20, 2))
    y[0, :5] = np.nan
    est = tri.refine_gauss_newton(cams, y, tri.triangulate_dlt(cams, y))
    yu = tri.undistort(cams, y)
    ideal = [geometry.Camera(c.K, c.R, c.t) for c in cams]
    for n in range(20):
        ok = np.isfinite(yu[:, n, 0])

        def residual(p, n=n, ok=ok):
            return (np.stack([c.project(p) for c in ideal])[ok] - yu[ok, n]).ravel()

        ref = least_squares(residual, x[n] + 5.0, xtol=1e-12, ftol=1e-12, gtol=1e-12).x
        np.testing.assert_allclose(est[n], ref, atol=1e-6)


def test_cramer_rao_bound_matches_monte_carlo_and_dlt_is_near_it():
    rng = np.random.default_rng(7)
    cams = ring_rig(C=4)
    point = np.array([30.0, -40.0, 60.0])
    sigma = 2.0
    n = 4000
    y = geometry.project(cams, np.repeat(point[None], n, 0)) + rng.normal(0, sigma, (4, n, 2))
    gn = tri.refine_gauss_newton(cams, y, tri.triangulate_dlt(cams, y))
    bound = tri.cramer_rao_bound(cams, point, sigma)
    empirical = np.cov((gn - point).T)
    # maximum likelihood attains the bound at this noise level (within Monte Carlo error)
    np.testing.assert_allclose(np.trace(empirical), np.trace(bound), rtol=0.1)
    dlt = tri.triangulate_dlt(cams, y)
    mse_dlt = np.mean(np.sum((dlt - point) ** 2, axis=1))
    assert np.trace(bound) * 0.9 < mse_dlt < np.trace(bound) * 1.2
    # more cameras, tighter bound
    assert np.trace(tri.cramer_rao_bound(ring_rig(C=6), point, sigma)) < np.trace(bound)


def test_median_and_ransac_survive_an_outlier_camera():
    rng = np.random.default_rng(8)
    cams = ring_rig(C=5)
    x = random_points((300,), seed=9)
    y = geometry.project(cams, x) + rng.normal(0, 1, (5, 300, 2))
    outlier = np.zeros((5, 300), bool)
    outlier[rng.integers(0, 5, 300), np.arange(300)] = True  # one bad camera per point
    y[outlier] += rng.uniform(60, 150, (300, 2)) * rng.choice([-1, 1], (300, 2))
    dlt = metrics.mpe(tri.triangulate_dlt(cams, y), x)
    med = metrics.mpe(tri.triangulate_median(cams, y), x)
    ransac, inliers = tri.triangulate_ransac(cams, y, threshold=8.0, return_inliers=True)
    print(f"MPE: DLT {dlt:.1f} mm, median {med:.1f} mm, RANSAC {metrics.mpe(ransac, x):.2f} mm")
    assert med < dlt and metrics.mpe(ransac, x) < 2.0 < dlt
    np.testing.assert_array_equal(inliers, ~outlier)
    robust = tri.refine_gauss_newton(cams, y, tri.triangulate_dlt(cams, y), loss="cauchy", scale=5.0, iterations=30)
    assert metrics.mpe(robust, x) < 0.5 * dlt


def test_triangulation_inputs_are_validated():
    cams = ring_rig(C=3)
    with pytest.raises(ValueError, match=r"points2d: expected shape \(C, \.\.\., 2\) with C = 3"):
        tri.triangulate_dlt(cams, np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="points2d: contains infinity"):
        tri.triangulate_dlt(cams, np.full((3, 5, 2), np.inf))
    with pytest.raises(TypeError, match="cameras"):
        tri.triangulate_dlt([np.eye(3)] * 3, np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="solver"):
        tri.triangulate_dlt(cams, np.zeros((3, 5, 2)), solver="qr")
    with pytest.raises(ValueError, match="loss"):
        tri.refine_gauss_newton(cams, np.zeros((3, 5, 2)), np.zeros((5, 3)), loss="tukey")
    with pytest.raises(ValueError, match="points3d"):
        tri.reprojection_error(cams, np.zeros((4, 3)), np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="sigma"):
        tri.cramer_rao_bound(cams, np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="threshold"):
        tri.triangulate_ransac(cams, np.zeros((3, 5, 2)), threshold=-1)


# bad geometry is refused, with one message naming the argument -------------------------------------
def test_dlt_needs_two_cameras():
    cams = ring_rig(C=3)
    y = geometry.project(cams, random_points((5,)))
    with pytest.raises(ValueError, match="cameras: expected at least two cameras to triangulate, got 1"):
        tri.triangulate_dlt(cams[:1], y[:1])


def test_coincident_camera_centres_are_refused():
    cam = ring_rig(C=3)[0]
    twin = geometry.make_camera(cam.center + [0.1, 0.0, 0.0], [30.0, 0.0, 50.0], 900.0, name="twin")  # 0.1 mm away
    x = random_points((20,))
    y = geometry.project([cam, twin], x)
    with pytest.raises(ValueError, match=r"cameras: the camera centres coincide \(baseline 0.1 < 0.001 x the scene"):
        tri.triangulate_dlt([cam, twin], y)
    # a baseline of 10% of the scene distance is fine (and exact on noise-free data)
    far = geometry.make_camera(cam.center + [0.0, 80.0, 0.0], [0.0, 0.0, 50.0], 900.0, name="far")
    np.testing.assert_allclose(tri.triangulate_dlt([cam, far], geometry.project([cam, far], x)), x, atol=1e-6)


def test_solutions_behind_a_camera_are_rejected_and_never_inliers():
    """Cheirality: three cameras looking at the origin; c1_away sits where c1 is but looks away,
    and is given the image that the point would have if a camera could see behind itself."""
    c0 = geometry.make_camera([-800, 0, 0], [0, 0, 0], 800.0, name="c0")
    c1 = geometry.make_camera([0, -800, 0], [0, 0, 0], 800.0, name="c1")
    c2 = geometry.make_camera([0, 0, 800], [0, 0, 0], 800.0, name="c2", up=(0, 1, 0))
    x = np.array([[30.0, -20.0, 10.0]])
    y = geometry.project([c0, c1, c2], x)
    assert np.isfinite(y).all()
    c1_away = geometry.make_camera([0, -800, 0], [0, -1600, 0], 800.0, name="c1_away")
    assert np.isnan(c1_away.project(x)).all()  # the point is behind c1_away
    y_away = y.copy()
    y_away[1] = c1_away.K[:2, 2] + (y[1] - c1.K[:2, 2]) * [-1, 1]  # the image a point behind would give
    # the lines through the two observations meet at x, which is behind c1_away: refused
    assert np.isnan(tri.triangulate_dlt([c0, c1_away], y_away[:2])).all()
    np.testing.assert_allclose(tri.triangulate_dlt([c0, c1], y[:2]), x, atol=1e-6)
    # RANSAC: a pair whose solution lies behind one of its cameras never wins, and a camera
    # behind which the point lies is never an inlier
    est, inliers = tri.triangulate_ransac([c0, c1_away, c2], y_away[[0, 1, 2]], return_inliers=True)
    np.testing.assert_allclose(est, x, atol=1e-6)
    assert inliers[:, 0].tolist() == [True, False, True]


# Model 0 and Model 1 --------------------------------------------------------------------------------
def _trajectories(T=60, K=3, C=4, seed=10, sigma=2.0, outlier_rate=0.0, missing_rate=0.0):
    rng = np.random.default_rng(seed)
    cams = ring_rig(C=C, k1=-0.03)
    x = np.cumsum(rng.normal(0, 4, (T, K, 3)), axis=0) + rng.uniform(-80, 80, (1, K, 3)) + [0, 0, 80]
    y = geometry.project(cams, x) + rng.normal(0, sigma, (C, T, K, 2))
    outlier = rng.random((C, T, K)) < outlier_rate
    y[outlier] = rng.uniform([0, 0], [640, 480], (outlier.sum(), 2))
    missing = rng.random((C, T, K)) < missing_rate
    y[missing] = np.nan
    return cams, x, y, outlier & ~missing


def test_model0_map_is_a_stationary_point_and_matches_scipy():
    cams, x, y, _ = _trajectories(T=8, K=1, C=3, missing_rate=0.2)
    params = bayes3d.Model0Params(eta=4.0, omega=2.0)
    fit = bayes3d.fit_model0(cams, y, params, iterations=50)

    def objective(flat):
        return bayes3d.model0_objective(cams, y, flat.reshape(fit.shape), params)

    ref = minimize(objective, fit.ravel() + 3.0, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000}).x
    np.testing.assert_allclose(fit.ravel(), ref, atol=1e-3)
    assert objective(fit.ravel()) <= objective(ref) + 1e-9
    h = 1e-5
    grad = [(objective(fit.ravel() + h * e) - objective(fit.ravel() - h * e)) / (2 * h) for e in np.eye(fit.size)]
    assert np.max(np.abs(grad)) < 1e-3


def test_model0_prior_smooths_and_bridges_gaps():
    cams, x, y, _ = _trajectories(T=80, K=2, sigma=6.0, missing_rate=0.3)
    y[:, 30:40] = np.nan  # no camera sees frames 30-39
    dlt = tri.triangulate_dlt(cams, y)
    assert np.isnan(dlt[30:40]).all()
    smooth = bayes3d.fit_model0(cams, y, bayes3d.Model0Params(eta=4.0, omega=6.0))
    assert np.isfinite(smooth).all()
    seen = np.isfinite(dlt).all(axis=-1)
    assert metrics.mpe(smooth[seen], x[seen]) < metrics.mpe(dlt[seen], x[seen])
    # a tiny eta forces a nearly constant trajectory; a huge one reproduces per-frame triangulation
    stiff = bayes3d.fit_model0(cams, y, bayes3d.Model0Params(eta=0.01, omega=6.0))
    assert np.abs(np.diff(stiff, axis=0)).max() < 1.0
    loose = bayes3d.fit_model0(cams, y, bayes3d.Model0Params(eta=1e4, omega=6.0))
    ml = tri.refine_gauss_newton(cams, y, dlt)
    assert np.nanmax(np.abs(loose[seen] - ml[seen])) < 0.05


def test_model1_finds_the_known_outliers():
    cams, x, y, outlier = _trajectories(T=150, K=4, C=5, outlier_rate=0.2, missing_rate=0.1)
    fit = bayes3d.fit_model1(cams, y, bayes3d.Model1Params(eta=4.0, omega=2.0, beta=0.1))
    observed = np.isfinite(y[..., 0])
    assert np.isnan(fit.outlier_prob[~observed]).all()
    flagged = (fit.outlier_prob > 0.5) & observed
    precision = (flagged & outlier).sum() / flagged.sum()
    recall = (flagged & outlier).sum() / outlier.sum()
    print(f"Model 1 outlier detection: precision {precision:.3f}, recall {recall:.3f}, beta {fit.params.beta:.3f}")
    assert precision > 0.97 and recall > 0.95
    assert fit.params.beta == pytest.approx(outlier.sum() / observed.sum(), abs=0.03)
    assert np.all(np.diff(fit.objective) <= 1e-6 * np.abs(fit.objective[:-1]))  # EM never goes uphill
    m0 = bayes3d.fit_model0(cams, y, bayes3d.Model0Params(eta=4.0, omega=2.0))
    assert metrics.mpe(fit.positions, x) < 3.0 < metrics.mpe(m0, x)


def test_outlier_posterior_is_bayes_rule():
    cams = ring_rig(C=2)
    x = np.array([[[0.0, 0.0, 50.0]]])
    y = geometry.project(cams, x).copy()
    y[0, 0, 0] += [3.0, 4.0]  # 5 px off
    y[1, 0, 0] += [60.0, 80.0]  # 100 px off
    params = bayes3d.Model1Params(eta=1.0, omega=2.0, beta=0.2, omega_out=150.0)
    r = bayes3d.outlier_posterior(cams, y, x, params)
    for c, e in ((0, 5.0), (1, 100.0)):
        lin = 0.8 * np.exp(-e**2 / 8) / (2 * np.pi * 4)
        lout = 0.2 * np.exp(-e**2 / (2 * 150.0**2)) / (2 * np.pi * 150.0**2)
        assert r[c, 0, 0] == pytest.approx(lout / (lin + lout), rel=1e-9)


def test_model_parameters_are_validated():
    with pytest.raises(ValueError, match="eta"):
        bayes3d.Model0Params(eta=0.0)
    with pytest.raises(ValueError, match="beta"):
        bayes3d.Model1Params(beta=1.5)
    with pytest.raises(ValueError, match="omega_out"):
        bayes3d.Model1Params(omega=5.0, omega_out=1.0)
    with pytest.raises(ValueError, match=r"points2d: expected shape \(C, T, K, 2\)"):
        bayes3d.fit_model0(ring_rig(C=2), np.zeros((2, 5, 2)))
    with pytest.raises(TypeError, match="params"):
        bayes3d.fit_model1(ring_rig(C=2), np.zeros((2, 5, 1, 2)), bayes3d.Model0Params())


# real data (optional) --------------------------------------------------------------------------------
def test_dlt_agrees_with_sleap_anipose_points3d(shared_data):
    """The sleap-anipose minimal session: 4 cameras, 120 frames, 15 nodes.

    Its ``points3d.h5`` is aniposelib's ``triangulate_optim`` output (soft-L1 reprojection loss,
    temporal smoothing), not a DLT, and the calibration of camera ``side`` is a copy of ``top``'s
    (see ../shared/data/README), so ``side``'s tracks do not fit its calibration (the reference
    itself reprojects ~90 px off there). Our DLT from the three consistent cameras agrees with the
    reference to a median of about 3.5 mm and at most about 22 mm (the robust smoother differs
    from a per-frame DLT by a few pixels, ~ 1 px = 0.6 mm at this depth); RANSAC over all four
    cameras rejects ``side`` by itself and agrees as well.
    """
    h5py = pytest.importorskip("h5py")
    session = shared_data / "sleap-anipose-minimal"
    if not session.is_dir():
        pytest.skip(f"{session} not found")
    with pytest.warns(UserWarning, match="cameras 'side' and 'top' have identical calibrations"):
        cams = formats.read_anipose_toml(session / "calibration.toml")
    assert [c.name for c in cams] == ["back", "mid", "side", "top"]
    tracks = []
    for cam in cams:
        (path,) = (session / cam.name).glob("*.analysis.h5")
        with h5py.File(path, "r") as f:
            tracks.append(np.array(f["tracks"])[0].transpose(2, 1, 0))  # (frames, nodes, 2)
    y = np.stack(tracks)
    with h5py.File(session / "points3d.h5", "r") as f:
        ref = np.array(f["tracks"])[:, 0]  # (frames, nodes, 3)
    good = [0, 1, 3]
    ours = tri.triangulate_dlt([cams[i] for i in good], y[good])
    dist = np.linalg.norm(ours - ref, axis=-1)
    print(f"DLT (back, mid, top) vs points3d.h5: median {np.median(dist):.2f}, "
          f"90th percentile {np.percentile(dist, 90):.1f}, max {dist.max():.1f} (calibration units)")
    assert np.median(dist) < 5.0 and dist.max() < 25.0
    ransac = tri.triangulate_ransac(cams, y, threshold=15.0)
    assert np.nanmedian(np.linalg.norm(ransac - ref, axis=-1)) < 5.0
    # optimality oracle: Gauss-Newton from our DLT reprojects no worse than the reference in those cameras
    gn = tri.refine_gauss_newton([cams[i] for i in good], y[good], ours)
    ours_sq = np.nansum(tri.reprojection_error([cams[i] for i in good], gn, y[good]) ** 2)
    ref_sq = np.nansum(tri.reprojection_error([cams[i] for i in good], ref, y[good]) ** 2)
    assert ours_sq <= ref_sq


# widget callbacks (pure figure functions, no browser) ------------------------------------------------
def test_widget_figures_draw_and_show_the_right_quantities():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecturekit.triangulation import figures as tw

    cams = ring_rig(C=3)
    pose = random_points((5,), seed=11) * 0.3 + [0, 0, 60]
    edges = [(1, 0), (2, 1), (3, 1), (4, 3)]
    names = ["nose", "head", "neck", "hips", "tail_base"]

    def size_in_cam0(fig):
        title = fig.axes[1].get_title()
        return float(title.split("size ")[1].split(" px")[0])

    near = tw.draw_projection(cams, pose, edges, names, camera_distance=1.0)
    far = tw.draw_projection(cams, pose, edges, names, camera_distance=2.0)
    assert isinstance(near, plt.Figure)
    # twice as far: about half the size in pixels (the depth w doubles, up to the animal's own depth)
    assert size_in_cam0(far) == pytest.approx(size_in_cam0(near) / 2, rel=0.15)
    plt.close("all")

    _, x, y, outlier = _trajectories(T=30, K=2, C=4, outlier_rate=0.2)
    cams4 = ring_rig(C=4, k1=-0.03)
    fig = tw.draw_random_walk_prior(cams4, y, x, log10_eta=0.5, omega=2.0, keypoint=1)
    assert len(fig.axes[0].lines) == 3 and "MPE" in fig.axes[1].get_legend().get_texts()[1].get_text()
    fit = bayes3d.fit_model1(cams4, y, bayes3d.Model1Params(eta=4.0, omega=2.0), iterations=3)
    fig = tw.draw_outlier_probabilities(y, fit.outlier_prob, geometry.project(cams4, fit.positions), [(1, 0)],
                                        frame=3, camera=2, is_outlier=outlier)
    colours = fig.axes[0].collections[0].get_array()
    # the scatter's colours are the outlier probabilities of that camera and frame
    np.testing.assert_allclose(np.asarray(colours), fit.outlier_prob[2, 3], equal_nan=True)
    with pytest.raises(ValueError, match="frame, camera"):
        tw.draw_outlier_probabilities(y, fit.outlier_prob, y, [(1, 0)], frame=99, camera=0)
    fig = tw.draw_error_vs_cameras([2, 3], [2.0, 1.5], [1.9, 1.4], sigma=2.0)
    assert len(fig.axes[0].lines) == 2
    fig = tw.draw_method_errors(names[:2], {"DLT": [1.0, 2.0], "Model 1": [0.5, 0.7]})
    assert len(fig.axes[0].patches) == 4
    plt.close("all")
