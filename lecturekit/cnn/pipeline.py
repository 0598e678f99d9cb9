"""The course's top-down keypoint detector, as SLEAP's centroid + centred-instance models
(lecture: "In DeepLabCut, SLEAP, etc."; "Transfer learning").

Stage 1 (**centroid**) finds the animal: one heatmap of its centre (the mean of its labelled
keypoints) from the frozen ImageNet EfficientNet-Lite0 features of the whole frame; only a small
upsampling head is trained. Stage 2 (**centred instance**) crops a ``crop_frame_px`` window around
that centre, zooms it ``zoom`` times and predicts the K keypoint heatmaps from the frozen features
of the crop, again training only a head. Training crops are centred on the labelled centre and
augmented (rotation, scale, shift - stage 1 is never exact -, occlusion, brightness, and left-right
mirroring with the left and right labels swapped); at test time each crop's heatmaps are averaged
with those of its mirror image. Keypoints decode by argmax + quadratic subpixel refinement and map
back to the frame by the inverse crop map (:mod:`lecturekit.cnn.topdown`).

Because the backbone is frozen, its features of the training crops are computed once
(:func:`crop_features`); :func:`train_keypoint_head` trains a head on any subset of them in seconds
(the learning curve of the notebook).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from . import augment as _augment
from . import heatmaps as _heatmaps
from . import models as _models
from . import topdown as _topdown

__all__ = ["TopDownConfig", "TopDownModel", "TrainingCrops", "training_crops", "train_centroid_model",
           "predict_centres", "crop_features", "train_keypoint_head", "predict_crop_heatmaps", "train_topdown",
           "predict_topdown", "frame_heatmaps"]


@dataclass(frozen=True)
class TopDownConfig:
    """Settings of the top-down detector (frame px unless stated).

    crop_frame_px: side of the stage-2 window; zoom: crop px per frame px (crop side
    ``crop_frame_px * zoom`` px, heatmap cells of ``4 / zoom`` frame px); n_aug: augmented crops per
    labelled frame besides the centred one; sigma_crop: target width in crop px; pos_weight: weight
    of the positive term of the Bernoulli loss; flip_prob: probability that an augmented crop is
    mirrored; head_width: channels of the keypoint head; epochs, lr: head training; centroid_epochs,
    centroid_sigma: stage 1; label_occluded: train on occluded keypoints too (the simulator knows
    where they are, as an annotator who infers a hidden paw would label it).
    """

    crop_frame_px: int = 64
    zoom: float = 3
    n_aug: int = 2
    sigma_crop: float = 3.0
    pos_weight: float = 10.0
    flip_prob: float = 0.5
    head_width: int = 32
    epochs: int = 60
    lr: float = 1e-2
    centroid_epochs: int = 30
    centroid_sigma: float = 4.0
    label_occluded: bool = True

    @property
    def crop_size(self) -> int:
        """Side of a crop in crop px."""
        return int(self.crop_frame_px * self.zoom)


@dataclass
class TopDownModel:
    """A trained detector: ``centroid`` and ``keypoint`` are :class:`lecturekit.cnn.PoseNet`;
    ``mirror`` (K,) the left-right partners; ``train_cpu_s`` the process CPU seconds of training."""

    centroid: torch.nn.Module
    keypoint: torch.nn.Module
    mirror: np.ndarray
    config: TopDownConfig = field(default_factory=TopDownConfig)
    train_cpu_s: float = 0.0
    epochs: int = 0


@dataclass
class TrainingCrops:
    """Augmented training crops: images (M, 3, S, S), keypoints (M, K, 2) crop px, visible (M, K)
    (the labels used for training), frame (M,) int: index of the labelled frame each crop came from."""

    images: torch.Tensor
    keypoints: np.ndarray
    visible: np.ndarray
    frame: np.ndarray


def _check_inputs(images, keypoints, visible):
    if not torch.is_tensor(images) or images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images: expected a normalised tensor (N, 3, H, W), got {getattr(images, 'shape', images)}")
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 3 or kp.shape[0] != images.shape[0] or kp.shape[-1] != 2:
        raise ValueError(f"keypoints: expected ({images.shape[0]}, K, 2) px, got {kp.shape}")
    vis = np.asarray(visible, dtype=bool)
    if vis.shape != kp.shape[:2]:
        raise ValueError(f"visible: expected {kp.shape[:2]} bool, got {vis.shape}")
    return kp, vis


def training_crops(images, keypoints, visible, mirror, config: TopDownConfig = TopDownConfig(), *,
                   rng: np.random.Generator) -> TrainingCrops:
    """1 + ``config.n_aug`` crops per labelled frame around its labelled centre.

    images: (N, 3, H, W) normalised; keypoints (N, K, 2) frame px; visible (N, K) bool (the centre
    uses the visible keypoints; the labels are all keypoints if ``config.label_occluded``);
    mirror: (K,) from :func:`lecturekit.cnn.augment.mirror_pairs`. Copy 0 is centred and
    unaugmented; the others are rotated (+-45 deg), scaled (0.9-1.1), shifted (+-3 px), occluded,
    brightened and, with probability ``config.flip_prob``, mirrored. Crops are ordered copy-major:
    crop ``c * N + n`` is copy c of frame n.
    """
    kp, vis = _check_inputs(images, keypoints, visible)
    centres = _topdown.animal_centres(kp, vis)
    labels = np.all(np.isfinite(kp), -1) if config.label_occluded else vis
    size, zoom = config.crop_size, config.zoom
    xs, ks, vs = [], [], []
    for copy in range(1 + config.n_aug):
        aug = dict(rng=rng, rotation_deg=45.0, scale_range=(0.9, 1.1), jitter_px=3.0) if copy else {}
        A = _topdown.crop_affines(centres, size, zoom, **aug)
        x = _topdown.crop_images(images, A, size)
        k, v = _topdown.crop_keypoints(kp, labels, A, size)
        if copy:
            x = _augment.adjust_brightness_contrast(_augment.occlude(x, rng, prob=0.3, max_frac=0.2), rng)
            x, k, v = _augment.random_flips(x, k, v, rng, mirror, prob=config.flip_prob)
        xs.append(x)
        ks.append(k)
        vs.append(v)
    frame = np.tile(np.arange(len(kp)), 1 + config.n_aug)
    return TrainingCrops(torch.cat(xs), np.concatenate(ks), np.concatenate(vs), frame)


def train_centroid_model(images, keypoints, visible, config: TopDownConfig = TopDownConfig(), *, seed: int = 0,
                         progress: bool = True) -> torch.nn.Module:
    """Stage 1: a one-channel centroid head on the frozen features of whole frames.

    images (N, 3, H, W) normalised; keypoints (N, K, 2) px; visible (N, K). Returns a PoseNet.
    """
    kp, vis = _check_inputs(images, keypoints, visible)
    torch.manual_seed(seed)
    model = _models.pretrained_pose_net(1, width=16)
    centres = _topdown.animal_centres(kp, vis)[:, None]
    feats = _models.cache_features(model.backbone, images)
    _models.train_head_on_features(model.head, feats, centres, np.ones((len(centres), 1), bool), images.shape[-2:],
                                   epochs=config.centroid_epochs, lr=1e-2, sigma=config.centroid_sigma,
                                   pos_weight=config.pos_weight, seed=seed, progress=progress,
                                   desc="stage 1: centroid")
    return model


def predict_centres(centroid: torch.nn.Module, images) -> np.ndarray:
    """Stage 1 at test time: images (N, 3, H, W) -> the animal's centre (N, 2) frame px."""
    return _models.predict_keypoints(centroid, images)[0][:, 0]


def crop_features(backbone: torch.nn.Module, crops: torch.Tensor, *, mirrored: bool = False) -> list[torch.Tensor]:
    """Frozen backbone features of crops (N, 3, S, S), computed once; ``mirrored``: of their mirror
    images (for flip test-time augmentation with :func:`predict_crop_heatmaps`)."""
    return _models.cache_features(backbone, torch.flip(crops, dims=(-1,)) if mirrored else crops)


def train_keypoint_head(features, crops: TrainingCrops, config: TopDownConfig = TopDownConfig(), *,
                        frames=None, n_keypoints: int | None = None, seed: int = 0, epochs: int | None = None,
                        max_cpu_seconds: float | None = None, progress: bool = True,
                        desc: str = "stage 2: keypoint head") -> tuple[torch.nn.Module, list[float]]:
    """Stage 2 on cached crop features: a new :class:`lecturekit.cnn.UpsamplingHead`.

    features: list of (M, C_l, H_l, W_l) from :func:`crop_features` of ``crops.images``;
    frames: optional labelled-frame indices to train on (all their crops are used), e.g.
    ``range(25)`` for the first 25 labelled frames. Returns (head, loss per epoch).
    """
    K = crops.keypoints.shape[1] if n_keypoints is None else n_keypoints
    rows = np.arange(len(crops.frame)) if frames is None else np.flatnonzero(np.isin(crops.frame, np.asarray(frames)))
    if rows.size == 0:
        raise ValueError("frames: none of the requested labelled frames has a training crop")
    torch.manual_seed(seed)
    head = _models.UpsamplingHead(tuple(f.shape[1] for f in features), K, config.head_width)
    idx = torch.as_tensor(rows)
    losses = _models.train_head_on_features(
        head, [f[idx] for f in features], crops.keypoints[rows], crops.visible[rows], (config.crop_size,) * 2,
        epochs=config.epochs if epochs is None else epochs, lr=config.lr, sigma=config.sigma_crop,
        pos_weight=config.pos_weight, seed=seed, progress=progress, desc=desc, max_cpu_seconds=max_cpu_seconds)
    return head, losses


def predict_crop_heatmaps(head: torch.nn.Module, features, mirrored_features=None, mirror=None) -> np.ndarray:
    """Heatmaps (N, K, S/4, S/4) of crops from cached features; with ``mirrored_features`` (features
    of the mirrored crops) and ``mirror`` (K,), averaged with the side-swapped mirrored heatmaps."""
    if mirrored_features is not None and mirror is None:
        raise ValueError("mirror: needed with mirrored_features, from lecturekit.cnn.augment.mirror_pairs")
    h = _models.predict_heatmaps(head, features)
    if mirrored_features is None:
        return h
    h_flip = _models.predict_heatmaps(head, mirrored_features)
    width = h.shape[-1] * head.stride
    return _heatmaps.average_with_mirrored(h, h_flip, mirror, width, head.stride).astype(np.float32)


def train_topdown(images, keypoints, visible, names, config: TopDownConfig = TopDownConfig(), *, seed: int = 0,
                  max_cpu_seconds: float | None = None, progress: bool = True) -> TopDownModel:
    """Train both stages on labelled frames.

    images: (N, 3, H, W) normalised (:func:`lecturekit.cnn.pretrained.imagenet_normalize`);
    keypoints: (N, K, 2) frame px; visible: (N, K) bool; names: K body-part names (left/right
    partners by name, :func:`lecturekit.cnn.augment.mirror_pairs`). max_cpu_seconds: process CPU
    budget for everything (stage 1, feature caching, head training). Returns a :class:`TopDownModel`.
    """
    kp, vis = _check_inputs(images, keypoints, visible)
    if len(names) != kp.shape[1]:
        raise ValueError(f"names: expected {kp.shape[1]} body-part names, got {len(names)}")
    cpu0 = time.process_time()
    mirror = _augment.mirror_pairs(names)
    centroid = train_centroid_model(images, kp, vis, config, seed=seed, progress=progress)
    crops = training_crops(images, kp, vis, mirror, config, rng=np.random.default_rng(seed))
    torch.manual_seed(seed)
    model = _models.pretrained_pose_net(kp.shape[1], width=config.head_width)
    feats = crop_features(model.backbone, crops.images)
    left = None if max_cpu_seconds is None else max_cpu_seconds - (time.process_time() - cpu0)
    head, losses = train_keypoint_head(feats, crops, config, seed=seed, max_cpu_seconds=left, progress=progress)
    model.head = head
    return TopDownModel(centroid, model.eval(), mirror, config, time.process_time() - cpu0, len(losses))


def predict_topdown(model: TopDownModel, images, *, return_heatmaps: bool = False):
    """Detect the keypoints of frames.

    images: (N, 3, H, W) normalised. Returns (points (N, K, 2) frame px, confidence (N, K) = the
    heatmap peak in [0, 1]); with ``return_heatmaps`` also (heatmaps (N, K, S/4, S/4) of the crops,
    crop maps A (N, 2, 3) frame px -> crop px).
    """
    if not torch.is_tensor(images) or images.ndim != 4:
        raise ValueError(f"images: expected a normalised tensor (N, 3, H, W), got {getattr(images, 'shape', images)}")
    cfg = model.config
    centres = predict_centres(model.centroid, images)
    A = _topdown.crop_affines(centres, cfg.crop_size, cfg.zoom)
    crops = _topdown.crop_images(images, A, cfg.crop_size)
    h = _models.predict_heatmaps(model.keypoint, crops, mirror=model.mirror)
    pts, conf = _heatmaps.decode_heatmaps(h, model.keypoint.stride)
    points = _topdown.uncrop_keypoints(pts, A)
    return (points, conf, h, A) if return_heatmaps else (points, conf)


def frame_heatmaps(crop_heatmaps, A, crop_stride: int, frame_shape, frame_stride: int = 2) -> np.ndarray:
    """Crop heatmaps back on the frame's own grid (for display): (N, K, h, w) on crops of stride
    ``crop_stride`` crop px, A (N, 2, 3) frame px -> crop px, frame_shape (H, W) px. Returns
    (N, K, ceil(H / frame_stride), ceil(W / frame_stride)), 0 outside the crop."""
    h = torch.as_tensor(np.asarray(crop_heatmaps, dtype=np.float32))
    A = np.asarray(A, dtype=float)
    H, W = frame_shape
    grid = (-(-H // frame_stride), -(-W // frame_stride))
    # frame cell -> frame px -> crop px -> crop cell: resample with that map's inverse
    S_f = np.diag([frame_stride, frame_stride, 1.0])
    S_f[:2, 2] = (frame_stride - 1) / 2.0
    S_c = np.diag([1.0 / crop_stride, 1.0 / crop_stride, 1.0])
    S_c[:2, 2] = -(crop_stride - 1) / (2.0 * crop_stride)
    maps = np.stack([np.linalg.inv(S_c @ np.vstack([a, [0, 0, 1]]) @ S_f)[:2] for a in A])
    return _augment.warp_images(h, maps, out_shape=grid).numpy()
