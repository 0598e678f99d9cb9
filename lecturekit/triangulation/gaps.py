"""Filling gaps in 3D trajectories and initialising positions (one copy, used by Models 0/1 and
the Gibbs sampler of lecture 5)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..geometry import Camera, Rig, check_points2d
from .dlt import triangulate_dlt
from .robust import triangulate_median, triangulate_ransac

__all__ = ["interpolate_missing", "initial_positions"]


def interpolate_missing(positions: np.ndarray) -> np.ndarray:
    """Fill missing (NaN) 3D positions: linear in time per keypoint, edges held constant.

    A keypoint missing in every frame takes, in each frame, the mean of the other keypoints of
    that frame (after their interpolation); if no keypoint was ever seen, the origin.

    Args:
        positions: (T, K, 3) mm, a row with any NaN coordinate counts as missing.

    Returns:
        (T, K, 3) mm, all finite.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"positions: expected shape (T, K, 3) mm, got {positions.shape}")
    out = positions.copy()
    T, K, _ = out.shape
    t = np.arange(T)
    ok = np.isfinite(out).all(axis=-1)
    out[~ok] = np.nan
    for k in range(K):  # a loop over keypoints: initialisation only
        if ok[:, k].any() and not ok[:, k].all():
            for d in range(3):
                out[:, k, d] = np.interp(t, t[ok[:, k]], out[ok[:, k], k, d])
    never = ~ok.any(axis=0)
    if never.any():
        if never.all():
            out[:] = 0.0
        else:
            out[:, never] = out[:, ~never].mean(axis=1, keepdims=True)
    return out


def initial_positions(cameras: Sequence[Camera] | Rig, points2d: np.ndarray, method: str = "ransac", *,
                      threshold: float = 15.0, fill: bool = True) -> np.ndarray:
    """Robust triangulation of every frame as a starting point for Models 0/1 or the sampler.

    Args:
        cameras: C >= 2 cameras.
        points2d: (C, T, K, 2) px, NaN where missing.
        method: "ransac" (reprojection threshold ``threshold`` px), "median" (of camera pairs) or "dlt".
        threshold: px, RANSAC's inlier threshold.
        fill: fill the gaps (fewer than two cameras) with :func:`interpolate_missing`; ``False``
            leaves them NaN.

    Returns:
        (T, K, 3) mm.
    """
    rig, points2d = check_points2d(cameras, points2d)
    if points2d.ndim != 4:
        raise ValueError(f"points2d: expected shape (C, T, K, 2) px, got {points2d.shape}")
    if method == "ransac":
        x = triangulate_ransac(rig, points2d, threshold=threshold)
    elif method == "median":
        x = triangulate_median(rig, points2d)
    elif method == "dlt":
        x = triangulate_dlt(rig, points2d)
    else:
        raise ValueError(f"method: expected 'ransac', 'median' or 'dlt', got {method!r}")
    return interpolate_missing(x) if fill else x
