"""Figures and widget callbacks for the triangulation notebook (lecture: "3D Pose estimation":
projective geometry, triangulation under noise and outliers, Models 0 and 1).

Each function is pure: data and control values in, a matplotlib Figure out.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..geometry import Camera, make_camera
from ..plotting import METHOD_COLORS, keypoint_colors
from . import bayes3d
from .dlt import triangulate_dlt

__all__ = ["draw_projection", "draw_error_vs_cameras", "draw_random_walk_prior", "draw_outlier_probabilities",
           "draw_method_errors"]


def _tidy(fig) -> None:
    """tight_layout unless the figure already has a layout engine (the course style's constrained layout)."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()


def draw_projection(cameras: Sequence[Camera], pose: np.ndarray, edges, names, *, shift_x: float = 0.0,
                    shift_y: float = 0.0, camera_distance: float = 1.0):
    """Move the animal and camera 0; see the pose in every view (far objects appear smaller).

    Args:
        cameras: C cameras (camera 0 is moved along its line of sight by ``camera_distance``).
        pose: (K, 3) mm one frame of the skeleton; edges: (child, parent) pairs; names: K names.
        shift_x, shift_y: mm, translation of the animal on the floor.
        camera_distance: factor scaling camera 0's distance to the arena centre (0.3 .. 3).
    """
    pose = np.asarray(pose, dtype=float)
    if pose.ndim != 2 or pose.shape[1] != 3:
        raise ValueError(f"pose: expected shape (K, 3) mm, got {pose.shape}")
    if not camera_distance > 0:
        raise ValueError(f"camera_distance: expected > 0, got {camera_distance}")
    cams = list(cameras)
    c0 = cams[0]
    target = np.array([0.0, 0.0, 50.0])
    new_centre = target + camera_distance * (c0.center - target)
    cams[0] = make_camera(new_centre, target, c0.K[0, 0], c0.image_size, k1=c0.k1, name=c0.name)
    x = pose + np.array([shift_x, shift_y, 0.0])
    colors = keypoint_colors(names)
    C = len(cams)
    ncols = (C + 2) // 2
    fig, grid = plt.subplots(2, ncols, figsize=(2.4 * ncols, 4.4))
    axes = grid.ravel()
    for extra in axes[C + 1:]:
        extra.axis("off")
    ax = axes[0]
    for i, cam in enumerate(cams):
        ax.plot(*cam.center[:2], "s", color="C3" if i == 0 else "0.3")
        ax.annotate(cam.name, cam.center[:2], fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.scatter(x[:, 0], x[:, 1], c=colors, s=8)
    lim = max(1600.0, max(np.abs(cam.center[:2]).max() for cam in cams) + 300)
    ax.set(aspect="equal", title="top view (mm)", xlim=(-lim, lim), ylim=(-lim, lim))
    ax.tick_params(labelsize=6)
    y = np.stack([cam.project(x) for cam in cams])
    for c, (cam, ax) in enumerate(zip(cams, axes[1:])):
        for child, parent in edges:
            ax.plot(*y[c, [child, parent]].T, color="0.5", lw=1)
        ax.scatter(y[c, :, 0], y[c, :, 1], c=colors, s=8)
        w, h = cam.image_size
        length = np.nanmax(np.linalg.norm(y[c] - np.nanmean(y[c], axis=0), axis=1))
        ax.set(xlim=(0, w), ylim=(h, 0), aspect="equal")
        ax.set_title(f"{cam.name}: depth {np.nanmean(cam.to_camera(x)[:, 2]) / 1000:.2f} m\nsize {length:.0f} px",
                     fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(True)
    fig.suptitle("One pose seen by every camera: image size = focal length x body size / depth", fontsize=9)
    _tidy(fig)
    return fig


def draw_error_vs_cameras(n_cameras: Sequence[int], rmse_dlt: Sequence[float], rmse_bound: Sequence[float], *,
                          sigma: float):
    """RMSE of the DLT (mm) and the Cramér-Rao bound vs the number of cameras."""
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.plot(n_cameras, rmse_dlt, "o-", color=METHOD_COLORS["DLT"], mec="k", label="DLT (simulated)")
    ax.plot(n_cameras, rmse_bound, "k--", label=r"Cramér–Rao bound $\sqrt{\mathrm{tr}\,\sigma^2(J^TJ)^{-1}}$")
    ax.set(xlabel="number of cameras C", ylabel="3D RMSE (mm)", xticks=list(n_cameras),
           title=f"Noise only (σ = {sigma:g} px): error vs number of cameras")
    ax.legend(fontsize=8)
    _tidy(fig)
    return fig


def draw_random_walk_prior(cameras: Sequence[Camera], points2d: np.ndarray, truth: np.ndarray, *,
                           log10_eta: float = 0.6, omega: float = 2.0, keypoint: int = 0, axis: int = 0):
    """Model 0 with random-walk step eta = 10**log10_eta mm: its MAP track vs the DLT and the truth.

    Args:
        cameras: C cameras. points2d: (C, T, 1 or K, 2) px detections. truth: (T, K, 3) mm.
        log10_eta: the slider; omega: px. keypoint, axis: which keypoint and coordinate to plot.
    """
    points2d = np.asarray(points2d, dtype=float)
    y = points2d[:, :, keypoint:keypoint + 1]
    eta = 10.0 ** log10_eta
    fit = bayes3d.fit_model0(cameras, y, bayes3d.Model0Params(eta=eta, omega=omega))[:, 0]
    dlt = triangulate_dlt(cameras, y)[:, 0]
    true = np.asarray(truth)[:, keypoint]
    t = np.arange(len(true))
    fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(8.5, 3.0), gridspec_kw={"width_ratios": [1.4, 1]})
    ax.plot(t, true[:, axis], color="k", lw=2, label="truth")
    ax.plot(t, dlt[:, axis], ".", color="0.55", ms=4, label="DLT per frame")
    ax.plot(t, fit[:, axis], color=METHOD_COLORS["Model 0"], lw=1.5, label="Model 0 MAP")
    ax.set(xlabel="frame t", ylabel=f"{'xyz'[axis]} (mm)", title=f"Track of one keypoint, η = {eta:.3g} mm/frame")
    ax.legend(fontsize=7)
    err_dlt = np.linalg.norm(dlt - true, axis=1)
    err_fit = np.linalg.norm(fit - true, axis=1)
    ax_err.plot(t, err_dlt, ".", color="0.55", ms=4, label=f"DLT (MPE {np.nanmean(err_dlt):.2f} mm)")
    ax_err.plot(t, err_fit, color=METHOD_COLORS["Model 0"], lw=1.5,
                label=f"Model 0 (MPE {np.nanmean(err_fit):.2f} mm)")
    ax_err.set(xlabel="frame t", ylabel="3D error (mm)", yscale="log", title="Error per frame")
    ax_err.legend(fontsize=7)
    _tidy(fig)
    return fig


def draw_outlier_probabilities(points2d: np.ndarray, outlier_prob: np.ndarray, reprojected: np.ndarray, edges,
                               *, frame: int = 0, camera: int = 0, is_outlier: np.ndarray | None = None,
                               image: np.ndarray | None = None, image_size=(640, 480)):
    """Model 1's posterior outlier probability of each detection in one camera image.

    Args:
        points2d: (C, T, K, 2) px detections; outlier_prob: (C, T, K); reprojected: (C, T, K, 2) px
            the fitted 3D pose projected back; edges: skeleton (child, parent) pairs.
        frame, camera: which image. is_outlier: (C, T, K) true flags (circled) if known.
        image: optional (H, W, 3) picture to draw under the points.
    """
    points2d = np.asarray(points2d, dtype=float)
    C, T = points2d.shape[:2]
    if not (0 <= camera < C and 0 <= frame < T):
        raise ValueError(f"frame, camera: expected 0 <= frame < {T}, 0 <= camera < {C}, got {frame}, {camera}")
    y = points2d[camera, frame]
    p = np.asarray(outlier_prob)[camera, frame]
    r = np.asarray(reprojected)[camera, frame]
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    if image is not None:
        ax.imshow(image)
    for child, parent in edges:
        ax.plot(*r[[child, parent]].T, color="0.4", lw=1.2)
    for k in range(len(y)):
        if np.isfinite(y[k]).all():
            ax.plot(*np.stack([y[k], r[k]]).T, color="0.7", lw=0.8, ls=":")
    sc = ax.scatter(y[:, 0], y[:, 1], c=p, cmap="viridis", vmin=0, vmax=1, s=40, edgecolors="k", linewidths=0.5,
                    zorder=3)
    if is_outlier is not None:
        flag = np.asarray(is_outlier)[camera, frame]
        ax.scatter(y[flag, 0], y[flag, 1], s=160, facecolors="none", edgecolors="C3", linewidths=1.5, zorder=4,
                   label="true outlier")
        if flag.any():
            ax.legend(fontsize=7, loc="lower right")
    fig.colorbar(sc, ax=ax, label="P(outlier | y)")
    w, h = image_size
    shown = np.concatenate([y[np.isfinite(y).all(axis=1)], r[np.isfinite(r).all(axis=1)]])
    if len(shown):  # zoom on the animal and its detections, keeping the image's aspect
        lo, hi = shown.min(axis=0) - 40, shown.max(axis=0) + 40
        centre, half = (lo + hi) / 2, max((hi - lo).max() / 2, 60.0)
        xlim = (max(centre[0] - half, 0), min(centre[0] + half, w))
        ylim = (min(centre[1] + half, h), max(centre[1] - half, 0))
    else:
        xlim, ylim = (0, w), (h, 0)
    ax.set(xlim=xlim, ylim=ylim, aspect="equal", xlabel="u (px)", ylabel="v (px)",
           title=f"Model 1, camera {camera}, frame {frame}: detections coloured by P(outlier)")
    ax.title.set_fontsize(8)
    _tidy(fig)
    return fig


def draw_method_errors(names: Sequence[str], per_keypoint: dict):
    """Grouped bars: per-keypoint mean position error (mm) of each method."""
    methods = list(per_keypoint)
    K = len(names)
    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        ax.bar(np.arange(K) + i * width, per_keypoint[m], width, label=m, color=METHOD_COLORS.get(m, f"C{i}"),
               edgecolor="k", linewidth=0.3)
    ax.set_xticks(np.arange(K) + 0.4 - width / 2, names, rotation=45, ha="right", fontsize=7)
    ax.set(ylabel="MPE (mm)", yscale="log", title="Per-keypoint error of each method (log scale)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _tidy(fig)
    return fig
