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

Layout. The public methods and :class:`GibbsState` use the course's batch-first shapes
((T, K, 3) positions and directions). The position move - most of a sweep - works on ONE
internal layout, component-major float64: a (n, K, 3) field is stored as (3, n, K), 3x3 blocks
as (3, 3, n, K), pixels as (2, C, n, K), Jacobians as (C, 3, 2, n, K) (the layout of
``geometry.Rig.project_components``). Every step is then a handful of elementwise operations on
long contiguous arrays (numpy's stacked matmul and reductions over a trailing axis of length 3
are several times slower for tiny matrices): 3x3 inverses by cofactors, Gauss-Newton sums
over cameras whitened once and reduced by einsum, even/odd frame blocks copied contiguous once.
Positions are converted between the two layouts once per sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..geometry import as_rig
from ..triangulation import interpolate_missing
from .hmm import ffbs, sample_transition_matrix
from .model import GimbalParams, bone_directions, rotate_about_z, tree_depths
from .vmf import natural_to_mean, sample_vmf_unchecked, vmf_log_normalizer

__all__ = ["GibbsState", "GimbalSampler", "Projection", "dispersed_starts", "run_chains"]


class Projection(NamedTuple):
    """Component-major projection of positions (3, n, K) into C cameras.

    pixels: (2, C, n, K) px (finite garbage where not ok); ok: (C, n, K) bool, in front of the
    camera; jacobian: (C, 3, 2, n, K) px/mm, [c, j, r] = d pixel_r / d x_j, or None."""

    pixels: np.ndarray
    ok: np.ndarray
    jacobian: np.ndarray | None


@dataclass(frozen=True, eq=False)
class GibbsState:
    """The sampler's explicit state after a sweep.

    positions: (T, K, 3) mm; directions: (T, K, 3) unit (root rows 0); heading: (T,) rad;
    states: (T,) int; transition: (S, S); outliers: (C, T, K) bool; accept_rate: fraction of
    frames whose position proposal was accepted in the last sweep; sweep: sweeps done;
    projection: the :class:`Projection` (with Jacobians) of all frames at positions, or None.
    """

    positions: np.ndarray
    directions: np.ndarray
    heading: np.ndarray
    states: np.ndarray
    transition: np.ndarray
    outliers: np.ndarray
    accept_rate: float = 1.0
    sweep: int = 0
    projection: Projection | None = field(default=None, repr=False)


class FrameBlock(NamedTuple):
    """Constants of the frames parity, parity + 2, ... (contiguous copies, built once).

    frames: (n,) int; y: (2, C, n, K) px (0 where missing); mask: (C, n, K) bool, detection
    present; diag_prior: (n, K) diagonal of the per-axis prior precision (1/mm^2)."""

    frames: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    diag_prior: np.ndarray


class GaussNewtonTerms(NamedTuple):
    """Likelihood of n frames at x: log_lik (n,), gradient (3, n, K) px-whitened, precision
    (3, 3, n, K) (sums of J^T J / std^2 over cameras); gradient/precision None if not asked."""

    log_lik: np.ndarray
    gradient: np.ndarray | None
    precision: np.ndarray | None


class Proposal(NamedTuple):
    """Log target at x (n,) and the Gauss-Newton proposal N(P^{-1} info, P^{-1}) of n frames,
    P = prior precision + H, in eliminated (leaves-first block LDL^T) form.

    Dinv: (3, 3, n, K) inverses of the reduced diagonal blocks; h_reduced: (3, n, K) reduced
    information vector; logdet: log det P (n,); quad: info^T P^{-1} info (n,); H: (3, 3, n, K)
    likelihood precision; info: (3, n, K) information vector; diag_prior: (n, K)."""

    log_target: np.ndarray
    Dinv: np.ndarray
    h_reduced: np.ndarray
    logdet: np.ndarray
    quad: np.ndarray
    H: np.ndarray
    info: np.ndarray
    diag_prior: np.ndarray


class Elimination(NamedTuple):
    """Block LDL^T of a tree-structured precision: Dinv (3, 3, n, K), h_reduced (3, n, K),
    logdet (n,) log det P, quad (n,) h^T P^{-1} h."""

    Dinv: np.ndarray
    h_reduced: np.ndarray
    logdet: np.ndarray
    quad: np.ndarray


class TreeLevel(NamedTuple):
    """Keypoints of one tree depth, and those keypoints grouped so that no parent repeats
    inside a group (parent updates are then plain fancy-index adds): groups of
    (indices into keypoints, their parents)."""

    keypoints: np.ndarray
    groups: tuple


class PositionMove(NamedTuple):
    """Result of one position move: positions (3, T, K) mm, accept_rate, projection at them."""

    positions: np.ndarray
    accept_rate: float
    projection: Projection


# ---- stacked 3x3 algebra, component-major: a matrix is (3, 3, ...), a vector (3, ...) ---------

def inverse3(M):
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


def cholesky3(M):
    """Lower Cholesky factor of stacked SPD 3x3 matrices M (3, 3, ...); upper entries 0."""
    L = np.zeros_like(M)
    L[0, 0] = np.sqrt(M[0, 0])
    L[1, 0] = M[1, 0] / L[0, 0]
    L[2, 0] = M[2, 0] / L[0, 0]
    L[1, 1] = np.sqrt(M[1, 1] - L[1, 0] ** 2)
    L[2, 1] = (M[2, 1] - L[2, 0] * L[1, 0]) / L[1, 1]
    L[2, 2] = np.sqrt(M[2, 2] - L[2, 0] ** 2 - L[2, 1] ** 2)
    return L


def matvec3(M, v):
    """Stacked 3x3 matrix times 3-vector: (3, 3, ...), (3, ...) -> (3, ...)."""
    out = M[:, 0] * v[0]
    out += M[:, 1] * v[1]
    out += M[:, 2] * v[2]
    return out


def to_components(a):
    """(..., 3) batch-first -> (3, ...) component-major, contiguous copy."""
    return np.ascontiguousarray(np.moveaxis(a, -1, 0))


def from_components(a):
    """(3, ...) component-major -> (..., 3) batch-first, contiguous copy."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


class GimbalSampler:
    """Gibbs sampler for GIMBAL given cameras and 2D observations.

    params: GimbalParams; cameras: a geometry.Rig or list of geometry.Camera (C); observations: (C, T, K, 2) px,
    NaN = missing. Switches: temporal, outlier_model, infer_heading, infer_transition;
    dirichlet: pseudo-count of Lambda's Dirichlet prior; mask: optional (C, T, K) bool, the
    detections to use (default: every finite one; NaN is never used); outlier_prior: optional (C, T, K)
    prior outlier probability of each observation (e.g. from the detector's confidences, see
    :func:`lecturekit.triangulation.bayes3d.confidence_outlier_prior`; default params.outlier_prob).
    Every constant of the model (prior
    precision, tree elimination order, per-parity data blocks) is built here, once.
    """

    def __init__(self, params: GimbalParams, cameras, observations, *, temporal: bool = True,
                 outlier_model: bool = True, infer_heading: bool = True, infer_transition: bool = True,
                 dirichlet: float = 1.0, mask=None, outlier_prior=None):
        if not isinstance(params, GimbalParams):
            raise TypeError("params: expected a GimbalParams")
        rig = as_rig(cameras)
        y = np.asarray(observations, dtype=float)
        C, K = len(rig), params.n_keypoints
        if y.ndim != 4 or y.shape[0] != C or y.shape[2] != K or y.shape[3] != 2:
            raise ValueError(f"observations: expected shape ({C}, T, {K}, 2), got {y.shape}")
        self.params, self.rig, self.cameras = params, rig, rig.cameras
        self.temporal, self.outlier_model = bool(temporal), bool(outlier_model)
        self.infer_heading, self.infer_transition = bool(infer_heading), bool(infer_transition)
        self.dirichlet = float(dirichlet)
        self.T = T = y.shape[1]
        finite = np.all(np.isfinite(y), axis=-1)                                      # (C, T, K)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != finite.shape or mask.dtype != bool:
                raise ValueError(f"mask: expected a bool array of shape {finite.shape}, got {mask.dtype} {mask.shape}")
            finite = finite & mask
        self.mask = finite
        # values under the mask stay in y (only NaN is zeroed): the likelihood's weights must drop them
        self.y = np.where(np.isfinite(y), y, 0.0)                                     # (C, T, K, 2)
        self.y_components = to_components(self.y)                                     # (2, C, T, K)
        if not outlier_model:
            beta = np.zeros((C, T, K))
        elif outlier_prior is None:
            beta = np.broadcast_to(np.broadcast_to(params.outlier_prob, (C, K))[:, None, :], (C, T, K))
        else:
            beta = np.asarray(outlier_prior, dtype=float)
            if beta.shape != (C, T, K) or not np.all((beta > 0) & (beta < 1)):
                raise ValueError(f"outlier_prior: expected probabilities in (0, 1) of shape {(C, T, K)}, "
                                 f"got shape {beta.shape}")
        self.beta = np.ascontiguousarray(beta, dtype=float)                            # (C, T, K)
        with np.errstate(divide="ignore"):
            self._log_out_const = np.log(self.beta) - 2 * np.log(params.outlier_std)   # (C, T, K)
            self._log_in_const = np.log1p(-self.beta) - 2 * np.log(params.obs_std)
        self._build_prior()
        self._build_tree()
        self._blocks = tuple(
            FrameBlock(np.arange(parity, T, 2), np.ascontiguousarray(self.y_components[:, :, parity::2]),
                       np.ascontiguousarray(self.mask[:, parity::2]), np.ascontiguousarray(self.diag_prior[parity::2]))
            for parity in (0, 1) if parity < T)
        nonroot = (params.parents >= 0).astype(float)
        self._state_weights = np.ascontiguousarray((params.kappa[..., None] * params.nu).reshape(params.n_states, -1).T)
        self._state_const = (vmf_log_normalizer(params.kappa) * nonroot).sum(1)[None, :]

    # ---- the positions' Gaussian factors, per frame ----------------------------------------
    def _build_prior(self):
        """Per-axis prior precision of frame t: tree Laplacian (off-diagonal tree_offdiag (K, K),
        shared) + diag_prior[t] (T, K); the linear term's constants bone_map and init_w."""
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
        self.diag_prior = np.diag(L)[None, :] + diag                     # (T, K)
        self.tree_offdiag = L - np.diag(np.diag(L))                       # (K, K)
        self._tree_offdiag_T = np.ascontiguousarray(self.tree_offdiag.T)
        self._init_w = np.zeros(T)
        self._init_w[0 if self.temporal else slice(None)] = init_w
        self._init_mean = np.asarray(p.init_mean, dtype=float)
        self._bone_w = np.where(p.parents >= 0, p.rho / p.sigma2, 0.0)   # (K,)
        # the directions' linear term as one K x K map: b[j] += bone_w[j] u[j] - sum_{pi(k)=j} bone_w[k] u[k]
        B = np.diag(self._bone_w)
        for k in np.flatnonzero(p.parents >= 0):
            B[k, p.parents[k]] -= self._bone_w[k]
        self._bone_map = B

    def _build_tree(self):
        """Elimination order (deepest level first) and the tree coupling c_k = P[k, pi(k)]."""
        parents = self.params.parents
        depth = tree_depths(parents)
        self._root = np.flatnonzero(parents < 0)
        self._coupling = -np.where(parents >= 0, 1.0 / self.params.sigma2, 0.0)
        levels = []
        for d in range(depth.max(), 0, -1):
            ks = np.flatnonzero(depth == d)
            ps = parents[ks]
            groups, remaining = [], np.arange(len(ks))
            while len(remaining):
                _, first = np.unique(ps[remaining], return_index=True)
                sel = remaining[first]
                groups.append((sel, ps[sel]))
                remaining = np.setdiff1d(remaining, sel)
            levels.append(TreeLevel(ks, tuple(groups)))
        self._levels = tuple(levels)

    def prior_linear_term(self, xc, uc, frames):
        """Linear term b (3, n, K) of the prior of frames (n,) given the neighbouring frames of
        positions xc (3, T, K) mm and directions uc (3, T, K) (component-major)."""
        b = np.ascontiguousarray(uc[:, frames]) @ self._bone_map               # (3, n, K)
        wt = self._w_time
        if np.any(wt):
            prev, nxt = frames - 1, frames + 1
            xp = xc[:, np.maximum(prev, 0)] * np.where(prev >= 0, 1.0, 0.0)[:, None]
            xn = xc[:, np.minimum(nxt, self.T - 1)] * np.where(nxt < self.T, 1.0, 0.0)[:, None]
            b += wt * (xp + xn)
        iw = self._init_w[frames]
        nz = np.flatnonzero(iw)
        if len(nz):
            b[:, nz] += (iw[nz, None, None] * self._init_mean).transpose(2, 0, 1)
        return b

    def apply_prior_precision(self, diag_prior, xc):
        """Per-frame prior precision times positions: diag_prior (n, K), xc (3, n, K) -> (3, n, K).
        The off-diagonal part is the same tree for every frame."""
        out = xc @ self._tree_offdiag_T
        out += diag_prior * xc
        return out

    # ---- likelihood -------------------------------------------------------------------------
    def project(self, xc, jacobian: bool) -> Projection:
        """:class:`Projection` of positions xc (3, n, K) mm into the cameras."""
        return Projection(*self.rig.project_components(xc, jacobian=jacobian))

    def _likelihood(self, proj: Projection, block: FrameBlock, zb, jacobian: bool) -> GaussNewtonTerms:
        """Per-frame log-likelihood and Gauss-Newton terms of a block's frames; zb (C, n, K).

        With s = 1/std of each detection's mixture component (0 where missing), the residual
        and the Jacobian are whitened once (s r, s J), so that g = sum (sJ)^T (s r) and
        H = sum (sJ)^T (sJ) over cameras and pixel axes."""
        m, ok = block.mask, proj.ok
        sw = np.where(zb, 1.0 / self.params.outlier_std, 1.0 / self.params.obs_std)
        sw *= m
        sr = block.y - proj.pixels                                       # (2, C, n, K); y = 0 where missing
        sr *= sw
        ll = -0.5 * np.einsum("rcnk,rcnk->n", sr, sr)
        bad = m & ~ok
        if bad.any():
            ll = np.where(bad.any(axis=(0, 2)), -np.inf, ll)
        if not jacobian:
            return GaussNewtonTerms(ll, None, None)
        if not ok.all():
            okf = ok.astype(float)
            sw *= okf
            sr *= okf
        sJ = proj.jacobian * sw[:, None, None]                            # (C, 3, 2, n, K)
        g = np.empty((3,) + m.shape[1:])
        H = np.empty((3, 3) + m.shape[1:])
        for f in range(3):
            np.einsum("crnk,rcnk->nk", sJ[:, f], sr, out=g[f])
            for e in range(f, 3):                                         # 6 unique entries (symmetric)
                np.einsum("crnk,crnk->nk", sJ[:, f], sJ[:, e], out=H[f, e])
                if e != f:
                    H[e, f] = H[f, e]
        return GaussNewtonTerms(ll, g, H)

    # ---- the Gauss-Newton proposal on the tree ----------------------------------------------
    def eliminate(self, D, h) -> Elimination:
        """Block LDL^T of the tree-structured precision (leaves first, no fill-in).

        D: (3, 3, n, K) diagonal blocks, h: (3, n, K) information vector (both overwritten,
        D with its reduced form); the off-diagonal block between k and pi(k) is c_k I."""
        c = self._coupling
        Dinv = np.empty_like(D)
        logdet = np.zeros(D.shape[2])
        for level in self._levels:                                        # deepest level first
            ks = level.keypoints
            inv, det = inverse3(D[:, :, :, ks])
            Dinv[:, :, :, ks] = inv
            logdet += np.log(det).sum(axis=1)
            ck = c[ks]
            dD = inv * -(ck**2)
            dh = matvec3(inv, h[:, :, ks])
            dh *= -ck
            for sel, ps in level.groups:                                  # parents unique inside a group
                D[:, :, :, ps] += dD[..., sel]
                h[:, :, ps] += dh[..., sel]
        root = self._root
        inv, det = inverse3(D[:, :, :, root])
        Dinv[:, :, :, root] = inv
        logdet += np.log(det).sum(axis=1)
        quad = np.einsum("ink,ink->n", h, matvec3(Dinv, h))
        return Elimination(Dinv, h, logdet, quad)

    def tree_sample(self, Dinv, h, rng):
        """Draw x ~ N(P^{-1} h, P^{-1}) from the eliminated form (Dinv (3, 3, n, K), h reduced
        (3, n, K)), root first; rng None gives the mean P^{-1} h. -> (3, n, K)."""
        parents, c = self.params.parents, self._coupling
        n, K = h.shape[1:]
        if rng is not None:
            eps = np.moveaxis(rng.standard_normal((n, K, 3)), -1, 0)
            chol = cholesky3(Dinv)
        x = np.zeros((3, n, K))
        root = self._root
        x[:, :, root] = matvec3(Dinv[:, :, :, root], h[:, :, root])
        if rng is not None:
            x[:, :, root] += matvec3(chol[:, :, :, root], eps[:, :, root])
        for level in reversed(self._levels):                              # shallowest level first
            ks = level.keypoints
            rhs = h[:, :, ks] - c[ks] * x[:, :, parents[ks]]
            xk = matvec3(Dinv[:, :, :, ks], rhs)
            if rng is not None:
                xk += matvec3(chol[:, :, :, ks], eps[:, :, ks])
            x[:, :, ks] = xk
        return x

    def _laplace(self, xc, proj: Projection, block: FrameBlock, b, zb) -> Proposal:
        """Log target and Gauss-Newton proposal at xc (3, n, K) of a block's frames; b (3, n, K)
        the prior's linear term, proj the projection at xc (with Jacobians)."""
        ll, g, H = self._likelihood(proj, block, zb, True)
        diag_prior = block.diag_prior
        Ax = self.apply_prior_precision(diag_prior, xc)
        log_target = ll + np.einsum("ink,ink->n", xc, b - 0.5 * Ax)
        D = H.copy()
        for i in range(3):
            D[i, i] += diag_prior
        info = matvec3(H, xc)
        info += b
        info += g
        Dinv, h_red, logdet, quad = self.eliminate(D, info.copy())
        return Proposal(log_target, Dinv, h_red, logdet, quad, H, info, diag_prior)

    def _log_proposal(self, prop: Proposal, xc):
        """log N(xc; P^{-1} info, P^{-1}) up to a constant, per frame (n,); xc (3, n, K)."""
        Px = self.apply_prior_precision(prop.diag_prior, xc)
        Px += matvec3(prop.H, xc)
        Px *= -0.5
        Px += prop.info
        return 0.5 * prop.logdet + np.einsum("ink,ink->n", xc, Px) - 0.5 * prop.quad

    def _update_positions(self, xc, uc, z, rng, proj: Projection) -> PositionMove:
        """One Metropolis-Hastings position move on even, then odd frames. xc (3, T, K) mm,
        uc (3, T, K) directions, z (C, T, K) outliers, proj the projection at xc."""
        xc = xc.copy()
        new = Projection(np.empty(proj.pixels.shape), np.empty(proj.ok.shape, dtype=bool),
                         np.empty(proj.jacobian.shape))
        accepted = 0
        for parity, block in enumerate(self._blocks):                     # even frames, then odd frames
            sl = slice(parity, None, 2)
            zb = np.ascontiguousarray(z[:, sl])
            b = self.prior_linear_term(xc, uc, block.frames)
            x0 = np.ascontiguousarray(xc[:, sl])
            proj0 = Projection(np.ascontiguousarray(proj.pixels[:, :, sl]), np.ascontiguousarray(proj.ok[:, sl]),
                               np.ascontiguousarray(proj.jacobian[..., sl, :]))
            prop0 = self._laplace(x0, proj0, block, b, zb)
            x1 = self.tree_sample(prop0.Dinv, prop0.h_reduced, rng)
            proj1 = self.project(x1, True)
            prop1 = self._laplace(x1, proj1, block, b, zb)
            log_ratio = (prop1.log_target - prop0.log_target + self._log_proposal(prop1, x0)
                         - self._log_proposal(prop0, x1))
            accept = np.log(rng.random(len(block.frames))) < np.where(np.isfinite(log_ratio), log_ratio, -np.inf)
            n_acc = int(accept.sum())
            if n_acc < len(block.frames):                                 # keep the old state where rejected
                keep = ~accept
                x1[:, keep] = x0[:, keep]
                for a1, a0 in zip(proj1, proj0):
                    a1[..., keep, :] = a0[..., keep, :]
            xc[:, sl] = x1
            new.pixels[:, :, sl], new.ok[:, sl], new.jacobian[..., sl, :] = proj1
            accepted += n_acc
        return PositionMove(xc, accepted / self.T, new)

    # ---- the exact conditionals -------------------------------------------------------------
    def _outlier_log_odds(self, proj: Projection):
        """Unnormalised log p(z = 0 | x, y) and log p(z = 1 | x, y), each (C, T, K), from the
        projection of all frames."""
        p = self.params
        r = self.y_components - proj.pixels
        r2 = r[0] * r[0]
        r2 += r[1] * r[1]
        log_out = self._log_out_const - r2 / (2 * p.outlier_std**2)
        log_in = self._log_in_const - r2 / (2 * p.obs_std**2)
        return log_in, log_out

    def sample_outliers(self, x, rng, projection: Projection | None = None):
        """z | x, y: (C, T, K) bool; x (T, K, 3) mm. projection: optional :class:`Projection` at x."""
        if not self.outlier_model:
            return np.zeros(self.mask.shape, dtype=bool)
        if projection is None:
            projection = self.project(to_components(x), False)
        log_in, log_out = self._outlier_log_odds(projection)
        prob = 1.0 / (1.0 + np.exp(np.clip(log_in - log_out, -700, 700)))
        prob = np.where(self.mask & projection.ok, prob, self.beta)
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
        u = sample_vmf_unchecked(mu, kappa, rng)
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
        aligned = rotate_about_z(u, -heading[:, None])
        return aligned.reshape(len(u), -1) @ self._state_weights + self._state_const

    def sample_states(self, u, heading, transition, rng):
        """s | u, h, Lambda by FFBS: (T,) int."""
        if self.params.n_states == 1:
            return np.zeros(self.T, dtype=int)
        return ffbs(self.state_log_likelihoods(u, heading), transition, rng, self.params.initial)[0]

    # ---- sweeps -----------------------------------------------------------------------------
    def _newton_polish(self, x, u, n_iter: int):
        """Move a start x (T, K, 3) towards the positions' conditional mode: Gauss-Newton steps
        on even then odd frames, each kept only where it raises the log target; outliers at
        their posterior mode and directions at the bones' directions in between. (Initialisation
        only.) Returns (x, u) batch-first."""
        xc = to_components(x)
        for _ in range(int(n_iter)):
            uc = to_components(u)
            proj = self.project(xc, True)
            if self.outlier_model:
                log_in, log_out = self._outlier_log_odds(proj)
                z = (log_out > log_in) & self.mask
            else:
                z = np.zeros(self.mask.shape, dtype=bool)
            for parity, block in enumerate(self._blocks):
                sl = slice(parity, None, 2)
                zb = np.ascontiguousarray(z[:, sl])
                b = self.prior_linear_term(xc, uc, block.frames)
                x0 = np.ascontiguousarray(xc[:, sl])
                proj0 = Projection(*(np.ascontiguousarray(a[..., sl, :]) for a in proj))
                prop = self._laplace(x0, proj0, block, b, zb)
                x1 = self.tree_sample(prop.Dinv, prop.h_reduced, None)
                lt1 = self._laplace(x1, self.project(x1, True), block, b, zb).log_target
                better = np.isfinite(lt1) & (lt1 > prop.log_target)
                xc[:, sl] = np.where(better[:, None], x1, x0)
            u, _ = bone_directions(from_components(xc), self.params.parents)
        return from_components(xc), u

    def initial_state(self, positions, rng: np.random.Generator, *, newton_steps: int = 5) -> GibbsState:
        """Start from positions (T, K, 3) mm (e.g. robust triangulation; NaN filled by
        triangulation.interpolate_missing), polished by a few Gauss-Newton steps towards the
        conditional mode (so that the chain does not start stuck in a far, improbable place);
        directions, heading and states are drawn from their conditionals."""
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
        proj = self.project(to_components(x), True)
        z = self.sample_outliers(x, rng, proj)
        return GibbsState(x, u, heading, states, Lam, z, 1.0, 0, proj)

    def step(self, state: GibbsState, rng: np.random.Generator) -> GibbsState:
        """One Gibbs sweep; returns the new state (the input is not modified)."""
        xc = to_components(state.positions)
        proj = state.projection if state.projection is not None else self.project(xc, True)
        z = self.sample_outliers(state.positions, rng, proj)
        move = self._update_positions(xc, to_components(state.directions), z, rng, proj)
        x = from_components(move.positions)
        u = self.sample_directions(x, state.heading, state.states, rng)
        h = self.sample_heading(u, state.states, rng)
        s = self.sample_states(u, h, state.transition, rng)
        Lam = state.transition
        if self.infer_transition and self.params.n_states > 1:
            Lam = sample_transition_matrix(s, self.params.n_states, rng, self.dirichlet)
        return GibbsState(x, u, h, s, Lam, z, move.accept_rate, state.sweep + 1, move.projection)

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
            from tqdm.auto import tqdm  # a notebook bar in Jupyter (no stderr text), a text bar elsewhere

            iterator = tqdm(iterator, desc="Gibbs sweeps", leave=False, mininterval=1.0)
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


def dispersed_starts(positions, n_chains: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Over-dispersed starting positions for n_chains chains, as practitioners start MCMC:
    each chain's start is positions (T, K, 3) mm (NaN filled by triangulation.interpolate_missing)
    shifted as a whole by N(0, scale^2 I) and every keypoint jittered by N(0, (scale/2)^2 I);
    scale in mm (a few bone lengths). Returns (n_chains, T, K, 3) mm."""
    x = np.asarray(positions, dtype=float)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"positions: expected shape (T, K, 3), got {x.shape}")
    if int(n_chains) < 1:
        raise ValueError(f"n_chains: expected >= 1, got {n_chains}")
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale: expected a spread >= 0 mm, got {scale!r}")
    x = interpolate_missing(x)
    shift = rng.normal(0.0, scale, (int(n_chains), 1, 1, 3))
    jitter = rng.normal(0.0, scale / 2, (int(n_chains),) + x.shape)
    return x[None] + shift + jitter


def run_chains(params: GimbalParams, cameras, observations, init_positions, *, n_chains: int = 2,
               n_sweeps: int = 100, burn_in: int = 50, thin: int = 1, seed: int = 0, progress: bool = True,
               newton_steps: int = 5, **switches):
    """Run independent chains, each with its own seed.

    init_positions: (T, K, 3) mm, the same start for every chain (e.g. robust triangulation), or
    (n_chains, T, K, 3) mm, one start per chain (e.g. :func:`dispersed_starts`); NaN allowed.
    newton_steps: Gauss-Newton polishing steps of each start (GimbalSampler.initial_state).
    switches: GimbalSampler keywords (temporal, outlier_model, infer_heading, ...). Returns dict:
    positions (M, N, T, K, 3) float32, states (M, N, T), heading (M, N, T), accept_rate
    (M, n_sweeps), final (list of GibbsState).
    """
    sampler = GimbalSampler(params, cameras, observations, **switches)
    starts = np.asarray(init_positions, dtype=float)
    if starts.ndim == 3:
        starts = np.broadcast_to(starts, (int(n_chains),) + starts.shape)
    elif starts.ndim != 4 or starts.shape[0] != int(n_chains):
        raise ValueError(f"init_positions: expected shape (T, K, 3) or ({int(n_chains)}, T, K, 3), got {starts.shape}")
    per_chain, finals = [], []
    for m in range(int(n_chains)):
        rng = np.random.default_rng([seed, m])
        state = sampler.initial_state(starts[m], rng, newton_steps=newton_steps)
        state, out = sampler.run(state, n_sweeps, rng, burn_in=burn_in, thin=thin, progress=progress)
        per_chain.append(out)
        finals.append(state)
    result = {name: np.stack([c[name] for c in per_chain]) for name in per_chain[0]}
    result["final"] = finals
    return result
