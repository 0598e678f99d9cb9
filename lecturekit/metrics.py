"""Evaluation metrics for pose estimates (lecture: "Structured priors improve 3D pose
estimates", Table 1; and the 2D keypoint accuracy of the CNN part).

* **MPE** (mean position error): the mean Euclidean distance ``|x_hat_{t,k} - x_{t,k}|`` (mm)
  over frames and keypoints, either raw or after **rigid Procrustes alignment** (RPA) of each
  frame's pose: the rotation ``R`` and translation ``t`` minimising
  ``sum_k |R x_hat_k + t - x_k|^2`` (Kabsch: SVD of the centred cross-covariance, with the sign
  fixed so ``det R = +1``; no scaling).
* **RMSE** (px) and **PCK** (percentage of correct keypoints within a pixel threshold) for 2D.

Missing values are NaN: they are ignored (MPE, RMSE) or counted as misses (PCK, predictions only).
"""

from __future__ import annotations

import numpy as np

__all__ = ["position_errors", "mpe", "per_keypoint_error", "rigid_transform", "procrustes_align", "rmse", "pck"]


def _pair(pred, true, dim: int | None, name: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"{name}: expected the same shape as true {true.shape}, got {pred.shape}")
    if dim is not None and (pred.ndim < 1 or pred.shape[-1] != dim):
        raise ValueError(f"{name}: expected shape (..., {dim}), got {pred.shape}")
    return pred, true


def position_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean error per point: pred, true (..., D) -> (...), NaN where either is missing."""
    pred, true = _pair(pred, true, None)
    return np.linalg.norm(pred - true, axis=-1)


def rigid_transform(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best rotation and translation mapping ``source`` onto ``target`` (least squares, no scale).

    Args:
        source, target: (K, 3) mm corresponding points; rows with NaN are ignored (>= 3 needed).

    Returns:
        ``(R, t)``: (3, 3) rotation (det +1) and (3,) mm with ``R @ source_k + t ~ target_k``.
    """
    source, target = _pair(source, target, 3, "source")
    if source.ndim != 2:
        raise ValueError(f"source: expected shape (K, 3), got {source.shape}")
    ok = np.isfinite(source).all(axis=1) & np.isfinite(target).all(axis=1)
    if ok.sum() < 3:
        raise ValueError("source: need at least 3 points observed in both source and target")
    s, q = source[ok], target[ok]
    ms, mq = s.mean(axis=0), q.mean(axis=0)
    U, _, Vt = np.linalg.svd((s - ms).T @ (q - mq))
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    return R, mq - R @ ms


def procrustes_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Rigidly align every frame's predicted pose onto the true pose (rotation + translation).

    Args:
        pred, true: (..., K, 3) mm (e.g. (T, K, 3)); NaN keypoints are ignored in the fit.

    Returns:
        (..., K, 3) mm aligned prediction; frames with fewer than 3 usable keypoints are NaN.
    """
    pred, true = _pair(pred, true, 3)
    if pred.ndim < 2:
        raise ValueError(f"pred: expected shape (..., K, 3), got {pred.shape}")
    P = pred.reshape((-1,) + pred.shape[-2:])
    Q = true.reshape(P.shape)
    out = np.full_like(P, np.nan)
    for i, (p, q) in enumerate(zip(P, Q)):
        ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
        if ok.sum() < 3:
            continue
        R, t = rigid_transform(p, q)
        out[i] = p @ R.T + t
    return out.reshape(pred.shape)


def mpe(pred: np.ndarray, true: np.ndarray, *, procrustes: bool = False) -> float:
    """Mean position error (mm) over all finite points, raw or after rigid Procrustes per frame.

    Args:
        pred, true: (..., K, 3) mm. procrustes: align each frame first (RPA).
    """
    pred, true = _pair(pred, true, 3)
    if procrustes:
        pred = procrustes_align(pred, true)
    err = position_errors(pred, true)
    if not np.isfinite(err).any():
        return float("nan")
    return float(np.nanmean(err))


def per_keypoint_error(pred: np.ndarray, true: np.ndarray, *, procrustes: bool = False) -> np.ndarray:
    """Mean position error per keypoint: pred, true (T, K, 3) mm -> (K,) mm."""
    pred, true = _pair(pred, true, 3)
    if pred.ndim != 3:
        raise ValueError(f"pred: expected shape (T, K, 3), got {pred.shape}")
    if procrustes:
        pred = procrustes_align(pred, true)
    err = position_errors(pred, true)
    count = np.isfinite(err).sum(axis=0)
    total = np.nansum(err, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root-mean-square 2D keypoint error (px), ignoring NaN: pred, true (..., 2) px."""
    pred, true = _pair(pred, true, 2)
    err = position_errors(pred, true)
    if not np.isfinite(err).any():
        return float("nan")
    return float(np.sqrt(np.nanmean(err**2)))


def pck(pred: np.ndarray, true: np.ndarray, threshold: float) -> float:
    """Percentage of correct keypoints: fraction of labelled points within ``threshold`` px.

    Args:
        pred, true: (..., 2) px. Points whose label (``true``) is NaN are ignored; a NaN
            prediction of a labelled point counts as a miss.
        threshold: px, > 0.

    Returns:
        fraction in [0, 1].
    """
    pred, true = _pair(pred, true, 2)
    if not threshold > 0:
        raise ValueError(f"threshold: expected a positive number of pixels, got {threshold}")
    labelled = np.isfinite(true).all(axis=-1)
    if not labelled.any():
        raise ValueError("true: no labelled (finite) keypoints")
    err = position_errors(pred, true)[labelled]
    return float(np.mean(np.nan_to_num(err, nan=np.inf) <= threshold))
