"""Ground truth at every stage (lecture: "Evaluation", MPE raw and after rigid Procrustes): the
detector's 2D error per camera split by visibility, where its errors come from (left/right
swaps, errors that persist from frame to frame), and the stage-by-stage 3D table with the
issue's goals.

All error measures are ``lecturekit.metrics``' (one NaN rule): a NaN truth is not scored, a NaN
estimate is excluded from MPE (a method that leaves a keypoint untriangulated is scored on the
rest, as notebooks 04-05 do) and is a miss for PCK.
"""

from __future__ import annotations

import numpy as np

from .. import metrics

__all__ = ["keypoint_error_table", "format_keypoint_error_table", "left_right_swaps", "lag1_error_correlation",
           "stage_table", "format_stage_table", "GOAL_VS_DLT", "GOAL_VS_ERROR_MODEL", "goal_ratios", "goal_lines"]

#: GIMBAL on CNN detections: MPE at most this times DLT's on the same detections.
GOAL_VS_DLT = 0.5
#: ... and at most this times GIMBAL's on the detector-error-model detections of the same frames.
GOAL_VS_ERROR_MODEL = 2.0


def _check_2d(points, truth2d, visible):
    p, y = np.asarray(points, dtype=float), np.asarray(truth2d, dtype=float)
    if y.ndim != 4 or y.shape[-1] != 2:
        raise ValueError(f"truth2d: expected (C, T, K, 2) px, got {y.shape}")
    if p.shape != y.shape:
        raise ValueError(f"points: expected {y.shape} px like truth2d, got {p.shape}")
    v = np.asarray(visible)
    if v.shape != y.shape[:3] or v.dtype != bool:
        raise ValueError(f"visible: expected {y.shape[:3]} bool, got {v.dtype} {v.shape}")
    return p, y, v


def keypoint_error_table(points, truth2d, visible, threshold_px: float) -> dict[str, np.ndarray]:
    """Per-camera 2D error of detections, split into visible and occluded keypoints.

    points, truth2d: (C, T, K, 2) px; visible: (C, T, K) bool; threshold_px > 0: the PCK radius.
    Returns dict of (C,) arrays: "rmse_visible", "rmse_occluded" (px, ``metrics.rmse``),
    "pck_visible", "pck_occluded" (fractions, ``metrics.pck``), "n_visible", "n_occluded"
    (counts); a camera with no keypoint of a kind gets NaN.
    """
    p, y, v = _check_2d(points, truth2d, visible)
    if not np.isscalar(threshold_px) or not np.isfinite(threshold_px) or threshold_px <= 0:
        raise ValueError(f"threshold_px: expected a positive number of px, got {threshold_px!r}")
    out = {key: np.full(len(p), np.nan) for key in ("rmse_visible", "rmse_occluded", "pck_visible", "pck_occluded")}
    out["n_visible"], out["n_occluded"] = v.sum(axis=(1, 2)), (~v).sum(axis=(1, 2))
    for c in range(len(p)):
        for kind, mask in (("visible", v[c]), ("occluded", ~v[c])):
            if mask.any():
                out[f"rmse_{kind}"][c] = metrics.rmse(p[c], y[c], missing="exclude", visible=mask)
                out[f"pck_{kind}"][c] = metrics.pck(p[c], y[c], threshold_px, visible=mask)
    return out


def format_keypoint_error_table(table: dict[str, np.ndarray], camera_names, threshold_px: float) -> str:
    """The table of :func:`keypoint_error_table` as fixed-format text, one camera per line."""
    lines = [f"{'camera':7s} {'RMSE vis':>9s} {'RMSE occ':>9s} {f'PCK@{threshold_px:g} vis':>11s} "
             f"{f'PCK@{threshold_px:g} occ':>11s} {'% occluded':>10s}"]
    for c, name in enumerate(camera_names):
        occ = table["n_occluded"][c] / (table["n_visible"][c] + table["n_occluded"][c])
        lines.append(f"{name:7s} {table['rmse_visible'][c]:6.1f} px {table['rmse_occluded'][c]:6.1f} px "
                     f"{table['pck_visible'][c]:11.2f} {table['pck_occluded'][c]:11.2f} {occ:10.0%}")
    return "\n".join(lines)


def left_right_swaps(points, truth2d, mirror, min_error_px: float = 0.0) -> np.ndarray:
    """Detections that landed on their left/right partner: more than ``min_error_px`` from their
    own true position and nearer to the partner's, by at least half the partner distance.

    points, truth2d: (..., K, 2) px; mirror: (K,) partner index (itself for a midline keypoint,
    ``cnn.augment.mirror_pairs``); min_error_px >= 0 (partners a pixel apart make any small
    error look like a swap otherwise). Returns (..., K) bool (False for midline keypoints and NaN).
    """
    p, y = np.asarray(points, dtype=float), np.asarray(truth2d, dtype=float)
    mirror = np.asarray(mirror)
    if p.shape != y.shape or p.shape[-1] != 2:
        raise ValueError(f"points: expected the shape of truth2d {y.shape}, got {p.shape}")
    if mirror.shape != (p.shape[-2],):
        raise ValueError(f"mirror: expected ({p.shape[-2]},) partner indices, got {mirror.shape}")
    if not np.isscalar(min_error_px) or not min_error_px >= 0:
        raise ValueError(f"min_error_px: expected a distance >= 0 px, got {min_error_px!r}")
    own = np.linalg.norm(p - y, axis=-1)
    partner = np.linalg.norm(p - y[..., mirror, :], axis=-1)
    gap = np.linalg.norm(y - y[..., mirror, :], axis=-1)
    with np.errstate(invalid="ignore"):
        return (mirror != np.arange(len(mirror))) & (partner + 0.5 * gap < own) & (own > min_error_px)


def lag1_error_correlation(points, truth2d) -> float:
    """How much a detection's error persists to the next frame: the correlation of the error
    vectors e_t = points_t - truth_t and e_{t+1} of the same camera and keypoint, pooled over
    coordinates (0: independent errors, as Gaussian jitter; near 1: the same error frame after
    frame, which a temporal prior cannot average away).

    points, truth2d: (C, T, K, 2) px (T >= 3). Pairs with a NaN are left out.
    """
    p, y = np.asarray(points, dtype=float), np.asarray(truth2d, dtype=float)
    if y.ndim != 4 or p.shape != y.shape or y.shape[1] < 3:
        raise ValueError(f"points, truth2d: expected two (C, T, K, 2) arrays with T >= 3, got {p.shape}, {y.shape}")
    e = p - y
    a, b = e[:, :-1].reshape(-1), e[:, 1:].reshape(-1)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        raise ValueError("points: fewer than 3 consecutive pairs of finite detections")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def stage_table(estimates: dict, truth) -> dict[str, tuple[float, float]]:
    """The stage-by-stage table: for each method, (MPE raw, MPE after per-frame rigid Procrustes)
    in mm, NaN estimates excluded.

    estimates: {method name: (T, K, 3) mm}; truth: (T, K, 3) mm. Returns {name: (raw, rpa)} in
    the order given.
    """
    truth = np.asarray(truth, dtype=float)
    if truth.ndim != 3 or truth.shape[-1] != 3:
        raise ValueError(f"truth: expected (T, K, 3) mm, got {truth.shape}")
    if not isinstance(estimates, dict) or not estimates:
        raise ValueError("estimates: expected a non-empty dict {method name: (T, K, 3) positions}")
    rows = {}
    for name, x in estimates.items():
        x = np.asarray(x, dtype=float)
        if x.shape != truth.shape:
            raise ValueError(f"estimates[{name!r}]: expected {truth.shape} like truth, got {x.shape}")
        rows[name] = (metrics.mpe(x, truth, missing="exclude"),
                      metrics.mpe(x, truth, procrustes=True, missing="exclude"))
    return rows


def format_stage_table(columns: dict[str, dict[str, tuple[float, float]]]) -> str:
    """Stage tables side by side as fixed-format text: columns {detections' name: rows of
    :func:`stage_table`}; the methods are the first column's (missing elsewhere: "-")."""
    if not isinstance(columns, dict) or not columns:
        raise ValueError("columns: expected a non-empty dict {detections' name: stage_table rows}")
    methods = list(next(iter(columns.values())))
    width = max(len(m) for m in methods + ["method"])
    lines = [f"{'':{width}s}" + "".join(f" | {name:>19.19s}" for name in columns),
             f"{'method':{width}s}" + " | {:>9s} {:>9s}".format("MPE raw", "Procr.") * len(columns)]
    for m in methods:
        cells = [f" | {row[0]:6.1f} mm {row[1]:6.1f} mm" if (row := rows.get(m)) else f" | {'-':>9s} {'-':>9s}"
                 for rows in columns.values()]
        lines.append(f"{m:{width}s}" + "".join(cells))
    return "\n".join(lines)


def goal_ratios(gimbal_cnn: float, dlt_cnn: float, gimbal_error_model: float) -> tuple[float, float]:
    """(GIMBAL / DLT on the CNN's detections, GIMBAL on CNN / GIMBAL on the error model's), MPE in mm."""
    values = np.array([gimbal_cnn, dlt_cnn, gimbal_error_model], dtype=float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"gimbal_cnn, dlt_cnn, gimbal_error_model: expected positive MPEs in mm, got {values}")
    return gimbal_cnn / dlt_cnn, gimbal_cnn / gimbal_error_model


def goal_lines(gimbal_cnn: float, dlt_cnn: float, gimbal_error_model: float) -> list[str]:
    """The issue's two goals, one PASS / NOT MET line each."""
    r_dlt, r_model = goal_ratios(gimbal_cnn, dlt_cnn, gimbal_error_model)
    return [f"goal 1: GIMBAL / DLT on CNN detections = {gimbal_cnn:.1f} / {dlt_cnn:.1f} mm = {r_dlt:.2f} "
            f"(<= {GOAL_VS_DLT:g}): {'PASS' if r_dlt <= GOAL_VS_DLT else 'NOT MET'}",
            f"goal 2: GIMBAL on CNN / on error model = {gimbal_cnn:.1f} / {gimbal_error_model:.1f} mm = {r_model:.2f} "
            f"(<= {GOAL_VS_ERROR_MODEL:g}): {'PASS' if r_model <= GOAL_VS_ERROR_MODEL else 'NOT MET'}"]
