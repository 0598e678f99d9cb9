"""MCMC diagnostics for the Gibbs sampler (lecture: "GIMBAL yields posterior distributions"):
split R-hat (Gelman et al., BDA3 sec. 11.4) and effective sample size (Geyer's initial
monotone sequence over the multi-chain autocorrelation, as in Stan).

chains: (M, N, ...) draws of M chains of N iterations; diagnostics are computed per trailing
element, vectorised.
"""

from __future__ import annotations

import numpy as np

__all__ = ["split_rhat", "effective_sample_size", "autocorrelation", "interval_coverage"]


def _check_chains(chains, min_draws: int = 4) -> np.ndarray:
    x = np.asarray(chains, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"chains: expected shape (M chains, N draws, ...), got {x.shape}")
    if x.shape[1] < min_draws:
        raise ValueError(f"chains: expected at least {min_draws} draws per chain, got {x.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise ValueError("chains: contains NaN or infinity")
    return x


def split_rhat(chains) -> np.ndarray:
    """Split R-hat: each chain halved, then sqrt(var+ / W). chains: (M, N, ...) -> (...)."""
    x = _check_chains(chains)
    n = x.shape[1] // 2
    x = np.concatenate([x[:, :n], x[:, -n:]], axis=0)        # (2M, n, ...)
    means = x.mean(axis=1)
    W = x.var(axis=1, ddof=1).mean(axis=0)
    B = n * means.var(axis=0, ddof=1)
    var_plus = (n - 1) / n * W + B / n
    return np.sqrt(var_plus / np.where(W > 0, W, np.nan))


def autocorrelation(x) -> np.ndarray:
    """Autocorrelation along axis 1 of (M, N, ...) by FFT, normalised to 1 at lag 0 -> (M, N, ...)."""
    x = _check_chains(x, 2)
    N = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * N)))
    f = np.fft.rfft(xc, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :N] / N
    return acov / np.where(acov[:, :1] > 0, acov[:, :1], 1.0)


def effective_sample_size(chains) -> np.ndarray:
    """Multi-chain ESS (Stan's formula): M N / (1 + 2 sum rho_t), with Geyer's initial positive
    and monotone pair sums truncating the sum. chains: (M, N, ...) -> (...)."""
    x = _check_chains(chains)
    M, N = x.shape[:2]
    acov = autocorrelation(x) * x.var(axis=1)[:, None]        # biased autocovariance per chain
    W = x.var(axis=1, ddof=1).mean(axis=0)
    var_plus = W * (N - 1) / N + (x.mean(axis=1).var(axis=0, ddof=1) if M > 1 else 0.0)
    rho = 1.0 - (W - acov.mean(axis=0)) / np.where(var_plus > 0, var_plus, np.nan)   # (N, ...)
    rho[0] = 1.0
    n_pairs = N // 2
    pairs = rho[: 2 * n_pairs].reshape((n_pairs, 2) + rho.shape[1:]).sum(axis=1)      # Gamma_m
    positive = np.cumprod(pairs > 0, axis=0).astype(bool)      # initial positive sequence
    mono = np.minimum.accumulate(np.where(positive, pairs, np.inf), axis=0)
    mono = np.where(positive, mono, 0.0)
    tau = -1.0 + 2.0 * mono.sum(axis=0)
    tau = np.maximum(tau, 1.0 / np.log10(M * N))
    return M * N / tau


def interval_coverage(samples, truth, level: float = 0.9) -> float:
    """Fraction of truth values inside the central `level` credible intervals of samples.

    samples: (N, ...) posterior draws; truth: (...). NaN truth entries are ignored."""
    samples = np.asarray(samples, dtype=float)
    truth = np.asarray(truth, dtype=float)
    if samples.shape[1:] != truth.shape:
        raise ValueError(f"truth: expected shape {samples.shape[1:]}, got {truth.shape}")
    if not 0 < level < 1:
        raise ValueError("level: expected a probability in (0, 1)")
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
    ok = np.isfinite(truth)
    return float(np.mean(((truth >= lo) & (truth <= hi))[ok]))
