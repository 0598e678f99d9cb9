"""A detector-error model: what a keypoint detector's output looks like (lecture: "3D Pose
estimation", noise vs outliers, and the robust Model 1).

Starting from the true projections y_true (C, T, K, 2) and their visibility, each detection is

* missing (NaN) with probability ``occlusion_miss_rate`` when the keypoint is not visible,
  otherwise (1 - occlusion_miss_rate) an outlier: the detector fires somewhere else;
* swapped with its left/right partner with probability ``swap_rate`` per visible pair
  (both members flagged), then jittered;
* an outlier with probability ``outlier_rate`` (visible, not swapped): uniform in the image
  (half of them) or on another body part's location (the other half);
* otherwise y = y_true + eps, eps ~ N(0, jitter_px^2 I).

The flags are exclusive: a detection is at most one of missing, swapped, outlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import Skeleton, as_skeleton

__all__ = ["Detections", "corrupt_detections"]


@dataclass(frozen=True, eq=False)
class Detections:
    """Corrupted 2D detections.

    Attributes:
        points2d: (C, T, K, 2) px, NaN where missing.
        is_outlier: (C, T, K) bool, far off (uniform in the image or on another body part).
        is_swapped: (C, T, K) bool, left/right swap.
        is_missing: (C, T, K) bool.
    """

    points2d: np.ndarray
    is_outlier: np.ndarray
    is_swapped: np.ndarray
    is_missing: np.ndarray


def _check_rate(value, name):
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value!r}")
    return float(value)


def corrupt_detections(keypoints2d: np.ndarray, visible: np.ndarray, skeleton: Skeleton | None = None,
                       seed: int = 0, jitter_px: float = 2.0, outlier_rate: float = 0.1,
                       swap_rate: float = 0.02, occlusion_miss_rate: float = 0.5,
                       image_size=(640, 480)) -> Detections:
    """Turn exact 2D keypoints into realistic detector output.

    Args:
        keypoints2d: (C, T, K, 2) px true projections (any leading shape (..., K, 2) works;
            NaN entries, e.g. behind a camera, come out missing).
        visible: (C, T, K) bool, same leading shape.
        skeleton: gives K and the left/right pairs (default ``rodent_skeleton()``).
        seed: seed of the numpy Generator.
        jitter_px: standard deviation of the Gaussian jitter, px (>= 0).
        outlier_rate, swap_rate, occlusion_miss_rate: probabilities in [0, 1].
        image_size: (width, height) px of the images, the range of uniform outliers.

    Returns:
        Detections with points2d (C, T, K, 2) px and flags is_outlier, is_swapped, is_missing
        (C, T, K) bool.
    """
    skeleton = as_skeleton(skeleton)
    K = skeleton.K
    if isinstance(keypoints2d, (list, tuple)) or not hasattr(keypoints2d, "shape"):
        keypoints2d = np.asarray(keypoints2d, dtype=float)
    y = np.asarray(keypoints2d, dtype=float)
    if y.ndim < 2 or y.shape[-2:] != (K, 2):
        raise ValueError(f"keypoints2d: expected shape (C, T, {K}, 2) px, got {y.shape}")
    vis = np.asarray(visible)
    if vis.shape != y.shape[:-1]:
        raise ValueError(f"visible: expected shape {y.shape[:-1]} (that of keypoints2d without the last "
                         f"axis), got {vis.shape}")
    if vis.dtype != bool:
        if not np.all(np.isin(vis, (0, 1))):
            raise ValueError("visible: expected booleans")
        vis = vis.astype(bool)
    if not np.isfinite(jitter_px) or jitter_px < 0:
        raise ValueError(f"jitter_px: expected a non-negative number, got {jitter_px!r}")
    outlier_rate = _check_rate(outlier_rate, "outlier_rate")
    swap_rate = _check_rate(swap_rate, "swap_rate")
    occlusion_miss_rate = _check_rate(occlusion_miss_rate, "occlusion_miss_rate")
    try:
        width, height = (float(v) for v in image_size)
        assert width > 0 and height > 0
    except (TypeError, ValueError, AssertionError):
        raise ValueError(f"image_size: expected (width, height) > 0, got {image_size!r}") from None

    rng = np.random.default_rng(seed)
    shape = vis.shape
    known = np.all(np.isfinite(y), axis=-1)
    vis = vis & known
    points = y + jitter_px * rng.standard_normal(y.shape)

    # left/right swaps of visible pairs
    is_swapped = np.zeros(shape, dtype=bool)
    for i, j in skeleton.left_right:
        swap = (rng.random(shape[:-1]) < swap_rate) & vis[..., i] & vis[..., j]
        pi, pj = points[..., i, :].copy(), points[..., j, :].copy()
        points[..., i, :] = np.where(swap[..., None], pj, pi)
        points[..., j, :] = np.where(swap[..., None], pi, pj)
        is_swapped[..., i] |= swap
        is_swapped[..., j] |= swap

    # occlusion failures: missing, or the detector fires elsewhere
    draw = rng.random(shape)
    is_missing = (~vis & (draw < occlusion_miss_rate)) | ~known
    occluded_outlier = ~vis & known & ~is_missing
    is_outlier = (vis & ~is_swapped & (rng.random(shape) < outlier_rate)) | occluded_outlier

    # outlier locations: uniform in the image, or another body part (+ jitter)
    uniform = np.stack([rng.uniform(0, width - 1, shape), rng.uniform(0, height - 1, shape)], axis=-1)
    shift = rng.integers(1, K, size=shape)
    other = (np.arange(K) + shift) % K                                   # never the same part
    on_part = np.take_along_axis(np.nan_to_num(y, nan=0.0), other[..., None].repeat(2, -1), axis=-2)
    on_part = on_part + jitter_px * rng.standard_normal(on_part.shape)
    other_known = np.take_along_axis(known, other, axis=-1)
    use_uniform = (rng.random(shape) < 0.5) | ~other_known
    replacement = np.where(use_uniform[..., None], uniform, on_part)
    points = np.where(is_outlier[..., None], replacement, points)
    points[is_missing] = np.nan
    return Detections(points2d=points, is_outlier=is_outlier, is_swapped=is_swapped, is_missing=is_missing)
