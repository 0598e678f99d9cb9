"""von Mises-Fisher utilities vs scipy.stats.vonmises_fisher and brute force on the sphere."""

import numpy as np
import pytest
from scipy import stats

from lecturekit.gimbal import vmf


def _unit(v):
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _sphere_grid(n=400):
    """Midpoint grid on S^2: points (N, 3) and area weights (N,)."""
    th = (np.arange(n) + 0.5) * np.pi / n
    ph = (np.arange(2 * n) + 0.5) * np.pi / n
    T, P = np.meshgrid(th, ph, indexing="ij")
    pts = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    w = (np.sin(T) * (np.pi / n) ** 2).ravel()
    return pts, w


@pytest.mark.parametrize("kappa", [1e-9, 0.3, 2.0, 25.0, 400.0])
def test_logpdf_matches_scipy(kappa):
    rng = np.random.default_rng(0)
    mu = _unit([0.3, -0.5, 0.8])
    u = _unit(rng.standard_normal((50, 3)))
    ours = vmf.vmf_logpdf(u, mu, kappa)
    ref = stats.vonmises_fisher(mu, max(kappa, 1e-12)).logpdf(u)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_density_integrates_to_one_and_kappa_zero_is_uniform():
    pts, w = _sphere_grid()
    for kappa in (0.0, 1.0, 30.0):
        total = np.sum(np.exp(vmf.vmf_logpdf(pts, _unit([1, 2, 3]), kappa)) * w)
        assert abs(total - 1) < 1e-3
    assert np.isclose(vmf.vmf_log_normalizer(0.0), -np.log(4 * np.pi))


@pytest.mark.parametrize("kappa", [0.0, 0.5, 5.0, 80.0])
def test_sample_moments_match_scipy(kappa):
    rng = np.random.default_rng(1)
    mu = _unit([-0.2, 0.9, 0.1])
    ours = vmf.sample_vmf(mu, kappa, rng, size=40000)
    assert ours.shape == (40000, 3)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-12)
    expected_mean = vmf.vmf_mean_resultant(kappa) * mu
    np.testing.assert_allclose(ours.mean(0), expected_mean, atol=0.015)
    if kappa > 0:
        ref = stats.vonmises_fisher(mu, kappa).rvs(40000, random_state=2)
        np.testing.assert_allclose(ref.mean(0), expected_mean, atol=0.015)
        # second moments along mu agree
        w_ours, w_ref = ours @ mu, ref @ mu
        assert abs(np.mean(w_ours**2) - np.mean(w_ref**2)) < 0.015
        assert stats.ks_2samp(w_ours, w_ref).pvalue > 1e-3


def test_batched_sampling_shapes_and_means():
    rng = np.random.default_rng(3)
    mu = _unit(rng.standard_normal((4, 3)))
    kappa = np.array([1.0, 10.0, 100.0, 0.0])
    u = vmf.sample_vmf(mu, kappa, rng, size=20000)
    assert u.shape == (20000, 4, 3)
    np.testing.assert_allclose(u.mean(0), vmf.vmf_mean_resultant(kappa)[:, None] * mu, atol=0.02)


def test_kappa_from_resultant_inverts_A3():
    kappa = np.array([0.01, 0.5, 3.0, 40.0, 900.0])
    np.testing.assert_allclose(vmf.vmf_kappa_from_resultant(vmf.vmf_mean_resultant(kappa)), kappa, rtol=1e-6)


def test_conjugate_posterior_matches_grid():
    """vMF prior x N(d; rho u, sigma^2 I) likelihood: posterior mean direction on a grid."""
    pts, w = _sphere_grid(300)
    mu, kappa = _unit([0, 0, 1]), 4.0
    d, rho, sigma2 = np.array([20.0, 5.0, -3.0]), 25.0, 30.0
    logpost = kappa * pts @ mu - np.sum((d - rho * pts) ** 2, 1) / (2 * sigma2)
    p = np.exp(logpost - logpost.max()) * w
    grid_mean = (p[:, None] * pts).sum(0) / p.sum()
    m, k = vmf.vmf_posterior(mu, kappa, d, rho, sigma2)
    np.testing.assert_allclose(vmf.vmf_mean_resultant(k) * m, grid_mean, atol=2e-4)


def test_validation_messages():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="mu: expected unit vectors"):
        vmf.sample_vmf(np.array([1.0, 1.0, 0.0]), 1.0, rng)
    with pytest.raises(ValueError, match="kappa"):
        vmf.vmf_logpdf(np.array([0, 0, 1.0]), np.array([0, 0, 1.0]), -1.0)
    with pytest.raises(TypeError, match="rng"):
        vmf.sample_vmf(np.array([0, 0, 1.0]), 1.0, 0)
    with pytest.raises(ValueError, match=r"u: expected shape \(\.\.\., 3\)"):
        vmf.vmf_logpdf(np.zeros(2), np.array([0, 0, 1.0]), 1.0)
