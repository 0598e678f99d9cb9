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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.linalg import solveh_banded

from ..geometry import Camera, Rig, check_points2d
from .gaps import initial_positions, interpolate_missing

__all__ = ["Model0Params", "Model1Params", "Model1Fit", "model0_objective", "fit_model0",
           "outlier_posterior", "fit_model1"]


@dataclass(frozen=True)
class Model0Params:
    """Model 0: random-walk step ``eta`` (mm per frame) and pixel noise ``omega`` (px)."""

    eta: float = 10.0
    omega: float = 2.0

    def __post_init__(self):
        for name in ("eta", "omega"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive number, got {value}")


@dataclass(frozen=True)
class Model1Params:
    """Model 1: Model 0's ``eta`` (mm) and ``omega`` (px) plus the outlier probability ``beta``
    and the broad outlier component's standard deviation ``omega_out`` (px)."""

    eta: float = 10.0
    omega: float = 2.0
    beta: float = 0.1
    omega_out: float = 200.0

    def __post_init__(self):
        for name in ("eta", "omega", "omega_out"):
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
        positions: (T, K, 3) mm MAP positions.
        outlier_prob: (C, T, K) posterior probability that each observation is an outlier
            (NaN where missing).
        params: the fitted parameters (beta re-estimated if asked).
        objective: (iterations,) the negative log joint after every EM iteration.
    """

    positions: np.ndarray
    outlier_prob: np.ndarray
    params: Model1Params
    objective: np.ndarray


# helpers ----------------------------------------------------------------------------------------
def _check_tk(cameras, points2d) -> tuple[Rig, np.ndarray]:
    """Validated (pinhole rig, undistorted points2d (C, T, K, 2) px): the models fit the ideal
    pinhole cameras to undistorted pixels."""
    rig, points2d = check_points2d(cameras, points2d)
    if points2d.ndim != 4:
        raise ValueError(f"points2d: expected shape (C, T, K, 2) px, got {points2d.shape}")
    return rig.pinhole(), rig.undistort(points2d)


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


def _initial_positions(rig, y, init):
    C, T, K, _ = y.shape
    if init is None:
        init = initial_positions(rig, y, "ransac", threshold=20.0, fill=False)
    init = np.asarray(init, dtype=float)
    if init.shape != (T, K, 3):
        raise ValueError(f"init: expected shape {(T, K, 3)} mm, got {init.shape}")
    return interpolate_missing(init)


# Model 0 -----------------------------------------------------------------------------------------
def model0_objective(cameras: Sequence[Camera], points2d: np.ndarray, positions: np.ndarray,
                     params: Model0Params) -> float:
    """Model 0's negative log joint (up to a constant) of positions (T, K, 3) mm given
    points2d (C, T, K, 2) px."""
    cameras, y = _check_tk(cameras, points2d)
    positions = np.asarray(positions, dtype=float)
    if positions.shape != y.shape[1:3] + (3,):
        raise ValueError(f"positions: expected shape {y.shape[1:3] + (3,)}, got {positions.shape}")
    precision = np.full(y.shape[:3], 1.0 / params.omega**2)
    return float(np.sum(_objective_per_keypoint(cameras, y, positions, precision, params.eta)))


def fit_model0(cameras: Sequence[Camera], points2d: np.ndarray, params: Model0Params = Model0Params(), *,
               init: np.ndarray | None = None, iterations: int = 20) -> np.ndarray:
    """MAP positions under Model 0 (random-walk prior, Gaussian pixel noise).

    Args:
        cameras: C cameras.
        points2d: (C, T, K, 2) px, NaN where missing.
        params: eta (mm/frame) and omega (px).
        init: (T, K, 3) mm starting point (default: RANSAC triangulation, gaps interpolated).
        iterations: maximum Gauss-Newton iterations.

    Returns:
        (T, K, 3) mm.
    """
    if not isinstance(params, Model0Params):
        raise TypeError(f"params: expected Model0Params, got {type(params).__name__}")
    cameras, y = _check_tk(cameras, points2d)
    x = _initial_positions(cameras, y, init)
    precision = np.full(y.shape[:3], 1.0 / params.omega**2)
    x, _ = _weighted_map(cameras, y, x, precision, params.eta, iterations)
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


def _responsibilities(r, params):
    e2 = np.sum(r**2, axis=-1)
    # log N(e; 0, s^2 I_2) = -|e|^2 / (2 s^2) - log(2 pi s^2)
    log_in = np.log1p(-params.beta) - e2 / (2 * params.omega**2) - 2 * np.log(params.omega)
    log_out = np.log(params.beta) - e2 / (2 * params.omega_out**2) - 2 * np.log(params.omega_out)
    with np.errstate(invalid="ignore"):
        return 1.0 / (1.0 + np.exp(np.clip(log_in - log_out, -700, 700)))


def _model1_objective(r, params, x, eta):
    """Negative log joint with z marginalised (mixture likelihood) + random walk."""
    e2 = np.sum(r**2, axis=-1)
    log_in = np.log1p(-params.beta) - e2 / (2 * params.omega**2) - np.log(2 * np.pi * params.omega**2)
    log_out = np.log(params.beta) - e2 / (2 * params.omega_out**2) - np.log(2 * np.pi * params.omega_out**2)
    ok = np.isfinite(e2)
    loglik = np.logaddexp(log_in[ok], log_out[ok])
    prior = 0.5 * np.sum(np.diff(x, axis=0) ** 2) / eta**2
    return float(-np.sum(loglik) + prior)


def fit_model1(cameras: Sequence[Camera], points2d: np.ndarray, params: Model1Params = Model1Params(), *,
               init: np.ndarray | None = None, iterations: int = 15, gauss_newton_steps: int = 3,
               learn_beta: bool = True) -> Model1Fit:
    """Fit Model 1 (robust outlier mixture) by EM.

    Args:
        cameras: C cameras.
        points2d: (C, T, K, 2) px, NaN where missing.
        params: Model1Params (eta mm/frame, omega px, beta, omega_out px); beta is the starting
            value when ``learn_beta``.
        init: (T, K, 3) mm starting point (default: RANSAC, gaps interpolated).
        iterations: EM iterations; gauss_newton_steps: Gauss-Newton steps per M-step.
        learn_beta: re-estimate beta = mean outlier probability in each M-step.

    Returns:
        :class:`Model1Fit`.
    """
    if not isinstance(params, Model1Params):
        raise TypeError(f"params: expected Model1Params, got {type(params).__name__}")
    if iterations < 1:
        raise ValueError(f"iterations: expected >= 1, got {iterations}")
    cameras, y = _check_tk(cameras, points2d)
    x = _initial_positions(cameras, y, init)
    observed = np.isfinite(y).all(axis=-1)
    history = []
    for _ in range(iterations):
        resp = _responsibilities(_residuals(cameras, y, x), params)  # E-step
        if learn_beta and observed.any():
            beta = float(np.clip(np.nanmean(resp), 1e-4, 0.5))
            params = Model1Params(params.eta, params.omega, beta, params.omega_out)
        precision = np.where(observed, (1 - resp) / params.omega**2 + resp / params.omega_out**2, 0.0)
        x, _ = _weighted_map(cameras, y, x, precision, params.eta, gauss_newton_steps)  # M-step
        history.append(_model1_objective(_residuals(cameras, y, x), params, x, params.eta))
    resp = _responsibilities(_residuals(cameras, y, x), params)
    resp = np.where(observed, resp, np.nan)
    return Model1Fit(positions=x, outlier_prob=resp, params=params, objective=np.array(history))
