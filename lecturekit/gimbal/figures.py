"""Figures and widget callbacks of notebook 05 (spatial priors and GIMBAL). Pure functions:
data in, matplotlib Figure out (tested without a browser)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import keypoint_colors
from .vmf import sample_vmf

__all__ = ["draw_vmf_samples", "plot_bone_length_histograms", "plot_traces", "plot_credible_intervals",
           "draw_posterior_frame", "plot_state_behaviour", "plot_state_poses"]


def _sphere_axes(ax):
    u, v = np.mgrid[0:2 * np.pi:30j, 0:np.pi:15j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", linewidth=0.4)
    ax.set_box_aspect((1, 1, 1))
    for name in ("x", "y", "z"):
        getattr(ax, f"set_{name}lim")(-1, 1)
        getattr(ax, f"set_{name}label")(name)


def draw_vmf_samples(kappa: float = 5.0, azimuth_deg: float = 30.0, elevation_deg: float = 45.0,
                     n: int = 300, seed: int = 0):
    """Samples of vMF(mu, kappa) on S^2, mu at (azimuth, elevation) degrees; kappa >= 0."""
    if kappa < 0:
        raise ValueError("kappa: expected a concentration >= 0")
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    mu = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    u = sample_vmf(mu, kappa, np.random.default_rng(seed), size=n)
    fig = plt.figure(figsize=(4.2, 4.0))
    ax = fig.add_subplot(projection="3d")
    _sphere_axes(ax)
    ax.scatter(*u.T, s=5, color="#4477AA", alpha=0.7)
    ax.quiver(0, 0, 0, *mu, color="#CC6677", linewidth=2)
    ax.set_title(f"vMF samples, kappa = {kappa:.1f}")
    return fig


def plot_bone_length_histograms(samples_a, samples_b, pdf_a, pdf_b, grid, *, title: str = ""):
    """Histograms of |d| under the distance prior (a) and the uniform-direction prior (b), with
    the derived densities (pdf_a, pdf_b on grid, mm)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    ax.hist(samples_a, bins=60, density=True, alpha=0.45, color="#4477AA", label="(a) N(|d|; rho, s^2) (simulated)")
    ax.hist(samples_b, bins=60, density=True, alpha=0.45, color="#CC6677", label="(b) uniform u (simulated)")
    ax.plot(grid, pdf_a, color="#4477AA", label="(a) r^2 N(r; rho, s^2)/Z")
    ax.plot(grid, pdf_b, color="#CC6677", label="(b) sinh marginal")
    ax.set_xlabel("bone length |x_k - x_pi(k)| (mm)")
    ax.set_ylabel("density (1/mm)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return fig


def plot_traces(traces, *, labels=None, title: str = "Gibbs traces"):
    """Trace plots: traces (M chains, N sweeps, Q quantities) -> one panel per quantity."""
    traces = np.asarray(traces, dtype=float)
    if traces.ndim != 3:
        raise ValueError(f"traces: expected shape (M, N, Q), got {traces.shape}")
    Q = traces.shape[2]
    fig, axes = plt.subplots(Q, 1, figsize=(6.0, 1.6 * Q), sharex=True, squeeze=False)
    for q in range(Q):
        for m in range(traces.shape[0]):
            axes[q, 0].plot(traces[m, :, q], linewidth=0.8, label=f"chain {m}")
        axes[q, 0].set_ylabel(labels[q] if labels else f"q{q}", fontsize=8)
    axes[-1, 0].set_xlabel("sweep")
    axes[0, 0].set_title(title)
    axes[0, 0].legend(fontsize=7, ncol=traces.shape[0])
    return fig


def plot_credible_intervals(samples, truth, keypoint: int, *, names=None, level: float = 0.9, estimate=None):
    """Posterior median and central credible band of one keypoint's x, y, z over time.

    samples: (N, T, K, 3) mm; truth: (T, K, 3) mm; estimate: optional (T, K, 3) (e.g. RANSAC)."""
    samples = np.asarray(samples, dtype=float)
    lo, med, hi = np.quantile(samples[:, :, keypoint], [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 4.6), sharex=True)
    t = np.arange(samples.shape[1])
    for a, ax in enumerate(axes):
        ax.fill_between(t, lo[:, a], hi[:, a], color="#CC6677", alpha=0.3, label=f"{int(level * 100)}% interval")
        ax.plot(t, med[:, a], color="#CC6677", linewidth=1, label="posterior median")
        ax.plot(t, truth[:, keypoint, a], color="k", linewidth=0.8, linestyle="--", label="ground truth")
        if estimate is not None:
            ax.plot(t, estimate[:, keypoint, a], ".", color="0.5", markersize=3, label="RANSAC")
        ax.set_ylabel(f"{'xyz'[a]} (mm)")
    axes[-1].set_xlabel("frame")
    name = names[keypoint] if names is not None else f"keypoint {keypoint}"
    axes[0].set_title(f"Posterior of {name} over time")
    axes[0].legend(fontsize=7, ncol=4)
    return fig


def _draw_skeleton_3d(ax, x, parents, colors, **kw):
    for k, p in enumerate(parents):
        if p >= 0:
            ax.plot(*np.stack([x[k], x[p]]).T, color="0.3", **kw)
    ax.scatter(*x.T, c=colors, s=10)


def draw_posterior_frame(t: int = 0, *, samples, cameras, observations, parents, names, truth=None,
                         n_show: int = 15, camera_ids=(0, 1, 2)):
    """Posterior samples of the 3D skeleton at frame t and their reprojection on some cameras.

    samples: (N, T, K, 3) mm; cameras: list of Camera; observations: (C, T, K, 2) px;
    truth: optional (T, K, 3) mm."""
    samples = np.asarray(samples, dtype=float)
    t = int(t)
    if not 0 <= t < samples.shape[1]:
        raise ValueError(f"t: expected a frame in [0, {samples.shape[1]})")
    colors = keypoint_colors(names)
    pick = np.linspace(0, len(samples) - 1, min(n_show, len(samples))).astype(int)
    fig = plt.figure(figsize=(9.0, 3.2))
    ax = fig.add_subplot(1, 1 + len(camera_ids), 1, projection="3d")
    for i in pick:
        for k, p in enumerate(parents):
            if p >= 0:
                ax.plot(*np.stack([samples[i, t, k], samples[i, t, p]]).T, color="#CC6677", alpha=0.25, linewidth=0.8)
    if truth is not None:
        _draw_skeleton_3d(ax, truth[t], parents, colors, linewidth=1.2)
    ax.set_title(f"frame {t}: posterior samples", fontsize=9)
    for j, c in enumerate(camera_ids):
        a2 = fig.add_subplot(1, 1 + len(camera_ids), 2 + j)
        cam = cameras[c]
        proj = cam.project(samples[pick, t])                       # (n, K, 2)
        for k in range(len(parents)):
            a2.scatter(proj[:, k, 0], proj[:, k, 1], s=4, color=colors[k], alpha=0.5)
        obs = observations[c, t]
        a2.scatter(obs[:, 0], obs[:, 1], marker="x", s=20, color="k", linewidth=0.8, label="detections")
        med = np.median(proj, axis=0)
        a2.set_xlim(np.nanmin(med[:, 0]) - 60, np.nanmax(med[:, 0]) + 60)
        a2.set_ylim(np.nanmax(med[:, 1]) + 60, np.nanmin(med[:, 1]) - 60)
        a2.set_title(cam.name, fontsize=9)
        a2.set_xticks([])
        a2.set_yticks([])
    fig.tight_layout()
    return fig


def plot_state_behaviour(states, behaviour, behaviour_names, n_states: int):
    """Row-normalised table p(behaviour | pose state) as an image."""
    table = np.zeros((n_states, len(behaviour_names)))
    np.add.at(table, (np.asarray(states), np.asarray(behaviour)), 1.0)
    table = table / np.maximum(table.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.0, 0.4 * n_states + 1.2))
    im = ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(behaviour_names)), behaviour_names, rotation=30, fontsize=8)
    ax.set_yticks(range(n_states), [f"state {s}" for s in range(n_states)], fontsize=8)
    ax.set_title("p(simulator behaviour | inferred pose state)")
    fig.colorbar(im, ax=ax)
    return fig


def plot_state_poses(poses, parents, names, *, titles=None):
    """One mean pose per state, side view (x-z) of heading-aligned skeletons: poses (S, K, 3) mm."""
    poses = np.asarray(poses, dtype=float)
    S = len(poses)
    colors = keypoint_colors(names)
    fig, axes = plt.subplots(1, S, figsize=(1.8 * S, 2.0), squeeze=False)
    for s, ax in enumerate(axes[0]):
        x = poses[s]
        for k, p in enumerate(parents):
            if p >= 0:
                ax.plot(x[[k, p], 0], x[[k, p], 2], color="0.3", linewidth=1)
        ax.scatter(x[:, 0], x[:, 2], c=colors, s=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[s] if titles else f"state {s}", fontsize=8)
    fig.suptitle("Mean pose of each state (side view, heading-aligned)", fontsize=9)
    return fig
