"""Model 2: the two distance-prior formulations, their densities and simulations."""

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from lecturekit.gimbal import spatial_priors as sp


@pytest.mark.parametrize("rho,sigma", [(30.0, 2.0), (10.0, 6.0), (4.0, 10.0)])
def test_bone_length_densities_integrate_to_one_and_give_the_means(rho, sigma):
    for pdf in (sp.bone_length_pdf_distance, sp.bone_length_pdf_uniform_direction):
        assert abs(quad(lambda r: pdf(r, rho, sigma), 0, rho + 20 * sigma)[0] - 1) < 1e-7
    mean_a, mean_b = sp.bone_length_means(rho, sigma)
    assert abs(quad(lambda r: r * sp.bone_length_pdf_distance(r, rho, sigma), 0, rho + 20 * sigma)[0] - mean_a) < 1e-6
    assert abs(quad(lambda r: r * sp.bone_length_pdf_uniform_direction(r, rho, sigma), 0, rho + 20 * sigma)[0]
               - mean_b) < 1e-6


def test_sinh_marginal_matches_monte_carlo_over_the_sphere():
    rng = np.random.default_rng(0)
    rho, sigma = 12.0, 5.0
    u = rng.standard_normal((200000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    for d in ([3.0, -4.0, 10.0], [0.0, 0.0, 0.0], [20.0, 1.0, 2.0]):
        d = np.array(d)
        mc = np.mean(np.exp(-np.sum((d - rho * u) ** 2, 1) / (2 * sigma**2))) / (2 * np.pi * sigma**2) ** 1.5
        assert abs(np.exp(sp.uniform_direction_logpdf(d, rho, sigma)) / mc - 1) < 0.01


def test_3d_densities_are_consistent_with_the_radial_ones():
    rho, sigma, r = 20.0, 4.0, np.array([15.0, 20.0, 27.0])
    d = np.stack([np.zeros(3), np.zeros(3), r], -1)
    for logpdf, pdf in ((sp.distance_prior_logpdf, sp.bone_length_pdf_distance),
                        (sp.uniform_direction_logpdf, sp.bone_length_pdf_uniform_direction)):
        np.testing.assert_allclose(4 * np.pi * r**2 * np.exp(logpdf(d, rho, sigma)), pdf(r, rho, sigma), rtol=1e-10)


def test_simulations_match_the_derived_densities():
    rng = np.random.default_rng(1)
    rho, sigma = 10.0, 6.0
    rb = np.linalg.norm(sp.sample_uniform_direction_offsets(rho, sigma, 20000, rng), axis=1)
    ra = np.linalg.norm(sp.sample_distance_prior_offsets(rho, sigma, 20000, rng), axis=1)
    grid = np.linspace(0, rho + 10 * sigma, 4001)
    for sample, pdf in ((ra, sp.bone_length_pdf_distance), (rb, sp.bone_length_pdf_uniform_direction)):
        cdf = np.cumsum(pdf(grid, rho, sigma)) * (grid[1] - grid[0])
        assert stats.kstest(sample, lambda x: np.interp(x, grid, cdf)).pvalue > 1e-3
    # and they are NOT the same distribution at sigma comparable to rho
    assert stats.ks_2samp(ra, rb).pvalue < 1e-6


def test_formulations_nearly_agree_when_sigma_is_small():
    def l1(rho, sigma):
        r = np.linspace(1e-6, rho + 12 * sigma, 20001)
        diff = np.abs(sp.bone_length_pdf_distance(r, rho, sigma) - sp.bone_length_pdf_uniform_direction(r, rho, sigma))
        return diff.sum() * (r[1] - r[0])

    assert l1(30.0, 1.0) < 0.05 < l1(10.0, 5.0)


def test_validation_messages():
    with pytest.raises(ValueError, match="rho: expected a bone length > 0"):
        sp.bone_length_pdf_distance(1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        sp.bone_length_pdf_uniform_direction(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"d: expected offsets of shape \(\.\.\., 3\)"):
        sp.distance_prior_logpdf(np.zeros(2), 1.0, 1.0)
