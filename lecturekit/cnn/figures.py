"""Heatmap viewer for lecture 3 (CNN keypoint heatmaps): scrub frames, pick a keypoint, see the
image, the predicted heatmap, the decoded prediction and the ground truth side by side."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import keypoint_color

__all__ = ["draw_heatmap_viewer", "heatmap_viewer"]


def draw_heatmap_viewer(images, heatmaps, predicted, truth, names: Sequence[str], *, frame: int = 0,
                        keypoint: str | None = None, stride: int = 4) -> plt.Figure:
    """One frame: the image with prediction (cross) and ground truth (circle) of one keypoint, and
    that keypoint's heatmap overlaid on the image.

    images: (T, H, W, 3) uint8; heatmaps: (T, K, H/stride, W/stride) probabilities;
    predicted, truth: (T, K, 2) px; names: K body-part names; frame: index; keypoint: a name
    (default the first). Returns a Figure.
    """
    images = np.asarray(images)
    hm = np.asarray(heatmaps)
    if images.ndim != 4 or hm.ndim != 4 or hm.shape[0] != images.shape[0] or hm.shape[1] != len(names):
        raise ValueError(f"images/heatmaps: expected (T, H, W, 3) and (T, {len(names)}, Hs, Ws), got "
                         f"{images.shape} and {hm.shape}")
    if not 0 <= frame < images.shape[0]:
        raise ValueError(f"frame: expected 0..{images.shape[0] - 1}, got {frame}")
    name = names[0] if keypoint is None else keypoint
    if name not in names:
        raise ValueError(f"keypoint: expected one of {list(names)}, got {name!r}")
    k = list(names).index(name)
    H, W = images.shape[1:3]
    Hs, Ws = hm.shape[2:]
    colour = keypoint_color(name)
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), layout="constrained")
    axes[0].imshow(images[frame])
    axes[0].set_title(f"frame {frame}: {name}")
    axes[1].imshow(images[frame], alpha=0.5)
    extent = (-0.5, Ws * stride - 0.5, Hs * stride - 0.5, -0.5)
    im = axes[1].imshow(hm[frame, k], extent=extent, alpha=0.7, vmin=0, vmax=max(float(hm[frame, k].max()), 1e-3))
    axes[1].set_xlim(-0.5, W - 0.5)
    axes[1].set_ylim(H - 0.5, -0.5)
    axes[1].set_title(f"heatmap (stride {stride}), max {hm[frame, k].max():.2f}")
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="p(keypoint)")
    p, t = np.asarray(predicted)[frame, k], np.asarray(truth)[frame, k]
    for ax in axes:
        ax.plot(*t, "o", mfc="none", mec="white", mew=1.5, ms=9, label="ground truth")
        ax.plot(*p, "x", color=colour, mew=2, ms=8, label="prediction")
        ax.set_xlabel("x (px)")
    axes[0].set_ylabel("y (px)")
    err = float(np.linalg.norm(p - t))
    axes[0].legend(loc="lower left", fontsize=8, title=f"error {err:.1f} px", title_fontsize=8)
    return fig


def heatmap_viewer(images, heatmaps, predicted, truth, names, stride: int = 4):
    """A ``draw(frame, keypoint)`` function for :func:`lecturekit.interactive.interactive_figure`."""

    def draw(frame: int = 0, keypoint: str = names[0]) -> plt.Figure:
        return draw_heatmap_viewer(images, heatmaps, predicted, truth, names, frame=frame, keypoint=keypoint,
                                   stride=stride)

    return draw
