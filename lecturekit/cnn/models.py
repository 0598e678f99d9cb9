"""Heatmap CNNs: feature learning from scratch and transfer learning
(lecture: "Feature learning in CNNs", "Transfer learning", "In DeepLabCut, SLEAP, etc.").

Both models map an image (N, 3, H, W) to K heatmap logits at stride 4, (N, K, H/4, W/4), trained
with the Bernoulli loss of :mod:`lecturekit.cnn.heatmaps`:

* :class:`ScratchCNN` - a few 3x3 convolutions learned from the frames alone;
* :class:`PoseNet` - the ImageNet-pretrained EfficientNet-Lite0 backbone (strides 4/8/16, from
  :mod:`lecturekit.cnn.pretrained`) rerouted to a new loss through an :class:`UpsamplingHead`:
  transposed ("deconvolution") layers as in DeepLabCut/DeeperCut, with skip connections from the
  shallower, finer feature maps back to stride 4.

Training is one function (:func:`train_heatmap_model`, Adam, tqdm progress bar, optional
keypoint-aware augmentation); with a frozen backbone the features can be computed once
(:func:`cache_features`) and only the head trained (:func:`train_head_on_features`).
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn

from . import augment as _augment
from . import heatmaps as _heatmaps

__all__ = [
    "ScratchCNN",
    "UpsamplingHead",
    "PoseNet",
    "pretrained_pose_net",
    "set_trainable_blocks",
    "cache_trunk_features",
    "TailPoseNet",
    "count_parameters",
    "cache_features",
    "train_heatmap_model",
    "train_head_on_features",
    "predict_heatmaps",
    "predict_keypoints",
    "upsample_images",
    "to_upsampled",
    "from_upsampled",
]


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ScratchCNN(nn.Module):
    """A small fully-convolutional network learned from scratch; output stride 4.

    Layers: 3x3 convolutions, two of stride 2, then dilated 3x3 convolutions that widen the
    receptive field (about 60 px) without shrinking the map, then a 1x1 convolution to K logits.
    Input (N, 3, H, W) -> logits (N, K, ceil(H/4), ceil(W/4)).
    """

    stride = 4

    def __init__(self, n_keypoints: int, width: int = 32):
        super().__init__()
        if n_keypoints < 1 or width < 1:
            raise ValueError(f"n_keypoints, width: expected positive integers, got {n_keypoints}, {width}")
        w = width
        self.features = nn.Sequential(_conv(3, w), _conv(w, w, stride=2), _conv(w, 2 * w),
                                      _conv(2 * w, 2 * w, stride=2), _conv(2 * w, 2 * w, dilation=2),
                                      _conv(2 * w, 2 * w, dilation=4), _conv(2 * w, 2 * w, dilation=8))
        self.out = nn.Conv2d(2 * w, n_keypoints, 1)
        nn.init.constant_(self.out.bias, -4.0)  # start near the background probability

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


class UpsamplingHead(nn.Module):
    """Stride 16 -> 8 -> 4 with transposed convolutions plus lateral 1x1 skips (DeepLabCut-style
    deconvolution head). Input: list of feature maps at strides (4, 8, 16) with ``in_channels``;
    output (N, K, H/4, W/4) logits."""

    stride = 4

    def __init__(self, in_channels=(24, 40, 112), n_keypoints: int = 1, width: int = 64):
        super().__init__()
        if len(in_channels) != 3:
            raise ValueError(f"in_channels: expected the channels at strides (4, 8, 16), got {in_channels}")
        c4, c8, c16 = in_channels
        self.reduce16 = nn.Sequential(nn.Conv2d(c16, width, 1), nn.ReLU(inplace=True))
        self.up8 = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.lateral8 = nn.Conv2d(c8, width, 1)
        self.up4 = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
        self.lateral4 = nn.Conv2d(c4, width, 1)
        self.mix = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.out = nn.Conv2d(width, n_keypoints, 1)
        nn.init.constant_(self.out.bias, -4.0)

    def forward(self, features) -> torch.Tensor:
        f4, f8, f16 = features
        x = self.reduce16(f16)
        x = self.up8(x)[..., :f8.shape[-2], :f8.shape[-1]] + self.lateral8(f8)
        x = self.up4(torch.relu(x))[..., :f4.shape[-2], :f4.shape[-1]] + self.lateral4(f4)
        return self.out(self.mix(x))


class PoseNet(nn.Module):
    """backbone (image -> feature list) followed by a head (feature list -> heatmap logits)."""

    stride = 4

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def pretrained_pose_net(n_keypoints: int, width: int = 64) -> PoseNet:
    """EfficientNet-Lite0 (ImageNet weights, strides 4/8/16) + :class:`UpsamplingHead`, with the
    backbone frozen (see :func:`set_trainable_blocks` to fine-tune its last blocks)."""
    from .pretrained import efficientnet_lite0_features

    backbone = efficientnet_lite0_features((1, 2, 3))
    model = PoseNet(backbone, UpsamplingHead(tuple(backbone.feature_info.channels()), n_keypoints, width))
    set_trainable_blocks(model, 0)
    return model.eval()


def _block_index(backbone: nn.Module, level: int) -> int:
    """Index of the block whose output is the backbone's feature map number ``level``."""
    return int(backbone.feature_info.module_name()[level].split(".")[1])


@torch.no_grad()
def cache_trunk_features(model: PoseNet, images: torch.Tensor, batch_size: int = 16) -> list[torch.Tensor]:
    """The frozen trunk's outputs, computed once: the stride-4 and stride-8 maps [f4, f8].

    images: (N, 3, H, W) normalised. With :class:`TailPoseNet` the blocks after the stride-8 map
    and the head can then be fine-tuned without running (or back-propagating through) the
    expensive high-resolution layers again.
    """
    bb = model.backbone
    i4, i8 = _block_index(bb, 0), _block_index(bb, 1)
    f4s, f8s = [], []
    bb.eval()
    for start in range(0, images.shape[0], batch_size):
        x = bb.bn1(bb.conv_stem(images[start:start + batch_size]))
        for i in range(i8 + 1):
            x = bb.blocks[i](x)
            if i == i4:
                f4s.append(x)
        f8s.append(x)
    return [torch.cat(f4s), torch.cat(f8s)]


class TailPoseNet(nn.Module):
    """The last blocks of a :class:`PoseNet` backbone (after the stride-8 map) plus its head, fed
    with cached [f4, f8] from :func:`cache_trunk_features`; shares the PoseNet's parameters."""

    stride = 4

    def __init__(self, model: PoseNet):
        super().__init__()
        i8, i16 = _block_index(model.backbone, 1), _block_index(model.backbone, 2)
        self.tail = nn.Sequential(*list(model.backbone.blocks)[i8 + 1:i16 + 1])
        self.head = model.head

    def forward(self, cached) -> torch.Tensor:
        f4, f8 = cached
        return self.head([f4, f8, self.tail(f8)])


def set_trainable_blocks(model: PoseNet, n_last_blocks: int) -> PoseNet:
    """Freeze the backbone except its last ``n_last_blocks`` blocks (0: frozen features;
    the head always trains). Returns the model."""
    blocks = model.backbone.blocks
    if not 0 <= n_last_blocks <= len(blocks):
        raise ValueError(f"n_last_blocks: expected 0..{len(blocks)}, got {n_last_blocks}")
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    for block in list(blocks)[len(blocks) - n_last_blocks:]:
        for p in block.parameters():
            p.requires_grad_(True)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def cache_features(backbone: nn.Module, images: torch.Tensor, batch_size: int = 32) -> list[torch.Tensor]:
    """Run a frozen backbone once: images (N, 3, H, W) -> list of feature maps (N, C_l, H_l, W_l)."""
    backbone.eval()
    chunks = [backbone(images[i:i + batch_size]) for i in range(0, images.shape[0], batch_size)]
    return [torch.cat([c[level] for c in chunks]) for level in range(len(chunks[0]))]


def _bn_eval(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _check_training_data(n: int, keypoints, visible):
    kp = np.asarray(keypoints, dtype=float)
    if kp.shape[:1] != (n,) or kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints: expected ({n}, K, 2) px, got {kp.shape}")
    labelled = np.all(np.isfinite(kp), -1)
    vis = labelled if visible is None else np.asarray(visible, dtype=bool) & labelled
    if vis.shape != kp.shape[:2]:
        raise ValueError(f"visible: expected {kp.shape[:2]}, got {vis.shape}")
    return kp, vis


def _fit(module: nn.Module, n: int, batch_loss, *, epochs: int, batch_size: int, lr: float, weight_decay: float,
         seed: int, progress: bool, desc: str, max_cpu_seconds: float | None,
         frozen_bn: nn.Module | None) -> list[float]:
    """The one training loop: Adam with a cosine learning-rate schedule over ``epochs`` shuffled
    passes through ``n`` examples. batch_loss(idx, rng) -> scalar loss of the examples ``idx``;
    ``frozen_bn``: a sub-module whose batch norm stays in eval mode (tiny batches).
    Returns the mean loss per epoch."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    history = []
    cpu_start = time.process_time()
    bar = tqdm(range(epochs), desc=desc, disable=not progress)
    for _ in bar:
        module.train()
        if frozen_bn is not None:
            _bn_eval(frozen_bn)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = batch_loss(idx, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        history.append(total / n)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if max_cpu_seconds is not None and time.process_time() - cpu_start > max_cpu_seconds:
            break
    module.eval()
    return history


def train_heatmap_model(model: nn.Module, images: torch.Tensor, keypoints, visible=None, *, epochs: int = 10,
                        batch_size: int = 8, lr: float = 1e-3, weight_decay: float = 1e-4, sigma: float = 2.0,
                        pos_weight: float = 1.0, augment: "_augment.AugmentConfig | None" = None, seed: int = 0,
                        progress: bool = True, desc: str = "training", freeze_backbone_bn: bool = True,
                        max_cpu_seconds: float | None = None) -> list[float]:
    """Fit heatmap logits by minimising the Bernoulli loss with Adam.

    model: image (B, 3, H, W) -> logits (B, K, H/s, W/s) with attribute ``stride`` (s).
    images: (N, 3, H, W) float (already normalised); keypoints: (N, K, 2) px; visible: (N, K) bool
    (missing keypoints contribute no loss). sigma: target width in image px. augment: an
    :class:`~lecturekit.cnn.augment.AugmentConfig` or None. Batch norm of a ``backbone`` stays in eval
    mode (tiny batches). max_cpu_seconds: stop after the epoch that exceeds this process CPU time.
    Returns the mean loss per epoch.
    """
    kp, vis = _check_training_data(images.shape[0], keypoints, visible)
    H, W = images.shape[-2:]

    def batch_loss(idx, rng):
        x, k, v = images[idx], kp[idx], vis[idx]
        if augment is not None:
            x, k, v = _augment.augment_batch(x, k, v, rng, augment)
        y = torch.as_tensor(_heatmaps.heatmap_targets(k, (H, W), stride=model.stride, sigma=sigma, visible=v))
        return _heatmaps.heatmap_loss(model(x), y, torch.as_tensor(v), pos_weight=pos_weight)

    frozen = model.backbone if freeze_backbone_bn and hasattr(model, "backbone") else None
    return _fit(model, images.shape[0], batch_loss, epochs=epochs, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, seed=seed, progress=progress, desc=desc,
                max_cpu_seconds=max_cpu_seconds, frozen_bn=frozen)


def train_head_on_features(head: nn.Module, features: list[torch.Tensor], keypoints, visible, image_shape, *,
                           epochs: int = 30, batch_size: int = 16, lr: float = 2e-3, weight_decay: float = 1e-4,
                           sigma: float = 2.0, pos_weight: float = 1.0, seed: int = 0, progress: bool = True,
                           desc: str = "head", max_cpu_seconds: float | None = None) -> list[float]:
    """Train only the head on cached backbone features (frozen features, no augmentation).

    head: a feature list -> logits module with ``stride`` (an :class:`UpsamplingHead`, or a
    :class:`TailPoseNet` on cached [f4, f8] to fine-tune the last blocks too).
    features: list of (N, C_l, H_l, W_l) from :func:`cache_features`; keypoints (N, K, 2) px;
    image_shape: (H, W) px of the images the features came from; max_cpu_seconds: as in
    :func:`train_heatmap_model`. Returns the loss per epoch.
    """
    N = features[0].shape[0]
    kp, vis = _check_training_data(N, keypoints, visible)
    targets = torch.as_tensor(_heatmaps.heatmap_targets(kp, image_shape, stride=head.stride, sigma=sigma, visible=vis))
    mask = torch.as_tensor(vis)

    def batch_loss(idx, rng):
        idx = torch.as_tensor(idx)
        return _heatmaps.heatmap_loss(head([f[idx] for f in features]), targets[idx], mask[idx], pos_weight=pos_weight)

    return _fit(head, N, batch_loss, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                seed=seed, progress=progress, desc=desc, max_cpu_seconds=max_cpu_seconds,
                frozen_bn=getattr(head, "tail", None))


@torch.no_grad()
def predict_heatmaps(model: nn.Module, inputs, batch_size: int = 32, mirror=None, scales=None) -> np.ndarray:
    """Heatmap probabilities sigma(logits): inputs (N, 3, H, W) images, or a feature list for a head.

    mirror: optional (K,) from :func:`lecturekit.cnn.augment.mirror_pairs`: test-time flip augmentation,
    the heatmaps averaged with those of the left-right flipped images
    (:func:`lecturekit.cnn.heatmaps.average_with_mirrored`; images only, W a multiple of the stride
    unless ``scales`` is given).
    scales: optional sequence of positive factors: multi-scale test-time augmentation (images only).
    Each image is resized by each factor onto a canvas that holds all of it (width and height
    padded to a multiple of the stride), its heatmaps are resampled back onto the grid of the
    image itself and the results averaged; ``scales=[0.5]`` alone predicts at half resolution
    and returns heatmaps on the full-resolution grid.
    Returns (N, K, Hs, Ws) float32 numpy; with ``scales``, (Hs, Ws) = (ceil(H / stride), ceil(W / stride)).
    """
    if scales is not None:
        return _predict_multiscale(model, inputs, scales, batch_size, mirror)
    if mirror is not None:
        if isinstance(inputs, (list, tuple)):
            raise ValueError("inputs: flip averaging (mirror) needs images (N, 3, H, W), not cached features")
        h = predict_heatmaps(model, inputs, batch_size)
        h_flipped = predict_heatmaps(model, torch.flip(inputs, dims=(-1,)), batch_size)
        return _heatmaps.average_with_mirrored(h, h_flipped, mirror, inputs.shape[-1], model.stride).astype(np.float32)
    model.eval()
    if isinstance(inputs, (list, tuple)):
        n = inputs[0].shape[0]
        outs = [torch.sigmoid(model([f[i:i + batch_size] for f in inputs])) for i in range(0, n, batch_size)]
    else:
        outs = [torch.sigmoid(model(inputs[i:i + batch_size])) for i in range(0, inputs.shape[0], batch_size)]
    return torch.cat(outs).numpy()


def _predict_multiscale(model: nn.Module, images, scales, batch_size: int, mirror) -> np.ndarray:
    """:func:`predict_heatmaps` with ``scales``: resize, predict, resample back, average."""
    if not torch.is_tensor(images) or images.ndim != 4:
        raise ValueError("inputs: multi-scale averaging (scales) needs images (N, 3, H, W), not cached features")
    factors = np.atleast_1d(np.asarray(scales, dtype=float))
    if factors.ndim != 1 or len(factors) == 0 or not np.all(factors > 0):
        raise ValueError(f"scales: expected a non-empty sequence of positive factors, got {scales!r}")
    st = int(model.stride)
    H, W = images.shape[-2:]
    grid = (-(-H // st), -(-W // st))
    averaged = []
    for f in factors:
        # pixel centres 0..W-1 land on 0..f (W-1); the canvas rounds that span up to whole cells
        canvas = tuple(int(np.ceil((f * (n - 1) + 1) / st - 1e-9)) * st for n in (H, W))
        resize = np.array([[f, 0.0, 0.0], [0.0, f, 0.0]])
        x = images if (f == 1.0 and canvas == (H, W)) else _augment.warp_images(images, resize, canvas)
        h = predict_heatmaps(model, x, batch_size, mirror=mirror)
        if f == 1.0:  # the canvas only pads: its first cells are the image's own
            h = h[..., :grid[0], :grid[1]]
        else:
            back = _heatmaps.grid_affine(_augment.invert_affines(resize)[0], st)
            h = _augment.warp_images(torch.as_tensor(h), back, grid).numpy()
        averaged.append(h)
    return np.mean(averaged, axis=0).astype(np.float32)


def predict_keypoints(model: nn.Module, inputs, *, refine: str = "quadratic", batch_size: int = 32, mirror=None,
                      scales=None):
    """Heatmaps (optionally flip- and scale-averaged, see :func:`predict_heatmaps`) then decoding:
    returns (points (N, K, 2) image px, scores (N, K), heatmaps)."""
    h = predict_heatmaps(model, inputs, batch_size, mirror=mirror, scales=scales)
    pts, scores = _heatmaps.decode_heatmaps(h, model.stride, refine=refine)
    return pts, scores, h


def upsample_images(images: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Bilinear upsampling by an integer ``factor``: images (N, C, H, W) -> (N, C, factor H, factor W).

    Small animals need it: on a 128-px frame a 25-px rodent spans under two stride-16 feature cells;
    at 2x the pretrained features see it at twice the resolution. Pixel centres stay consistent
    (``align_corners=False``): original point p maps to ``factor * p + (factor - 1) / 2``
    (:func:`to_upsampled`).
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images: expected a tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor: expected an integer >= 1, got {factor}")
    if factor == 1:
        return images
    return torch.nn.functional.interpolate(images, scale_factor=int(factor), mode="bilinear", align_corners=False)


def to_upsampled(points, factor: int = 2) -> np.ndarray:
    """Keypoints (..., 2) px of the original frame -> px of the :func:`upsample_images` frame."""
    return np.asarray(points, dtype=float) * factor + (factor - 1) / 2.0


def from_upsampled(points, factor: int = 2) -> np.ndarray:
    """Inverse of :func:`to_upsampled`: (..., 2) px of the upsampled frame -> original px."""
    return (np.asarray(points, dtype=float) - (factor - 1) / 2.0) / factor
