"""Model 2: distance priors on keypoint configurations (lecture: "A probabilistic view of
spatial constraints", "Model 2").

The slide offers two priors on a bone offset d = x_k - x_{pi(k)} in R^3 (rho: bone length,
sigma: spread, mm):

(a) the distance prior   p(d) ∝ N(|d|; rho, sigma^2);
(b) a uniform direction  u ~ Unif(S^2), d | u ~ N(rho u, sigma^2 I).

"Are these equivalent?" No. Integrating u out of (b) over the sphere gives

    p_b(d) = (2 pi sigma^2)^{-3/2} exp(-(r^2 + rho^2) / (2 sigma^2)) sinh(r rho / sigma^2) / (r rho / sigma^2),

r = |d|, so the bone length r = |d| has density (times the area 4 pi r^2)

    p_b(r) = r / (rho sigma sqrt(2 pi)) [exp(-(r - rho)^2 / 2 sigma^2) - exp(-(r + rho)^2 / 2 sigma^2)],

whereas (a) gives p_a(r) = r^2 N(r; rho, sigma^2) / Z_a with
Z_a = (rho^2 + sigma^2) Phi(rho / sigma) + rho sigma phi(rho / sigma) (phi, Phi: standard normal).
The two differ by a factor r (and the mirror term): E_a[r] ≈ rho + 2 sigma^2 / rho,
E_b[r] ≈ rho + sigma^2 / rho. They nearly agree when sigma << rho (both ≈ N(rho, sigma^2)).
(b) is what GIMBAL generalises: replace Unif(S^2) by a vMF, which keeps the conditional of u
given x a vMF (conjugacy).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["distance_prior_logpdf", "uniform_direction_logpdf", "bone_length_pdf_distance",
           "bone_length_pdf_uniform_direction", "sample_uniform_direction_offsets",
           "sample_distance_prior_offsets", "bone_length_means"]


def _check(rho, sigma):
    rho, sigma = float(rho), float(sigma)
    if not np.isfinite(rho) or rho <= 0:
        raise ValueError(f"rho: expected a bone length > 0 mm, got {rho}")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma: expected a spread > 0 mm, got {sigma}")
    return rho, sigma


def _offsets(d) -> np.ndarray:
    d = np.asarray(d, dtype=float)
    if d.shape[-1:] != (3,):
        raise ValueError(f"d: expected offsets of shape (..., 3) mm, got {d.shape}")
    return d


def _log_za(rho, sigma):
    """log of Z_a / (sigma sqrt(2 pi)) where Z_a = ∫_0^∞ r^2 N(r; rho, sigma^2) dr (sigma sqrt 2pi)^-1 ..."""
    a = rho / sigma
    phi = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
    return np.log((rho**2 + sigma**2) * ndtr(a) + rho * sigma * phi)


def bone_length_pdf_distance(r, rho, sigma) -> np.ndarray:
    """Density of r = |d| under the distance prior (a): r^2 N(r; rho, sigma^2) / Z_a, r >= 0 (mm)."""
    rho, sigma = _check(rho, sigma)
    r = np.asarray(r, dtype=float)
    logp = 2 * np.log(np.maximum(r, 1e-300)) - 0.5 * ((r - rho) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi)) \
        - _log_za(rho, sigma)
    return np.where(r > 0, np.exp(logp), 0.0)


def bone_length_pdf_uniform_direction(r, rho, sigma) -> np.ndarray:
    """Density of r = |d| under (b): r/(rho sigma sqrt(2 pi)) [e^{-(r-rho)^2/2s^2} - e^{-(r+rho)^2/2s^2}]."""
    rho, sigma = _check(rho, sigma)
    r = np.asarray(r, dtype=float)
    out = r / (rho * sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((r - rho) / sigma) ** 2) \
        * -np.expm1(-2 * r * rho / sigma**2)
    return np.where(r > 0, out, 0.0)


def distance_prior_logpdf(d, rho, sigma) -> np.ndarray:
    """log p_a(d) for offsets d (..., 3) mm: log N(|d|; rho, sigma^2) - log(4 pi Z_a), normalised on R^3."""
    rho, sigma = _check(rho, sigma)
    r = np.linalg.norm(_offsets(d), axis=-1)
    log_gauss = -0.5 * ((r - rho) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
    return log_gauss - _log_za(rho, sigma) - np.log(4 * np.pi)


def uniform_direction_logpdf(d, rho, sigma) -> np.ndarray:
    """log p_b(d) for offsets d (..., 3) mm: the sinh marginal of (b), normalised on R^3."""
    rho, sigma = _check(rho, sigma)
    r = np.linalg.norm(_offsets(d), axis=-1)
    a = r * rho / sigma**2
    # log(sinh(a) / a) = a - log(2a) + log(1 - e^{-2a}), -> a^2/6 as a -> 0
    small = a < 1e-6
    a_safe = np.where(small, 1.0, a)
    log_shc = np.where(small, a**2 / 6, a_safe - np.log(2 * a_safe) + np.log(-np.expm1(-2 * a_safe)))
    return -1.5 * np.log(2 * np.pi * sigma**2) - (r**2 + rho**2) / (2 * sigma**2) + log_shc


def sample_uniform_direction_offsets(rho, sigma, n: int, rng: np.random.Generator) -> np.ndarray:
    """Simulate (b): u ~ Unif(S^2), d = rho u + sigma eps. Returns (n, 3) mm."""
    rho, sigma = _check(rho, sigma)
    u = rng.standard_normal((int(n), 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return rho * u + sigma * rng.standard_normal((int(n), 3))


def sample_distance_prior_offsets(rho, sigma, n: int, rng: np.random.Generator, n_steps: int = 300,
                                  step: float | None = None) -> np.ndarray:
    """Simulate (a) without its radial formula: n independent random-walk Metropolis chains in R^3
    on the unnormalised density N(|d|; rho, sigma^2), started from (b), n_steps steps each.
    Returns (n, 3) mm (the last state of each chain)."""
    rho, sigma = _check(rho, sigma)
    d = sample_uniform_direction_offsets(rho, sigma, n, rng)
    step = 1.2 * sigma if step is None else float(step)

    def logp(v):
        return -0.5 * ((np.linalg.norm(v, axis=1) - rho) / sigma) ** 2

    lp = logp(d)
    for _ in range(int(n_steps)):
        prop = d + step * rng.standard_normal(d.shape)
        lq = logp(prop)
        acc = np.log(rng.random(len(d))) < lq - lp
        d[acc], lp[acc] = prop[acc], lq[acc]
    return d


def bone_length_means(rho, sigma) -> tuple[float, float]:
    """Exact E[r] under (a) and (b), mm. (a): ∫ r^3 N / Z_a; (b): rho + sigma^2/rho corrected
    by the mirror term (computed in closed form via normal moments)."""
    rho, sigma = _check(rho, sigma)
    a = rho / sigma
    phi = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
    Phi = ndtr(a)
    # ∫_0^∞ r^n N(r; rho, sigma^2) dr for n = 2, 3
    m2 = (rho**2 + sigma**2) * Phi + rho * sigma * phi
    m3 = (rho**3 + 3 * rho * sigma**2) * Phi + (rho**2 + 2 * sigma**2) * sigma * phi
    mean_a = m3 / m2
    # (b): E r = (1/rho) [∫_0^∞ r^2 N(r; rho) dr - ∫_0^∞ r^2 N(r; -rho) dr]
    m2_neg = (rho**2 + sigma**2) * ndtr(-a) - rho * sigma * phi
    mean_b = (m2 - m2_neg) / rho
    return float(mean_a), float(mean_b)
