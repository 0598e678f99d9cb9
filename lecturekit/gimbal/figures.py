"""Figures and widget callbacks of notebook 05 (spatial priors and GIMBAL). Pure functions:
data in, matplotlib Figure out (tested without a browser)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgba_array
from matplotlib.ticker import NullFormatter, ScalarFormatter
from mpl_toolkits.mplot3d.art3d import Line3DCollection

from ..plotting import METHOD_COLORS, MIN_WIDTH_IN, TOL_COLORS, keypoint_colors
from .diagnostics import import_arviz
from .vmf import sample_vmf

__all__ = ["draw_vmf_samples", "plot_bone_length_histograms", "plot_traces", "plot_credible_intervals",
           "plot_estimate_errors", "draw_posterior_frame", "plot_state_behaviour", "plot_state_poses"]


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
    fig = plt.figure(figsize=(5.0, 4.4))
    ax = fig.add_subplot(projection="3d")
    _sphere_axes(ax)
    ax.scatter(*u.T, s=5, color="#4477AA", alpha=0.7)
    ax.quiver(0, 0, 0, *mu, color="#CC6677", linewidth=2)
    ax.set_title(f"vMF samples, kappa = {kappa:.1f}")
    return fig


def plot_bone_length_histograms(samples_a, samples_b, pdf_a, pdf_b, grid, *, title: str = ""):
    """Histograms of |d| under the distance prior (a) and the uniform-direction prior (b), with
    the derived densities (pdf_a, pdf_b on grid, mm)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    ax.hist(samples_a, bins=60, density=True, alpha=0.45, color="#4477AA", label="(a) N(|d|; rho, s^2), simulated")
    ax.hist(samples_b, bins=60, density=True, alpha=0.45, color="#CC6677", label="(b) uniform u, simulated")
    ax.plot(grid, pdf_a, color="#4477AA", label="(a) r^2 N(r; rho, s^2) / Z, derived")
    ax.plot(grid, pdf_b, color="#CC6677", label="(b) sinh marginal, derived")
    ax.set_xlabel("bone length |x_k - x_pi(k)| (mm)")
    ax.set_ylabel("density (1/mm)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def plot_traces(traces, *, labels=None, burn_in: int = 0,
                title: str = "Gibbs chains: traces (left) and rank plots after burn-in (right)"):
    """Trace plot and ArviZ rank plot of each quantity, one row per quantity.

    traces: (M chains, N sweeps, Q quantities); burn_in: sweeps shaded grey in the traces and
    left out of the rank plots. In a rank plot every chain's histogram of the ranks (among all
    chains' kept draws) is flat when the chains sample the same distribution."""
    traces = np.asarray(traces, dtype=float)
    if traces.ndim != 3:
        raise ValueError(f"traces: expected shape (M, N, Q), got {traces.shape}")
    M, N, Q = traces.shape
    if not 0 <= int(burn_in) <= N - 4:
        raise ValueError(f"burn_in: expected 0 <= burn_in <= {N - 4} (at least 4 kept sweeps), got {burn_in}")
    labels = list(labels) if labels is not None else [f"q{q}" for q in range(Q)]
    az = import_arviz()
    fig, axes = plt.subplots(Q, 2, figsize=(8.0, 1.9 * Q + 0.6), squeeze=False, width_ratios=(1.6, 1.0))
    colors = TOL_COLORS[:M] if M <= 11 else None
    for q in range(Q):
        for m in range(M):
            axes[q, 0].plot(traces[m, :, q], linewidth=0.8, color=colors[m] if colors else None, label=f"chain {m}")
        axes[q, 0].set_ylabel(labels[q])
        if burn_in:
            axes[q, 0].axvspan(0, burn_in, color="0.9", zorder=0, label="burn-in" if q == 0 else None)
        az.plot_rank({"q": traces[:, int(burn_in):, q]}, ax=axes[q, 1], colors=list(colors) if colors else "cycle")
        axes[q, 1].set_title("")
        axes[q, 1].set_ylabel("chain")
        axes[q, 1].set_xlabel("")
    axes[-1, 0].set_xlabel("sweep")
    axes[-1, 1].set_xlabel("rank of the kept draw (all chains)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=M + 1)
    fig.suptitle(title)
    return fig


def plot_credible_intervals(samples, truth, keypoint: int, *, names=None, level: float = 0.9, estimate=None,
                            n_clean=None, frames=None):
    """Posterior error and credible band of one keypoint over time, relative to the truth, and the
    band's width.

    samples: (N, T, K, 3) mm; truth: (T, K, 3) mm; estimate: optional (T, K, 3) mm (e.g. RANSAC),
    drawn as dots, clipped to the panel (triangles at the edge); n_clean: optional (T,) number of
    cameras whose detection of the keypoint is a clean inlier, drawn under the width; frames:
    optional (T,) frame numbers for the x axis."""
    samples = np.asarray(samples, dtype=float)
    truth = np.asarray(truth, dtype=float)
    if samples.ndim != 4 or samples.shape[1:] != truth.shape:
        raise ValueError(f"samples: expected shape (N, T, K, 3) with (T, K, 3) = truth's {truth.shape}, "
                         f"got {samples.shape}")
    err = samples[:, :, keypoint] - truth[None, :, keypoint]                   # (N, T, 3)
    lo, med, hi = np.quantile(err, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=0)
    t = np.arange(samples.shape[1]) if frames is None else np.asarray(frames)
    fig, axes = plt.subplots(4, 1, figsize=(7.5, 7.0), sharex=True)
    lim = max(5.0, 1.5 * float(np.max(np.abs([lo, hi]))))
    for a, ax in enumerate(axes[:3]):
        ax.fill_between(t, lo[:, a], hi[:, a], color="#CC6677", alpha=0.35, label=f"{int(level * 100)}% interval")
        ax.plot(t, med[:, a], color="#CC6677", linewidth=1, label="posterior median")
        ax.axhline(0.0, color="k", linewidth=0.8, linestyle="--", label="ground truth")
        if estimate is not None:
            e = np.asarray(estimate, dtype=float)[:, keypoint, a] - truth[:, keypoint, a]
            inside = np.abs(e) <= lim
            ax.plot(t[inside], e[inside], ".", color="0.45", markersize=4, label="RANSAC")
            ax.plot(t[e > lim], np.full((e > lim).sum(), lim * 0.95), "^", color="0.45", markersize=4,
                    label="RANSAC off the scale")
            ax.plot(t[e < -lim], np.full((e < -lim).sum(), -lim * 0.95), "v", color="0.45", markersize=4)
        ax.set_ylim(-lim, lim)
        ax.set_ylabel(f"{'xyz'[a]} error (mm)")
    width = np.mean(hi - lo, axis=1)
    axes[3].plot(t, width, color="#CC6677", label="interval width (mean over x, y, z)")
    axes[3].set_ylabel("width (mm)")
    axes[3].set_ylim(0, None)
    if n_clean is not None:
        tw = axes[3].twinx()
        tw.step(t, np.asarray(n_clean), where="mid", color="#4477AA", linewidth=0.9, label="clean detections")
        tw.set_ylabel("clean detections", color="#4477AA")
        tw.spines["right"].set_visible(True)
        tw.set_ylim(0, None)
    axes[-1].set_xlabel("frame")
    name = names[keypoint] if names is not None else f"keypoint {keypoint}"
    axes[0].set_title(f"{name}: posterior minus ground truth, vs RANSAC's error")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=5)
    return fig


def plot_estimate_errors(estimates, truth, parents, *, frames=None, title: str | None = None):
    """How a distance prior changes 3D estimates: (left) the distribution of bone-length errors
    |len(estimate) - len(truth)| over all bones and frames, as cumulative fractions; (right) the
    per-frame mean position error.

    estimates: dict name -> (T, K, 3) mm (NaN allowed); truth: (T, K, 3) mm; parents: (K,)."""
    truth = np.asarray(truth, dtype=float)
    parents = np.asarray(parents)
    bones = np.flatnonzero(parents >= 0)

    def lengths(x):
        return np.linalg.norm(x[:, bones] - x[:, parents[bones]], axis=-1)

    t = np.arange(len(truth)) if frames is None else np.asarray(frames)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for name, x in estimates.items():
        x = np.asarray(x, dtype=float)
        color = METHOD_COLORS.get(name.split(" (")[0])
        e = np.abs(lengths(x) - lengths(truth)).ravel()
        e = np.sort(e[np.isfinite(e)])
        ax0.plot(np.maximum(e, 1e-2), np.arange(1, len(e) + 1) / len(e), color=color, label=name)
        ax1.plot(t, np.nanmean(np.linalg.norm(x - truth, axis=-1), axis=1), color=color, linewidth=1, label=name)
    ax0.set_xscale("log")
    ax0.set_xlabel("bone-length error (mm)")
    ax0.set_ylabel("fraction of bones x frames")
    ax0.set_title("Bone lengths vs the true skeleton")
    ax1.set_yscale("log")
    lo, hi = ax1.get_ylim()
    ax1.set_yticks([v for v in (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if lo <= v <= hi])
    ax1.yaxis.set_major_formatter(ScalarFormatter())
    ax1.yaxis.set_minor_formatter(NullFormatter())
    ax1.set_xlabel("frame")
    ax1.set_ylabel("mean position error (mm)")
    ax1.set_title("Per-frame error vs ground truth")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        fig.suptitle(title)
    return fig


def _bone_segments(x, parents) -> np.ndarray:
    """(..., K, 3) keypoints -> (..., B, 2, 3) bone segments, child then parent, for B = bones with a parent."""
    child = np.flatnonzero(np.asarray(parents) >= 0)
    return np.stack([x[..., child, :], x[..., np.asarray(parents)[child], :]], axis=-2)


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
    fig = plt.figure(figsize=(9.0, 3.6))
    fig.suptitle(f"Frame {t}: posterior draws (red lines in 3D, dots in the cameras) vs truth (skeleton) "
                 "and detections (x)", fontsize=10)
    ax = fig.add_subplot(1, 1 + len(camera_ids), 1, projection="3d")
    # One collection for all draws' bones (a widget redraws this figure; one artist per bone was slow).
    segments = _bone_segments(samples[pick, t], parents).reshape(-1, 2, 3)   # (n * B, 2, 3) mm
    ax.add_collection3d(Line3DCollection(segments, colors="#CC6677", alpha=0.25, linewidths=0.8, zorder=1),
                        autolim=False)
    points = segments.reshape(-1, 3)
    ax.auto_scale_xyz(points[:, 0], points[:, 1], points[:, 2], had_data=False)
    if truth is not None:
        _draw_skeleton_3d(ax, truth[t], parents, colors, linewidth=1.2)
        # The truth over the draws: one collection has one depth, so depth sorting would bury it.
        ax.computed_zorder = False
        ax.collections[-1].set_zorder(3)                         # the truth's keypoints on top
    ax.set_title("3D (mm)", fontsize=9)
    for j, c in enumerate(camera_ids):
        a2 = fig.add_subplot(1, 1 + len(camera_ids), 2 + j)
        cam = cameras[c]
        proj = cam.project(samples[pick, t])                       # (n, K, 2)
        by_keypoint = proj.transpose(1, 0, 2).reshape(-1, 2)          # keypoint 0's draws first, as colours
        a2.scatter(by_keypoint[:, 0], by_keypoint[:, 1], s=4, alpha=0.5,
                   color=np.repeat(to_rgba_array(colors), len(pick), axis=0))
        obs = observations[c, t]
        a2.scatter(obs[:, 0], obs[:, 1], marker="x", s=20, color="k", linewidth=0.8, label="detections")
        med = np.median(proj, axis=0)
        centre = (np.nanmax(med, axis=0) + np.nanmin(med, axis=0)) / 2
        half = np.nanmax(np.nanmax(med, axis=0) - np.nanmin(med, axis=0)) / 2 + 25   # square window, px
        a2.set_xlim(centre[0] - half, centre[0] + half)
        a2.set_ylim(centre[1] + half, centre[1] - half)
        a2.set_aspect("equal", adjustable="box")
        a2.set_title(cam.name, fontsize=9)
        a2.set_xticks([])
        a2.set_yticks([])
    return fig


def plot_state_behaviour(states, behaviour, behaviour_names, n_states: int, *, title: str | None = None):
    """Confusion matrix of inferred pose states against the simulator's behaviour labels.

    states, behaviour: (T,) int. Cells show frame counts; colour is the fraction of the state's
    frames in each behaviour, p(behaviour | state) (colour bar)."""
    states, behaviour = np.asarray(states), np.asarray(behaviour)
    if states.shape != behaviour.shape or states.ndim != 1:
        raise ValueError(f"states, behaviour: expected two (T,) arrays, got {states.shape} and {behaviour.shape}")
    counts = np.zeros((n_states, len(behaviour_names)), dtype=int)
    np.add.at(counts, (states, behaviour), 1)
    frac = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * n_states + 1.9))
    im = ax.imshow(frac, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for s in range(n_states):
        for b in range(len(behaviour_names)):
            ax.text(b, s, str(counts[s, b]), ha="center", va="center", color="k" if frac[s, b] > 0.5 else "w")
    ax.set_xticks(range(len(behaviour_names)), behaviour_names, rotation=20)
    ax.set_yticks(range(n_states), [f"state {s} ({counts[s].sum()})" for s in range(n_states)])
    ax.set_xlabel("simulator behaviour label")
    ax.set_title(title or "Frames per pose state and behaviour")
    fig.colorbar(im, ax=ax, label="fraction of the state's frames")
    return fig


def plot_state_poses(poses, parents, names, *, titles=None):
    """One mean pose per state, side view (x-z) of heading-aligned skeletons: poses (S, K, 3) mm."""
    poses = np.asarray(poses, dtype=float)
    S = len(poses)
    colors = keypoint_colors(names)
    fig, axes = plt.subplots(1, S, figsize=(max(MIN_WIDTH_IN, 2.4 * S) + 1.6, 3.0), squeeze=False,
                             sharex=True, sharey=True)
    for s, ax in enumerate(axes[0]):
        x = poses[s]
        for k, p in enumerate(parents):
            if p >= 0:
                ax.plot(x[[k, p], 0], x[[k, p], 2], color="0.3", linewidth=1.2)
        for k in range(len(x)):
            ax.scatter(x[k, 0], x[k, 2], color=colors[k], s=22, zorder=3, label=names[k])
        ax.set_aspect("equal")
        ax.set_xlabel("forward (mm)")
        ax.set_title(titles[s] if titles else f"state {s}")
    axes[0, 0].set_ylabel("up (mm)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    fig.suptitle("Mean pose of each state (side view, heading-aligned, root at 0)")
    return fig
