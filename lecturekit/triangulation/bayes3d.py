"""Bayesian triangulation (lecture: "3D Pose estimation Model 0" and "Model 1: Robust Bayesian
triangulation of 3D pose from 2D observations").

**Model 0** (random-walk prior, Gaussian observations), for frames t, keypoints k, cameras c:

    x_{t,k} ~ N(x_{t-1,k}, eta^2 I),        y_{t,k,c} ~ N(f_c(x_{t,k}), omega^2 I).

Its MAP estimate minimises

    sum_{t,k,c} |y_{t,k,c} - f_c(x_{t,k})|^2 / (2 omega^2) + sum_{t>0,k} |x_{t,k} - x_{t-1,k}|^2 / (2 eta^2),

which :func:`fit_model0` does by Gauss-Newton: linearising ``f_c`` around the current estimate
turns each step into a linear least-squares problem whose normal matrix is block tridiagonal in
time (3x3 blocks ``sum_c J_c^T J_c / omega^2`` on the diagonal, ``-I / eta^2`` off it); all
keypoints are solved together as one banded system (``scipy.linalg.solveh_banded``), with a
backtracking line search per keypoint. (This is the iterated, linearised Kalman smoother.)

**Model 1** adds a Bernoulli outlier indicator per observation,

    z_{t,k,c} ~ Bern(beta),   y_{t,k,c} | z ~ N(f_c(x_{t,k}), (omega^2 if z = 0 else omega_out^2) I),

a broad outlier component. :func:`fit_model1` runs EM: the E-step computes the posterior
outlier probability of every observation (:func:`outlier_posterior`), the M-step solves Model 0
with per-observation precisions ``(1 - r)/omega^2 + r/omega_out^2`` (and re-estimates beta).

Pixels are undistorted (k1) first; missing observations (NaN) carry no weight.

**Units.** Pixel quantities (omega, omega_out) are px. The one length, the random-walk step eta,
is in the rig's units (mm, metres, ...): by default (``eta=None``) it is estimated from the
robust initial triangulation (:func:`estimate_step`), so that the same scene in millimetres or
in metres gives the same fit (scaled); an explicit ``eta`` is used as given.

**Detector confidences** (optional, (C, T, K) in [0, 1]) set a per-observation outlier prior
(:func:`confidence_outlier_prior`): beta_{c,t,k} = clip(2 beta (1 - confidence), 1e-3, 0.5), so
a confidence of 0.5 keeps the global beta, 1 makes an outlier a priori unlikely (1e-3) and 0
doubles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.linalg import solveh_banded

from ..geometry import Camera, Rig, check_frames_keypoints, check_points2d
from .gaps import initial_positions, interpolate_missing

__all__ = ["Model0Params", "Model1Params", "Model1Fit", "model0_objective", "fit_model0",
           "outlier_posterior", "fit_model1", "estimate_step", "confidence_outlier_prior"]


def _check_eta(eta):
    if eta is not None and not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta: expected a positive length per frame (or None: estimated), got {eta}")


@dataclass(frozen=True)
class Model0Params:
    """Model 0: random-walk step ``eta`` (rig units, e.g. mm, per frame and axis; None: estimated
    from the initial triangulation by :func:`estimate_step`) and pixel noise ``omega`` (px)."""

    eta: float | None = None
    omega: float = 2.0

    def __post_init__(self):
        _check_eta(self.eta)
        if not (np.isfinite(self.omega) and self.omega > 0):
            raise ValueError(f"omega: expected a positive number, got {self.omega}")


@dataclass(frozen=True)
class Model1Params:
    """Model 1: Model 0's ``eta`` (rig units per frame; None: estimated, see :class:`Model0Params`)
    and ``omega`` (px) plus the outlier probability ``beta`` and the broad outlier component's
    standard deviation ``omega_out`` (px)."""

    eta: float | None = None
    omega: float = 2.0
    beta: float = 0.1
    omega_out: float = 200.0

    def __post_init__(self):
        _check_eta(self.eta)
        for name in ("omega", "omega_out"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive number, got {value}")
        if not 0 < self.beta < 1:
            raise ValueError(f"beta: expected a probability in (0, 1), got {self.beta}")
        if self.omega_out <= self.omega:
            raise ValueError(f"omega_out: expected > omega = {self.omega} (a broad outlier component), "
                             f"got {self.omega_out}")


@dataclass(frozen=True)
class Model1Fit:
    """Result of :func:`fit_model1`.

    Attributes:
        positions: (T, K, 3) MAP positions, rig units (mm).
        outlier_prob: (C, T, K) posterior probability that each observation is an outlier
            (NaN where missing).
        params: the fitted parameters (beta re-estimated if asked; eta as used, estimated
            when it was None).
        objective: (iterations,) the negative log joint after every EM iteration.
    """

    positions: np.ndarray
    outlier_prob: np.ndarray
    params: Model1Params
    objective: np.ndarray


# helpers ----------------------------------------------------------------------------------------
def _check_tk(cameras, points2d, parents=None, n_frames=None) -> tuple[Rig, np.ndarray]:
    """Validated (pinhole rig, undistorted points2d (C, T, K, 2) px): the models fit the ideal
    pinhole cameras to undistorted pixels."""
    rig, points2d = check_points2d(cameras, points2d)
    if points2d.ndim != 4:
        raise ValueError(f"points2d: expected shape (C, T, K, 2) px, got {points2d.shape}")
    check_frames_keypoints(points2d, n_keypoints=None if parents is None else len(parents), n_frames=n_frames)
    if not np.isfinite(points2d).all(axis=-1).any():
        raise ValueError("points2d: every observation is missing (NaN); the models need detections")
    return rig.pinhole(), rig.undistort(points2d)


def estimate_step(positions: np.ndarray) -> float:
    """A scale-free default for the random-walk step eta: the per-axis spread of the
    frame-to-frame displacement of positions (T, K, 3) (e.g. a robust triangulation), in the
    positions' units.

    The spread is the root mean square of the displacements after dropping gross ones (more
    than 5 robust standard deviations, 1.4826 x the median absolute displacement: outliers of
    the triangulation). Gaps (NaN) are ignored. With fewer than two frames, or no motion at all,
    it falls back to 1e-3 x the positions' spread (or 1.0 if that is 0 too).
    """
    x = np.asarray(positions, dtype=float)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"positions: expected shape (T, K, 3), got {x.shape}")
    d = np.abs(np.diff(x, axis=0)).ravel()
    d = d[np.isfinite(d)]
    eta = 0.0
    if len(d):
        mad = 1.4826 * np.median(d)
        kept = d[d <= 5 * mad] if mad > 0 else d[d == 0]
        eta = float(np.sqrt(np.mean(kept**2))) if len(kept) else 0.0
    if not eta > 0:
        finite = x[np.isfinite(x).all(axis=-1)]
        spread = float(np.std(finite)) if len(finite) else 0.0
        eta = 1e-3 * spread if spread > 0 else 1.0
    return eta


def confidence_outlier_prior(confidences: np.ndarray, beta: float, shape: tuple[int, ...]) -> np.ndarray:
    """Per-observation outlier prior from detector confidences (C, T, K) in [0, 1] (values
    outside are clipped; NaN counts as 0.5, i.e. no information):
    beta_{c,t,k} = clip(2 beta (1 - confidence), 1e-3, 0.5). Returns (C, T, K)."""
    c = np.asarray(confidences, dtype=float)
    if c.shape != tuple(shape):
        raise ValueError(f"confidences: expected shape {tuple(shape)} (C, T, K), got {c.shape}")
    c = np.clip(np.where(np.isfinite(c), c, 0.5), 0.0, 1.0)
    return np.clip(2 * beta * (1 - c), 1e-3, 0.5)


def _residuals(rig, y, x):
    """y (C, T, K, 2), x (T, K, 3) -> residual y - f(x) (C, T, K, 2), NaN where missing or behind a camera."""
    return y - rig.project(x)


def _objective_per_keypoint(cameras, y, x, precision, eta):
    """(K,) negative log joint (up to constants): weighted squared residuals + random walk."""
    r = _residuals(cameras, y, x)
    finite = np.isfinite(r).all(axis=-1)
    data = 0.5 * np.sum(np.where(finite, precision, 0.0)[..., None] * np.where(finite[..., None], r, 0.0) ** 2,
                        axis=(0, 1, 3))
    prior = 0.5 * np.sum(np.diff(x, axis=0) ** 2, axis=(0, 2)) / eta**2
    # an observed keypoint pushed behind a camera has no projection: such a state is not allowed
    broken = (np.isfinite(y).all(axis=-1) & ~finite & (precision > 0)).any(axis=(0, 1))
    return np.where(broken, np.inf, data + prior)


def _gauss_newton_step(cameras, y, x, precision, eta, ridge=1e-9):
    """One Gauss-Newton step for the weighted Model 0 objective; returns delta (T, K, 3)."""
    C, T, K, _ = y.shape
    r = _residuals(cameras, y, x)
    w = np.where(np.isfinite(r).all(axis=-1), precision, 0.0)  # (C, T, K)
    r = np.where(np.isfinite(r), r, 0.0)
    J = np.nan_to_num(cameras.project(x, jacobian=True)[1])  # (C, T, K, 2, 3); 0 where w = 0
    H = np.einsum("ctk,ctkij,ctkil->ktjl", w, J, J)  # (K, T, 3, 3)
    g = np.einsum("ctk,ctkij,ctki->ktj", w, J, r)  # (K, T, 3) = -gradient of the data term
    lam = 1.0 / eta**2
    xk = x.transpose(1, 0, 2)  # (K, T, 3)
    diff = np.diff(xk, axis=1)
    g[:, :-1] += lam * diff
    g[:, 1:] -= lam * diff
    degree = np.full(T, 2.0)
    degree[[0, -1]] = 1.0
    if T == 1:
        degree[:] = 0.0
    n = K * T * 3
    ab = np.zeros((4, n))  # upper banded storage, bandwidth 3: ab[3 + i - j, j] = A[i, j]
    diag = H[..., [0, 1, 2], [0, 1, 2]] + lam * degree[None, :, None] + ridge
    ab[3] = diag.reshape(-1)
    sup1 = np.zeros((K, T, 3))
    sup1[..., 1] = H[..., 0, 1]
    sup1[..., 2] = H[..., 1, 2]
    ab[2] = sup1.reshape(-1)
    sup2 = np.zeros((K, T, 3))
    sup2[..., 2] = H[..., 0, 2]
    ab[1] = sup2.reshape(-1)
    sup3 = np.zeros((K, T, 3))
    sup3[:, 1:, :] = -lam  # couples (t-1, d) and (t, d) of the same keypoint only
    ab[0] = sup3.reshape(-1)
    delta = solveh_banded(ab, g.reshape(-1), lower=False, check_finite=False)
    return delta.reshape(K, T, 3).transpose(1, 0, 2)


def _weighted_map(cameras, y, x, precision, eta, iterations):
    """Gauss-Newton with a per-keypoint backtracking line search."""
    current = _objective_per_keypoint(cameras, y, x, precision, eta)
    for _ in range(iterations):
        delta = _gauss_newton_step(cameras, y, x, precision, eta)
        step = np.ones(x.shape[1])
        accepted = np.zeros(x.shape[1], bool)
        for _ in range(12):
            trial = x + step[None, :, None] * delta
            with np.errstate(all="ignore"):
                value = _objective_per_keypoint(cameras, y, trial, precision, eta)
            good = (value <= current) & ~accepted
            x = np.where(good[None, :, None], trial, x)
            current = np.where(good, value, current)
            accepted |= good
            if accepted.all():
                break
            step = np.where(accepted, step, step / 2)
        if np.max(np.abs(delta)) < 1e-6:
            break
    return x, current


def _initial_positions(rig, y, init, eta):
    """(start (T, K, 3) with gaps filled, eta: as given or estimated from the start before filling)."""
    C, T, K, _ = y.shape
    if init is None:
        init = initial_positions(rig, y, "ransac", threshold=20.0, fill=False)
    init = np.asarray(init, dtype=float)
    if init.shape != (T, K, 3):
        raise ValueError(f"init: expected shape {(T, K, 3)} (rig units), got {init.shape}")
    if eta is None:
        eta = estimate_step(init)
    return interpolate_missing(init), eta


# Model 0 -----------------------------------------------------------------------------------------
def model0_objective(cameras: Sequence[Camera], points2d: np.ndarray, positions: np.ndarray,
                     params: Model0Params) -> float:
    """Model 0's negative log joint (up to a constant) of positions (T, K, 3) (rig units) given
    points2d (C, T, K, 2) px; with ``params.eta`` None, eta = :func:`estimate_step` (positions)."""
    cameras, y = _check_tk(cameras, points2d)
    positions = np.asarray(positions, dtype=float)
    if positions.shape != y.shape[1:3] + (3,):
        raise ValueError(f"positions: expected shape {y.shape[1:3] + (3,)}, got {positions.shape}")
    eta = estimate_step(positions) if params.eta is None else params.eta
    precision = np.full(y.shape[:3], 1.0 / params.omega**2)
    return float(np.sum(_objective_per_keypoint(cameras, y, positions, precision, eta)))


def fit_model0(cameras: Sequence[Camera], points2d: np.ndarray, params: Model0Params = Model0Params(), *,
               init: np.ndarray | None = None, iterations: int = 20, parents=None,
               n_frames: int | None = None) -> np.ndarray:
    """MAP positions under Model 0 (random-walk prior, Gaussian pixel noise).

    Args:
        cameras: C cameras.
        points2d: (C, T, K, 2) px, NaN where missing (not all).
        params: eta (rig units per frame; None: :func:`estimate_step` of the start) and omega (px).
        init: (T, K, 3) starting point, rig units (default: RANSAC triangulation, gaps interpolated).
        iterations: maximum Gauss-Newton iterations.
        parents, n_frames: optional skeleton (K,) and frame count T: points2d's axes are checked
            against them (a (C, K, T, 2) array is refused as swapped).

    Returns:
        (T, K, 3), rig units.
    """
    if not isinstance(params, Model0Params):
        raise TypeError(f"params: expected Model0Params, got {type(params).__name__}")
    cameras, y = _check_tk(cameras, points2d, parents, n_frames)
    x, eta = _initial_positions(cameras, y, init, params.eta)
    precision = np.full(y.shape[:3], 1.0 / params.omega**2)
    x, _ = _weighted_map(cameras, y, x, precision, eta, iterations)
    return x


# Model 1 -----------------------------------------------------------------------------------------
def outlier_posterior(cameras: Sequence[Camera], points2d: np.ndarray, positions: np.ndarray,
                      params: Model1Params) -> np.ndarray:
    """E-step: P(z_{t,k,c} = 1 | y, x) for every observation.

    Args:
        cameras: C cameras. points2d: (C, T, K, 2) px. positions: (T, K, 3) mm.
        params: Model1Params.

    Returns:
        (C, T, K) probabilities in [0, 1]; NaN where the observation is missing.
    """
    cameras, y = _check_tk(cameras, points2d)
    positions = np.asarray(positions, dtype=float)
    if positions.shape != y.shape[1:3] + (3,):
        raise ValueError(f"positions: expected shape {y.shape[1:3] + (3,)}, got {positions.shape}")
    return _responsibilities(_residuals(cameras, y, positions), params)


def _responsibilities(r, params, beta=None):
    beta = params.beta if beta is None else beta
    e2 = np.sum(r**2, axis=-1)
    # log N(e; 0, s^2 I_2) = -|e|^2 / (2 s^2) - log(2 pi s^2)
    log_in = np.log1p(-beta) - e2 / (2 * params.omega**2) - 2 * np.log(params.omega)
    log_out = np.log(beta) - e2 / (2 * params.omega_out**2) - 2 * np.log(params.omega_out)
    with np.errstate(invalid="ignore"):
        return 1.0 / (1.0 + np.exp(np.clip(log_in - log_out, -700, 700)))


def _model1_objective(r, params, x, eta, beta=None):
    """Negative log joint with z marginalised (mixture likelihood) + random walk."""
    beta = params.beta if beta is None else beta
    e2 = np.sum(r**2, axis=-1)
    log_in = np.log1p(-beta) - e2 / (2 * params.omega**2) - np.log(2 * np.pi * params.omega**2)
    log_out = np.log(beta) - e2 / (2 * params.omega_out**2) - np.log(2 * np.pi * params.omega_out**2)
    ok = np.isfinite(e2)
    loglik = np.logaddexp(log_in[ok], log_out[ok])
    prior = 0.5 * np.sum(np.diff(x, axis=0) ** 2) / eta**2
    return float(-np.sum(loglik) + prior)


def fit_model1(cameras: Sequence[Camera], points2d: np.ndarray, params: Model1Params = Model1Params(), *,
               init: np.ndarray | None = None, iterations: int = 15, gauss_newton_steps: int = 3,
               learn_beta: bool = True, confidences: np.ndarray | None = None, parents=None,
               n_frames: int | None = None) -> Model1Fit:
    """Fit Model 1 (robust outlier mixture) by EM.

    Args:
        cameras: C cameras.
        points2d: (C, T, K, 2) px, NaN where missing (not all).
        params: Model1Params (eta rig units per frame, None: :func:`estimate_step` of the start;
            omega px, beta, omega_out px); beta is the starting value when ``learn_beta``.
        init: (T, K, 3) starting point, rig units (default: RANSAC, gaps interpolated).
        iterations: EM iterations; gauss_newton_steps: Gauss-Newton steps per M-step.
        learn_beta: re-estimate beta = mean outlier probability in each M-step.
        confidences: optional (C, T, K) detector confidences in [0, 1]: per-observation outlier
            prior :func:`confidence_outlier_prior` around beta.
        parents, n_frames: optional skeleton (K,) and frame count T: points2d's axes are checked
            against them (a (C, K, T, 2) array is refused as swapped).

    Returns:
        :class:`Model1Fit`.
    """
    if not isinstance(params, Model1Params):
        raise TypeError(f"params: expected Model1Params, got {type(params).__name__}")
    if iterations < 1:
        raise ValueError(f"iterations: expected >= 1, got {iterations}")
    cameras, y = _check_tk(cameras, points2d, parents, n_frames)
    x, eta = _initial_positions(cameras, y, init, params.eta)
    params = Model1Params(eta, params.omega, params.beta, params.omega_out)
    observed = np.isfinite(y).all(axis=-1)

    def prior(p):
        return None if confidences is None else confidence_outlier_prior(confidences, p.beta, observed.shape)

    history = []
    for _ in range(iterations):
        resp = _responsibilities(_residuals(cameras, y, x), params, prior(params))  # E-step
        if learn_beta and observed.any():
            beta = float(np.clip(np.nanmean(np.where(observed, resp, np.nan)), 1e-4, 0.5))
            params = Model1Params(params.eta, params.omega, beta, params.omega_out)
        precision = np.where(observed, (1 - resp) / params.omega**2 + resp / params.omega_out**2, 0.0)
        x, _ = _weighted_map(cameras, y, x, precision, params.eta, gauss_newton_steps)  # M-step
        history.append(_model1_objective(_residuals(cameras, y, x), params, x, params.eta, prior(params)))
    resp = _responsibilities(_residuals(cameras, y, x), params, prior(params))
    resp = np.where(observed, resp, np.nan)
    return Model1Fit(positions=x, outlier_prob=resp, params=params, objective=np.array(history))
