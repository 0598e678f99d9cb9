"""Triangulation: 3D points from 2D observations in calibrated cameras (lecture: "3D Pose
estimation: projective geometry" and "Triangulation in the presence of measurement noise").

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
* **Robust triangulation**: the median over camera pairs (as DLC-3D / anipose's ``fast``) and
  RANSAC over camera pairs with a reprojection-error inlier threshold.
* **Gauss-Newton** refinement of the reprojection error (optionally with a robust loss by
  iteratively reweighted least squares), and the **Cramér-Rao bound**
  ``Cov(x_hat) >= sigma^2 (J^T J)^{-1}`` for pixel noise ``N(0, sigma^2 I)``.

Missing observations are NaN pixels: those cameras are ignored; fewer than two cameras give NaN.
Pixels of cameras with radial distortion (``k1 != 0``) are undistorted first.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Sequence

import numpy as np

from ..geometry import Camera, as_camera_list

__all__ = [
    "triangulate_dlt",
    "triangulate_median",
    "triangulate_ransac",
    "refine_gauss_newton",
    "reprojection_error",
    "projection_jacobian",
    "cramer_rao_bound",
    "undistort",
]


# input validation -------------------------------------------------------------------------
def _check_points2d(cameras, points2d, name: str = "points2d") -> tuple[list[Camera], np.ndarray]:
    cameras = as_camera_list(cameras)
    points2d = np.asarray(points2d, dtype=float)
    if points2d.ndim < 2 or points2d.shape[0] != len(cameras) or points2d.shape[-1] != 2:
        raise ValueError(f"{name}: expected shape (C, ..., 2) with C = {len(cameras)} cameras, "
                         f"got {points2d.shape}")
    if np.isinf(points2d).any():
        raise ValueError(f"{name}: contains infinity (use NaN for a missing observation)")
    return cameras, points2d


def _check_points3d(points3d, name: str = "points3d") -> np.ndarray:
    points3d = np.asarray(points3d, dtype=float)
    if points3d.ndim < 1 or points3d.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (..., 3) mm, got {points3d.shape}")
    return points3d


def undistort(cameras: Sequence[Camera], points2d: np.ndarray) -> np.ndarray:
    """Remove each camera's radial distortion: points2d (C, ..., 2) px -> (C, ..., 2) px."""
    cameras, points2d = _check_points2d(cameras, points2d)
    out = []
    for cam, p in zip(cameras, points2d):
        if cam.k1:
            n = _normalised_coordinates(cam, p)
            p = np.stack([cam.K[0, 0] * n[..., 0] + cam.K[0, 1] * n[..., 1] + cam.K[0, 2],
                          cam.K[1, 1] * n[..., 1] + cam.K[1, 2]], axis=-1)
        out.append(p)
    return np.stack(out)


def _observed(points2d: np.ndarray) -> np.ndarray:
    """(C, ...) bool: both coordinates finite."""
    return np.isfinite(points2d[..., 0]) & np.isfinite(points2d[..., 1])


def _normalised_coordinates(cam: Camera, pixels: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Pixels (N, 2) -> undistorted normalised camera coordinates (N, 2) (K^-1, then k1 removed).

    Same fixed point as ``Camera.undistort_pixels`` (x_u = x_d / (1 + k1 |x_u|^2)), written with
    explicit components and stopped once it has converged.
    """
    Kinv = np.linalg.inv(cam.K)
    u, v = pixels[..., 0], pixels[..., 1]
    xd = Kinv[0, 0] * u + Kinv[0, 1] * v + Kinv[0, 2]
    yd = Kinv[1, 0] * u + Kinv[1, 1] * v + Kinv[1, 2]
    if not cam.k1:
        return np.stack([xd, yd], axis=-1)
    xu, yu = xd, yd
    for _ in range(iterations):
        scale = 1.0 / (1.0 + cam.k1 * (xu * xu + yu * yu))
        xn, yn = xd * scale, yd * scale
        with np.errstate(invalid="ignore"):
            change = np.nanmax(np.abs(xn - xu) + np.abs(yn - yu)) if xn.size else 0.0
        xu, yu = xn, yn
        if not change > 1e-15:
            break
    return np.stack([xu, yu], axis=-1)


# DLT ----------------------------------------------------------------------------------------
def _world_normalization(cameras: list[Camera]) -> tuple[np.ndarray, float]:
    """Centre (3,) and scale of a similarity putting the cameras at unit distance around 0."""
    centres = np.stack([cam.center for cam in cameras])
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
    ok = _observed(points)  # (C, N)
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


def triangulate_dlt(cameras: Sequence[Camera], points2d: np.ndarray, *, normalize: bool = True,
                    undistort_first: bool = True, solver: str = "auto") -> np.ndarray:
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

    Returns:
        (..., 3) mm; NaN where fewer than two cameras observed the point.
    """
    cameras, points2d = _check_points2d(cameras, points2d)
    if solver not in ("auto", "svd", "adjugate"):
        raise ValueError(f"solver: expected 'auto', 'svd' or 'adjugate', got {solver!r}")
    if solver == "auto":
        solver = "adjugate" if normalize else "svd"
    C = len(cameras)
    lead = points2d.shape[1:-1]
    flat = points2d.reshape(C, -1, 2)
    if normalize:
        mean, scale = _world_normalization(cameras)
        # x = scale * x' + mean:  R x + t = scale * R x' + (R mean + t); divide by scale
        P = np.stack([np.hstack([cam.R, ((cam.R @ mean + cam.t) / scale)[:, None]]) for cam in cameras])
        flat = np.stack([_normalised_coordinates(cam if undistort_first else Camera(cam.K, cam.R, cam.t), p)
                         for cam, p in zip(cameras, flat)])
    else:
        if undistort_first and any(cam.k1 for cam in cameras):
            flat = undistort(cameras, flat)
        P = np.stack([cam.projection_matrix for cam in cameras])
    X = _dlt_flat(P, flat, solver)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = X[:, :3] / X[:, 3:]
    if normalize:
        x = scale * x + mean
    x[_observed(flat).sum(axis=0) < 2] = np.nan
    return x.reshape(lead + (3,))


# reprojection -------------------------------------------------------------------------------
def reprojection_error(cameras: Sequence[Camera], points3d: np.ndarray, points2d: np.ndarray) -> np.ndarray:
    """Distance between observed and reprojected pixels.

    Args:
        cameras: C cameras.
        points3d: (..., 3) mm.
        points2d: (C, ..., 2) px (NaN = missing).

    Returns:
        (C, ...) px; NaN where the observation or the point is missing.
    """
    cameras, points2d = _check_points2d(cameras, points2d)
    points3d = _check_points3d(points3d)
    if points3d.shape[:-1] != points2d.shape[1:-1]:
        raise ValueError(f"points3d: expected shape {points2d.shape[1:-1] + (3,)} to match points2d "
                         f"{points2d.shape}, got {points3d.shape}")
    projected = np.stack([cam.project(points3d) for cam in cameras])
    return np.linalg.norm(projected - points2d, axis=-1)


def projection_jacobian(cameras: Sequence[Camera], points3d: np.ndarray) -> np.ndarray:
    """Jacobian of the pinhole projection (distortion ignored) at world points.

    Args:
        cameras: C cameras.
        points3d: (..., 3) mm.

    Returns:
        (C, ..., 2, 3) px / mm: d f_c(x) / d x = (A_c[:2] - f_c(x) A_c[2]^T) / w.
    """
    cameras = as_camera_list(cameras)
    points3d = _check_points3d(points3d)
    out = []
    for cam in cameras:
        A, b = cam.A, cam.b
        q = points3d @ A.T + b  # (..., 3) = (u, v, w)
        w = q[..., 2:3]
        f = q[..., :2] / w
        J = (A[None, :2, :] - f.reshape(-1, 2)[:, :, None] * A[None, 2:3, :]) / w.reshape(-1, 1, 1)
        out.append(J.reshape(points3d.shape[:-1] + (2, 3)))
    return np.stack(out)


def _pinhole(cameras: list[Camera], x: np.ndarray) -> np.ndarray:
    """(C, N, 2) ideal pinhole projections of x (N, 3)."""
    A = np.stack([cam.A for cam in cameras])
    b = np.stack([cam.b for cam in cameras])
    q = np.einsum("cij,nj->cni", A, x) + b[:, None, :]
    return q[..., :2] / q[..., 2:3]


def _robust_weights(residual: np.ndarray, loss: str, scale: float) -> np.ndarray:
    """IRLS weights psi(r)/r for per-observation residual norms r (px)."""
    if loss == "l2":
        return np.ones_like(residual)
    if loss == "huber":
        return np.where(residual <= scale, 1.0, scale / np.maximum(residual, 1e-12))
    if loss == "cauchy":
        return 1.0 / (1.0 + (residual / scale) ** 2)
    raise ValueError(f"loss: expected 'l2', 'huber' or 'cauchy', got {loss!r}")


def refine_gauss_newton(cameras: Sequence[Camera], points2d: np.ndarray, points3d: np.ndarray, *,
                        iterations: int = 10, loss: str = "l2", scale: float = 5.0) -> np.ndarray:
    """Minimise the (robust) reprojection error by Gauss-Newton, all points in parallel.

    Minimises ``sum_c rho(|y_c - f_c(x)|)`` with ``rho`` the squared error (``loss="l2"``),
    Huber or Cauchy (IRLS weights, ``scale`` px). Distortion is removed from the pixels first and
    the ideal pinhole model is fitted.

    Args:
        cameras: C cameras.
        points2d: (C, ..., 2) px, NaN where missing.
        points3d: (..., 3) mm starting point (e.g. from :func:`triangulate_dlt`); NaN stays NaN.
        iterations: Gauss-Newton steps.
        loss: "l2", "huber" or "cauchy".
        scale: px, the robust loss's scale.

    Returns:
        (..., 3) mm refined points.
    """
    cameras, points2d = _check_points2d(cameras, points2d)
    points3d = _check_points3d(points3d)
    if points3d.shape[:-1] != points2d.shape[1:-1]:
        raise ValueError(f"points3d: expected shape {points2d.shape[1:-1] + (3,)}, got {points3d.shape}")
    if iterations < 0:
        raise ValueError(f"iterations: expected >= 0, got {iterations}")
    _robust_weights(np.zeros(1), loss, scale)  # validates loss
    if any(cam.k1 for cam in cameras):
        points2d = undistort(cameras, points2d)
    C = len(cameras)
    y = points2d.reshape(C, -1, 2)
    x = points3d.reshape(-1, 3).copy()
    ok = _observed(y) & np.isfinite(x).all(axis=1)[None, :]
    y0 = np.where(ok[..., None], y, 0.0)
    active = ok.sum(axis=0) >= 2
    xa = x[active]
    for _ in range(iterations):
        f = _pinhole(cameras, xa)
        r = np.where(ok[:, active, None], y0[:, active] - f, 0.0)  # (C, N, 2)
        w = _robust_weights(np.linalg.norm(r, axis=-1), loss, scale) * ok[:, active]
        J = projection_jacobian(cameras, xa)  # (C, N, 2, 3)
        H = np.einsum("cn,cnij,cnik->njk", w, J, J)
        g = np.einsum("cn,cnij,cni->nj", w, J, r)
        step = np.linalg.solve(H + 1e-12 * np.eye(3), g[..., None])[..., 0]
        xa = xa + step
    x[active] = xa
    x[~active] = np.nan
    return x.reshape(points3d.shape)


# robust triangulation ----------------------------------------------------------------------------
def _pair_estimates(cameras: list[Camera], points2d: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """DLT from every camera pair: pairs and (n_pairs, N, 3) mm."""
    C = len(cameras)
    flat = points2d.reshape(C, -1, 2)
    pairs = list(itertools.combinations(range(C), 2))
    estimates = np.stack([triangulate_dlt([cameras[i], cameras[j]], flat[[i, j]], undistort_first=False)
                          for i, j in pairs])
    return pairs, estimates


def triangulate_median(cameras: Sequence[Camera], points2d: np.ndarray) -> np.ndarray:
    """Coordinate-wise median of the DLT from every pair of cameras (DLC-3D, anipose "fast").

    Args:
        cameras: C >= 2 cameras. points2d: (C, ..., 2) px, NaN where missing.

    Returns:
        (..., 3) mm; NaN where no pair of cameras observed the point.
    """
    cameras, points2d = _check_points2d(cameras, points2d)
    if len(cameras) < 2:
        raise ValueError("cameras: expected at least two cameras")
    points2d = undistort(cameras, points2d)
    _, estimates = _pair_estimates(cameras, points2d)
    with warnings.catch_warnings():  # all-NaN slices (no pair saw the point) give NaN silently
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(estimates, axis=0)
    return median.reshape(points2d.shape[1:-1] + (3,))


def triangulate_ransac(cameras: Sequence[Camera], points2d: np.ndarray, *, threshold: float = 10.0,
                       return_inliers: bool = False):
    """RANSAC over camera pairs: the pair whose DLT agrees with the most cameras wins.

    Every pair of cameras is tried (C is small, so the search is exhaustive); a camera is an
    inlier when its reprojection error is below ``threshold`` px; ties go to the smaller total
    inlier error. The point is re-triangulated by DLT from the winning pair's inliers.

    Args:
        cameras: C >= 2 cameras.
        points2d: (C, ..., 2) px, NaN where missing.
        threshold: px, inlier threshold on the reprojection error.
        return_inliers: also return the (C, ...) bool inlier mask.

    Returns:
        (..., 3) mm (and the inlier mask if asked).
    """
    cameras, points2d = _check_points2d(cameras, points2d)
    if len(cameras) < 2:
        raise ValueError("cameras: expected at least two cameras")
    if not threshold > 0:
        raise ValueError(f"threshold: expected a positive number of pixels, got {threshold}")
    points2d = undistort(cameras, points2d)
    C = len(cameras)
    flat = points2d.reshape(C, -1, 2)
    N = flat.shape[1]
    pairs, estimates = _pair_estimates(cameras, flat)
    best_count = np.full(N, -1)
    best_cost = np.full(N, np.inf)
    best_inliers = np.zeros((C, N), bool)
    for est in estimates:
        proj = _pinhole(cameras, np.nan_to_num(est))
        err = np.linalg.norm(proj - flat, axis=-1)  # (C, N), NaN if unobserved
        inl = (err < threshold) & np.isfinite(est).all(axis=1)[None, :]
        count = inl.sum(axis=0)
        cost = np.where(inl, err, 0.0).sum(axis=0)
        better = (count > best_count) | ((count == best_count) & (cost < best_cost))
        best_count = np.where(better, count, best_count)
        best_cost = np.where(better, cost, best_cost)
        best_inliers[:, better] = inl[:, better]
    masked = np.where(best_inliers[..., None], flat, np.nan)
    x = triangulate_dlt(cameras, masked, undistort_first=False)
    lead = points2d.shape[1:-1]
    x = x.reshape(lead + (3,))
    if return_inliers:
        return x, best_inliers.reshape((C,) + lead)
    return x


# noise ------------------------------------------------------------------------------------------
def cramer_rao_bound(cameras: Sequence[Camera], points3d: np.ndarray, sigma: float,
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
    cameras = as_camera_list(cameras)
    points3d = _check_points3d(points3d)
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
