"""Patches for basic pose tracking (lecture: "Basic pose tracking: turn it into a supervised
learning problem" and "Mathematical formulation").

* Frames are converted to grayscale with the ITU-R BT.601 luma weights
  ``0.299 R + 0.587 G + 0.114 B`` and scaled to [0, 1].
* A patch is the P_h x P_w window (both odd) *centred* on a pixel; pixel (0, 0) is the centre of
  the top-left pixel and a keypoint (x, y) px belongs to column round(x), row round(y).  Windows
  that leave the image are filled by repeating the border pixels (``edge`` padding).
* Positives are patches centred on a keypoint (optionally also on its 8 neighbours, ``jitter=1``);
  negatives are centred on random pixels at least ``min_distance`` px away from it.
* Features are standardised pixel by pixel over the training patches (a z-score per patch
  position): x = (patch - mean) / std, with ``mean`` and ``std`` (P_h, P_w) estimated once on the
  training set (:func:`fit_standardization`) and reused unchanged on test frames.  This puts all
  weights on one scale (so one L2 strength and one learning rate suit all of them) and keeps the
  model *linear in the raw pixels*.  The feature vector is the flattened standardised patch
  followed by a constant 1 (the bias feature): x_n in R^{P_h P_w + 1}.
* Because the model is linear in the pixels, sliding it over a frame is a 2D cross-correlation:
  :func:`pixel_filter` folds the standardisation into a kernel ``w / std`` and a bias
  ``b - sum(w mean / std)``, and :func:`score_map` evaluates a(i, j) = kernel * patch(i, j) + bias
  at every pixel at once (stride tricks, no loop over pixels; the same numbers as ``F.conv2d``
  on the edge-padded image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .logreg import sigmoid

__all__ = [
    "LUMA_WEIGHTS",
    "to_grayscale",
    "extract_patches",
    "Standardization",
    "fit_standardization",
    "standardize_patches",
    "design_matrix",
    "pixel_filter",
    "sample_patch_dataset",
    "score_map",
    "probability_map",
    "detect_keypoint",
    "course_patch_problem",
]

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
EPS = 1e-6


def _patch_shape(patch_shape) -> tuple[int, int]:
    try:
        ph, pw = (int(v) for v in patch_shape)
    except (TypeError, ValueError):
        raise TypeError(f"patch_shape: expected (P_h, P_w), got {patch_shape!r}") from None
    if ph < 1 or pw < 1 or ph % 2 == 0 or pw % 2 == 0:
        raise ValueError(f"patch_shape: expected two odd positive sizes (P_h, P_w), got {(ph, pw)}")
    return ph, pw


def to_grayscale(images) -> np.ndarray:
    """RGB images (..., H, W, 3) uint8 (0-255) or float (0-1) -> grayscale (..., H, W) float64 in [0, 1]."""
    images = np.asarray(images)
    if images.shape[-1:] != (3,) or images.ndim < 3:
        raise ValueError(f"images: expected shape (..., H, W, 3), got {images.shape}")
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    return (images.astype(float) @ LUMA_WEIGHTS) / scale


def _gray_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ValueError(f"image: expected a grayscale image of shape (H, W), got {image.shape}"
                         " (use to_grayscale for RGB)")
    return image


def extract_patches(image, centres, patch_shape) -> np.ndarray:
    """Cut P_h x P_w windows centred on pixels of one grayscale image.

    image: (H, W); centres: (M, 2) px as (x, y) = (column, row), rounded to the nearest pixel;
    patch_shape: (P_h, P_w), both odd.  Returns (M, P_h, P_w) (edge padding outside the image).
    """
    image = _gray_image(image)
    ph, pw = _patch_shape(patch_shape)
    centres = np.asarray(centres, dtype=float)
    if centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"centres: expected shape (M, 2) as (x, y) px, got {centres.shape}")
    if not np.all(np.isfinite(centres)):
        raise ValueError("centres: expected finite pixel coordinates (no NaN)")
    H, W = image.shape
    cols = np.clip(np.rint(centres[:, 0]).astype(int), 0, W - 1)
    rows = np.clip(np.rint(centres[:, 1]).astype(int), 0, H - 1)
    padded = np.pad(image, ((ph // 2, ph // 2), (pw // 2, pw // 2)), mode="edge")
    windows = sliding_window_view(padded, (ph, pw))  # (H, W, ph, pw), a view
    return windows[rows, cols].copy()


@dataclass(frozen=True)
class Standardization:
    """Per-pixel z-score of patches: mean (P_h, P_w) and std (P_h, P_w), both in grayscale units."""

    mean: np.ndarray
    std: np.ndarray


def _patch_stack(patches) -> np.ndarray:
    patches = np.asarray(patches, dtype=float)
    if patches.ndim != 3:
        raise ValueError(f"patches: expected shape (N, P_h, P_w), got {patches.shape}")
    return patches


def fit_standardization(patches, eps: float = EPS) -> Standardization:
    """Mean and standard deviation of every patch pixel over a training set.

    patches: (N, P_h, P_w) grayscale. Returns a :class:`Standardization` (std floored at ``eps``).
    """
    patches = _patch_stack(patches)
    if len(patches) < 2:
        raise ValueError(f"patches: need at least 2 patches to estimate a std, got {len(patches)}")
    return Standardization(patches.mean(axis=0), np.maximum(patches.std(axis=0), eps))


def standardize_patches(patches, standardization: Standardization) -> np.ndarray:
    """(patches - mean) / std, pixel by pixel.  patches: (N, P_h, P_w); returns the same shape."""
    patches = _patch_stack(patches)
    if patches.shape[1:] != standardization.mean.shape:
        raise ValueError(f"patches: expected patches of shape {standardization.mean.shape}, got {patches.shape[1:]}")
    return (patches - standardization.mean) / standardization.std


def design_matrix(patches, standardization: Standardization) -> np.ndarray:
    """Features of the patch classifier: standardised, flattened patches and a bias feature 1.

    patches: (N, P_h, P_w). Returns X (N, P_h P_w + 1); the last column is all ones.
    """
    z = standardize_patches(patches, standardization).reshape(len(patches), -1)
    return np.hstack([z, np.ones((len(z), 1))])


def pixel_filter(w, standardization: Standardization) -> tuple[np.ndarray, float]:
    """Fold the standardisation into the weights: w^T x = kernel . patch + bias.

    w: (P_h P_w + 1,) weights on :func:`design_matrix` features (bias last).
    Returns (kernel (P_h, P_w), bias float) acting on raw grayscale patches.
    """
    shape = standardization.mean.shape
    w = np.asarray(w, dtype=float)
    if w.shape != (shape[0] * shape[1] + 1,):
        raise ValueError(f"w: expected shape ({shape[0] * shape[1] + 1},) (patch weights + bias), got {w.shape}")
    kernel = w[:-1].reshape(shape) / standardization.std
    return kernel, float(w[-1] - np.sum(kernel * standardization.mean))


def sample_patch_dataset(images, keypoints2d, visible, patch_shape=(15, 15), *, n_negatives: int = 20,
                         min_distance: float = 6.0, jitter: int = 0, hard_fraction: float = 0.0,
                         hard_radius: float = 20.0, seed: int = 0) -> dict:
    """Positive and negative patches for one keypoint from a stack of frames.

    images: (T, H, W) grayscale or (T, H, W, 3) RGB; keypoints2d: (T, 2) px (x, y) of the chosen
    keypoint; visible: (T,) bool (frames where it is hidden give no positive);
    n_negatives: negatives per frame, uniformly placed at >= ``min_distance`` px from the keypoint;
    jitter: positives also at every integer offset with |dx|, |dy| <= jitter px;
    hard_fraction: the fraction of negatives drawn near the keypoint ("hard negatives", on the
    animal's other body parts), uniformly in the annulus min_distance <= r < hard_radius px.

    Returns a dict with ``patches`` (N, P_h, P_w) raw grayscale, ``labels`` (N,) in {0, 1},
    ``frames`` (N,) frame index, ``centres`` (N, 2) px.
    """
    ph, pw = _patch_shape(patch_shape)
    images = np.asarray(images)
    if images.ndim == 4:
        images = to_grayscale(images)
    if images.ndim != 3:
        raise ValueError(f"images: expected (T, H, W) or (T, H, W, 3), got {images.shape}")
    T, H, W = images.shape
    keypoints2d = np.asarray(keypoints2d, dtype=float)
    if keypoints2d.shape != (T, 2):
        raise ValueError(f"keypoints2d: expected shape ({T}, 2) for one keypoint, got {keypoints2d.shape}")
    visible = np.asarray(visible, dtype=bool)
    if visible.shape != (T,):
        raise ValueError(f"visible: expected shape ({T},), got {visible.shape}")
    if int(n_negatives) < 0 or int(jitter) < 0:
        raise ValueError("n_negatives, jitter: expected non-negative integers")
    if min_distance < 0:
        raise ValueError(f"min_distance: expected >= 0 px, got {min_distance}")
    if not 0.0 <= hard_fraction <= 1.0:
        raise ValueError(f"hard_fraction: expected a fraction in [0, 1], got {hard_fraction}")
    rng = np.random.default_rng(seed)
    offsets = np.array([(dx, dy) for dy in range(-jitter, jitter + 1) for dx in range(-jitter, jitter + 1)], float)
    patches, labels, frames, centres = [], [], [], []
    for t in range(T):
        kp = keypoints2d[t]
        if visible[t] and np.all(np.isfinite(kp)):
            pos = np.rint(kp) + offsets
            pos = pos[(pos[:, 0] >= 0) & (pos[:, 0] < W) & (pos[:, 1] >= 0) & (pos[:, 1] < H)]
            patches.append(extract_patches(images[t], pos, (ph, pw)))
            labels.append(np.ones(len(pos)))
            frames.append(np.full(len(pos), t))
            centres.append(pos)
        # hard negatives: uniform in the annulus min_distance <= r < hard_radius around the keypoint
        n_hard = int(round(hard_fraction * n_negatives)) if np.all(np.isfinite(kp)) else 0
        radius = np.sqrt(rng.uniform(min_distance ** 2, max(hard_radius, min_distance) ** 2, n_hard))
        angle = rng.uniform(0, 2 * np.pi, n_hard)
        hard = np.rint(np.rint(kp) + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        hard = hard[(np.hypot(*(hard - np.rint(kp)).T) >= min_distance)
                    & (hard[:, 0] >= 0) & (hard[:, 0] < W) & (hard[:, 1] >= 0) & (hard[:, 1] < H)]
        # the others uniformly over the image (rejection sampling: the keypoint is small)
        neg = hard.reshape(-1, 2)
        while len(neg) < n_negatives:
            cand = np.column_stack([rng.integers(0, W, 4 * n_negatives + 4), rng.integers(0, H, 4 * n_negatives + 4)])
            if np.all(np.isfinite(kp)):
                cand = cand[np.hypot(*(cand - np.rint(kp)).T) >= min_distance]
            neg = np.vstack([neg, cand])
        neg = neg[:n_negatives].astype(float)
        patches.append(extract_patches(images[t], neg, (ph, pw)))
        labels.append(np.zeros(len(neg)))
        frames.append(np.full(len(neg), t))
        centres.append(neg)
    return {"patches": np.concatenate(patches), "labels": np.concatenate(labels),
            "frames": np.concatenate(frames).astype(int), "centres": np.concatenate(centres)}


def score_map(image, w, bias: float, patch_shape) -> np.ndarray:
    """Logit of a linear patch classifier at every pixel of one frame, vectorised.

    image: (H, W) grayscale; w: (P_h, P_w) or (P_h P_w,) kernel on raw pixels (see
    :func:`pixel_filter`); bias: float; patch_shape: (P_h, P_w), both odd.
    Returns (H, W): a(i, j) = sum_kl w[k, l] patch_(i, j)[k, l] + bias for the patch centred on
    row i, column j (edge padding), i.e. the cross-correlation image * w plus bias.
    """
    image = _gray_image(image)
    ph, pw = _patch_shape(patch_shape)
    w = np.asarray(w, dtype=float)
    if w.size != ph * pw:
        raise ValueError(f"w: expected {ph * pw} kernel weights for patch_shape {(ph, pw)} (bias separate), "
                         f"got shape {w.shape}")
    padded = np.pad(image, ((ph // 2, ph // 2), (pw // 2, pw // 2)), mode="edge")
    windows = sliding_window_view(padded, (ph, pw))  # (H, W, ph, pw) view, no copy
    return np.tensordot(windows, w.reshape(ph, pw), axes=([2, 3], [0, 1])) + float(bias)


def probability_map(image, w, bias: float, patch_shape) -> np.ndarray:
    """sigma(score_map): p(keypoint at pixel (i, j)) for every pixel; (H, W) in [0, 1]."""
    return sigmoid(score_map(image, w, bias, patch_shape))


def detect_keypoint(prob_map) -> np.ndarray:
    """The most likely keypoint location: argmax of a (H, W) map, returned as (x, y) px."""
    prob_map = np.asarray(prob_map, dtype=float)
    if prob_map.ndim != 2:
        raise ValueError(f"prob_map: expected shape (H, W), got {prob_map.shape}")
    row, col = np.unravel_index(np.nanargmax(prob_map), prob_map.shape)
    return np.array([col, row], dtype=float)


def course_patch_problem(keypoint: str = "nose", patch_shape=(15, 15), *, n_train_frames: int = 300,
                         hard_fraction: float = 0.0,
                         n_negatives: int = 45, jitter: int = 1, min_distance: float = 5.0, seed: int = 0) -> dict:
    """The course's patch problem, built from the virtual rodent's ``datasets.load("frames")``.

    keypoint: a body-part name of ``synth.rodent_skeleton()``; patch_shape: odd (P_h, P_w);
    the first ``n_train_frames`` frames give the training patches, the rest are held out as
    test frames; n_negatives, jitter, min_distance, seed: as in :func:`sample_patch_dataset`.

    Returns a dict: ``X`` (N, P_h P_w + 1) design matrix (standardised patches + bias), ``y`` (N,),
    ``standardization`` (fitted on these training patches),
    ``patches`` (N, P_h, P_w) raw grayscale, ``frames`` (N,), ``centres`` (N, 2) px,
    ``gray`` (T, H, W) all frames in grayscale [0, 1], ``keypoints`` (T, 2) px and ``visible``
    (T,) of the chosen keypoint, ``train_frames`` / ``test_frames`` index arrays, ``patch_shape``.
    """
    from .. import datasets, synth

    skeleton = synth.rodent_skeleton()
    if keypoint not in skeleton.names:
        raise ValueError(f"keypoint: expected one of {skeleton.names}, got {keypoint!r}")
    data = datasets.load("frames")
    k = skeleton.index(keypoint)
    gray = to_grayscale(data["images"])
    T = len(gray)
    if not 0 < int(n_train_frames) <= T:
        raise ValueError(f"n_train_frames: expected 1..{T}, got {n_train_frames}")
    train = np.arange(int(n_train_frames))
    kps = np.asarray(data["keypoints2d"][:, k], dtype=float)
    vis = np.asarray(data["visible"][:, k], dtype=bool)
    ds = sample_patch_dataset(gray[train], kps[train], vis[train], patch_shape, n_negatives=n_negatives,
                              min_distance=min_distance, jitter=jitter, hard_fraction=hard_fraction, seed=seed)
    standardization = fit_standardization(ds["patches"])
    return {"X": design_matrix(ds["patches"], standardization), "y": ds["labels"], "patches": ds["patches"],
            "standardization": standardization,
            "frames": ds["frames"], "centres": ds["centres"], "gray": gray, "keypoints": kps, "visible": vis,
            "train_frames": train, "test_frames": np.arange(int(n_train_frames), T),
            "patch_shape": _patch_shape(patch_shape)}
