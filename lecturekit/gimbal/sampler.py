"""GIMBAL's Gibbs sampler (lecture: "GIMBAL yields posterior distributions on 3D pose given 2D
estimates"). One sweep updates, in turn, each block from its conditional:

* outliers z_{t,k,c} | x, y: exact Bernoulli, p ∝ beta N(y; f_c(x), outlier_std^2) vs
  (1 - beta) N(y; f_c(x), obs_std^2); missing detections draw z from the prior;
* positions x_t | rest: the projection f_c is nonlinear, so a Metropolis-Hastings step with a
  per-frame Gauss-Newton (Laplace) proposal N(x + P^{-1} grad, P^{-1}), P = prior precision +
  sum_c w J_c^T J_c, accepted with the exact ratio (reverse proposal built at the proposed
  point). Frames interact only with their neighbours, so all even frames are updated jointly,
  then all odd frames - this leaves the posterior invariant;
* directions u_{t,k} | x, s, h: exact vMF with natural parameter
  kappa_{s,k} R(h) nu_{s,k} + rho_k (x_{t,k} - x_{t,pi(k)}) / sigma_k^2 (vMF-Gaussian conjugacy);
* heading h_t | u, s: exact von Mises. With R(h) a rotation about z,
  sum_k kappa_k (R(h) nu_k)^T u_k = a cos h + b sin h + const,
  a = sum_k kappa_k (nu_kx u_kx + nu_ky u_ky), b = sum_k kappa_k (nu_kx u_ky - nu_ky u_kx),
  so h ~ VonMises(atan2(b, a), sqrt(a^2 + b^2)) (note the kappa weights);
* states s | u, h, Lambda: forward-filter backward-sample with vMF emissions;
* Lambda | s: Dirichlet rows.

Submodel switches: ``temporal=False`` (no temporal factor), ``outlier_model=False`` (one
Gaussian), ``infer_heading=False`` (heading fixed at 0), one state (fit with n_states=1), and
Model 2 = GIMBAL with one state and kappa = 0 (:func:`model.uniform_direction_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .hmm import ffbs, sample_transition_matrix
from .model import GimbalParams, rotate_about_z, bone_directions
from .vmf import sample_vmf, vmf_log_normalizer, natural_to_mean

__all__ = ["GibbsState", "GimbalSampler", "interpolate_missing", "initial_positions", "run_chains"]


@dataclass(frozen=True, eq=False)
class GibbsState:
    """The sampler's explicit state after a sweep.

    positions: (T, K, 3) mm; directions: (T, K, 3) unit (root rows 0); heading: (T,) rad;
    states: (T,) int; transition: (S, S); outliers: (C, T, K) bool; accept_rate: fraction of
    frames whose position proposal was accepted in the last sweep; sweep: sweeps done.
    """

    positions: np.ndarray
    directions: np.ndarray
    heading: np.ndarray
    states: np.ndarray
    transition: np.ndarray
    outliers: np.ndarray
    accept_rate: float = 1.0
    sweep: int = 0
    projection: tuple | None = field(default=None, repr=False)   # cached (pixels, ok, Jacobians) at positions


def interpolate_missing(positions) -> np.ndarray:
    """Fill NaN in positions (T, K, 3) by linear interpolation over time (edges held constant);
    a keypoint missing in every frame takes the mean of the other keypoints."""
    x = np.array(positions, dtype=float)
    T, K, _ = x.shape
    t = np.arange(T)
    for k in range(K):  # loop over keypoints (initialisation only)
        ok = np.all(np.isfinite(x[:, k]), axis=-1)
        if ok.any() and not ok.all():
            for a in range(3):
                x[~ok, k, a] = np.interp(t[~ok], t[ok], x[ok, k, a])
    bad = ~np.all(np.isfinite(x), axis=-1)
    if bad.any():
        fill = np.nanmean(np.where(bad[..., None], np.nan, x), axis=1)
        fill = np.where(np.isfinite(fill), fill, 0.0)
        x = np.where(bad[..., None], fill[:, None, :], x)
    return x


def initial_positions(cameras, observations, method: str = "ransac", threshold: float = 15.0) -> np.ndarray:
    """Robust triangulation of observations (C, T, K, 2) px for the sampler's start: (T, K, 3) mm,
    NaN where fewer than two cameras saw a keypoint. method: "ransac", "median" or "dlt"."""
    from .. import triangulation

    if method == "ransac":
        return triangulation.triangulate_ransac(cameras, observations, threshold=threshold)
    if method == "median":
        return triangulation.triangulate_median(cameras, observations)
    if method == "dlt":
        return triangulation.triangulate_dlt(cameras, observations)
    raise ValueError(f"method: expected 'ransac', 'median' or 'dlt', got {method!r}")


def _inv3(M):
    """Inverse and determinant of stacked 3x3 matrices (..., 3, 3), by cofactors."""
    a, b, c = M[..., 0, 0], M[..., 0, 1], M[..., 0, 2]
    d, e, f = M[..., 1, 0], M[..., 1, 1], M[..., 1, 2]
    g, h, i = M[..., 2, 0], M[..., 2, 1], M[..., 2, 2]
    A, B, Cc = e * i - f * h, f * g - d * i, d * h - e * g
    det = a * A + b * B + c * Cc
    adj = np.stack([np.stack([A, c * h - b * i, b * f - c * e], -1),
                    np.stack([B, a * i - c * g, c * d - a * f], -1),
                    np.stack([Cc, b * g - a * h, a * e - b * d], -1)], -2)
    return adj / det[..., None, None], det


def _chol3(M):
    """Lower Cholesky factor of stacked SPD 3x3 matrices (..., 3, 3)."""
    L = np.zeros_like(M)
    l00 = np.sqrt(M[..., 0, 0])
    l10 = M[..., 1, 0] / l00
    l20 = M[..., 2, 0] / l00
    l11 = np.sqrt(M[..., 1, 1] - l10**2)
    l21 = (M[..., 2, 1] - l20 * l10) / l11
    l22 = np.sqrt(M[..., 2, 2] - l20**2 - l21**2)
    L[..., 0, 0], L[..., 1, 0], L[..., 2, 0] = l00, l10, l20
    L[..., 1, 1], L[..., 2, 1], L[..., 2, 2] = l11, l21, l22
    return L


def _mv3(M, v):
    """Stacked 3x3 matrix times 3-vector: (..., 3, 3), (..., 3) -> (..., 3)."""
    return np.sum(M * v[..., None, :], axis=-1)


class GimbalSampler:
    """Gibbs sampler for GIMBAL given cameras and 2D observations.

    params: GimbalParams; cameras: list of geometry.Camera (C); observations: (C, T, K, 2) px,
    NaN = missing. Switches: temporal, outlier_model, infer_heading, infer_transition;
    dirichlet: pseudo-count of Lambda's Dirichlet prior.
    """

    def __init__(self, params: GimbalParams, cameras, observations, *, temporal: bool = True,
                 outlier_model: bool = True, infer_heading: bool = True, infer_transition: bool = True,
                 dirichlet: float = 1.0):
        from ..geometry import Camera

        if not isinstance(params, GimbalParams):
            raise TypeError("params: expected a GimbalParams")
        if isinstance(cameras, Camera) or not all(isinstance(c, Camera) for c in cameras):
            raise TypeError("cameras: expected a list of geometry.Camera")
        y = np.asarray(observations, dtype=float)
        C, K = len(cameras), params.n_keypoints
        if y.ndim != 4 or y.shape[0] != C or y.shape[2] != K or y.shape[3] != 2:
            raise ValueError(f"observations: expected shape ({C}, T, {K}, 2), got {y.shape}")
        self.params, self.cameras = params, list(cameras)
        self.temporal, self.outlier_model = bool(temporal), bool(outlier_model)
        self.infer_heading, self.infer_transition = bool(infer_heading), bool(infer_transition)
        self.dirichlet = float(dirichlet)
        self.T = y.shape[1]
        self.mask = np.all(np.isfinite(y), axis=-1)                    # (C, T, K)
        self.y = np.where(self.mask[..., None], y, 0.0)
        self.beta = np.broadcast_to(params.outlier_prob, (C, K)).astype(float) if outlier_model \
            else np.zeros((C, K))
        self._R = np.stack([c.R for c in cameras])
        self._t = np.stack([c.t for c in cameras])
        self._Kf = np.stack([c.K[:2, :2] for c in cameras])
        self._cc = np.stack([c.K[:2, 2] for c in cameras])
        self._k1 = np.array([c.k1 for c in cameras])
        self._build_prior()
        self._tree_levels()

    # ---- the positions' Gaussian factors, per frame ----------------------------------------
    def _build_prior(self):
        p, K, T = self.params, self.params.n_keypoints, self.T
        w_tree = np.where(p.parents >= 0, 1.0 / p.sigma2, 0.0)
        L = np.zeros((K, K))
        for k in np.flatnonzero(p.parents >= 0):
            j = p.parents[k]
            L[[k, j], [k, j]] += w_tree[k]
            L[k, j] -= w_tree[k]
            L[j, k] -= w_tree[k]
        self._w_time = 1.0 / p.eta2 if self.temporal else np.zeros(K)
        n_nbrs = np.full(T, 2.0)
        n_nbrs[0] = n_nbrs[-1] = 1.0
        if T == 1:
            n_nbrs[:] = 0.0
        init_w = 1.0 / p.init_std**2
        diag = n_nbrs[:, None] * self._w_time[None, :]
        if self.temporal:
            diag[0] += init_w
        else:
            diag += init_w
        self._A = L[None] + diag[:, :, None] * np.eye(K)[None]            # (T, K, K) per axis
        self._L_off = L - np.diag(np.diag(L))                             # the tree's off-diagonal part
        self._init_w = np.zeros(T)
        self._init_w[0 if self.temporal else slice(None)] = init_w
        self._bone_w = np.where(p.parents >= 0, p.rho / p.sigma2, 0.0)   # (K,)

    def _prior_linear(self, x, u, frames):
        """Linear term b_t (n, K, 3) of the prior on frames given neighbours and directions."""
        p = self.params
        wt = self._w_time[None, :, None]
        b = np.zeros((len(frames), p.n_keypoints, 3))
        prev, nxt = frames - 1, frames + 1
        has_prev, has_next = prev >= 0, nxt < self.T
        b += np.where(has_prev[:, None, None], wt * x[np.maximum(prev, 0)], 0.0)
        b += np.where(has_next[:, None, None], wt * x[np.minimum(nxt, self.T - 1)], 0.0)
        scaled = self._bone_w[None, :, None] * u[frames]
        b += scaled
        np.subtract.at(b, (slice(None), np.where(p.parents >= 0, p.parents, 0)), scaled * (p.parents >= 0)[None, :, None])
        b += self._init_w[frames, None, None] * p.init_mean
        return b

    # ---- projection, Jacobian -------------------------------------------------------------
    def _project(self, x, frames, jacobian: bool):
        """Pixels (C, n, K, 2), validity (C, n, K) and optionally Jacobians (C, n, K, 2, 3).

        Written with elementwise arithmetic (tiny stacked matmuls are slow in numpy)."""
        R, t, Kf, cc = self._R, self._t, self._Kf, self._cc
        C, (n, K) = len(R), x.shape[:2]
        flat = x.reshape(n * K, 3)
        # camera coordinates, one contiguous (C, n*K) array per axis (three matrix products)
        cx, cy, z = ((flat @ R[:, a, :].T).T + t[:, a, None] for a in range(3))
        ok = z > 1e-6
        inv_z = 1.0 / np.where(ok, z, 1.0)
        nx, ny = cx * inv_z, cy * inv_z
        k1 = self._k1[:, None]
        fac = 1.0 + k1 * (nx * nx + ny * ny)
        dx, dy = nx * fac, ny * fac
        K00, K01, K10, K11 = (Kf[:, i, j, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        pix = np.stack([K00 * dx + K01 * dy + cc[:, 0, None], K10 * dx + K11 * dy + cc[:, 1, None]], -1)
        pix, ok = pix.reshape(C, n, K, 2), ok.reshape(C, n, K)
        if not jacobian:
            return pix, ok, None
        Rb = R[:, None]                                                   # (C, 1, 3, 3)
        iz = inv_z[..., None]
        dnx = (Rb[..., 0, :] - nx[..., None] * Rb[..., 2, :]) * iz       # d nx / d x  (C, nK, 3)
        dny = (Rb[..., 1, :] - ny[..., None] * Rb[..., 2, :]) * iz
        if np.any(self._k1):
            proj = 2.0 * k1[..., None] * (nx[..., None] * dnx + ny[..., None] * dny)
            ddx = fac[..., None] * dnx + nx[..., None] * proj
            ddy = fac[..., None] * dny + ny[..., None] * proj
        else:
            ddx, ddy = dnx, dny
        J = np.stack([K00[..., None] * ddx + K01[..., None] * ddy, K10[..., None] * ddx + K11[..., None] * ddy], -2)
        J = J.reshape(C, n, K, 2, 3)
        return pix, ok, J

    def _log_lik_terms(self, proj, frames, z, jacobian):
        """From a projection (pixels, ok, J) of frames: per-frame log-likelihood (n,),
        GN gradient (n, K, 3) and GN precision (n, K, 3, 3)."""
        pix, ok, J = proj
        m = self.mask[:, frames]
        w = np.where(z[:, frames], 1.0 / self.params.outlier_std**2, 1.0 / self.params.obs_std**2) * m
        r = np.where(m[..., None], self.y[:, frames] - pix, 0.0)
        ll = -0.5 * np.sum(w * np.sum(r**2, -1), axis=(0, 2))
        ll = np.where(np.any(m & ~ok, axis=(0, 2)), -np.inf, ll)
        if not jacobian:
            return ll, None, None
        w = np.where(ok, w, 0.0)
        J0, J1 = J[..., 0, :], J[..., 1, :]                              # (C, n, K, 3) each
        wJ0, wJ1 = w[..., None] * J0, w[..., None] * J1
        g = np.sum(wJ0 * r[..., 0:1] + wJ1 * r[..., 1:2], axis=0)
        H = np.empty(g.shape + (3,))
        for f in range(3):                                                # 6 unique entries (symmetric)
            for e in range(f, 3):
                H[..., f, e] = np.sum(wJ0[..., f] * J0[..., e] + wJ1[..., f] * J1[..., e], axis=0)
                if e != f:
                    H[..., e, f] = H[..., f, e]
        return ll, g, H

    def _tree_levels(self):
        if not hasattr(self, "_levels"):
            from .model import tree_depths
            depth = tree_depths(self.params.parents)
            self._levels = [np.flatnonzero(depth == d) for d in range(depth.max(), 0, -1)]
            self._coupling = -np.where(self.params.parents >= 0, 1.0 / self.params.sigma2, 0.0)  # P[k, pi(k)]
        return self._levels

    def _tree_levels_grouped(self):
        """Per level: (children, unique parents, [(child selector, their parents)] with no
        parent repeated inside a group), so updates can use plain fancy-index adds."""
        if not hasattr(self, "_grouped"):
            parents = self.params.parents
            self._grouped = []
            for ks in self._tree_levels():
                ps = parents[ks]
                groups, remaining = [], np.arange(len(ks))
                while len(remaining):
                    _, first = np.unique(ps[remaining], return_index=True)
                    sel = remaining[first]
                    groups.append((sel, ps[sel]))
                    remaining = np.setdiff1d(remaining, sel)
                self._grouped.append((ks, np.unique(ps), groups))
        return self._grouped

    def _eliminate(self, D, h):
        """Block LDL^T of the tree-structured precision (leaves first, no fill-in).

        D: (n, K, 3, 3) diagonal blocks, h: (n, K, 3) information vector; the off-diagonal block
        between k and pi(k) is c_k I. Returns (reduced D~ inverse (n, K, 3, 3), reduced h~,
        log det P (n,), h^T P^{-1} h (n,)).
        """
        D, h = D.copy(), h.copy()
        parents, c = self.params.parents, self._coupling
        Dinv = np.empty_like(D)
        logdet = np.zeros(len(D))
        for ks, ps_unique, first in self._tree_levels_grouped():   # deepest level first
            inv, det = _inv3(D[:, ks])
            Dinv[:, ks] = inv
            logdet += np.sum(np.log(det), axis=1)
            ck = c[ks][None, :, None]
            dD = -(ck[..., None] ** 2) * inv
            dh = -ck * _mv3(inv, h[:, ks])
            for sel, ps in first:                              # children grouped so parents are unique
                D[:, ps] += dD[:, sel]
                h[:, ps] += dh[:, sel]
        root = np.flatnonzero(parents < 0)
        inv, det = _inv3(D[:, root])
        Dinv[:, root] = inv
        logdet += np.sum(np.log(det), axis=1)
        quad = np.sum(h * _mv3(Dinv, h), axis=(1, 2))
        return Dinv, h, logdet, quad

    def _tree_sample(self, Dinv, h, rng):
        """Draw x ~ N(P^{-1} h, P^{-1}) from the eliminated form, root first (rng None: the
        mean P^{-1} h). -> (n, K, 3)."""
        parents, c = self.params.parents, self._coupling
        n, K = h.shape[:2]
        chol = _chol3(Dinv)
        eps = rng.standard_normal((n, K, 3)) if rng is not None else np.zeros((n, K, 3))
        x = np.zeros((n, K, 3))
        root = np.flatnonzero(parents < 0)
        x[:, root] = _mv3(Dinv[:, root], h[:, root]) + _mv3(chol[:, root], eps[:, root])
        for ks in reversed(self._tree_levels()):         # shallowest level first
            rhs = h[:, ks] - c[ks][None, :, None] * x[:, parents[ks]]
            x[:, ks] = _mv3(Dinv[:, ks], rhs) + _mv3(chol[:, ks], eps[:, ks])
        return x

    def _laplace(self, x_blk, proj, A, b, frames, z):
        """At x: log target (n,), and the Gauss-Newton proposal N(P^{-1} h, P^{-1}) in
        eliminated form: (Dinv, h~, log det P, h^T P^{-1} h, A, H) with h = b + g + H x."""
        ll, g, H = self._log_lik_terms(proj, frames, z, True)
        Ax = self._apply_A(A, x_blk)
        log_target = ll - 0.5 * np.sum(x_blk * Ax, axis=(1, 2)) + np.sum(b * x_blk, axis=(1, 2))
        K = x_blk.shape[1]
        diagA = A[:, np.arange(K), np.arange(K)]
        D = H + diagA[..., None, None] * np.eye(3)
        info = b + g + _mv3(H, x_blk)
        Dinv, h_red, logdet, quad = self._eliminate(D, info)
        return log_target, (Dinv, h_red, logdet, quad, A, H, info)

    def _apply_A(self, A, x):
        """Per-frame prior precision times positions: A (n, K, K), x (n, K, 3) -> (n, K, 3).
        The off-diagonal part is the same tree for every frame: one matrix product."""
        K = x.shape[1]
        diag = A[:, np.arange(K), np.arange(K)]
        return np.swapaxes(np.tensordot(x, self._L_off, axes=([1], [1])), 1, 2) + diag[..., None] * x

    def _log_q(self, prop, x_to):
        """log N(x_to; P^{-1} h, P^{-1}) up to a constant, batched over frames."""
        Dinv, h_red, logdet, quad, A, H, info = prop
        xPx = np.sum(x_to * self._apply_A(A, x_to), axis=(1, 2)) \
            + np.sum(x_to * _mv3(H, x_to), axis=(1, 2))
        return 0.5 * logdet - 0.5 * xPx + np.sum(info * x_to, axis=(1, 2)) - 0.5 * quad

    def _update_positions(self, x, u, z, rng, proj):
        x = x.copy()
        proj = tuple(a.copy() for a in proj)
        accepted = 0
        for parity in (0, 1):                                   # even frames, then odd frames
            frames = np.arange(parity, self.T, 2)
            if len(frames) == 0:
                continue
            A = self._A[frames]
            b = self._prior_linear(x, u, frames)
            x0 = x[frames]
            proj0 = tuple(a[:, frames] for a in proj)
            lt0, prop0 = self._laplace(x0, proj0, A, b, frames, z)
            x1 = self._tree_sample(prop0[0], prop0[1], rng)
            proj1 = self._project(x1, frames, True)
            lt1, prop1 = self._laplace(x1, proj1, A, b, frames, z)
            log_ratio = lt1 - lt0 + self._log_q(prop1, x0) - self._log_q(prop0, x1)
            accept = np.log(rng.random(len(frames))) < np.where(np.isfinite(log_ratio), log_ratio, -np.inf)
            x[frames] = np.where(accept[:, None, None], x1, x0)
            for cached, new in zip(proj, proj1):
                cached[:, frames[accept]] = new[:, accept]
            accepted += int(accept.sum())
        return x, accepted / self.T, proj

    # ---- the exact conditionals -------------------------------------------------------------
    def sample_outliers(self, x, rng, projection=None):
        """z | x, y: (C, T, K) bool. projection: optional cached (pixels, ok, J) at x."""
        if not self.outlier_model:
            return np.zeros(self.mask.shape, dtype=bool)
        p = self.params
        pix, ok, _ = self._project(x, np.arange(self.T), False) if projection is None else projection
        r2 = np.sum((self.y - pix) ** 2, -1)
        log_out = np.log(self.beta)[:, None, :] - 2 * np.log(p.outlier_std) - r2 / (2 * p.outlier_std**2)
        log_in = np.log1p(-self.beta)[:, None, :] - 2 * np.log(p.obs_std) - r2 / (2 * p.obs_std**2)
        prob = 1.0 / (1.0 + np.exp(np.clip(log_in - log_out, -700, 700)))
        prob = np.where(self.mask & ok, prob, self.beta[:, None, :])
        return rng.random(prob.shape) < prob

    def direction_conditional(self, x, heading, states):
        """vMF parameters (mean (T, K, 3), concentration (T, K)) of u | x, s, h: natural
        parameter kappa_{s,k} R(h) nu_{s,k} + rho_k (x_k - x_{pi(k)}) / sigma_k^2."""
        p = self.params
        nonroot = p.parents >= 0
        d = x - x[:, np.where(nonroot, p.parents, 0)]
        prior = p.kappa[states][..., None] * rotate_about_z(p.nu[states], heading[:, None])
        return natural_to_mean(prior + self._bone_w[None, :, None] * d)

    def sample_directions(self, x, heading, states, rng):
        """u | x, s, h: (T, K, 3) unit vectors (root rows 0), see :meth:`direction_conditional`."""
        nonroot = self.params.parents >= 0
        mu, kappa = self.direction_conditional(x, heading, states)
        u = sample_vmf(mu, kappa, rng)
        u[:, ~nonroot] = 0.0
        return u

    def heading_conditional(self, u, states):
        """Von Mises parameters (mean (T,), concentration (T,)) of h_t | u, s."""
        p = self.params
        kap, nu = p.kappa[states], p.nu[states]              # (T, K), (T, K, 3)
        a = np.sum(kap * (nu[..., 0] * u[..., 0] + nu[..., 1] * u[..., 1]), axis=1)
        b = np.sum(kap * (nu[..., 0] * u[..., 1] - nu[..., 1] * u[..., 0]), axis=1)
        return np.arctan2(b, a), np.hypot(a, b)

    def sample_heading(self, u, states, rng):
        """h | u, s: (T,) rad in (-pi, pi]."""
        if not self.infer_heading:
            return np.zeros(self.T)
        mean, conc = self.heading_conditional(u, states)
        return rng.vonmises(mean, conc)

    def state_log_likelihoods(self, u, heading):
        """(T, S) log p(u_t | s_t = j, h_t) = sum_k log vMF(u_{t,k}; R(h_t) nu_{j,k}, kappa_{j,k})."""
        p = self.params
        nonroot = (p.parents >= 0).astype(float)
        aligned = rotate_about_z(u, -heading[:, None])
        return np.einsum("sk,skd,tkd->ts", p.kappa, p.nu, aligned) \
            + (vmf_log_normalizer(p.kappa) * nonroot).sum(1)[None, :]

    def sample_states(self, u, heading, transition, rng):
        """s | u, h, Lambda by FFBS: (T,) int."""
        if self.params.n_states == 1:
            return np.zeros(self.T, dtype=int)
        return ffbs(self.state_log_likelihoods(u, heading), transition, rng, self.params.initial)[0]

    # ---- sweeps -----------------------------------------------------------------------------
    def _newton_polish(self, x, u, n_iter: int):
        """Move a start towards the positions' conditional mode: Gauss-Newton steps on even then
        odd frames, each kept only where it raises the log target; outliers at their posterior
        mode and directions at the bones' directions in between. (Initialisation only.)"""
        for _ in range(int(n_iter)):
            proj = self._project(x, np.arange(self.T), True)
            p = self.params
            pix, ok, _ = proj
            r2 = np.sum((self.y - pix) ** 2, -1)
            if self.outlier_model:
                log_out = np.log(self.beta)[:, None, :] - 2 * np.log(p.outlier_std) - r2 / (2 * p.outlier_std**2)
                log_in = np.log1p(-self.beta)[:, None, :] - 2 * np.log(p.obs_std) - r2 / (2 * p.obs_std**2)
                z = (log_out > log_in) & self.mask
            else:
                z = np.zeros(self.mask.shape, dtype=bool)
            for parity in (0, 1):
                frames = np.arange(parity, self.T, 2)
                if len(frames) == 0:
                    continue
                A, b = self._A[frames], self._prior_linear(x, u, frames)
                lt0, prop = self._laplace(x[frames], tuple(a[:, frames] for a in proj), A, b, frames, z)
                x1 = self._tree_sample(prop[0], prop[1], None)
                lt1, _ = self._laplace(x1, self._project(x1, frames, True), A, b, frames, z)
                better = np.isfinite(lt1) & (lt1 > lt0)
                x[frames] = np.where(better[:, None, None], x1, x[frames])
            u, _ = bone_directions(x, p.parents)
        return x, u

    def initial_state(self, positions, rng: np.random.Generator, *, newton_steps: int = 5) -> GibbsState:
        """Start from positions (T, K, 3) mm (e.g. robust triangulation; NaN filled by
        interpolation), polished by a few Gauss-Newton steps towards the conditional mode
        (so that the chain does not start stuck in a far, improbable place); directions,
        heading and states are drawn from their conditionals."""
        x = np.asarray(positions, dtype=float)
        if x.shape != (self.T, self.params.n_keypoints, 3):
            raise ValueError(f"positions: expected shape ({self.T}, {self.params.n_keypoints}, 3), got {x.shape}")
        x = interpolate_missing(x)
        u, _ = bone_directions(x, self.params.parents)
        if newton_steps:
            x, u = self._newton_polish(x, u, newton_steps)
        states = np.zeros(self.T, dtype=int)
        heading = np.zeros(self.T)
        Lam = np.array(self.params.transition)
        for _ in range(3):
            heading = self.sample_heading(u, states, rng)
            states = self.sample_states(u, heading, Lam, rng)
        proj = self._project(x, np.arange(self.T), True)
        z = self.sample_outliers(x, rng, proj)
        return GibbsState(x, u, heading, states, Lam, z, 1.0, 0, proj)

    def step(self, state: GibbsState, rng: np.random.Generator) -> GibbsState:
        """One Gibbs sweep; returns the new state (the input is not modified)."""
        proj = state.projection
        if proj is None:
            proj = self._project(state.positions, np.arange(self.T), True)
        z = self.sample_outliers(state.positions, rng, proj)
        x, acc, proj = self._update_positions(state.positions, state.directions, z, rng, proj)
        u = self.sample_directions(x, state.heading, state.states, rng)
        h = self.sample_heading(u, state.states, rng)
        s = self.sample_states(u, h, state.transition, rng)
        Lam = state.transition
        if self.infer_transition and self.params.n_states > 1:
            Lam = sample_transition_matrix(s, self.params.n_states, rng, self.dirichlet)
        return GibbsState(x, u, h, s, Lam, z, acc, state.sweep + 1, proj)

    def run(self, state: GibbsState, n_sweeps: int, rng: np.random.Generator, *, burn_in: int = 0,
            thin: int = 1, progress: bool = True, keep=("positions", "states", "heading")):
        """Run n_sweeps sweeps; keep every thin-th state after burn_in.

        Returns (final GibbsState, dict of stacked samples: positions (N, T, K, 3) float32,
        states (N, T), heading (N, T), accept_rate (n_sweeps,)).
        """
        if int(n_sweeps) < 1 or int(thin) < 1 or int(burn_in) < 0:
            raise ValueError("n_sweeps, thin: expected >= 1; burn_in: expected >= 0")
        kept = {name: [] for name in keep}
        accept = []
        iterator = range(int(n_sweeps))
        if progress:
            from tqdm.std import tqdm   # text bar: no widget state stored in notebooks

            iterator = tqdm(iterator, desc="Gibbs sweeps", leave=False, mininterval=1.0, ncols=80)
        for i in iterator:
            state = self.step(state, rng)
            accept.append(state.accept_rate)
            if i >= burn_in and (i - burn_in) % thin == 0:
                for name in keep:
                    value = getattr(state, name)
                    kept[name].append(value.astype(np.float32) if name == "positions" else value.copy())
        out = {name: np.stack(v) if v else np.empty((0,)) for name, v in kept.items()}
        out["accept_rate"] = np.array(accept)
        return state, out


def run_chains(params: GimbalParams, cameras, observations, init_positions, *, n_chains: int = 2,
               n_sweeps: int = 100, burn_in: int = 50, thin: int = 1, seed: int = 0, progress: bool = True,
               **switches):
    """Run independent chains from the same start (robust triangulation), each with its own seed.

    init_positions: (T, K, 3) mm (NaN allowed). switches: GimbalSampler keywords (temporal,
    outlier_model, infer_heading, ...). Returns dict: positions (M, N, T, K, 3) float32, states
    (M, N, T), heading (M, N, T), accept_rate (M, n_sweeps), final (list of GibbsState).
    """
    sampler = GimbalSampler(params, cameras, observations, **switches)
    per_chain, finals = [], []
    for m in range(int(n_chains)):
        rng = np.random.default_rng([seed, m])
        state = sampler.initial_state(init_positions, rng)
        state, out = sampler.run(state, n_sweeps, rng, burn_in=burn_in, thin=thin, progress=progress)
        per_chain.append(out)
        finals.append(state)
    result = {name: np.stack([c[name] for c in per_chain]) for name in per_chain[0]}
    result["final"] = finals
    return result
