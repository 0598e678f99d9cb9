"""GIMBAL's generative model and fitting its prior (lecture: "GIMBAL: capturing correlations in
direction vectors with pose states"; Zhang et al., AISTATS 2021).

For frames t = 1..T, keypoints k (parent pi(k), root r) and cameras c:

    s_t | s_{t-1} ~ Lambda[s_{t-1}]                      pose state (Markov chain)
    h_t ~ Unif[0, 2 pi)                                   heading about +z
    u_{t,k} ~ vMF(R(h_t) nu_{s_t,k}, kappa_{s_t,k})       direction of bone k (k != r)
    x_{1:T} ∝ prod_t prod_k N(x_{t,k}; x_{t-1,k}, eta_k^2 I)               temporal factor
                  prod_{k != r} N(x_{t,k} - x_{t,pi(k)}; rho_k u_{t,k}, sigma_k^2 I)   skeletal factor
          (x_{0,k} := m0 with variance init_std^2 for the first frame)
    z_{t,k,c} ~ Bern(beta_{c,k})                          outlier indicator
    y_{t,k,c} ~ N(f_c(x_{t,k}), (z ? outlier_std : obs_std)^2 I)   2D detection, px (NaN = missing)

The positions' factors are a Gaussian Markov random field (as in the reference code): the
Gibbs sampler targets the joint ∝ product of all factors. :func:`sample_gimbal` draws s, h, u
ancestrally and x | u from that Gaussian field normalised (a banded Cholesky over frames); the
field's normaliser depends weakly on u through the temporal coupling, so these draws are the
sampler's joint only up to that tilt (exact when the temporal factor is off).

Fitting (:func:`fit_gimbal`) from 3D training motion ("motion capture"): rho_k = mean bone
length, sigma_k^2 = variance of bone length (floored), eta_k^2 = per-axis variance of frame-to-
frame displacement, pose states by EM for a mixture of products of vMFs on heading-aligned
directions, Lambda from the most probable state sequence; observation noise and outlier rate
by EM on reprojection residuals (:func:`fit_observation_model`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded, solve_banded

from .hmm import count_transitions
from .vmf import sample_vmf, vmf_kappa_from_resultant, vmf_log_normalizer

__all__ = ["GimbalParams", "heading_rotation", "rotate_about_z", "bone_directions", "root_index",
           "tree_depths", "sample_gimbal", "position_prior_precision", "fit_vmf_mixture", "fit_gimbal",
           "fit_observation_model", "estimate_heading", "uniform_direction_params", "pose_from_directions"]


@dataclass(frozen=True, eq=False)
class GimbalParams:
    """Parameters of GIMBAL (units: mm, px, radians).

    parents: (K,) int, -1 for the root.      rho: (K,) bone lengths, mm (0 at the root).
    sigma2: (K,) skeletal variance, mm^2.     eta2: (K,) temporal variance, mm^2 (per axis).
    nu: (S, K, 3) unit mean directions in the heading frame.  kappa: (S, K) concentrations.
    transition: (S, S) Lambda.  initial: (S,) pi0.
    obs_std: observation noise of inliers, px.  outlier_std: of outliers, px.
    outlier_prob: (C, K) or scalar beta.  init_mean: (3,) mm, init_std: mm, prior of frame 1.
    """

    parents: np.ndarray
    rho: np.ndarray
    sigma2: np.ndarray
    eta2: np.ndarray
    nu: np.ndarray
    kappa: np.ndarray
    transition: np.ndarray
    initial: np.ndarray
    obs_std: float = 3.0
    outlier_std: float = 150.0
    outlier_prob: object = 0.1
    init_mean: np.ndarray = None
    init_std: float = 500.0

    def __post_init__(self):
        parents = np.asarray(self.parents, dtype=int)
        K = len(parents)
        if parents.ndim != 1 or np.sum(parents < 0) != 1 or np.any(parents >= K):
            raise ValueError("parents: expected (K,) ints with exactly one root (-1)")
        arrays = {}
        for name in ("rho", "sigma2", "eta2"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.shape != (K,):
                raise ValueError(f"{name}: expected shape ({K},), got {a.shape}")
            arrays[name] = a
        if np.any(arrays["sigma2"] <= 0) or np.any(arrays["eta2"] <= 0):
            raise ValueError("sigma2, eta2: expected variances > 0 (use np.inf to switch a factor off)")
        nu = np.asarray(self.nu, dtype=float)
        if nu.ndim != 3 or nu.shape[1:] != (K, 3):
            raise ValueError(f"nu: expected shape (S, {K}, 3), got {nu.shape}")
        S = nu.shape[0]
        kappa = np.asarray(self.kappa, dtype=float)
        if kappa.shape != (S, K) or np.any(kappa < 0):
            raise ValueError(f"kappa: expected shape ({S}, {K}) with values >= 0")
        Lam = np.asarray(self.transition, dtype=float)
        if Lam.shape != (S, S) or not np.allclose(Lam.sum(1), 1.0):
            raise ValueError(f"transition: expected a row-stochastic ({S}, {S}) matrix")
        pi0 = np.asarray(self.initial, dtype=float)
        if pi0.shape != (S,):
            raise ValueError(f"initial: expected shape ({S},)")
        beta = np.asarray(self.outlier_prob, dtype=float)
        if np.any(beta < 0) or np.any(beta >= 1):
            raise ValueError("outlier_prob: expected probabilities in [0, 1)")
        if self.obs_std <= 0 or self.outlier_std <= 0 or self.init_std <= 0:
            raise ValueError("obs_std, outlier_std, init_std: expected > 0")
        m0 = np.zeros(3) if self.init_mean is None else np.asarray(self.init_mean, dtype=float)
        for name, value in (("parents", parents), ("nu", nu), ("kappa", kappa), ("transition", Lam),
                            ("initial", pi0), ("outlier_prob", beta), ("init_mean", m0), *arrays.items()):
            value = value.copy()
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    @property
    def n_states(self) -> int:
        return self.nu.shape[0]

    @property
    def n_keypoints(self) -> int:
        return len(self.parents)

    def replace(self, **changes) -> "GimbalParams":
        """A copy with some fields changed (submodels: e.g. kappa=0, eta2=np.inf)."""
        return replace(self, **changes)


def root_index(parents) -> int:
    """Index of the root (parent -1)."""
    return int(np.flatnonzero(np.asarray(parents) < 0)[0])


def tree_depths(parents) -> np.ndarray:
    """(K,) depth of each keypoint in the kinematic tree (root 0); raises on cycles."""
    parents = np.asarray(parents, dtype=int)
    depth = np.full(len(parents), -1)
    depth[parents < 0] = 0
    for _ in range(len(parents)):
        todo = depth < 0
        if not todo.any():
            break
        ready = todo & (depth[np.where(parents >= 0, parents, 0)] >= 0)
        depth[ready] = depth[parents[ready]] + 1
    if np.any(depth < 0):
        raise ValueError("parents: does not describe a tree (cycle or unreachable keypoint)")
    return depth


def heading_rotation(h) -> np.ndarray:
    """Rotation matrices R(h) about +z: h (...,) rad -> (..., 3, 3)."""
    h = np.asarray(h, dtype=float)
    c, s = np.cos(h), np.sin(h)
    z, o = np.zeros_like(h), np.ones_like(h)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def rotate_about_z(v, h) -> np.ndarray:
    """R(h) v for vectors v (..., 3) and angles h broadcastable to v's batch shape."""
    v = np.asarray(v, dtype=float)
    h = np.asarray(h, dtype=float)
    c, s = np.cos(h), np.sin(h)
    x = c * v[..., 0] - s * v[..., 1]
    return np.stack([x, s * v[..., 0] + c * v[..., 1], np.broadcast_to(v[..., 2], x.shape)], -1)


def bone_directions(positions, parents) -> tuple[np.ndarray, np.ndarray]:
    """Unit bone directions and lengths: positions (..., K, 3) mm -> (u (..., K, 3), length (..., K)).

    The root gets u = 0 and length 0.
    """
    positions = np.asarray(positions, dtype=float)
    parents = np.asarray(parents, dtype=int)
    d = positions - positions[..., np.where(parents >= 0, parents, np.arange(len(parents))), :]
    length = np.linalg.norm(d, axis=-1)
    u = d / np.where(length > 0, length, 1.0)[..., None]
    return u, length


def estimate_heading(positions, front: int, back: int) -> np.ndarray:
    """Heading (T,) rad: the angle about +z of the horizontal vector from keypoint back to front."""
    positions = np.asarray(positions, dtype=float)
    v = positions[..., front, :] - positions[..., back, :]
    return np.arctan2(v[..., 1], v[..., 0])


def uniform_direction_params(params: GimbalParams) -> GimbalParams:
    """Model 2 as a GIMBAL submodel: one state with kappa = 0 (uniform bone directions)."""
    K = params.n_keypoints
    nu = np.zeros((1, K, 3))
    nu[..., 2] = 1.0
    return params.replace(nu=nu, kappa=np.zeros((1, K)), transition=np.ones((1, 1)), initial=np.ones(1))


# ---------------------------------------------------------------------------------------------
# the Gaussian field of the positions (per axis: the same K*T x K*T precision for x, y, z)

def position_prior_precision(params: GimbalParams, n_frames: int, temporal: bool = True):
    """Banded precision of the positions' Gaussian factors, per axis, in 'upper' LAPACK form.

    Variables are ordered (t, k) -> t*K + k. Returns (ab, L): ab (K+1, T*K) is the upper banded
    LAPACK storage of the precision J (bandwidth K, identical for the x, y and z axes) and
    L (K, K) the skeletal part of one frame (the tree's weighted graph Laplacian, 1/sigma_k^2).
    """
    K = params.n_keypoints
    T = n_frames
    parents = params.parents
    w_tree = np.where(parents >= 0, 1.0 / params.sigma2, 0.0)
    L = np.zeros((K, K))
    for k in range(K):
        p = parents[k]
        if p >= 0:
            L[k, k] += w_tree[k]
            L[p, p] += w_tree[k]
            L[k, p] -= w_tree[k]
            L[p, k] -= w_tree[k]
    w_time = 1.0 / params.eta2 if temporal else np.zeros(K)
    n = T * K
    J = np.zeros((n, K + 1))      # J[i, j] for j - i in 0..K, dense by offset
    diag = np.tile(np.diag(L), T)
    nbrs = np.full(T, 2.0)          # temporal factors touching frame t
    nbrs[0] = nbrs[-1] = 1.0
    if T == 1:
        nbrs[0] = 0.0
    init_w = 1.0 / params.init_std**2
    diag += (nbrs[:, None] * w_time[None, :]).ravel()
    if temporal:
        diag[:K] += init_w
    else:                           # every frame gets the broad prior N(m0, init_std^2)
        diag += init_w
    J[:, 0] = diag
    for off in range(1, K):
        vals = np.array([L[k, k + off] if k + off < K else 0.0 for k in range(K)])
        J[:, off] = np.tile(vals, T)
    if T > 1:
        J[: (T - 1) * K, K] = -np.tile(w_time, T - 1)
    # LAPACK upper banded: ab[u + i - j, j] = a[i, j] for i <= j
    ab = np.zeros((K + 1, n))
    for off in range(K + 1):
        ab[K - off, off:] = J[: n - off, off]
    return ab, L


def _position_linear_term(params, directions, temporal: bool):
    """(T, K, 3) linear term h of the positions' Gaussian field given directions u (T, K, 3)."""
    parents = params.parents
    T, K = directions.shape[:2]
    scaled = (np.where(parents >= 0, params.rho / params.sigma2, 0.0))[None, :, None] * directions
    h = scaled.copy()
    for k in range(K):
        if parents[k] >= 0:
            h[:, parents[k]] -= scaled[:, k]
    init_w = 1.0 / params.init_std**2
    h[0] += init_w * params.init_mean
    if not temporal:
        h[1:] += init_w * params.init_mean
    return h


def sample_positions_given_directions(params: GimbalParams, directions, rng, temporal: bool = True):
    """Draw x_{1:T} from the positions' Gaussian field given directions u (T, K, 3). -> (T, K, 3) mm."""
    T, K = directions.shape[:2]
    ab, _ = position_prior_precision(params, T, temporal)
    h = _position_linear_term(params, directions, temporal).reshape(T * K, 3)
    chol = cholesky_banded(ab, lower=False)               # J = U^T U
    mean = cho_solve_banded((chol, False), h)
    eps = rng.standard_normal((T * K, 3))
    noise = solve_banded((0, K), chol, eps)               # U^{-1} eps ~ N(0, J^{-1})
    return (mean + noise).reshape(T, K, 3)


def sample_gimbal(params: GimbalParams, n_frames: int, cameras, rng: np.random.Generator, *,
                  temporal: bool = True):
    """Draw (s, h, u, x, z, y) from GIMBAL's generative model.

    cameras: list of geometry.Camera. Returns a dict with states (T,), heading (T,) rad,
    directions (T, K, 3), positions (T, K, 3) mm, outliers (C, T, K) bool, observations
    (C, T, K, 2) px (outliers drawn from the broad Gaussian around the projection).
    """
    from ..geometry import as_rig

    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator")
    if int(n_frames) < 1:
        raise ValueError("n_frames: expected >= 1")
    T, K, S = int(n_frames), params.n_keypoints, params.n_states
    states = np.empty(T, dtype=int)
    states[0] = rng.choice(S, p=params.initial)
    cum = np.cumsum(params.transition, axis=1)
    U = rng.random(T)
    for t in range(1, T):  # the chain itself is sequential (generation only)
        states[t] = min(int(np.searchsorted(cum[states[t - 1]], U[t])), S - 1)
    heading = rng.uniform(-np.pi, np.pi, T)
    mean_dir = rotate_about_z(params.nu[states], heading[:, None])
    u = sample_vmf(mean_dir, params.kappa[states], rng)
    u[:, params.parents < 0] = 0.0
    x = sample_positions_given_directions(params, u, rng, temporal)
    C = len(cameras)
    beta = np.broadcast_to(params.outlier_prob, (C, K))
    z = rng.random((C, T, K)) < beta[:, None, :]
    clean = as_rig(cameras).project(x)
    std = np.where(z, params.outlier_std, params.obs_std)[..., None]
    y = clean + std * rng.standard_normal(clean.shape)
    return {"states": states, "heading": heading, "directions": u, "positions": x, "outliers": z,
            "observations": y}


# ---------------------------------------------------------------------------------------------
# fitting

def fit_vmf_mixture(directions, n_states: int, rng: np.random.Generator, *, n_iter: int = 100,
                    weights=None, tol: float = 1e-6, kappa_max: float = 500.0, n_init: int = 3):
    """EM for a mixture of products of vMFs: frame t has state s with prob w_s and
    u_{t,k} ~ vMF(nu_{s,k}, kappa_{s,k}) independently over k.

    directions: (T, K, 3) unit vectors (rows with NaN ignored per keypoint; keypoints with
    weights 0 ignored); n_init restarts, the best likelihood kept. Returns (weights (S,), nu (S, K, 3),
    kappa (S, K), responsibilities (T, S),
    log-likelihood trace list).
    """
    u = np.asarray(directions, dtype=float)
    if u.ndim != 3 or u.shape[-1] != 3:
        raise ValueError(f"directions: expected shape (T, K, 3), got {u.shape}")
    T, K, _ = u.shape
    if n_states < 1 or n_states > T:
        raise ValueError("n_states: expected 1 <= n_states <= T")
    valid = np.all(np.isfinite(u), axis=-1) & (np.linalg.norm(np.nan_to_num(u), axis=-1) > 0.5)
    if weights is not None:
        valid &= np.asarray(weights, dtype=bool)[None, :]
    u0 = np.where(valid[..., None], np.nan_to_num(u), 0.0)
    best = None
    for _ in range(max(int(n_init), 1)):
        result = _vmf_mixture_em(u0, valid, n_states, rng, n_iter, tol, kappa_max)
        if best is None or result[-1][-1] > best[-1][-1]:
            best = result
    return best


def _vmf_mixture_em(u0, valid, n_states, rng, n_iter, tol, kappa_max):
    """One EM run from a spherical k-means++ / k-means start."""
    T = len(u0)
    flat = u0.reshape(T, -1)
    centers = [flat[rng.integers(T)]]
    for _ in range(1, n_states):
        d2 = np.min([np.sum((flat - c) ** 2, axis=1) for c in centers], axis=0)
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(T, 1.0 / T)
        centers.append(flat[rng.choice(T, p=p)])
    centers = np.array(centers)
    for _ in range(10):                                   # a few k-means iterations
        labels = np.argmin(np.sum((flat[:, None] - centers[None]) ** 2, -1), axis=1)
        centers = np.array([flat[labels == j].mean(0) if np.any(labels == j) else centers[j] for j in range(n_states)])
    resp = np.eye(n_states)[labels] * 0.9 + 0.1 / n_states
    trace = []
    for _ in range(n_iter):
        # M step
        Nk = resp.sum(0) + 1e-10
        w = Nk / T
        sums = np.einsum("ts,tkd->skd", resp, u0)
        counts = np.einsum("ts,tk->sk", resp, valid.astype(float)) + 1e-10
        norm = np.linalg.norm(sums, axis=-1)
        nu = sums / np.where(norm > 0, norm, 1.0)[..., None]
        nu = np.where(norm[..., None] > 0, nu, np.array([0.0, 0.0, 1.0]))
        rbar = np.clip(norm / counts, 0.0, 1.0 - 1e-9)
        kappa = np.minimum(vmf_kappa_from_resultant(rbar), kappa_max)
        # E step
        logp = np.log(w)[None, :] + np.einsum("tk,sk->ts", valid.astype(float), vmf_log_normalizer(kappa)) \
            + np.einsum("sk,skd,tkd->ts", kappa, nu, u0)
        m = logp.max(1, keepdims=True)
        ll = float(np.sum(m[:, 0] + np.log(np.exp(logp - m).sum(1))))
        resp = np.exp(logp - m)
        resp /= resp.sum(1, keepdims=True)
        trace.append(ll)
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) < tol * abs(trace[-1]):
            break
    return w, nu, kappa, resp, trace


def fit_observation_model(residuals, *, n_iter: int = 200, init_std: float = 3.0, init_outlier_std: float = 100.0,
                          init_prob: float = 0.1):
    """EM for the 2D residuals e = y - f_c(x) (C, T, K, 2) px (NaN = missing) under
    (1 - beta_{c,k}) N(0, obs_std^2 I) + beta_{c,k} N(0, outlier_std^2 I).

    Returns (obs_std px, outlier_std px, beta (C, K)).
    """
    e = np.asarray(residuals, dtype=float)
    if e.ndim != 4 or e.shape[-1] != 2:
        raise ValueError(f"residuals: expected shape (C, T, K, 2), got {e.shape}")
    obs = np.all(np.isfinite(e), axis=-1)
    r2 = np.where(obs, np.sum(np.nan_to_num(e) ** 2, axis=-1), 0.0)
    s_in, s_out = float(init_std), float(init_outlier_std)
    beta = np.full((e.shape[0], e.shape[2]), float(init_prob))
    n_obs = obs.sum(1)
    for _ in range(n_iter):
        log_in = np.log1p(-beta)[:, None, :] - np.log(2 * np.pi * s_in**2) - r2 / (2 * s_in**2)
        log_out = np.log(beta)[:, None, :] - np.log(2 * np.pi * s_out**2) - r2 / (2 * s_out**2)
        g = 1.0 / (1.0 + np.exp(np.clip(log_in - log_out, -700, 700)))   # p(outlier)
        g = np.where(obs, g, 0.0)
        beta = np.clip(g.sum(1) / np.maximum(n_obs, 1), 1e-4, 0.5)
        w_in = np.where(obs, 1 - g, 0.0)
        s_in = float(np.sqrt(np.sum(w_in * r2) / (2 * max(w_in.sum(), 1e-9))))
        s_out = float(np.sqrt(np.sum(g * r2) / (2 * max(g.sum(), 1e-9))))
        s_out = max(s_out, 3 * s_in)
    return s_in, s_out, beta


def fit_gimbal(positions, parents, n_states: int, rng: np.random.Generator, *, heading=None,
               heading_keypoints: tuple[int, int] | None = None, sigma_min: float | None = None,
               eta_min: float | None = None, dirichlet: float = 1.0, obs_std: float = 3.0, outlier_std: float = 150.0,
               outlier_prob=0.1, init_std: float | None = None, n_iter: int = 100):
    """Fit GIMBAL's prior to 3D training motion.

    positions: (T, K, 3) in any length unit (mm, metres: the params come out in the same unit);
    parents: (K,); heading: (T,) rad, or computed from heading_keypoints = (front, back).
    Directions are rotated into the heading-aligned frame (R(-h_t) u_{t,k}) before the
    vMF-mixture EM. The length floors and the first frame's prior default to the training
    motion's own scale (None), the median bone length b: sigma_min = b / 19, eta_min = b / 38,
    init_std = b x 500 / 38 (for the virtual rodent, b = 38 mm: the former 2 mm, 1 mm and
    500 mm); explicit values are used as given.
    obs_std and outlier_std are px. Returns (GimbalParams, states (T,) the most probable state of
    each training frame).
    """
    x = np.asarray(positions, dtype=float)
    parents = np.asarray(parents, dtype=int)
    if x.ndim != 3 or x.shape[1:] != (len(parents), 3):
        raise ValueError(f"positions: expected shape (T, {len(parents)}, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("positions: training motion must be complete (no NaN)")
    tree_depths(parents)
    if heading is None:
        if heading_keypoints is None:
            raise ValueError("heading: give heading (T,) or heading_keypoints=(front, back)")
        heading = estimate_heading(x, *heading_keypoints)
    heading = np.asarray(heading, dtype=float)
    if heading.shape != (len(x),):
        raise ValueError(f"heading: expected shape ({len(x)},), got {heading.shape}")
    u, length = bone_directions(x, parents)
    nonroot = parents >= 0
    bone = float(np.median(length[:, nonroot].mean(0))) if nonroot.any() else 0.0
    if not bone > 0:  # one keypoint, or all bones of length 0: the positions' own spread
        bone = float(np.std(x)) or 1.0
    sigma_min = bone / 19.0 if sigma_min is None else sigma_min
    eta_min = bone / 38.0 if eta_min is None else eta_min
    init_std = bone * 500.0 / 38.0 if init_std is None else init_std
    rho = np.where(nonroot, length.mean(0), 0.0)
    sigma2 = np.where(nonroot, np.maximum(length.var(0), sigma_min**2), 1.0)
    eta2 = np.maximum(np.mean(np.sum(np.diff(x, axis=0) ** 2, axis=-1), axis=0) / 3.0, eta_min**2)
    aligned = rotate_about_z(u, -heading[:, None])
    w, nu, kappa, resp, _ = fit_vmf_mixture(aligned, n_states, rng, n_iter=n_iter, weights=nonroot)
    kappa[:, ~nonroot] = 0.0
    states = resp.argmax(1)
    Lam = count_transitions(states, n_states) + dirichlet
    Lam /= Lam.sum(1, keepdims=True)
    params = GimbalParams(parents=parents, rho=rho, sigma2=sigma2, eta2=eta2, nu=nu, kappa=kappa,
                          transition=Lam, initial=w / w.sum(), obs_std=obs_std, outlier_std=outlier_std,
                          outlier_prob=outlier_prob, init_mean=x[:, ~nonroot].mean(axis=(0, 1)),
                          init_std=init_std)
    return params, states


def pose_from_directions(root, directions, parents, rho) -> np.ndarray:
    """Forward kinematics: x_k = x_{pi(k)} + rho_k u_k from the root down.

    root: (..., 3) mm; directions: (..., K, 3) unit; parents: (K,); rho: (K,) mm. -> (..., K, 3) mm.
    """
    parents = np.asarray(parents, dtype=int)
    directions = np.asarray(directions, dtype=float)
    depth = tree_depths(parents)
    x = np.zeros(directions.shape)
    x[..., parents < 0, :] = np.asarray(root, dtype=float)[..., None, :]
    for d in range(1, depth.max() + 1):
        ks = np.flatnonzero(depth == d)
        x[..., ks, :] = x[..., parents[ks], :] + np.asarray(rho)[ks, None] * directions[..., ks, :]
    return x
