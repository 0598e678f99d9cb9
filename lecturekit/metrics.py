"""Evaluation metrics for pose estimates, in 2D (px) and 3D (mm) alike (lecture: "Structured
priors improve 3D pose estimates", Table 1; and the 2D keypoint accuracy of the CNN part).

* **position error**: the Euclidean distance ``|x_hat_{t,k} - x_{t,k}|`` per point.
* **MPE** (mean position error): its mean over frames and keypoints, either raw or after
  **rigid Procrustes alignment** (RPA) of each frame's pose: the rotation ``R`` and translation
  ``t`` minimising ``sum_k |R x_hat_k + t - x_k|^2`` (Kabsch: SVD of the centred
  cross-covariance, with the sign fixed so ``det R = +1``; no scaling).
* **per-keypoint error**: the MPE of each keypoint over frames.
* **RMSE**: the root of the mean squared position error (DeepLabCut's "RMSE", px).
* **PCK** (percentage of correct keypoints): the fraction of labelled points whose error is at
  most a threshold; ``pck_curve`` evaluates it at several thresholds.

The NaN rule (one rule for every metric here):

* a NaN in the **ground truth** means "not labelled": that point is excluded everywhere, as is a
  point whose optional ``visible`` mask is False;
* a NaN in the **prediction** where the truth is known is a **miss**: PCK counts it as incorrect;
  MPE, RMSE and the per-keypoint error cannot score it, so they take ``missing=``:
  ``"raise"`` (default) raises a ValueError naming how many are missing, ``"exclude"`` scores
  the predicted points only. A caller that excludes should report ``coverage(pred, true)``
  (the fraction of labelled points that were predicted) beside the error, because a method
  that gives up on its hard points otherwise scores better. With ``procrustes=True`` a frame
  with fewer than 3 predicted labelled points cannot be aligned: its points count as missing.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "position_errors",
    "coverage",
    "mpe",
    "per_keypoint_error",
    "rmse",
    "pck",
    "pck_curve",
    "rigid_transform",
    "procrustes_align",
]

MISSING_CHOICES = ("raise", "exclude")


def _pair(pred, true, dims: tuple[int, ...] | None, name: str = "pred") -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=float)
    true = np.asarray(true, dtype=float)
    if pred.shape != true.shape:
        raise ValueError(f"{name}: expected the same shape as true {true.shape}, got {pred.shape}")
    if dims is not None and (pred.ndim < 1 or pred.shape[-1] not in dims):
        want = " or ".join(f"(..., {d})" for d in dims)
        raise ValueError(f"{name}: expected shape {want}, got {pred.shape}")
    return pred, true


def _labelled(pred: np.ndarray, true: np.ndarray, visible) -> np.ndarray:
    """(...) bool: points with a finite label (and visible, when a mask is given)."""
    labelled = np.isfinite(true).all(axis=-1)
    if visible is not None:
        vis = np.asarray(visible)
        if vis.shape != labelled.shape:
            raise ValueError(f"visible: expected a bool mask of shape {labelled.shape}, got {vis.shape}")
        labelled &= vis.astype(bool)
    if not labelled.any():
        raise ValueError("true: no labelled (finite, visible) keypoint to evaluate")
    return labelled


def _scored_errors(pred: np.ndarray, true: np.ndarray, visible, missing: str) -> tuple[np.ndarray, np.ndarray]:
    """Position errors (...) and the mask (...) of labelled, predicted points, applying ``missing``."""
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing: expected one of {MISSING_CHOICES}, got {missing!r}")
    labelled = _labelled(pred, true, visible)
    err = np.linalg.norm(pred - true, axis=-1)
    scored = labelled & np.isfinite(err)
    n_missing = int(labelled.sum() - scored.sum())
    if n_missing and missing == "raise":
        raise ValueError(
            f"pred: {n_missing} of {int(labelled.sum())} labelled points have no prediction (NaN); "
            "pass missing='exclude' to score the predicted points only (and report coverage(pred, true))"
        )
    if not scored.any():
        raise ValueError("pred: no labelled point was predicted (coverage 0), nothing to score")
    return err, scored


def position_errors(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Euclidean error per point: pred, true (..., D) px or mm -> (...), NaN where either is missing."""
    pred, true = _pair(pred, true, None)
    return np.linalg.norm(pred - true, axis=-1)


def coverage(pred: np.ndarray, true: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Fraction of labelled points that were predicted (finite in ``pred``).

    Args:
        pred, true: (..., D) px or mm. visible: optional (...) bool mask of the points to count.

    Returns:
        fraction in [0, 1]; 1 means no labelled point is missing.
    """
    pred, true = _pair(pred, true, None)
    labelled = _labelled(pred, true, visible)
    return float(np.isfinite(pred).all(axis=-1)[labelled].mean())


def rigid_transform(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best rotation and translation mapping ``source`` onto ``target`` (least squares, no scale).

    Args:
        source, target: (K, D) corresponding points, D = 2 (px) or 3 (mm); rows with NaN are
            ignored (at least 3 needed).

    Returns:
        ``(R, t)``: (D, D) rotation (det +1) and (D,) with ``R @ source_k + t ~ target_k``.
    """
    source, target = _pair(source, target, (2, 3), "source")
    if source.ndim != 2:
        raise ValueError(f"source: expected shape (K, D), got {source.shape}")
    ok = np.isfinite(source).all(axis=1) & np.isfinite(target).all(axis=1)
    if ok.sum() < 3:
        raise ValueError("source: need at least 3 points observed in both source and target")
    s, q = source[ok], target[ok]
    ms, mq = s.mean(axis=0), q.mean(axis=0)
    U, _, Vt = np.linalg.svd((s - ms).T @ (q - mq))
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    fix = np.ones(source.shape[1])
    fix[-1] = d
    R = Vt.T @ np.diag(fix) @ U.T
    return R, mq - R @ ms


def procrustes_align(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Rigidly align every frame's predicted pose onto the true pose (rotation + translation).

    Args:
        pred, true: (..., K, D) with D = 3 (mm) or 2 (px), e.g. (T, K, 3); NaN keypoints are
            ignored in the fit.

    Returns:
        (..., K, D) aligned prediction; frames with fewer than 3 usable keypoints are NaN.
    """
    pred, true = _pair(pred, true, (2, 3))
    if pred.ndim < 2:
        raise ValueError(f"pred: expected shape (..., K, D), got {pred.shape}")
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


def mpe(pred: np.ndarray, true: np.ndarray, *, procrustes: bool = False, missing: str = "raise",
        visible: np.ndarray | None = None) -> float:
    """Mean position error over labelled points, raw or after rigid Procrustes per frame.

    Args:
        pred, true: (..., K, D) mm (3D) or px (2D); NaN truth = not labelled (excluded).
        procrustes: align each frame first (RPA; needs D = 2 or 3).
        missing: "raise" (default) or "exclude" for NaN predictions of labelled points
            (see the module's NaN rule).
        visible: optional (..., K) bool mask of the points to score.

    Returns:
        MPE in the units of the input.
    """
    pred, true = _pair(pred, true, None)
    if procrustes:
        pred = procrustes_align(pred, true)
    err, scored = _scored_errors(pred, true, visible, missing)
    return float(err[scored].mean())


def per_keypoint_error(pred: np.ndarray, true: np.ndarray, *, procrustes: bool = False, missing: str = "raise",
                       visible: np.ndarray | None = None) -> np.ndarray:
    """Mean position error per keypoint: pred, true (T, K, D) mm or px -> (K,).

    Same NaN rule and arguments as ``mpe``; a keypoint with no scored point gives NaN.
    """
    pred, true = _pair(pred, true, None)
    if pred.ndim != 3:
        raise ValueError(f"pred: expected shape (T, K, D), got {pred.shape}")
    if procrustes:
        pred = procrustes_align(pred, true)
    err, scored = _scored_errors(pred, true, visible, missing)
    count = scored.sum(axis=0)
    total = np.where(scored, err, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rmse(pred: np.ndarray, true: np.ndarray, *, missing: str = "raise", visible: np.ndarray | None = None) -> float:
    """Root-mean-square position error over labelled points (DeepLabCut's "RMSE").

    Args:
        pred, true: (..., D) px (2D keypoints) or mm (3D). missing, visible: as in ``mpe``.

    Returns:
        RMSE in the units of the input.
    """
    pred, true = _pair(pred, true, None)
    err, scored = _scored_errors(pred, true, visible, missing)
    return float(np.sqrt(np.mean(err[scored] ** 2)))


def pck(pred: np.ndarray, true: np.ndarray, threshold, *, visible: np.ndarray | None = None) -> float:
    """Percentage of correct keypoints: fraction of labelled points within ``threshold``.

    Args:
        pred, true: (N, ..., D) px or mm. Points whose label (``true``) is NaN, or whose
            ``visible`` is False, are ignored; a NaN prediction of a labelled point is a miss.
        threshold: > 0, a scalar or (N,) one per frame (e.g. 5% of each frame's body length).
        visible: optional (N, ...) bool mask of the points to score.

    Returns:
        fraction in [0, 1].
    """
    pred, true = _pair(pred, true, None)
    thr = np.asarray(threshold, dtype=float)
    if not (thr.ndim == 0 or (thr.ndim == 1 and pred.ndim >= 2 and thr.shape[0] == pred.shape[0])):
        n = pred.shape[0] if pred.ndim >= 2 else 1
        raise ValueError(f"threshold: expected a scalar or shape ({n},) (one per frame), got shape {thr.shape}")
    if not np.all(thr > 0):
        raise ValueError(f"threshold: expected positive distances, got {threshold}")
    labelled = _labelled(pred, true, visible)
    err = np.nan_to_num(np.linalg.norm(pred - true, axis=-1), nan=np.inf)
    thr = thr.reshape(thr.shape + (1,) * (err.ndim - thr.ndim))
    return float(np.mean((err <= thr)[labelled]))


def pck_curve(pred: np.ndarray, true: np.ndarray, thresholds, *, visible: np.ndarray | None = None) -> np.ndarray:
    """PCK at each threshold: thresholds (M,) > 0 -> (M,) fractions in [0, 1] (arguments as ``pck``)."""
    thresholds = np.asarray(thresholds, dtype=float)
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds: expected shape (M,), got {thresholds.shape}")
    return np.array([pck(pred, true, t, visible=visible) for t in thresholds])
