"""Triangulation by the direct linear transform (lecture: "3D Pose estimation: projective
geometry" and "Triangulation in the presence of measurement noise").

Camera ``c`` maps a world point ``x`` (mm) to ``f_c(x) = (u, v) / w`` with
``(u, v, w) = A_c x + b_c``, i.e. ``P_c = [A_c | b_c] = K [R | t]`` on homogeneous points.

* **DLT** (direct linear transform): ``y = f_c(x)`` gives two linear equations in the
  homogeneous ``X = (x, 1)``: ``(y_u P_c^3 - P_c^1) X = 0`` and ``(y_v P_c^3 - P_c^2) X = 0``.
  Stacking them over cameras gives ``M X = 0`` with ``M`` of shape ``(2C, 4)``; the least-squares
  solution with ``|X| = 1`` is the right singular vector of the smallest singular value. All
  frames and keypoints are solved at once by a batched SVD of ``(N, 2C, 4)`` matrices.
* **Hartley normalisation**: in millimetres the fourth column of ``M`` (``b_c``, size ~ f * 1000)
  dwarfs the others and the constraint ``|X| = 1`` weights the algebraic error by
  ``1 / (1 + |x|^2)``; pixels are mapped to normalised camera coordinates and the world is
  shifted and scaled to unit size around the cameras before the SVD, then mapped back.
* The **reprojection error** and the **Cramér-Rao bound** ``Cov(x_hat) >= sigma^2 (J^T J)^{-1}``
  for pixel noise ``N(0, sigma^2 I)``.

Robust triangulation (median of pairs, RANSAC, Gauss-Newton) is in :mod:`.robust`. The camera
model, its Jacobian and the undistortion are :class:`lecturekit.geometry.Rig`'s.

Missing observations are NaN pixels: those cameras are ignored; fewer than two cameras give NaN.
Pixels of cameras with radial distortion (``k1 != 0``) are undistorted first.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..geometry import MIN_DEPTH, Camera, Rig, as_rig, check_points2d, check_points3d, projection_jacobian

__all__ = [
    "triangulate_dlt",
    "reprojection_error",
    "cramer_rao_bound",
    "undistort",
    "observed_mask",
]


def undistort(cameras: Sequence[Camera] | Rig, points2d: np.ndarray) -> np.ndarray:
    """Remove each camera's radial distortion: points2d (C, ..., 2) px -> (C, ..., 2) px.

    NaN where a camera's distortion cannot be inverted (see ``geometry.undistort_radius``).
    """
    rig, points2d = check_points2d(cameras, points2d)
    return rig.undistort(points2d)


def observed_mask(points2d: np.ndarray) -> np.ndarray:
    """(C, ...) bool from points2d (C, ..., 2): both coordinates finite (an observation)."""
    points2d = np.asarray(points2d, dtype=float)
    return np.isfinite(points2d[..., 0]) & np.isfinite(points2d[..., 1])


# DLT ----------------------------------------------------------------------------------------
def _world_normalization(rig: Rig) -> tuple[np.ndarray, float]:
    """Centre (3,) and scale of a similarity putting the cameras at unit distance around 0."""
    centres = rig.centers
    mean = centres.mean(axis=0)
    scale = float(np.sqrt(np.mean(np.sum((centres - mean) ** 2, axis=1))))
    return mean, (scale if scale > 0 else 1.0)


def _adjugate4(a: np.ndarray) -> np.ndarray:
    """Adjugate of (4, 4, N) matrices (cofactor expansion by 2x2 minors), vectorised over N."""
    def m2(r0, r1, c0, c1):
        return a[r0, c0] * a[r1, c1] - a[r0, c1] * a[r1, c0]

    s0, s1, s2, s3, s4, s5 = (m2(0, 1, 0, 1), m2(0, 1, 0, 2), m2(0, 1, 0, 3), m2(0, 1, 1, 2),
                              m2(0, 1, 1, 3), m2(0, 1, 2, 3))
    c0, c1, c2, c3, c4, c5 = (m2(2, 3, 0, 1), m2(2, 3, 0, 2), m2(2, 3, 0, 3), m2(2, 3, 1, 2),
                              m2(2, 3, 1, 3), m2(2, 3, 2, 3))
    out = np.empty_like(a)
    out[0, 0] = a[1, 1] * c5 - a[1, 2] * c4 + a[1, 3] * c3
    out[0, 1] = -a[0, 1] * c5 + a[0, 2] * c4 - a[0, 3] * c3
    out[0, 2] = a[3, 1] * s5 - a[3, 2] * s4 + a[3, 3] * s3
    out[0, 3] = -a[2, 1] * s5 + a[2, 2] * s4 - a[2, 3] * s3
    out[1, 0] = -a[1, 0] * c5 + a[1, 2] * c2 - a[1, 3] * c1
    out[1, 1] = a[0, 0] * c5 - a[0, 2] * c2 + a[0, 3] * c1
    out[1, 2] = -a[3, 0] * s5 + a[3, 2] * s2 - a[3, 3] * s1
    out[1, 3] = a[2, 0] * s5 - a[2, 2] * s2 + a[2, 3] * s1
    out[2, 0] = a[1, 0] * c4 - a[1, 1] * c2 + a[1, 3] * c0
    out[2, 1] = -a[0, 0] * c4 + a[0, 1] * c2 - a[0, 3] * c0
    out[2, 2] = a[3, 0] * s4 - a[3, 1] * s2 + a[3, 3] * s0
    out[2, 3] = -a[2, 0] * s4 + a[2, 1] * s2 - a[2, 3] * s0
    out[3, 0] = -a[1, 0] * c3 + a[1, 1] * c1 - a[1, 2] * c0
    out[3, 1] = a[0, 0] * c3 - a[0, 1] * c1 + a[0, 2] * c0
    out[3, 2] = -a[3, 0] * s3 + a[3, 1] * s1 - a[3, 2] * s0
    out[3, 3] = a[2, 0] * s3 - a[2, 1] * s1 + a[2, 2] * s0
    return out


def _dlt_flat(P: np.ndarray, points: np.ndarray, solver: str = "svd", iterations: int = 10,
              tolerance: float = 1e-13) -> np.ndarray:
    """Batched DLT. P: (C, 3, 4); points: (C, N, 2) (NaN = missing). Returns (N, 4) homogeneous.

    ``solver="svd"``: right singular vector of the smallest singular value of each (2C, 4) system.
    ``solver="adjugate"``: the same vector as the smallest eigenvector of the 4x4 Gram matrix
    ``G = M^T M``, by power iteration with ``adj(G) = det(G) G^{-1}`` (inverse iteration without
    a division); only for well-conditioned (normalised) systems. Points where the iteration has
    not converged (eigen-residual of the trace-normalised G above ``tolerance``) fall back to SVD.
    """
    ok = observed_mask(points)  # (C, N)
    if solver == "svd":
        pts = np.where(ok[..., None], points, 0.0)
        # rows u P^3 - P^1 and v P^3 - P^2 for every camera and point: (N, C, 2, 4)
        rows = pts.transpose(1, 0, 2)[..., None] * P[None, :, 2:3, :] - P[None, :, :2, :]
        rows = rows * ok.T[:, :, None, None]
        M = rows.reshape(rows.shape[0], -1, 4)
        _, _, vh = np.linalg.svd(M, full_matrices=False)
        return vh[:, -1, :]
    # G = M^T M = sum_c m [(u^2 + v^2) p3 p3^T - u (p3 p1^T + p1 p3^T) - v (p3 p2^T + p2 p3^T)
    #                     + p1 p1^T + p2 p2^T]: one matrix product (N, 4C) @ (4C, 16)
    C, N = ok.shape
    u = np.where(ok, points[..., 0], 0.0).T  # (N, C)
    v = np.where(ok, points[..., 1], 0.0).T
    features = np.empty((N, C, 4))
    np.multiply(u, u, out=features[..., 0])
    features[..., 0] += v * v
    features[..., 1] = u
    features[..., 2] = v
    features[..., 3] = ok.T
    p1, p2, p3 = P[:, 0], P[:, 1], P[:, 2]
    outer = lambda a, b: np.einsum("ci,cj->cij", a, b)  # noqa: E731
    basis = np.stack([outer(p3, p3), -(outer(p3, p1) + outer(p1, p3)), -(outer(p3, p2) + outer(p2, p3)),
                      outer(p1, p1) + outer(p2, p2)], axis=1).reshape(-1, 16)  # (4C, 16)
    G = np.ascontiguousarray((features.reshape(N, 4 * C) @ basis).T).reshape(4, 4, N)
    G /= np.maximum(G[0, 0] + G[1, 1] + G[2, 2] + G[3, 3], 1e-300)
    A = _adjugate4(G)
    v = A[:, 3].copy()
    for _ in range(2):  # usually enough: adj(G) is nearly rank one when the data are consistent
        v = _apply4(A, _unit4(v))
    v = _unit4(v)
    slow = np.flatnonzero(~(_eigen_residual(G, v) < tolerance))
    if slow.size:  # more iterations where the two smallest eigenvalues are closer (outliers)
        vs, As = v[:, slow], A[:, :, slow]
        for _ in range(iterations):
            vs = _unit4(_apply4(As, vs))
        v[:, slow] = vs
        # still not converged (nearly equal smallest eigenvalues: ill-posed, e.g. two cameras of
        # which one is an outlier): solve those few points by SVD
        slow = slow[~(_eigen_residual(G[:, :, slow], vs) < tolerance)]
        if slow.size:
            v[:, slow] = _dlt_flat(P, points[:, slow], "svd").T
    return v.T


def _unit4(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] + v[3] * v[3]), 1e-300)


def _apply4(A: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(4, 4, N) @ (4, N) -> (4, N)."""
    return A[:, 0] * v[0] + A[:, 1] * v[1] + A[:, 2] * v[2] + A[:, 3] * v[3]


def _eigen_residual(G: np.ndarray, v: np.ndarray) -> np.ndarray:
    """|G v - (v^T G v) v| for unit v: zero at an eigenvector."""
    Gv = _apply4(G, v)
    d = Gv - (v[0] * Gv[0] + v[1] * Gv[1] + v[2] * Gv[2] + v[3] * Gv[3]) * v
    return np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + d[3] * d[3])


MIN_BASELINE_FRACTION = 1e-3
"""Smallest accepted camera baseline (largest distance between two centres) as a fraction of
the scene distance (median distance of the triangulated points from the cameras' mean centre)."""


def triangulate_dlt(cameras: Sequence[Camera] | Rig, points2d: np.ndarray, *, normalize: bool = True,
                    undistort_first: bool = True, solver: str = "auto", check_baseline: bool = True) -> np.ndarray:
    """Triangulate by the direct linear transform, all points at once.

    Args:
        cameras: C calibrated cameras (mm world).
        points2d: (C, ..., 2) px observations, NaN where missing (e.g. (C, T, K, 2)).
        normalize: Hartley normalisation (normalised camera coordinates, world shifted and
            scaled to unit size around the cameras) before the SVD. ``False`` solves the slide's
            system in pixels and mm directly (for the demonstration of why not to).
        undistort_first: remove radial distortion (k1) from the pixels first.
        solver: "svd" (batched SVD of the (N, 2C, 4) systems), "adjugate" (smallest eigenvector
            of the 4x4 normal matrix by inverse iteration; fast, for normalised systems) or
            "auto" (adjugate when normalised, SVD otherwise).
        check_baseline: refuse cameras whose centres (nearly) coincide: a baseline below
            ``MIN_BASELINE_FRACTION`` of the scene distance (RANSAC's pairs skip this check).

    Returns:
        (..., 3) mm; NaN where fewer than two cameras observed the point, and where the solution
        lies behind (or at the centre of) a camera that observed it, depth <= ``geometry.MIN_DEPTH``
        (cheirality: no such point has those images).

    Raises:
        ValueError: fewer than two cameras, or coincident camera centres (``check_baseline``).
    """
    rig, points2d = check_points2d(cameras, points2d)
    if len(rig) < 2:
        raise ValueError(f"cameras: expected at least two cameras to triangulate, got {len(rig)}")
    if solver not in ("auto", "svd", "adjugate"):
        raise ValueError(f"solver: expected 'auto', 'svd' or 'adjugate', got {solver!r}")
    if solver == "auto":
        solver = "adjugate" if normalize else "svd"
    C = len(rig)
    lead = points2d.shape[1:-1]
    flat = points2d.reshape(C, -1, 2)
    if normalize:
        mean, scale = _world_normalization(rig)
        # x = scale * x' + mean:  R x + t = scale * R x' + (R mean + t); divide by scale
        P = np.concatenate([rig.R, ((rig.R @ mean + rig.t) / scale)[:, :, None]], axis=2)
        flat = (rig if undistort_first else rig.pinhole()).normalized(flat)
    else:
        if undistort_first:
            flat = rig.undistort(flat)
        P = rig.K @ np.concatenate([rig.R, rig.t[:, :, None]], axis=2)
    X = _dlt_flat(P, flat, solver)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = X[:, :3] / X[:, 3:]
    if normalize:
        x = scale * x + mean
    seen = observed_mask(flat)
    x[seen.sum(axis=0) < 2] = np.nan
    with np.errstate(invalid="ignore"):
        behind = (seen & ~(rig.depths(x) > MIN_DEPTH)).any(axis=0)
    x[behind] = np.nan
    if check_baseline:
        _check_baseline(rig, x)
    return x.reshape(lead + (3,))


def _check_baseline(rig: Rig, x: np.ndarray) -> None:
    """ValueError if the cameras' centres coincide relative to the distance of the points x (N, 3)."""
    centres = rig.centers
    baseline = float(np.max(np.linalg.norm(centres[:, None] - centres[None], axis=-1)))
    sample = x[:: max(1, len(x) // 1000)]  # the scene's size needs no more than ~1000 points
    sample = sample[np.isfinite(sample).all(axis=1)]
    if not len(sample):
        return
    scene = float(np.median(np.linalg.norm(sample - centres.mean(axis=0), axis=1)))
    if baseline < MIN_BASELINE_FRACTION * scene:
        raise ValueError(f"cameras: the camera centres coincide (baseline {baseline:.3g} < "
                         f"{MIN_BASELINE_FRACTION:g} x the scene distance {scene:.3g}); triangulation needs "
                         f"cameras at different positions (identical calibrations?)")


# reprojection -------------------------------------------------------------------------------
def reprojection_error(cameras: Sequence[Camera] | Rig, points3d: np.ndarray, points2d: np.ndarray) -> np.ndarray:
    """Distance between observed and reprojected pixels.

    Args:
        cameras: C cameras.
        points3d: (..., 3) mm.
        points2d: (C, ..., 2) px (NaN = missing).

    Returns:
        (C, ...) px; NaN where the observation or the point is missing (or behind the camera).
    """
    rig, points2d = check_points2d(cameras, points2d)
    points3d = check_points3d(points3d)
    if points3d.shape[:-1] != points2d.shape[1:-1]:
        raise ValueError(f"points3d: expected shape {points2d.shape[1:-1] + (3,)} to match points2d "
                         f"{points2d.shape}, got {points3d.shape}")
    return np.linalg.norm(rig.project(points3d) - points2d, axis=-1)


# noise ------------------------------------------------------------------------------------------
def cramer_rao_bound(cameras: Sequence[Camera] | Rig, points3d: np.ndarray, sigma: float,
                     observed: np.ndarray | None = None) -> np.ndarray:
    """Cramér-Rao bound on the covariance of an unbiased triangulation.

    With ``y_c = f_c(x) + e_c``, ``e_c ~ N(0, sigma^2 I)``, the Fisher information is
    ``J^T J / sigma^2`` (J stacks the cameras' 2x3 projection Jacobians), so
    ``Cov(x_hat) >= sigma^2 (J^T J)^{-1}`` and ``E|x_hat - x|^2 >= trace`` of that.

    Args:
        cameras: C cameras. points3d: (..., 3) mm true points. sigma: px noise std.
        observed: optional (C, ...) bool, which cameras see each point (default: all).

    Returns:
        (..., 3, 3) mm^2 covariance bound (NaN where fewer than two cameras observe).
    """
    cameras = as_rig(cameras)
    points3d = check_points3d(points3d)
    if not sigma > 0:
        raise ValueError(f"sigma: expected a positive pixel noise level, got {sigma}")
    J = projection_jacobian(cameras, points3d)
    if observed is None:
        observed = np.ones((len(cameras),) + points3d.shape[:-1], bool)
    observed = np.asarray(observed, bool)
    if observed.shape != (len(cameras),) + points3d.shape[:-1]:
        raise ValueError(f"observed: expected shape {(len(cameras),) + points3d.shape[:-1]}, got {observed.shape}")
    info = np.einsum("c...,c...ij,c...ik->...jk", observed.astype(float), J, J)
    bad = observed.sum(axis=0) < 2
    info[bad] = np.eye(3)
    cov = sigma**2 * np.linalg.inv(info)
    cov[bad] = np.nan
    return cov
