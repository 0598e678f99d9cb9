"""The von Mises-Fisher distribution on the sphere S^2 (lecture: "Why stop at distances?
Poses involve correlated directions!" and "GIMBAL").

A unit direction u in R^3 has density

    vMF(u; mu, kappa) = C_3(kappa) exp(kappa mu^T u),   C_3(kappa) = kappa / (4 pi sinh kappa),

with mean direction mu (|mu| = 1) and concentration kappa >= 0 (kappa = 0 is the uniform
distribution, C_3(0) = 1 / (4 pi)). E[u] = A_3(kappa) mu with A_3(kappa) = coth kappa - 1/kappa.

It is conjugate to a Gaussian offset: N(d; rho u, sigma^2 I) is, as a function of the unit
vector u, proportional to exp((rho / sigma^2) d^T u), so a vMF prior times it is again a vMF
whose natural parameter is the sum kappa mu + rho d / sigma^2 (:func:`vmf_posterior`).

Sampling uses Wood's (1994) construction; on S^2 the component w = mu^T u has the closed-form
inverse CDF w = 1 + log(U + (1 - U) e^{-2 kappa}) / kappa, so no rejection step is needed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["vmf_log_normalizer", "sample_vmf_unchecked", "vmf_logpdf", "vmf_mean_resultant", "vmf_kappa_from_resultant",
           "sample_vmf", "vmf_posterior", "natural_to_mean"]

_LOG_4PI = float(np.log(4 * np.pi))


def _check_unit(mu, name: str) -> np.ndarray:
    mu = np.asarray(mu, dtype=float)
    if mu.shape[-1:] != (3,):
        raise ValueError(f"{name}: expected shape (..., 3), got {mu.shape}")
    norm = np.linalg.norm(mu, axis=-1)
    if not np.all(np.abs(norm - 1.0) < 1e-6):
        raise ValueError(f"{name}: expected unit vectors (norm 1)")
    return mu


def _check_kappa(kappa) -> np.ndarray:
    kappa = np.asarray(kappa, dtype=float)
    if np.any(~np.isfinite(kappa)) or np.any(kappa < 0):
        raise ValueError("kappa: expected finite concentrations >= 0")
    return kappa


def vmf_log_normalizer(kappa) -> np.ndarray:
    """log C_3(kappa) = log kappa - log(4 pi sinh kappa), stable for all kappa >= 0.

    kappa: array (...,) of concentrations (dimensionless). Returns (...,); -log(4 pi) at 0.
    """
    kappa = _check_kappa(kappa)
    small = kappa < 1e-6
    k = np.where(small, 1.0, kappa)
    # log sinh k = k + log(1 - e^{-2k}) - log 2
    log_sinh = k + np.log(-np.expm1(-2.0 * k)) - np.log(2.0)
    out = np.log(k) - np.log(4 * np.pi) - log_sinh
    return np.where(small, -_LOG_4PI - kappa**2 / 6.0, out)


def vmf_logpdf(u, mu, kappa) -> np.ndarray:
    """Log density of vMF(mu, kappa) on S^2 w.r.t. surface area.

    u: (..., 3) unit vectors; mu: (..., 3) unit mean directions; kappa: (...,) >= 0.
    Broadcasts; returns (...,).
    """
    u = _check_unit(u, "u")
    mu = _check_unit(mu, "mu")
    return vmf_log_normalizer(kappa) + np.asarray(kappa) * np.sum(u * mu, axis=-1)


def vmf_mean_resultant(kappa) -> np.ndarray:
    """A_3(kappa) = coth kappa - 1/kappa = |E[u]| (0 at kappa = 0). kappa: (...,)."""
    kappa = _check_kappa(kappa)
    small = kappa < 1e-4
    k = np.where(small, 1.0, kappa)
    out = 1.0 / np.tanh(k) - 1.0 / k
    return np.where(small, kappa / 3.0, out)


def vmf_kappa_from_resultant(rbar, iterations: int = 20) -> np.ndarray:
    """Invert A_3: the kappa with A_3(kappa) = rbar (maximum-likelihood kappa), rbar in [0, 1).

    Starts from Banerjee et al.'s approximation rbar (3 - rbar^2) / (1 - rbar^2) and polishes
    with Newton steps (A_3'(k) = 1 - A_3(k)^2 - 2 A_3(k) / k).
    """
    rbar = np.asarray(rbar, dtype=float)
    if np.any(~np.isfinite(rbar)) or np.any(rbar < 0) or np.any(rbar >= 1):
        raise ValueError("rbar: expected mean resultant lengths in [0, 1)")
    kappa = rbar * (3.0 - rbar**2) / (1.0 - rbar**2)
    for _ in range(iterations):
        k = np.maximum(kappa, 1e-8)
        a = vmf_mean_resultant(k)
        deriv = np.maximum(1.0 - a**2 - 2.0 * a / k, 1e-12)
        kappa = np.maximum(k - (a - rbar) / deriv, 0.0)
    return kappa


def sample_vmf(mu, kappa, rng: np.random.Generator, size=None) -> np.ndarray:
    """Draw unit vectors from vMF(mu, kappa) on S^2 (Wood's algorithm, exact on S^2).

    mu: (..., 3) unit mean directions; kappa: (...,) >= 0 (broadcast together);
    size: optional leading sample shape. Returns (*size, *batch, 3).
    """
    mu = _check_unit(mu, "mu")
    kappa = _check_kappa(kappa)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator")
    batch = np.broadcast_shapes(mu.shape[:-1], kappa.shape)
    shape = (tuple(np.atleast_1d(size)) if size is not None else ()) + batch
    return sample_vmf_unchecked(np.broadcast_to(mu, shape + (3,)), np.broadcast_to(kappa, shape), rng)


def sample_vmf_unchecked(mu: np.ndarray, kappa: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """:func:`sample_vmf` WITHOUT input validation, for the Gibbs sampler's hot loop.

    mu: (..., 3) unit mean directions; kappa: (...,) >= 0, the same batch shape (no
    broadcasting, no checks: bad input gives wrong draws, not an error). Returns (..., 3);
    same random stream as sample_vmf."""
    shape = kappa.shape
    U = rng.random(shape)
    small = kappa < 1e-8
    k = np.where(small, 1.0, kappa)
    w = 1.0 + np.log(U + (1.0 - U) * np.exp(-2.0 * k)) / k
    w = np.where(small, 2.0 * U - 1.0, np.clip(w, -1.0, 1.0))
    phi = rng.uniform(0.0, 2 * np.pi, shape)
    s = np.sqrt(np.maximum(1.0 - w**2, 0.0))
    v0, v1 = s * np.cos(phi), s * np.sin(phi)
    # Householder reflection H = I - 2 a a^T / |a|^2, a = e3 - mu, maps e3 to mu
    a0, a1, a2 = -mu[..., 0], -mu[..., 1], 1.0 - mu[..., 2]
    norm2 = a0 * a0 + a1 * a1 + a2 * a2
    safe = norm2 > 1e-20
    scale = np.where(safe, 2.0 * (a0 * v0 + a1 * v1 + a2 * w) / np.where(safe, norm2, 1.0), 0.0)
    out = np.empty(shape + (3,))
    out[..., 0] = v0 - scale * a0
    out[..., 1] = v1 - scale * a1
    out[..., 2] = w - scale * a2
    return out


def natural_to_mean(theta) -> tuple[np.ndarray, np.ndarray]:
    """Natural parameter theta = kappa mu (..., 3) -> (mu (..., 3), kappa (...,)).

    theta = 0 gives kappa = 0 and mu = e3 (any direction; the distribution is uniform).
    """
    theta = np.asarray(theta, dtype=float)
    kappa = np.linalg.norm(theta, axis=-1)
    mu = np.where(kappa[..., None] > 0, theta / np.where(kappa > 0, kappa, 1.0)[..., None],
                  np.array([0.0, 0.0, 1.0]))
    return mu, kappa


def vmf_posterior(mu, kappa, offset, rho, sigma2) -> tuple[np.ndarray, np.ndarray]:
    """Conditional of a direction u given a Gaussian offset: the vMF-Gaussian conjugacy.

    Prior u ~ vMF(mu, kappa); likelihood offset d ~ N(rho u, sigma2 I).
    mu: (..., 3), kappa: (...,), offset d: (..., 3) mm, rho: (...,) mm, sigma2: (...,) mm^2.
    Returns (posterior mean direction (..., 3), posterior concentration (...,)) for the natural
    parameter kappa mu + rho d / sigma2.
    """
    mu = np.asarray(mu, dtype=float)
    offset = np.asarray(offset, dtype=float)
    if offset.shape[-1:] != (3,):
        raise ValueError(f"offset: expected shape (..., 3), got {offset.shape}")
    sigma2 = np.asarray(sigma2, dtype=float)
    if np.any(sigma2 <= 0):
        raise ValueError("sigma2: expected variances > 0")
    theta = np.asarray(kappa)[..., None] * mu + (np.asarray(rho) / sigma2)[..., None] * offset
    return natural_to_mean(theta)
