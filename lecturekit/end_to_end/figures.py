"""Figures and widget callbacks of notebook 06 (the whole pipeline). Pure functions: data in,
matplotlib Figure (or Animation) out; the widget's callback only draws precomputed arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import METHOD_COLORS, keypoint_colors

__all__ = ["draw_pipeline_frame", "plot_error_sources", "animate_posterior", "animation_html"]

_HALF_BOX = 90.0   # mm: half side of the 3D view around the body's root


def _skeleton_3d(ax, poses, parents, color, **kw):
    """Bones of one pose (K, 3) or of several (N, K, 3) as ONE line collection (cheap to redraw)."""
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    poses = np.asarray(poses, dtype=float).reshape((-1,) + np.shape(poses)[-2:])
    child = np.flatnonzero(np.asarray(parents) >= 0)
    segments = np.stack([poses[:, child], poses[:, np.asarray(parents)[child]]], axis=2).reshape(-1, 2, 3)
    colors = color if isinstance(color, str) else [color[k] for k in child] * len(poses)
    ax.add_collection3d(Line3DCollection(segments, colors=colors, **kw))


def _pose_axes(ax, centre, title):
    ax.computed_zorder = False      # draw order, not depth: the mean skeleton stays on top of the draws
    for i, name in enumerate("xyz"):
        getattr(ax, f"set_{name}lim")(centre[i] - _HALF_BOX, centre[i] + _HALF_BOX)
        getattr(ax, f"set_{name}label")(f"{name} (mm)", fontsize=8, labelpad=-2)
    ax.set_box_aspect((1, 1, 1), zoom=0.88)    # room for the z label
    ax.tick_params(labelsize=7, pad=0)
    ax.set_title(title, fontsize=9)


def draw_pipeline_frame(t: int = 0, *, images, points, confidence, visible, draws, mean, truth, parents, names,
                        camera_names, root: int | None = None, window_px: int = 64, lower=None, upper=None,
                        level: float = 0.9):
    """One frame of the pipeline: the six views with the CNN's detections, and the 3D skeleton.

    images: (C, T, H, W, 3) uint8; points: (C, T, K, 2) px detections; confidence: (C, T, K) in
    [0, 1] (marker size); visible: (C, T, K) bool, the renderer's visibility (filled marker =
    visible, ring = occluded); draws: (N, T, K, 3) mm, a few posterior draws (thin red lines);
    mean: (T, K, 3) mm posterior mean (coloured); truth: (T, K, 3) mm (black dashed); parents: (K,);
    names: K names; camera_names: C names; root: keypoint the 3D view is centred on (default the
    skeleton's root); window_px: width of the window shown around the detections in each view
    (px, 3:4 aspect); lower, upper: optional (T, K, 3) mm credible bounds at probability ``level``
    (``Reconstruction3D.lower`` / ``upper``): the 3D panel then states their half-width (the distance
    from the centre of each keypoint's box to a corner, i.e. half its diagonal), median and widest
    keypoint, since millimetre spreads are hard to see at the scale of a body. Returns a 10 x 4.6 in Figure.
    """
    images, truth = np.asarray(images), np.asarray(truth, dtype=float)
    C, T = images.shape[:2]
    t = int(t)
    if not 0 <= t < T:
        raise ValueError(f"t: expected a frame in [0, {T}), got {t}")
    parents = np.asarray(parents)
    root = int(np.flatnonzero(parents < 0)[0]) if root is None else int(root)
    colors = keypoint_colors(names)
    fig = plt.figure(figsize=(10.0, 4.6))
    grid = fig.add_gridspec(2, 5, width_ratios=(1, 1, 1, 0.05, 1.7))
    for c in range(C):
        ax = fig.add_subplot(grid[c // 3, c % 3])
        ax.imshow(images[c, t], interpolation="nearest")
        v, s = visible[c, t], 6 + 40 * np.clip(np.nan_to_num(confidence[c, t]), 0, 1)
        ax.scatter(*points[c, t][v].T, s=s[v], c=np.array(colors)[v], edgecolors="white", linewidths=0.4)
        ax.scatter(*points[c, t][~v].T, s=s[~v], facecolors="none", edgecolors=np.array(colors)[~v], linewidths=1.0)
        centre = np.nanmedian(points[c, t], axis=0)
        if np.all(np.isfinite(centre)):
            ax.set_xlim(centre[0] - window_px / 2, centre[0] + window_px / 2)
            ax.set_ylim(centre[1] + 0.375 * window_px, centre[1] - 0.375 * window_px)
        ax.set_title(f"{camera_names[c]}: {int(v.sum())} of {len(v)} visible", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ax3 = fig.add_subplot(grid[:, 4], projection="3d")
    _skeleton_3d(ax3, np.asarray(draws)[:, t], parents, METHOD_COLORS["GIMBAL"], alpha=0.25, linewidth=0.7)
    _skeleton_3d(ax3, truth[t], parents, "k", linestyles="--", linewidth=1.0)
    _skeleton_3d(ax3, mean[t], parents, colors, linewidth=2.0)
    ax3.scatter(*mean[t].T, c=colors, s=12, depthshade=False)
    _pose_axes(ax3, truth[t, root], "3D: GIMBAL mean (colours),\nposterior draws (red), truth (dashed)")
    if lower is not None and upper is not None:
        half = 0.5 * np.linalg.norm(np.asarray(upper, dtype=float)[t] - np.asarray(lower, dtype=float)[t], axis=-1)
        widest = int(np.nanargmax(half))
        ax3.text2D(0.5, -0.04, f"{level:.0%} interval half-width: median {np.nanmedian(half):.1f} mm,\n"
                   f"widest {half[widest]:.1f} mm ({names[widest]})", transform=ax3.transAxes, ha="center",
                   va="top", fontsize=8)
    fig.suptitle(f"Frame {t}: CNN detections, zoomed on the animal (dot: visible, ring: occluded; size: confidence)",
                 fontsize=10)
    return fig


def plot_error_sources(errors: dict, visible, per_frame: dict, behaviour, behaviour_names, *,
                       title: str = "Where 3D errors come from"):
    """Left: distribution of 2D detection errors (px) per source, visible vs occluded keypoints;
    right: 3D error per frame (mm) of some methods, with the behaviour of each frame as a band.

    errors: {source name: (C, T, K) px}; visible: (C, T, K) bool; per_frame: {method: (T,) mm};
    behaviour: (T,) int labels into behaviour_names.
    """
    visible = np.asarray(visible, dtype=bool)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 3.6), width_ratios=(1, 1.4))
    styles = ("-", ":")
    palette = ("#4477AA", "#CC6677", "#228833", "#CCBB44")
    for i, (name, err) in enumerate(errors.items()):
        for j, (kind, mask) in enumerate((("visible", visible), ("occluded", ~visible))):
            e = np.sort(np.nan_to_num(np.asarray(err)[mask], nan=np.inf))
            ax1.plot(e, np.arange(1, len(e) + 1) / len(e), color=palette[i % 4], linestyle=styles[j],
                     label=f"{name}, {kind}")
    ax1.set_xscale("log")
    ax1.set_xlim(0.1, 100)
    ax1.set_xlabel("2D error (px, log scale)")
    ax1.set_ylabel("fraction of detections below")
    ax1.set_title("2D detection errors (CDF)", fontsize=10)
    ax1.legend(fontsize=7, loc="center right", bbox_to_anchor=(1.0, 0.7))   # the empty band between the curves
    behaviour = np.asarray(behaviour)
    band_colors = ("#FFFFFF", "#EEEEEE", "#DDEEFF", "#FFE8CC", "#F2F2F2")
    top = max(float(np.nanmax(v)) for v in per_frame.values()) * 1.05
    for b, name in enumerate(behaviour_names):
        frames = np.flatnonzero(behaviour == b)
        if frames.size and name in ("rearing", "grooming"):
            ax2.fill_between(np.arange(len(behaviour)), 0, top, where=behaviour == b, color=band_colors[b % 5],
                             step="mid", label=name)
    for i, (name, err) in enumerate(per_frame.items()):
        ax2.plot(err, color=palette[i % 4], linewidth=1.2, label=name)
    ax2.set_ylim(0, top)
    ax2.set_xlabel("frame")
    ax2.set_ylabel("MPE in the frame (mm)")
    ax2.set_title("3D error per frame", fontsize=10)
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title, fontsize=11)
    return fig


def animate_posterior(draws, mean, truth, parents, names, frames, *, interval_ms: int = 120,
                      root: int | None = None):
    """A short animation of the 3D posterior: GIMBAL's mean skeleton (colours), a few posterior
    draws (red) and the truth (dashed) over ``frames`` (a sequence of frame indices, <= 30 keeps
    the stored notebook small). draws: (N, T, K, 3) mm; mean, truth: (T, K, 3) mm. Returns a
    ``matplotlib.animation.FuncAnimation`` of a 6 x 3.6 in figure (show it with ``to_jshtml``)."""
    from matplotlib.animation import FuncAnimation

    frames = [int(f) for f in frames]
    draws, mean, truth = np.asarray(draws), np.asarray(mean), np.asarray(truth)
    if not frames or len(frames) > 60 or min(frames) < 0 or max(frames) >= truth.shape[0]:
        raise ValueError(f"frames: expected 1-60 frame indices in [0, {truth.shape[0]}), got {len(frames)} frames")
    parents = np.asarray(parents)
    root = int(np.flatnonzero(parents < 0)[0]) if root is None else int(root)
    colors = keypoint_colors(names)
    fig = plt.figure(figsize=(6.0, 3.6), dpi=100)
    ax = fig.add_subplot(projection="3d")

    def draw(i):
        t = frames[i]
        ax.cla()
        _skeleton_3d(ax, draws[:, t], parents, METHOD_COLORS["GIMBAL"], alpha=0.25, linewidth=0.7)
        _skeleton_3d(ax, truth[t], parents, "k", linestyles="--", linewidth=1.0)
        _skeleton_3d(ax, mean[t], parents, colors, linewidth=2.0)
        _pose_axes(ax, truth[t, root], f"Frame {t}: GIMBAL mean (colours), draws (red), truth (dashed)")
        return ()

    anim = FuncAnimation(fig, draw, frames=len(frames), interval=interval_ms, blit=False)
    plt.close(fig)
    return anim


# matplotlib's player draws its buttons with Font Awesome icons from a CDN; offline, plain text does
_PLAYER_ICONS = {"fa fa-minus": "&minus;", "fa fa-plus": "+", "fa fa-fast-backward": "|&lt;&lt;",
                 "fa fa-step-backward": "|&lt;", "fa fa-play fa-flip-horizontal": "&lt;", "fa fa-pause": "||",
                 "fa fa-play": "&gt;", "fa fa-step-forward": "&gt;|", "fa fa-fast-forward": "&gt;&gt;|"}


def animation_html(anim) -> str:
    """The animation as a self-contained HTML player (``Animation.to_jshtml``) that needs no network:
    JPEG frames (a small stored notebook) and text buttons instead of the CDN icon font it links."""
    import re

    import matplotlib as mpl

    with mpl.rc_context({"animation.frame_format": "jpeg"}):
        html = anim.to_jshtml()
    html = re.sub(r'<link rel="stylesheet"\s*href="https?://[^"]*">', "", html)
    return re.sub(r'<i class="(fa [^"]*)"></i>', lambda m: _PLAYER_ICONS.get(m.group(1), "?"), html)
