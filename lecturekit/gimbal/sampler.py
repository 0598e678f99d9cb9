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

Implementation (speed; bench/bench_gimbal.py --sweeps-only): the position move, which is most
of a sweep, works on component-major float64 arrays (a (n, K, 3) field as (3, n, K), 3x3 blocks
as (3, 3, n, K), Jacobians as (C, 3, 2, n, K)), so every step is a handful of elementwise
operations on long contiguous arrays: camera coordinates as one (3C, 3) @ (3, N) product,
Jacobian rows as R_c^T times a 3-vector per point, the Gauss-Newton sums over cameras whitened
once and reduced by einsum, 3x3 inverses by cofactors, even/odd frame blocks copied contiguous
once per sweep. The random stream and the target are those of the plain formulation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .hmm import ffbs, sample_transition_matrix
from .model import GimbalParams, rotate_about_z, bone_directions
from .vmf import _sample_vmf_trusted, vmf_log_normalizer, natural_to_mean

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


# ---- stacked 3x3 algebra, component-major: a matrix is (3, 3, ...), a vector (3, ...) ---------
# (Elementwise arithmetic on contiguous per-component arrays: numpy's stacked matmul and
# reductions over a trailing axis of length 3 are several times slower for tiny matrices.)

def _inv3c(M):
    """Inverse and determinant of stacked 3x3 matrices M (3, 3, ...) by cofactors."""
    a, b, c = M[0, 0], M[0, 1], M[0, 2]
    d, e, f = M[1, 0], M[1, 1], M[1, 2]
    g, h, i = M[2, 0], M[2, 1], M[2, 2]
    out = np.empty_like(M)
    out[0, 0] = e * i - f * h
    out[1, 0] = f * g - d * i
    out[2, 0] = d * h - e * g
    det = a * out[0, 0] + b * out[1, 0] + c * out[2, 0]
    out[0, 1] = c * h - b * i
    out[0, 2] = b * f - c * e
    out[1, 1] = a * i - c * g
    out[1, 2] = c * d - a * f
    out[2, 1] = b * g - a * h
    out[2, 2] = a * e - b * d
    out /= det
    return out, det


def _chol3c(M):
    """Lower Cholesky factor of stacked SPD 3x3 matrices M (3, 3, ...); upper entries 0."""
    L = np.zeros_like(M)
    L[0, 0] = np.sqrt(M[0, 0])
    L[1, 0] = M[1, 0] / L[0, 0]
    L[2, 0] = M[2, 0] / L[0, 0]
    L[1, 1] = np.sqrt(M[1, 1] - L[1, 0] ** 2)
    L[2, 1] = (M[2, 1] - L[2, 0] * L[1, 0]) / L[1, 1]
    L[2, 2] = np.sqrt(M[2, 2] - L[2, 0] ** 2 - L[2, 1] ** 2)
    return L


def _mv3c(M, v):
    """Stacked 3x3 matrix times 3-vector, component-major: (3, 3, ...), (3, ...) -> (3, ...)."""
    out = M[:, 0] * v[0]
    out += M[:, 1] * v[1]
    out += M[:, 2] * v[2]
    return out


def _comps(a, n_trailing: int):
    """View of a (..., 3) or (..., 3, 3) array with its trailing axes moved to the front."""
    return np.moveaxis(a, tuple(range(-n_trailing, 0)), tuple(range(n_trailing)))


def _uncomps(a, n_leading: int):
    """Inverse of :func:`_comps`: leading component axes moved to the back (a view)."""
    return np.moveaxis(a, tuple(range(n_leading)), tuple(range(-n_leading, 0)))


def _J_view(J):
    """Jacobians (C, 3, 2, ...) as a (C, ..., 2, 3) view."""
    return np.moveaxis(J, (1, 2), (-1, -2))


def _J_base(J):
    """Inverse of :func:`_J_view`: (C, ..., 2, 3) -> (C, 3, 2, ...) view."""
    return np.moveaxis(J, (-1, -2), (1, 2))


class GimbalSampler:
    """Gibbs sampler for GIMBAL given cameras and 2D observations.

    params: GimbalParams; cameras: list of geometry.Camera (C); observations: (C, T, K, 2) px,
    NaN = missing. Switches: temporal, outlier_model, infer_heading, infer_transition;
    dirichlet: pseudo-count of Lambda's Dirichlet prior.

    Internally the position update works on component-major arrays (a vector field (n, K, 3)
    is stored as (3, n, K), 3x3 blocks as (3, 3, n, K), Jacobians as (C, 3, 2, n, K)); the
    private methods still take and return the batch-first shapes, as views of those arrays.
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
        self._R = np.stack([c.R for c in cameras]).astype(float)
        self._t = np.stack([c.t for c in cameras]).astype(float)
        self._Kf = np.stack([c.K[:2, :2] for c in cameras]).astype(float)
        self._cc = np.stack([c.K[:2, 2] for c in cameras]).astype(float)
        self._k1 = np.array([c.k1 for c in cameras], dtype=float)
        # camera constants, precomputed: rows of all rotations stacked axis-major (3C, 3), so
        # camera coordinates of N points are one (3C, 3) @ (3, N) product
        self._R_rows = np.ascontiguousarray(self._R.transpose(1, 0, 2).reshape(3 * C, 3))
        self._RT = np.ascontiguousarray(self._R.transpose(0, 2, 1))
        self._skew = bool(np.any(self._Kf[:, 0, 1] != 0) or np.any(self._Kf[:, 1, 0] != 0))
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
        self._diagA = np.ascontiguousarray(self._A[:, np.arange(K), np.arange(K)])   # (T, K)
        self._L_off = L - np.diag(np.diag(L))                             # the tree's off-diagonal part
        self._L_offT = np.ascontiguousarray(self._L_off.T)
        self._init_w = np.zeros(T)
        self._init_w[0 if self.temporal else slice(None)] = init_w
        self._bone_w = np.where(p.parents >= 0, p.rho / p.sigma2, 0.0)   # (K,)
        # the directions' linear term as one K x K map: b[j] += bone_w[j] u[j] - sum_{pi(k)=j} bone_w[k] u[k]
        B = np.diag(self._bone_w)
        for k in np.flatnonzero(p.parents >= 0):
            B[k, p.parents[k]] -= self._bone_w[k]
        self._bone_map = B

    def _prior_linear(self, x, u, frames):
        """Linear term b_t (n, K, 3) of the prior on frames given neighbours and directions."""
        bc = self._prior_linear_c(x, u, frames)
        return _uncomps(bc, 1)

    def _prior_linear_c(self, x, u, frames):
        """Component-major (3, n, K) linear term of the prior on frames (see :meth:`_prior_linear`)."""
        p = self.params
        frames = np.asarray(frames)
        uc = np.ascontiguousarray(_comps(u[frames], 1))                   # (3, n, K)
        b = uc @ self._bone_map                                           # (3, n, K)
        wt = self._w_time
        if np.any(wt):
            prev, nxt = frames - 1, frames + 1
            has_prev, has_next = prev >= 0, nxt < self.T
            xp = _comps(x[np.maximum(prev, 0)], 1) * np.where(has_prev, 1.0, 0.0)[:, None]
            xn = _comps(x[np.minimum(nxt, self.T - 1)], 1) * np.where(has_next, 1.0, 0.0)[:, None]
            b += wt * (xp + xn)
        iw = self._init_w[frames]
        nz = np.flatnonzero(iw)
        if len(nz):
            b[:, nz] += (iw[nz, None, None] * np.asarray(p.init_mean, dtype=float)).transpose(2, 0, 1)
        return b

    # ---- projection, Jacobian -------------------------------------------------------------
    def _project_c(self, x, jacobian: bool):
        """Component-major projection of x (n, K, 3): pixels (2, C, n, K), validity (C, n, K) and
        optionally Jacobians (C, 3, 2, n, K): [c, j, r] = d pixel_r / d x_j."""
        R, t, Kf, cc = self._R, self._t, self._Kf, self._cc
        C, (n, K) = len(R), x.shape[:2]
        N = n * K
        cam = (self._R_rows @ _comps(x, 1).reshape(3, N)).reshape(3, C, N)
        cam += t.T[:, :, None]
        cx, cy, z = cam
        ok = z > 1e-6
        inv_z = 1.0 / np.where(ok, z, 1.0)
        nx, ny = cx * inv_z, cy * inv_z
        k1 = self._k1[:, None]
        distorted = bool(np.any(self._k1))
        if distorted:
            fac = 1.0 + k1 * (nx * nx + ny * ny)
            dx, dy = nx * fac, ny * fac
        else:
            dx, dy = nx, ny
        K00, K01, K10, K11 = (Kf[:, i, j, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        pix = np.empty((2, C, N))
        if self._skew:
            np.add(K00 * dx + K01 * dy, cc[:, 0, None], out=pix[0])
            np.add(K10 * dx + K11 * dy, cc[:, 1, None], out=pix[1])
        else:
            np.add(K00 * dx, cc[:, 0, None], out=pix[0])
            np.add(K11 * dy, cc[:, 1, None], out=pix[1])
        pix, ok = pix.reshape(2, C, n, K), ok.reshape(C, n, K)
        if not jacobian:
            return pix, ok, None
        # J = G(n) [I, -n] R / z with G = Kf (fac I + 2 k1 n n^T) the 2x2 pixel-from-normalised map:
        # row r of J is R^T (G_r0, G_r1, -(G_r0 nx + G_r1 ny)) / z, one 3x3 @ 3x2N product per camera
        coef = np.zeros((C, 3, 2, N))
        if distorted:
            two_k1 = 2.0 * k1
            d00 = fac + two_k1 * nx * nx
            d01 = two_k1 * nx * ny
            d11 = fac + two_k1 * ny * ny
            d00 *= inv_z
            d01 *= inv_z
            d11 *= inv_z
            if self._skew:
                G = ((K00 * d00 + K01 * d01, K00 * d01 + K01 * d11), (K10 * d00 + K11 * d01, K10 * d01 + K11 * d11))
            else:
                G = ((K00 * d00, K00 * d01), (K11 * d01, K11 * d11))
        elif self._skew:
            G = ((K00 * inv_z, K01 * inv_z), (K10 * inv_z, K11 * inv_z))
        else:
            G = ((K00 * inv_z, None), (None, K11 * inv_z))
        for r in range(2):
            g0, g1 = G[r]
            q = coef[:, 2, r]
            if g0 is not None:
                coef[:, 0, r] = g0
                np.multiply(g0, nx, out=q)
            if g1 is not None:
                coef[:, 1, r] = g1
                if g0 is not None:
                    q += g1 * ny
                else:
                    np.multiply(g1, ny, out=q)
            np.negative(q, out=q)
        J = np.matmul(self._RT, coef.reshape(C, 3, 2 * N))                 # (C, 3, 2N)
        return pix, ok, J.reshape(C, 3, 2, n, K)

    def _project(self, x, frames, jacobian: bool):
        """Pixels (C, n, K, 2), validity (C, n, K) and optionally Jacobians (C, n, K, 2, 3)
        (views of the component-major arrays of :meth:`_project_c`)."""
        pix, ok, J = self._project_c(x, jacobian)
        return _uncomps(pix, 1), ok, (None if J is None else _J_view(J))

    def _lik_c(self, pix, ok, J, frames, z, jacobian, block=None):
        """Per-frame log-likelihood (n,), GN gradient (3, n, K), GN precision (3, 3, n, K) from
        a component-major projection of frames. block: optional (y (2, C, n, K), mask (C, n, K),
        z (C, n, K)) of those frames, contiguous.

        With s = 1/std of each detection's mixture component (0 where missing), the residual
        and the Jacobian are whitened once (s r, s J), so that g = sum (sJ)^T (s r) and
        H = sum (sJ)^T (sJ) over cameras and pixel axes."""
        if block is None:
            block = (self._yc[:, :, frames], self.mask[:, frames], z[:, frames])
        yc, m, zb = block
        sw = np.where(zb, 1.0 / self.params.outlier_std, 1.0 / self.params.obs_std)
        sw *= m
        sr = yc - pix                                                     # (2, C, n, K); y = 0 where missing
        sr *= sw
        ll = -0.5 * np.einsum("rcnk,rcnk->n", sr, sr)
        bad = m & ~ok
        if bad.any():
            ll = np.where(bad.any(axis=(0, 2)), -np.inf, ll)
        if not jacobian:
            return ll, None, None
        if not ok.all():
            okf = ok.astype(float)
            sw *= okf
            sr *= okf
        sJ = J * sw[:, None, None]                                        # (C, 3, 2, n, K)
        # sums over (pixel axis, camera) by einsum: no temporaries, one pass each
        g = np.empty((3,) + m.shape[1:])
        H = np.empty((3, 3) + m.shape[1:])
        for f in range(3):
            np.einsum("crnk,rcnk->nk", sJ[:, f], sr, out=g[f])
            for e in range(f, 3):                                         # 6 unique entries (symmetric)
                np.einsum("crnk,crnk->nk", sJ[:, f], sJ[:, e], out=H[f, e])
                if e != f:
                    H[e, f] = H[f, e]
        return ll, g, H

    def _log_lik_terms(self, proj, frames, z, jacobian):
        """From a projection (pixels, ok, J) of frames: per-frame log-likelihood (n,),
        GN gradient (n, K, 3) and GN precision (n, K, 3, 3)."""
        pix, ok, J = proj
        ll, g, H = self._lik_c(_comps(pix, 1), ok, None if J is None else _J_base(J), frames, z, jacobian)
        if not jacobian:
            return ll, None, None
        return ll, _uncomps(g, 1), _uncomps(H, 2)

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

    def _eliminate_c(self, D, h):
        """Component-major :meth:`_eliminate`: D (3, 3, n, K) and h (3, n, K) are overwritten
        (D with its reduced form); returns (Dinv (3, 3, n, K), h~ (3, n, K), log det P, quad)."""
        c = self._coupling
        Dinv = np.empty_like(D)
        logdet = np.zeros(D.shape[2])
        for ks, ps_unique, first in self._tree_levels_grouped():   # deepest level first
            inv, det = _inv3c(D[:, :, :, ks])
            Dinv[:, :, :, ks] = inv
            logdet += np.log(det).sum(axis=1)
            ck = c[ks]
            dD = inv * -(ck**2)
            dh = _mv3c(inv, h[:, :, ks])
            dh *= -ck
            for sel, ps in first:                              # children grouped so parents are unique
                D[:, :, :, ps] += dD[..., sel]
                h[:, :, ps] += dh[..., sel]
        root = self._root
        inv, det = _inv3c(D[:, :, :, root])
        Dinv[:, :, :, root] = inv
        logdet += np.log(det).sum(axis=1)
        quad = np.einsum("ink,ink->n", h, _mv3c(Dinv, h))
        return Dinv, h, logdet, quad

    @property
    def _root(self):
        return np.flatnonzero(self.params.parents < 0)

    def _eliminate(self, D, h):
        """Block LDL^T of the tree-structured precision (leaves first, no fill-in).

        D: (n, K, 3, 3) diagonal blocks, h: (n, K, 3) information vector; the off-diagonal block
        between k and pi(k) is c_k I. Returns (reduced D~ inverse (n, K, 3, 3), reduced h~,
        log det P (n,), h^T P^{-1} h (n,)).
        """
        Dinv, hr, logdet, quad = self._eliminate_c(np.array(_comps(D, 2)), np.array(_comps(h, 1)))
        return _uncomps(Dinv, 2), _uncomps(hr, 1), logdet, quad

    def _tree_sample_c(self, Dinv, h, rng):
        """Component-major :meth:`_tree_sample`: Dinv (3, 3, n, K), h (3, n, K) -> x (3, n, K)."""
        parents, c = self.params.parents, self._coupling
        n, K = h.shape[1:]
        if rng is not None:
            eps = _comps(rng.standard_normal((n, K, 3)), 1)
            chol = _chol3c(Dinv)
        x = np.zeros((3, n, K))
        root = self._root
        Dr = Dinv[:, :, :, root]
        x[:, :, root] = _mv3c(Dr, h[:, :, root])
        if rng is not None:
            x[:, :, root] += _mv3c(chol[:, :, :, root], eps[:, :, root])
        for ks in reversed(self._tree_levels()):         # shallowest level first
            rhs = h[:, :, ks] - c[ks] * x[:, :, parents[ks]]
            xk = _mv3c(Dinv[:, :, :, ks], rhs)
            if rng is not None:
                xk += _mv3c(chol[:, :, :, ks], eps[:, :, ks])
            x[:, :, ks] = xk
        return x

    def _tree_sample(self, Dinv, h, rng):
        """Draw x ~ N(P^{-1} h, P^{-1}) from the eliminated form, root first (rng None: the
        mean P^{-1} h). Dinv (n, K, 3, 3), h (n, K, 3) -> (n, K, 3)."""
        return _uncomps(self._tree_sample_c(np.ascontiguousarray(_comps(Dinv, 2)),
                                            np.ascontiguousarray(_comps(h, 1)), rng), 1)

    def _apply_A_c(self, diagA, xc):
        """Per-frame prior precision times positions, component-major: diagA (n, K) the
        diagonal, xc (3, n, K) -> (3, n, K). The off-diagonal part is the same tree for every frame."""
        out = xc @ self._L_offT
        out += diagA * xc
        return out

    def _apply_A(self, A, x):
        """Per-frame prior precision times positions: A (n, K, K), x (n, K, 3) -> (n, K, 3)."""
        K = x.shape[1]
        return _uncomps(self._apply_A_c(A[:, np.arange(K), np.arange(K)], _comps(x, 1)), 1)

    def _laplace(self, x_blk, proj, A, b, frames, z):
        """At x: log target (n,), and the Gauss-Newton proposal N(P^{-1} h, P^{-1}) in
        eliminated form: (Dinv, h~, log det P, h^T P^{-1} h, ...) with h = b + g + H x.

        x_blk (n, K, 3), proj: (pixels, ok, J) of those frames (batch-first views), A (n, K, K),
        b (n, K, 3). Dinv (n, K, 3, 3) and h~ (n, K, 3) are views of component-major arrays."""
        pix, ok, J = proj
        K = x_blk.shape[1]
        return self._laplace_c(_comps(x_blk, 1), (_comps(pix, 1), ok, _J_base(J)),
                               A[:, np.arange(K), np.arange(K)], _comps(b, 1), frames, z)

    def _laplace_c(self, xc, proj_c, diagA, bc, frames, z, block=None):
        ll, g, H = self._lik_c(*proj_c, frames, z, True, block)
        Ax = self._apply_A_c(diagA, xc)
        log_target = ll + np.einsum("ink,ink->n", xc, bc - 0.5 * Ax)
        D = H.copy()
        for i in range(3):
            D[i, i] += diagA
        info = _mv3c(H, xc)
        info += bc
        info += g
        Dinv, h_red, logdet, quad = self._eliminate_c(D, info.copy())
        return log_target, (_uncomps(Dinv, 2), _uncomps(h_red, 1), logdet, quad, diagA, H, info, Dinv, h_red)

    def _log_q(self, prop, x_to):
        """log N(x_to; P^{-1} h, P^{-1}) up to a constant, batched over frames. x_to (n, K, 3)."""
        return self._log_q_c(prop, _comps(x_to, 1))

    def _log_q_c(self, prop, xc):
        _, _, logdet, quad, diagA, H, info = prop[:7]
        Px = self._apply_A_c(diagA, xc)
        Px += _mv3c(H, xc)
        Px *= -0.5
        Px += info
        return 0.5 * logdet + np.einsum("ink,ink->n", xc, Px) - 0.5 * quad

    def _update_positions(self, x, u, z, rng, proj):
        """One Metropolis-Hastings position move on even, then odd frames. x (T, K, 3), u
        (T, K, 3), z (C, T, K); proj: (pixels, ok, J) at x as from :meth:`_project`.
        Returns (new x, acceptance fraction, projection at the new x)."""
        x = x.copy()
        pix, ok, J = (_comps(proj[0], 1), proj[1], _J_base(proj[2]))    # (2, C, T, K), (C, T, K), (C, 3, 2, T, K)
        new_pix, new_ok, new_J = np.empty(pix.shape), np.empty(ok.shape, dtype=bool), np.empty(J.shape)
        accepted = 0
        for parity in (0, 1):                                   # even frames, then odd frames
            frames = np.arange(parity, self.T, 2)
            if len(frames) == 0:
                continue
            sl = slice(parity, None, 2)
            # contiguous copies of this parity's blocks (strided views make every later op slow)
            block = self._parity_block(parity) + (np.ascontiguousarray(z[:, sl]),)
            diagA = self._diagA[sl]
            bc = self._prior_linear_c(x, u, frames)
            x0 = np.ascontiguousarray(_comps(x[sl], 1))
            proj0 = (np.ascontiguousarray(pix[:, :, sl]), np.ascontiguousarray(ok[:, sl]),
                     np.ascontiguousarray(J[:, :, :, sl]))
            lt0, prop0 = self._laplace_c(x0, proj0, diagA, bc, frames, z, block)
            x1 = self._tree_sample_c(prop0[7], prop0[8], rng)
            proj1 = self._project_c(_uncomps(x1, 1), True)
            lt1, prop1 = self._laplace_c(x1, proj1, diagA, bc, frames, z, block)
            log_ratio = lt1 - lt0 + self._log_q_c(prop1, x0) - self._log_q_c(prop0, x1)
            accept = np.log(rng.random(len(frames))) < np.where(np.isfinite(log_ratio), log_ratio, -np.inf)
            n_acc = int(accept.sum())
            if n_acc < len(frames):                             # keep the old state where rejected
                keep = ~accept
                x1[:, keep] = x0[:, keep]
                for new, old in zip(proj1, proj0):
                    new[..., keep, :] = old[..., keep, :]
            x[sl] = _uncomps(x1, 1)
            new_pix[:, :, sl], new_ok[:, sl], new_J[:, :, :, sl] = proj1
            accepted += n_acc
        return x, accepted / self.T, (_uncomps(new_pix, 1), new_ok, _J_view(new_J))

    def _parity_block(self, parity: int):
        """Contiguous (y (2, C, n, K), mask (C, n, K)) of the frames parity, parity + 2, ..."""
        if not hasattr(self, "_blocks"):
            sl0, sl1 = slice(0, None, 2), slice(1, None, 2)
            self._blocks = tuple((np.ascontiguousarray(self._yc[:, :, sl]), np.ascontiguousarray(self.mask[:, sl]))
                                 for sl in (sl0, sl1))
        return self._blocks[parity]

    # ---- the exact conditionals -------------------------------------------------------------
    def _outlier_log_odds(self, projection):
        """Unnormalised log p(z = 0 | x, y) and log p(z = 1 | x, y), each (C, T, K), and the
        validity (C, T, K) of a projection (pixels, ok, J) of all frames."""
        p = self.params
        pix, ok, _ = projection
        pc = _comps(pix, 1)
        r = self._yc - pc
        r2 = r[0] * r[0]
        r2 += r[1] * r[1]
        log_out = self._log_out_const[:, None, :] - r2 / (2 * p.outlier_std**2)
        log_in = self._log_in_const[:, None, :] - r2 / (2 * p.obs_std**2)
        return log_in, log_out, ok

    @property
    def _yc(self):
        if not hasattr(self, "_yc_cache"):
            p = self.params
            self._yc_cache = np.ascontiguousarray(np.moveaxis(self.y, -1, 0))      # (2, C, T, K)
            with np.errstate(divide="ignore"):
                self._log_out_const = np.log(self.beta) - 2 * np.log(p.outlier_std)
                self._log_in_const = np.log1p(-self.beta) - 2 * np.log(p.obs_std)
        return self._yc_cache

    def sample_outliers(self, x, rng, projection=None):
        """z | x, y: (C, T, K) bool. projection: optional cached (pixels, ok, J) at x."""
        if not self.outlier_model:
            return np.zeros(self.mask.shape, dtype=bool)
        if projection is None:
            projection = self._project(x, np.arange(self.T), False)
        log_in, log_out, ok = self._outlier_log_odds(projection)
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
        u = _sample_vmf_trusted(mu, kappa, rng)
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
        if not hasattr(self, "_state_consts"):
            nonroot = (p.parents >= 0).astype(float)
            self._state_consts = (np.ascontiguousarray((p.kappa[..., None] * p.nu).reshape(p.n_states, -1).T),
                                  (vmf_log_normalizer(p.kappa) * nonroot).sum(1)[None, :])
        W, const = self._state_consts
        aligned = rotate_about_z(u, -heading[:, None])
        return aligned.reshape(len(u), -1) @ W + const

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
            if self.outlier_model:
                log_in, log_out, _ = self._outlier_log_odds(proj)
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
