"""From cameras and 2D detections to a GIMBAL posterior in one call (lecture 5's pipeline on
someone's own rig): :func:`reconstruct_3d`.

The steps are the lecture's, in order:

1. robust triangulation (RANSAC over camera pairs, :func:`triangulation.initial_positions`);
2. Model 1 (robust outlier mixture with a random-walk prior, ``triangulation.bayes3d``), started
   from it, with its step size estimated from the data (no unit assumed);
3. GIMBAL's prior fitted to Model 1's reconstruction itself (or to given training poses) and
   its observation model fitted by EM to Model 1's reprojection residuals;
4. several Gibbs chains from dispersed starts around Model 1's estimate (started from RANSAC a
   chain can stay stuck with whole subtrees off), each start polished by Gauss-Newton steps,
   summarised with R-hat and ESS (ArviZ).

Every length comes from the scene (bone lengths, frame-to-frame motion), so the rig may be in
millimetres or metres: the result is in the rig's unit. Pixel quantities are px.

Lecture 5 builds on lecture 4 (``gimbal`` imports ``triangulation``, never the reverse), so the
one-call path lives here, beside the sampler it drives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import check_frames_keypoints, check_points2d
from ..triangulation import bayes3d, initial_positions
from . import diagnostics
from .model import GimbalParams, fit_gimbal, fit_observation_model, tree_depths
from .sampler import GimbalSampler, dispersed_starts

__all__ = ["Reconstruction3D", "reconstruct_3d", "default_heading_keypoints"]


@dataclass(frozen=True, eq=False)
class Reconstruction3D:
    """Result of :func:`reconstruct_3d` (lengths in the rig's unit, e.g. mm).

    Attributes:
        mean: (T, K, 3) posterior mean positions.
        lower, upper: (T, K, 3) central credible interval of each coordinate at ``level``.
        level: the intervals' probability (0.9).
        outlier_prob: (C, T, K) posterior probability that each detection is an outlier (the
            fraction of draws in which it was); NaN where the detection is missing.
        rhat_max: largest rank-normalised split R-hat over all coordinates (about 1 when the
            chains agree; above 1.05 the chains have not mixed: run longer).
        ess_min: smallest bulk effective sample size over all coordinates (draws of all chains).
        rhat: (T, K, 3) R-hat of every coordinate (where the chains disagree).
        model1: (T, K, 3) Model 1's MAP estimate (the chains' centre).
        model1_outlier_prob: (C, T, K) Model 1's outlier probabilities.
        ransac: (T, K, 3) robust triangulation, NaN where fewer than two cameras agreed.
        samples: (M, N, T, K, 3) float32 draws (M chains, N draws each).
        params: the fitted :class:`GimbalParams`.
        accept_rate: (M, n_sweeps) fraction of frames whose position proposal was accepted.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    outlier_prob: np.ndarray
    rhat_max: float
    ess_min: float
    rhat: np.ndarray
    model1: np.ndarray
    model1_outlier_prob: np.ndarray
    ransac: np.ndarray
    samples: np.ndarray
    params: GimbalParams
    accept_rate: np.ndarray


def default_heading_keypoints(positions: np.ndarray, parents) -> tuple[int, int]:
    """(front, back) for the heading when none is given: back = the root, front = the keypoint
    farthest from it horizontally on average (a body-fixed direction; any consistent one
    serves as the heading's reference). positions: (T, K, 3), world z up."""
    x = np.asarray(positions, dtype=float)
    root = int(np.flatnonzero(np.asarray(parents) < 0)[0])
    horizontal = np.linalg.norm((x - x[:, root:root + 1])[..., :2], axis=-1)
    return int(np.argmax(np.nanmean(horizontal, axis=0))), root


def reconstruct_3d(cameras, points2d: np.ndarray, parents, *, confidences: np.ndarray | None = None,
                   training_positions: np.ndarray | None = None, heading_keypoints: tuple[int, int] | None = None,
                   n_states: int | None = None, n_chains: int = 4, n_sweeps: int = 100, burn_in: int = 50,
                   dispersion: float = 0.5, newton_steps: int = 50, level: float = 0.9, seed: int = 0,
                   n_frames: int | None = None, ransac_threshold: float = 20.0,
                   progress: bool = True) -> Reconstruction3D:
    """3D poses with their uncertainty from calibrated cameras and 2D detections: RANSAC, then
    Model 1, then GIMBAL (prior fitted to Model 1's estimate), several chains.

    Assumptions: the world z axis points up (GIMBAL's heading is a rotation about world z; align
    a rig whose world is a camera's frame, as anipose's is, with
    :func:`lecturekit.geometry.align_rig_to_floor` first); ``parents`` describes a tree (any
    keypoint order, any root); one animal; keypoints seen by two or more cameras in most frames.

    Args:
        cameras: C >= 2 cameras or a Rig (any length unit; the result is in that unit).
        points2d: (C, T, K, 2) px, NaN where missing (as the detector reports, distortion included).
        parents: (K,) parent of each keypoint, -1 for the root (e.g. formats.parents_from_edges).
        confidences: optional (C, T, K) detector scores in [0, 1]: Model 1's outlier prior per
            detection, beta_{c,t,k} = clip(2 beta (1 - score), 1e-3, 0.5) (score 0.5: the global
            beta; 1: 1e-3; see ``bayes3d.confidence_outlier_prior``); the Gibbs sampler uses the same
            map around the outlier rate fitted by EM to Model 1's residuals.
        training_positions: optional (T', K, 3) complete poses to fit GIMBAL's prior to (e.g.
            motion capture); default: Model 1's reconstruction of these very frames.
        heading_keypoints: (front, back) keypoints whose horizontal direction is the heading;
            default :func:`default_heading_keypoints`.
        n_states: pose states; default min(4, max(1, T // 25)).
        n_chains: chains (>= 2 for R-hat; default 4); n_sweeps: sweeps per chain; burn_in:
            sweeps dropped from each chain.
        dispersion: spread of the chains' starts around Model 1's estimate, in median bone
            lengths (``gimbal.dispersed_starts``: a shift of the whole trajectory plus a
            per-keypoint jitter of half that).
        newton_steps: Gauss-Newton steps polishing each dispersed start towards the conditional
            mode before sampling (fewer leave the chains apart for longer: R-hat says so).
        level: the credible intervals' probability.
        seed: seeds the prior fit, the starts and the chains (the result is reproducible).
        n_frames: optional T: points2d's axes are checked against it and against len(parents).
        ransac_threshold: px, RANSAC's inlier threshold.
        progress: tqdm.auto progress bars for the sweeps.

    Returns:
        :class:`Reconstruction3D`.
    """
    rig, y = check_points2d(cameras, points2d)
    parents = np.asarray(parents)
    if parents.ndim != 1 or not np.issubdtype(parents.dtype, np.integer):
        raise ValueError(f"parents: expected (K,) ints (-1 for the root), got {parents.dtype} {parents.shape}")
    tree_depths(parents)
    check_frames_keypoints(y, n_keypoints=len(parents), n_frames=n_frames)
    if len(rig) < 2:
        raise ValueError(f"cameras: expected at least two cameras, got {len(rig)}")
    if int(n_chains) < 2:
        raise ValueError(f"n_chains: expected >= 2 (R-hat compares chains), got {n_chains}")
    if not 0 <= int(burn_in) < int(n_sweeps) - 3:
        raise ValueError(f"burn_in: expected 0 <= burn_in < n_sweeps - 3 = {int(n_sweeps) - 3}, got {burn_in}")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a probability in (0, 1), got {level}")
    C, T, K, _ = y.shape
    rng = np.random.default_rng([seed, 1000])

    ransac = initial_positions(rig, y, "ransac", threshold=ransac_threshold, fill=False)
    fit1 = bayes3d.fit_model1(rig, y, init=ransac, confidences=confidences, parents=parents)
    x1 = fit1.positions

    obs_std, outlier_std, beta = fit_observation_model(y - rig.project(x1))
    train = x1 if training_positions is None else np.asarray(training_positions, dtype=float)
    if train.ndim != 3 or train.shape[1:] != (K, 3) or not np.isfinite(train).all():
        raise ValueError(f"training_positions: expected complete poses (T', {K}, 3) without NaN, got {train.shape}")
    if heading_keypoints is None:
        heading_keypoints = default_heading_keypoints(train, parents)
    if n_states is None:
        n_states = min(4, max(1, len(train) // 25))
    params, _ = fit_gimbal(train, parents, int(n_states), rng, heading_keypoints=tuple(heading_keypoints),
                           obs_std=obs_std, outlier_std=outlier_std, outlier_prob=beta)

    bone = float(np.median(params.rho[parents >= 0])) if np.any(parents >= 0) else float(np.sqrt(params.eta2.max()))
    starts = dispersed_starts(x1, int(n_chains), float(dispersion) * bone, rng)
    outlier_prior = None
    if confidences is not None:  # the same map as Model 1's, around GIMBAL's fitted outlier rate
        outlier_prior = bayes3d.confidence_outlier_prior(confidences, float(np.mean(params.outlier_prob)), (C, T, K))
    sampler = GimbalSampler(params, rig, y, outlier_prior=outlier_prior)
    draws, outliers, accept = [], [], []
    for m in range(int(n_chains)):
        chain_rng = np.random.default_rng([seed, m])
        state = sampler.initial_state(starts[m], chain_rng, newton_steps=int(newton_steps))
        _, out = sampler.run(state, int(n_sweeps), chain_rng, burn_in=int(burn_in), progress=progress,
                             keep=("positions", "outliers"))
        draws.append(out["positions"])
        outliers.append(out["outliers"].mean(axis=0))
        accept.append(out["accept_rate"])
    samples = np.stack(draws)                                           # (M, N, T, K, 3)
    observed = np.isfinite(y).all(axis=-1)
    flat = samples.reshape(samples.shape[:2] + (-1,))
    rhat = diagnostics.rhat(flat).reshape(T, K, 3)
    lower, upper = np.quantile(samples.reshape((-1, T, K, 3)), [(1 - level) / 2, (1 + level) / 2], axis=0)
    return Reconstruction3D(
        mean=samples.mean(axis=(0, 1), dtype=float),
        lower=lower,
        upper=upper,
        level=float(level),
        outlier_prob=np.where(observed, np.mean(outliers, axis=0), np.nan),
        rhat_max=float(np.max(rhat)),
        ess_min=float(np.min(diagnostics.ess(flat))),
        rhat=rhat,
        model1=x1,
        model1_outlier_prob=fit1.outlier_prob,
        ransac=ransac,
        samples=samples,
        params=params,
        accept_rate=np.stack(accept),
    )
