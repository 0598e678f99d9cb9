"""The lecture's Tables 1 and 2 ("Structured priors improve 3D pose estimates"): mean position
error (MPE, mm) raw and after rigid Procrustes alignment (RPA) for triangulation baselines,
Models 0/1/2, GIMBAL and GIMBAL's submodels, on the same detections.

Model 2 (distance priors) is implemented as GIMBAL with one state and kappa = 0: uniform bone
directions with u_k ~ Unif(S^2), x_k | u_k ~ N(x_pi(k) + rho_k u_k, sigma_k^2 I), plus the
temporal and outlier factors of the other models.
"""

from __future__ import annotations

import numpy as np

from .model import GimbalParams, uniform_direction_params
from .sampler import run_chains

__all__ = ["MODEL2", "mpe_pair", "gimbal_variants", "compare_methods"]

MODEL2 = "Model 2 (S=1, kappa=0)"


def mpe_pair(pred, truth, missing: str = "raise") -> tuple[float, float]:
    """(MPE raw, MPE after per-frame rigid Procrustes) in mm; pred, truth: (T, K, 3).
    missing: "raise" or "exclude" for NaN predictions (see metrics.mpe)."""
    from ..metrics import mpe

    pred = np.asarray(pred, dtype=float)
    return mpe(pred, truth, missing=missing), mpe(pred, truth, procrustes=True, missing=missing)


def gimbal_variants(params: GimbalParams, params_one_state: GimbalParams, params_no_heading: GimbalParams):
    """The models of Table 2 as (name, params, sampler switches)."""
    return [
        (MODEL2, uniform_direction_params(params), {}),
        ("GIMBAL", params, {}),
        ("GIMBAL, one state", params_one_state, {}),
        ("GIMBAL, no temporal factor", params, {"temporal": False}),
        ("GIMBAL, no outlier model", params, {"outlier_model": False}),
        ("GIMBAL, fixed heading", params_no_heading, {"infer_heading": False}),
    ]


def compare_methods(cameras, observations, truth, params, params_one_state, params_no_heading, *,
                    n_sweeps: int = 60, burn_in: int = 30, seed: int = 0, progress: bool = True,
                    include_models01: bool = True, ransac_threshold: float = 15.0, precomputed=None):
    """MPE table: observations (C, T, K, 2) px, truth (T, K, 3) mm.

    Each sampled model runs one chain of n_sweeps sweeps from RANSAC, keeping those after
    burn_in. precomputed: optional dict name -> position samples (N, T, K, 3) of a sampled model
    already run with these same settings (e.g. Model 2 earlier in a notebook); it is scored
    instead of being run again.

    The triangulation baselines (DLT, median of pairs, RANSAC) are scored on the points they
    triangulate (NaN where fewer than two cameras saw a keypoint is excluded); Models 0/1 and
    the sampled models predict every point.

    Returns (rows: dict name -> (raw, RPA) mm, posterior: dict name -> positions samples
    (N, T, K, 3) of the sampled models)."""
    from .. import triangulation

    precomputed = dict(precomputed or {})
    names = [name for name, _, _ in gimbal_variants(params, params_one_state, params_no_heading)]
    unknown = set(precomputed) - set(names)
    if unknown:
        raise ValueError(f"precomputed: expected names among {names}, got {sorted(unknown)}")
    rows, posterior = {}, {}
    dlt = triangulation.triangulate_dlt(cameras, observations)
    rows["DLT"] = mpe_pair(dlt, truth, "exclude")
    rows["median of pairs"] = mpe_pair(triangulation.triangulate_median(cameras, observations), truth, "exclude")
    ransac = triangulation.initial_positions(cameras, observations, "ransac", threshold=ransac_threshold, fill=False)
    rows["RANSAC"] = mpe_pair(ransac, truth, "exclude")
    if include_models01:
        from ..triangulation import bayes3d

        rows["Model 0"] = mpe_pair(bayes3d.fit_model0(cameras, observations), truth)
        rows["Model 1"] = mpe_pair(bayes3d.fit_model1(cameras, observations).positions, truth)
    for name, p, switches in gimbal_variants(params, params_one_state, params_no_heading):
        if name in precomputed:
            samples = np.asarray(precomputed[name])
        else:
            out = run_chains(p, cameras, observations, ransac, n_chains=1, n_sweeps=n_sweeps, burn_in=burn_in,
                             seed=seed, progress=progress, **switches)
            samples = out["positions"][0]
        posterior[name] = samples
        rows[name] = mpe_pair(samples.mean(0), truth)
    return rows, posterior
