"""Models 0/1 assume no unit: the random-walk step comes from the data (estimate_step), the same
scene in millimetres and in metres gives the same errors (x1000); bad input (all missing,
frames and keypoints swapped) is refused with one message; detector confidences move the
per-observation outlier prior as documented. Oracles: a simulation with known truth and step,
the same scene rescaled, Bayes' rule written out with scipy's normal density."""

import numpy as np
import pytest
from scipy import stats

from lecturekit import geometry
from lecturekit.metrics import mpe
from lecturekit.triangulation import bayes3d, initial_positions

PARENTS = np.array([1, -1, 1, 2, 1])


def scene(unit=1.0, T=40, K=5, seed=0, outliers=0.1, missing=0.1, step_mm=3.0):
    """A random walk of K points seen by 4 cameras with k1; lengths in mm * unit; pixels identical."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([-100, -100, 20], [100, 100, 120], (K, 3))
    truth = (start + np.cumsum(rng.normal(0.0, step_mm, (T, K, 3)), axis=0)) * unit
    cams = [geometry.make_camera(np.array([900 * np.cos(a), 900 * np.sin(a), 500.0]) * unit,
                                 np.array([0.0, 0.0, 60.0]) * unit, 1000.0, (1280, 1024), k1=k1, name=f"c{i}")
            for i, (a, k1) in enumerate(zip(np.radians([0, 70, 140, 250]), (-0.1, 0.05, 0.0, -0.05)))]
    y = geometry.project(cams, truth) + rng.normal(0.0, 2.0, (4, T, K, 2))
    bad = rng.random((4, T, K)) < outliers
    y[bad] += rng.normal(0.0, 120.0, (int(bad.sum()), 2))
    y[rng.random((4, T, K)) < missing] = np.nan
    return cams, y, truth


@pytest.mark.parametrize("fit", ["model0", "model1"])
def test_same_scene_in_mm_and_metres_gives_the_same_error(fit):
    errors, etas = [], []
    for unit in (1.0, 1e-3):
        cams, y, truth = scene(unit)
        if fit == "model0":
            x = bayes3d.fit_model0(cams, y)
        else:
            result = bayes3d.fit_model1(cams, y)
            x = result.positions
            etas.append(result.params.eta)
        errors.append(mpe(x, truth) / unit)
    assert abs(errors[1] - errors[0]) <= 0.05 * errors[0], errors
    if etas:
        np.testing.assert_allclose(etas[1], 1e-3 * etas[0], rtol=1e-6)


def test_default_model1_is_accurate_in_metres():
    cams, y, truth = scene(1e-3)
    m1 = mpe(bayes3d.fit_model1(cams, y).positions, truth) * 1000
    dlt = mpe(initial_positions(cams, y, "dlt", fill=False), truth, missing="exclude") * 1000
    assert m1 < 3.0 and m1 < 0.2 * dlt, (m1, dlt)
    # the old fixed default (10 mm/frame) read as 10 m/frame: a prior too loose to smooth anything
    loose = mpe(bayes3d.fit_model1(cams, y, bayes3d.Model1Params(eta=10.0)).positions, truth) * 1000
    assert m1 < loose


def test_estimate_step_recovers_a_known_random_walk_step():
    rng = np.random.default_rng(1)
    for step in (0.004, 3.0, 250.0):
        x = np.cumsum(rng.normal(0.0, step, (400, 6, 3)), axis=0)
        x[rng.random((400, 6)) < 0.1] = np.nan
        x[rng.random((400, 6)) < 0.02] += 100 * step                   # gross triangulation errors
        assert bayes3d.estimate_step(x) == pytest.approx(step, rel=0.1)
    assert bayes3d.estimate_step(np.ones((1, 3, 3))) > 0                # one frame: a positive fallback


def test_explicit_eta_is_used_as_given():
    cams, y, _ = scene()
    assert bayes3d.fit_model1(cams, y, bayes3d.Model1Params(eta=4.0)).params.eta == 4.0
    with pytest.raises(ValueError, match="eta: expected a positive length"):
        bayes3d.Model1Params(eta=-1.0)


def test_all_missing_observations_are_refused():
    cams, y, _ = scene(T=5)
    with pytest.raises(ValueError, match=r"points2d: every observation is missing \(NaN\)"):
        bayes3d.fit_model1(cams, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match=r"points2d: every observation is missing \(NaN\)"):
        bayes3d.fit_model0(cams, np.full_like(y, np.nan))


def test_swapped_frames_and_keypoints_are_refused():
    cams, y, _ = scene(T=30, K=5)
    swapped = y.transpose(0, 2, 1, 3)                                   # (C, K, T, 2)
    with pytest.raises(ValueError, match=r"points2d: expected shape \(C, T, K = 5, 2\), got \(4, 5, 30, 2\); "
                                         r"frames and keypoints look swapped"):
        bayes3d.fit_model1(cams, swapped, parents=PARENTS)
    with pytest.raises(ValueError, match=r"frames and keypoints look swapped"):
        bayes3d.fit_model1(cams, swapped, n_frames=30)
    with pytest.raises(ValueError, match=r"expected shape \(C, T = 31, K, 2\), got \(4, 30, 5, 2\)$"):
        bayes3d.fit_model0(cams, y, n_frames=31)
    bayes3d.fit_model1(cams, y, parents=PARENTS, n_frames=30, iterations=1)  # the right way round passes


def test_confidence_prior_map_and_its_effect_against_bayes_rule():
    prior = bayes3d.confidence_outlier_prior(np.array([[[0.0, 0.5, 1.0, np.nan, 1.7]]]), 0.1, (1, 1, 5))
    np.testing.assert_allclose(prior[0, 0], [0.2, 0.1, 1e-3, 0.1, 1e-3])
    with pytest.raises(ValueError, match=r"confidences: expected shape \(4, 40, 5\)"):
        cams, y, _ = scene()
        bayes3d.fit_model1(cams, y, confidences=np.ones((4, 5, 40)))
    cams, y, truth = scene(outliers=0.0, missing=0.0)
    y = y.copy()
    y[2, 10, 2] += [9.0, 0.0]                        # camera 2 (k1 = 0): a detection 9 px off, ambiguous
    conf = np.full(y.shape[:3], 0.5)
    for c, expected_order in ((0.02, 1), (0.98, -1)):
        conf[2, 10, 2] = c
        fit = bayes3d.fit_model1(cams, y, confidences=conf)
        p = fit.params
        beta = bayes3d.confidence_outlier_prior(conf, p.beta, conf.shape)[2, 10, 2]
        e = y[2, 10, 2] - geometry.as_rig(cams).project(fit.positions)[2, 10, 2]
        lik_out = stats.multivariate_normal(np.zeros(2), p.omega_out**2).pdf(e)
        lik_in = stats.multivariate_normal(np.zeros(2), p.omega**2).pdf(e)
        bayes = beta * lik_out / (beta * lik_out + (1 - beta) * lik_in)
        assert fit.outlier_prob[2, 10, 2] == pytest.approx(bayes, rel=1e-6)
        if expected_order == 1:
            low_conf = fit.outlier_prob[2, 10, 2]
        else:
            assert fit.outlier_prob[2, 10, 2] < low_conf
