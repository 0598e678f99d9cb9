"""MCMC diagnostics for the Gibbs sampler (lecture: "GIMBAL yields posterior distributions"),
read the way practitioners read them: with ArviZ.

A thin layer: :func:`to_inference_data` turns the sampler's stacked chains into an
``arviz.InferenceData``; :func:`rhat` is ArviZ's rank-normalised split R-hat and :func:`ess` its
bulk (or tail) effective sample size (Vehtari, Gelman, Simpson, Carpenter & Buerkner, Bayesian
Analysis 2021), both vectorised over the trailing axes of (M chains, N draws, ...) arrays.
:func:`interval_coverage` scores credible intervals against a known truth.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["import_arviz", "to_inference_data", "rhat", "ess", "interval_coverage"]


def import_arviz():
    """Import ArviZ without its once-a-day FutureWarning about a coming refactor (it would appear
    as stderr in the notebooks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    return arviz


def check_chains(chains, name: str = "chains", min_draws: int = 4) -> np.ndarray:
    """chains as a float array (M chains, N draws, ...), validated: >= 2 axes, >= min_draws draws,
    finite."""
    x = np.asarray(chains, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"{name}: expected shape (M chains, N draws, ...), got {x.shape}")
    if x.shape[1] < min_draws:
        raise ValueError(f"{name}: expected at least {min_draws} draws per chain, got {x.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: contains NaN or infinity")
    return x


def to_inference_data(draws: dict):
    """ArviZ InferenceData (posterior group) from a dict name -> (M chains, N draws, ...) array.

    Every array must share M and N; trailing axes become ArviZ dimensions ``<name>_dim_i``."""
    if not isinstance(draws, dict) or not draws:
        raise ValueError("draws: expected a non-empty dict name -> (M chains, N draws, ...) array")
    arrays = {name: check_chains(v, f"draws[{name!r}]") for name, v in draws.items()}
    shapes = {v.shape[:2] for v in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"draws: every array needs the same (M chains, N draws), got {sorted(shapes)}")
    return import_arviz().from_dict(posterior=arrays)


def rhat(chains) -> np.ndarray:
    """ArviZ's rank-normalised split R-hat of (M chains, N draws, ...) -> (...); about 1 when
    the chains agree, > 1.01-1.05 when they have not mixed."""
    x = check_chains(chains)
    az = import_arviz()
    flat = x.reshape(x.shape[:2] + (-1,))
    return np.asarray(az.rhat(az.convert_to_dataset({"q": flat}))["q"].values).reshape(x.shape[2:])


def ess(chains, kind: str = "bulk") -> np.ndarray:
    """ArviZ's effective sample size (kind "bulk" or "tail") of (M chains, N draws, ...) -> (...),
    in draws of all chains together."""
    if kind not in ("bulk", "tail"):
        raise ValueError(f"kind: expected 'bulk' or 'tail', got {kind!r}")
    x = check_chains(chains)
    az = import_arviz()
    flat = x.reshape(x.shape[:2] + (-1,))
    return np.asarray(az.ess(az.convert_to_dataset({"q": flat}), method=kind)["q"].values).reshape(x.shape[2:])


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
