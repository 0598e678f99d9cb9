"""Top-down pose estimation: find the animal, then look closely (lecture: "In DeepLabCut, SLEAP,
etc."; SLEAP's centroid + centred-instance models, DeepLabCut's cropping).

A small animal in a large frame wastes most of a heatmap network's pixels on the arena, and its
parts span only a few cells of the coarse (stride 16) feature maps. A top-down pipeline therefore
runs in two stages: stage 1 locates the animal on the whole frame (one "centroid" heatmap);
stage 2 crops a fixed window around that centre, zooms in, and runs the keypoint network on the
crop. Every crop is one affine map of :mod:`lecturekit.cnn.augment` from frame px to crop px,

    p' = z R(theta) (p - c) + ((S - 1) / 2, (S - 1) / 2) + z t,

with centre c (px), zoom z, output side S (px) and, for training only, a random rotation theta,
a random scale on z and a random shift t (frame px; stage 1's centre is never exact, so stage 2
must learn to work off-centre). Predictions on the crop go back to the frame by the inverse map
(:func:`uncrop_keypoints`).
"""

from __future__ import annotations

import numpy as np
import torch

from . import augment as _augment

__all__ = ["animal_centres", "crop_affines", "crop_images", "crop_keypoints", "uncrop_keypoints"]


def animal_centres(keypoints, visible=None) -> np.ndarray:
    """The animal's centre in every frame: the mean of its labelled keypoints.

    keypoints: (N, K, 2) px (NaN = not labelled); visible: optional (N, K) bool.
    Returns (N, 2) px. Raises ValueError naming the first frame without any labelled keypoint.
    """
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints: expected (N, K, 2) px, got {kp.shape}")
    ok = np.all(np.isfinite(kp), -1)
    if visible is not None:
        vis = np.asarray(visible, dtype=bool)
        if vis.shape != kp.shape[:2]:
            raise ValueError(f"visible: expected {kp.shape[:2]}, got {vis.shape}")
        ok &= vis
    empty = np.flatnonzero(~ok.any(1))
    if empty.size:
        raise ValueError(f"keypoints: frame {int(empty[0])} has no labelled keypoint, so no centre")
    return np.where(ok[..., None], kp, 0.0).sum(1) / ok.sum(1)[:, None]


def crop_affines(centres, crop_size: int, zoom: float = 1.0, *, rng: np.random.Generator | None = None,
                 rotation_deg: float = 0.0, scale_range=(1.0, 1.0), jitter_px: float = 0.0) -> np.ndarray:
    """Maps from frame px to the px of a ``crop_size`` x ``crop_size`` crop centred on each centre.

    centres: (N, 2) px; crop_size: output side S in px; zoom: crop px per frame px.
    For training augmentation (needs ``rng``): angle ~ U(-rotation_deg, rotation_deg), scale
    log-uniform on ``scale_range`` (multiplies ``zoom``), shift ~ U(-jitter_px, jitter_px) frame px
    per axis. Returns (N, 2, 3) float64, usable by :func:`crop_images` and
    :func:`lecturekit.cnn.augment.transform_keypoints`.
    """
    c = np.asarray(centres, dtype=float)
    if c.ndim != 2 or c.shape[1] != 2 or not np.all(np.isfinite(c)):
        raise ValueError(f"centres: expected finite (N, 2) px, got shape {c.shape}")
    if int(crop_size) != crop_size or crop_size < 2:
        raise ValueError(f"crop_size: expected an integer >= 2 px, got {crop_size}")
    if not zoom > 0:
        raise ValueError(f"zoom: expected > 0 crop px per frame px, got {zoom}")
    augmenting = rotation_deg != 0 or tuple(scale_range) != (1.0, 1.0) or jitter_px != 0
    if augmenting and rng is None:
        raise ValueError("rng: a np.random.Generator is needed for random rotation, scale or jitter")
    n = c.shape[0]
    if augmenting:
        angle = rng.uniform(-rotation_deg, rotation_deg, n)
        scale = zoom * np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]), n))
        shift = rng.uniform(-jitter_px, jitter_px, (n, 2))
    else:
        angle, scale, shift = np.zeros(n), np.full(n, float(zoom)), np.zeros((n, 2))
    half = (int(crop_size) - 1) / 2.0
    maps = []
    for a, s, t, ci in zip(angle, scale, shift, c):
        maps.append(_augment.affine_matrix(a, s, half - ci + s * t, ci))  # s R (p - c) + c + translation
    return np.stack(maps) if maps else np.zeros((0, 2, 3))


def crop_images(images: torch.Tensor, A, crop_size: int, fill: float = 0.0) -> torch.Tensor:
    """Resample crops: images (N, C, H, W) float, A (N, 2, 3) frame px -> crop px.
    Returns (N, C, crop_size, crop_size); outside the frame is ``fill``."""
    return _augment.warp_images(images, A, out_shape=(int(crop_size), int(crop_size)), fill=fill)


def crop_keypoints(keypoints, visible, A, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) frame px -> crop px, and visible (N, K) restricted to those inside the crop."""
    k = _augment.transform_keypoints(keypoints, A)
    inside = np.all((k >= 0) & (k <= int(crop_size) - 1), -1)
    return k, np.asarray(visible, dtype=bool) & inside & np.all(np.isfinite(k), -1)


def uncrop_keypoints(points, A) -> np.ndarray:
    """Inverse of the crop maps: points (N, K, 2) crop px -> (N, K, 2) frame px."""
    return _augment.transform_keypoints(points, _augment.invert_affines(A))
