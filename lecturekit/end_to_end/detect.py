"""Stage 1 of the pipeline (lecture: "In DeepLabCut, SLEAP, etc." and "Transfer learning"): the
part-3 top-down detector trained on labelled images of the six cameras and run on every camera
and frame of a video, keeping each keypoint's confidence (the heatmap peak).

The cameras of the rendered video are the course rig with its intrinsics rescaled to the video's
size (:func:`rig_at_size`): the detections are pixels of those images, so triangulation uses
those cameras, and nothing is rescaled back.
"""

from __future__ import annotations

import numpy as np
import torch

from ..cnn import pipeline, pretrained
from ..geometry import Camera, as_camera_list

__all__ = ["RIG_DETECTOR_CONFIG", "rig_at_size", "flatten_views", "train_rig_detector", "detect_keypoints"]

#: The part-3 detector's settings (``cnn.pipeline.TopDownConfig``'s defaults: two augmented copies
#: per labelled image, 60 head epochs, 30 centroid epochs) with the stage-2 window adapted to
#: 160 x 120 views of the rig (the rodent is 30-55 px long): 64 frame px zoomed 2x (128 px crops,
#: heatmap cells of 2 frame px) instead of part 3's 3x.
RIG_DETECTOR_CONFIG = pipeline.TopDownConfig(crop_frame_px=64, zoom=2)


def rig_at_size(cameras, image_size) -> list[Camera]:
    """The same cameras seeing images of another size, as ``synth.render_frames(image_size=)``
    renders them (:meth:`lecturekit.geometry.Camera.resized`: focal lengths scale with the size,
    the principal point about pixel centres; pose and distortion are unchanged).

    cameras: list of C Camera (or a Rig); image_size: (width, height) px. Returns C cameras.
    """
    return [cam.resized(image_size) for cam in as_camera_list(cameras)]


def flatten_views(images, keypoints2d, visible):
    """Multi-camera labels as one labelled-image set: images (C, N, H, W, 3), keypoints2d
    (C, N, K, 2) px, visible (C, N, K) -> (C*N, H, W, 3), (C*N, K, 2), (C*N, K), camera-major."""
    images = np.asarray(images)
    kp, vis = np.asarray(keypoints2d, dtype=float), np.asarray(visible, dtype=bool)
    if images.ndim != 5 or images.shape[-1] != 3:
        raise ValueError(f"images: expected (C, N, H, W, 3) uint8, got {images.shape}")
    C, N = images.shape[:2]
    if kp.ndim != 4 or kp.shape[:2] != (C, N) or kp.shape[-1] != 2:
        raise ValueError(f"keypoints2d: expected ({C}, {N}, K, 2) px, got {kp.shape}")
    if vis.shape != kp.shape[:3]:
        raise ValueError(f"visible: expected {kp.shape[:3]} bool, got {vis.shape}")
    return images.reshape((C * N,) + images.shape[2:]), kp.reshape((C * N,) + kp.shape[2:]), vis.reshape(C * N, -1)


def train_rig_detector(images, keypoints2d, visible, names, config: pipeline.TopDownConfig = RIG_DETECTOR_CONFIG,
                       *, seed: int = 0, max_cpu_seconds: float | None = None,
                       progress: bool = True) -> pipeline.TopDownModel:
    """Train the part-3 top-down detector (``cnn.pipeline.train_topdown``) on the labelled images
    of all cameras together.

    images: (C, N, H, W, 3) uint8; keypoints2d: (C, N, K, 2) px; visible: (C, N, K) bool;
    names: K body-part names (left/right partners by name); max_cpu_seconds: optional process CPU
    budget of the whole training (stage 1, feature caching, head; the head stops early when it is
    spent); default None: the config's epochs, whatever they cost. Returns a ``TopDownModel``.
    """
    x, kp, vis = flatten_views(images, keypoints2d, visible)
    return pipeline.train_topdown(pretrained.imagenet_normalize(x), kp, vis, names, config, seed=seed,
                                  max_cpu_seconds=max_cpu_seconds, progress=progress)


def detect_keypoints(model: pipeline.TopDownModel, images, *, batch_size: int = 60,
                     progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run a trained top-down detector on every camera and frame.

    images: (C, T, H, W, 3) uint8. ``cnn.pipeline.predict_topdown`` batch by batch with a progress
    bar: stage 1 finds each frame's centre, stage 2 decodes the keypoints of the crop around it,
    its heatmaps averaged with its mirror image's (left/right swapped back), as in notebook 3.
    Returns (points (C, T, K, 2) px, confidence (C, T, K) in [0, 1], the heatmap peak).
    """
    from tqdm.auto import tqdm

    images = np.asarray(images)
    if images.ndim != 5 or images.shape[-1] != 3:
        raise ValueError(f"images: expected (C, T, H, W, 3) uint8, got {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    C, T = images.shape[:2]
    flat = images.reshape((C * T,) + images.shape[2:])
    points, confidence = [], []
    with torch.no_grad():
        for start in tqdm(range(0, len(flat), int(batch_size)), desc="detecting keypoints", disable=not progress):
            x = pretrained.imagenet_normalize(flat[start:start + int(batch_size)])
            pts, conf = pipeline.predict_topdown(model, x)
            points.append(pts)
            confidence.append(conf)
    K = points[0].shape[1]
    return np.concatenate(points).reshape(C, T, K, 2), np.concatenate(confidence).reshape(C, T, K)
