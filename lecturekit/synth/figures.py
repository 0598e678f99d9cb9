"""Figures for the welcome notebook: the virtual rodent's skeleton and its camera views."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..plotting import keypoint_colors

__all__ = ["draw_skeleton", "draw_view"]


def draw_skeleton(skeleton, positions: np.ndarray, *, title: str = "The virtual rodent's skeleton"):
    """3D skeleton of one frame, keypoints in the course colours, named in a legend.

    positions: (K, 3) mm. Returns the Figure.
    """
    positions = np.asarray(positions, dtype=float)
    if positions.shape != (skeleton.K, 3):
        raise ValueError(f"positions: expected shape ({skeleton.K}, 3), got {positions.shape}")
    fig = plt.figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    for child, parent in skeleton.edges:
        ax.plot(*positions[[child, parent]].T, color="0.4", lw=2)
    # Names go in a legend beside the axes: text at the points overlaps around the head.
    for name, p, color in zip(skeleton.names, positions, keypoint_colors(skeleton.names)):
        ax.scatter(*p, color=color, s=45, depthshade=False, label=name)
    fig.legend(loc="outside right center", title="keypoint", fontsize=9)
    centre = positions.mean(axis=0)
    half = max(np.ptp(positions, axis=0).max() / 2, 30.0)
    ax.set(xlim=(centre[0] - half, centre[0] + half), ylim=(centre[1] - half, centre[1] + half),
           zlim=(0, 2 * half), xlabel="x (mm)", ylabel="y (mm)", zlabel="z (mm)", title=title)
    return fig


def draw_view(rendered, skeleton, *, frame: int, camera: int, camera_name: str = "", behaviour: str = "",
              zoom: bool = True):
    """One rendered image with its ground-truth keypoints (filled: visible; hollow: hidden).

    zoom: crop the view to the animal (its keypoints plus a margin) instead of the whole image.

    rendered: synth.Rendered (images (C, T, H, W, 3), keypoints2d (C, T, K, 2), visible (C, T, K)).
    """
    C, T = rendered.images.shape[:2]
    if not (0 <= camera < C) or not (0 <= frame < T):
        raise ValueError(f"frame, camera: expected 0 <= frame < {T} and 0 <= camera < {C}, got {frame}, {camera}")
    image = rendered.images[camera, frame]
    points = rendered.keypoints2d[camera, frame]
    visible = rendered.visible[camera, frame]
    colors = keypoint_colors(skeleton.names)
    fig, ax = plt.subplots(figsize=(6.5, 4.8), layout="constrained")
    ax.imshow(image)
    for child, parent in skeleton.edges:
        ax.plot(*points[[child, parent]].T, color="white", lw=1, alpha=0.6)
    for k in range(skeleton.K):
        ax.scatter(*points[k], s=36, facecolors=colors[k] if visible[k] else "none",
                   edgecolors=colors[k], linewidths=1.5)
    height, width = image.shape[:2]
    (u0, v0), (u1, v1) = (-0.5, -0.5), (width - 0.5, height - 0.5)
    finite = points[np.all(np.isfinite(points), axis=1)]
    if zoom and len(finite):
        centre, half = (finite.min(0) + finite.max(0)) / 2, max(np.ptp(finite, axis=0).max() / 2 + 25, 40)
        u0, u1 = max(u0, centre[0] - 1.33 * half), min(u1, centre[0] + 1.33 * half)
        v0, v1 = max(v0, centre[1] - half), min(v1, centre[1] + half)
    ax.set(xlim=(u0, u1), ylim=(v1, v0), xlabel="u (px)", ylabel="v (px)")
    ax.set_title(f"{camera_name or f'camera {camera}'}, frame {frame}" + (f" ({behaviour})" if behaviour else "")
                 + f": {int(visible.sum())}/{skeleton.K} keypoints visible")
    return fig
