"""Robust triangulation (lecture: "Triangulation in the presence of measurement noise").

* the **median over camera pairs** of the pairwise DLT (as DLC-3D / anipose's ``fast``);
* **RANSAC** over camera pairs with a reprojection-error inlier threshold;
* **Gauss-Newton** refinement of the reprojection error (optionally with a robust loss by
  iteratively reweighted least squares).

Missing observations are NaN pixels; radial distortion (``k1``) is removed from the pixels first
and the ideal pinhole model of the same rig is fitted. A point behind a camera has no image there:
it is never that camera's inlier and does not enter the Gauss-Newton sums.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Sequence

import numpy as np

from ..geometry import Camera, Rig, check_points2d, check_points3d
from .dlt import observed_mask, triangulate_dlt

__all__ = [
    "triangulate_median",
    "triangulate_ransac",
    "refine_gauss_newton",
]


def _robust_weights(residual: np.ndarray, loss: str, scale: float) -> np.ndarray:
    """IRLS weights psi(r)/r for per-observation residual norms r (px)."""
    if loss == "l2":
        return np.ones_like(residual)
    if loss == "huber":
        return np.where(residual <= scale, 1.0, scale / np.maximum(residual, 1e-12))
    if loss == "cauchy":
        return 1.0 / (1.0 + (residual / scale) ** 2)
    raise ValueError(f"loss: expected 'l2', 'huber' or 'cauchy', got {loss!r}")


def refine_gauss_newton(cameras: Sequence[Camera] | Rig, points2d: np.ndarray, points3d: np.ndarray, *,
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
    rig, points2d = check_points2d(cameras, points2d)
    points3d = check_points3d(points3d)
    if points3d.shape[:-1] != points2d.shape[1:-1]:
        raise ValueError(f"points3d: expected shape {points2d.shape[1:-1] + (3,)}, got {points3d.shape}")
    if iterations < 0:
        raise ValueError(f"iterations: expected >= 0, got {iterations}")
    _robust_weights(np.zeros(1), loss, scale)  # validates loss
    points2d = rig.undistort(points2d)
    pinhole = rig.pinhole()
    C = len(rig)
    y = points2d.reshape(C, -1, 2)
    x = points3d.reshape(-1, 3).copy()
    ok = observed_mask(y) & np.isfinite(x).all(axis=1)[None, :]
    y0 = np.where(ok[..., None], y, 0.0)
    active = ok.sum(axis=0) >= 2
    xa = x[active]
    ok_a, y_a = ok[:, active], y0[:, active]
    for _ in range(iterations):
        pix, in_front, J = pinhole.project_components(xa.T, jacobian=True)  # (2, C, N), (C, N), (C, 3, 2, N)
        use = ok_a & in_front
        r = np.where(use[..., None], y_a - np.moveaxis(pix, 0, -1), 0.0)  # (C, N, 2)
        w = _robust_weights(np.linalg.norm(r, axis=-1), loss, scale) * use
        H = np.einsum("cn,cjin,ckin->njk", w, J, J)
        g = np.einsum("cn,cjin,cni->nj", w, J, r)
        step = np.linalg.solve(H + 1e-12 * np.eye(3), g[..., None])[..., 0]
        xa = xa + step
    x[active] = xa
    x[~active] = np.nan
    return x.reshape(points3d.shape)


def _pair_estimates(rig: Rig, flat: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
    """DLT from every camera pair of undistorted flat (C, N, 2) px: pairs and (n_pairs, N, 3) mm."""
    pairs = list(itertools.combinations(range(len(rig)), 2))
    estimates = np.stack([triangulate_dlt(rig.subset([i, j]), flat[[i, j]], undistort_first=False,
                                          check_baseline=False)
                          for i, j in pairs])
    return pairs, estimates


def triangulate_median(cameras: Sequence[Camera] | Rig, points2d: np.ndarray) -> np.ndarray:
    """Coordinate-wise median of the DLT from every pair of cameras (DLC-3D, anipose "fast").

    Args:
        cameras: C >= 2 cameras. points2d: (C, ..., 2) px, NaN where missing.

    Returns:
        (..., 3) mm; NaN where no pair of cameras observed the point.
    """
    rig, points2d = check_points2d(cameras, points2d)
    if len(rig) < 2:
        raise ValueError("cameras: expected at least two cameras")
    points2d = rig.undistort(points2d)
    _, estimates = _pair_estimates(rig, points2d.reshape(len(rig), -1, 2))
    with warnings.catch_warnings():  # all-NaN slices (no pair saw the point) give NaN silently
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(estimates, axis=0)
    return median.reshape(points2d.shape[1:-1] + (3,))


def triangulate_ransac(cameras: Sequence[Camera] | Rig, points2d: np.ndarray, *, threshold: float = 10.0,
                       return_inliers: bool = False):
    """RANSAC over camera pairs: the pair whose DLT agrees with the most cameras wins.

    Every pair of cameras is tried (C is small, so the search is exhaustive); a camera is an
    inlier when the point is in front of it and its reprojection error is below ``threshold``
    px; ties go to the smaller total inlier error. The point is re-triangulated by DLT from the
    winning pair's inliers.

    Args:
        cameras: C >= 2 cameras.
        points2d: (C, ..., 2) px, NaN where missing.
        threshold: px, inlier threshold on the reprojection error.
        return_inliers: also return the (C, ...) bool inlier mask.

    Returns:
        (..., 3) mm (and the inlier mask if asked).
    """
    rig, points2d = check_points2d(cameras, points2d)
    if len(rig) < 2:
        raise ValueError("cameras: expected at least two cameras")
    if not threshold > 0:
        raise ValueError(f"threshold: expected a positive number of pixels, got {threshold}")
    points2d = rig.undistort(points2d)
    pinhole = rig.pinhole()
    C = len(rig)
    flat = points2d.reshape(C, -1, 2)
    N = flat.shape[1]
    pairs, estimates = _pair_estimates(rig, flat)
    best_count = np.full(N, -1)
    best_cost = np.full(N, np.inf)
    best_inliers = np.zeros((C, N), bool)
    u, v = flat[..., 0], flat[..., 1]
    for est in estimates:
        pix, in_front, _ = pinhole.project_components(np.nan_to_num(est).T)  # (2, C, N), (C, N)
        du, dv = pix[0] - u, pix[1] - v
        err = np.sqrt(du * du + dv * dv)  # (C, N), NaN if unobserved
        with np.errstate(invalid="ignore"):
            # a camera the point is behind is never an inlier
            inl = (err < threshold) & in_front & np.isfinite(est).all(axis=1)[None, :]
        count = inl.sum(axis=0)
        cost = np.where(inl, err, 0.0).sum(axis=0)
        better = (count > best_count) | ((count == best_count) & (cost < best_cost))
        best_count = np.where(better, count, best_count)
        best_cost = np.where(better, cost, best_cost)
        best_inliers[:, better] = inl[:, better]
    masked = np.where(best_inliers[..., None], flat, np.nan)
    x = triangulate_dlt(rig, masked, undistort_first=False, check_baseline=False)
    lead = points2d.shape[1:-1]
    x = x.reshape(lead + (3,))
    if return_inliers:
        return x, best_inliers.reshape((C,) + lead)
    return x
