"""Keypoint-aware data augmentation (lecture: "Data augmentation").

"A cropped, rotated and scaled paw is still a paw; a partially occluded paw is still a paw."
Every geometric alteration of the image must move the labels with it. Here each geometric
augmentation is one 2x3 affine map ``A`` acting on image coordinates (pixel centres at integers):

    p' = A [p; 1],   A = [s R(theta) | c + t - s R(theta) c]

(rotation by theta and scaling by s about the centre c, then a translation t; a crop is the same
map with a smaller output size). Images are resampled by the inverse map (``grid_sample`` with
``align_corners=True``, which puts normalised -1 / +1 on the centres of the first / last pixel),
keypoints are mapped forward by ``A``; keypoints that leave the output image become invisible.
Photometric augmentations (brightness, contrast, occluding rectangles) leave keypoints unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "affine_matrix",
    "transform_keypoints",
    "invert_affines",
    "warp_images",
    "random_affines",
    "mirror_pairs",
    "flip_horizontal",
    "random_flips",
    "occlude",
    "adjust_brightness_contrast",
    "AugmentConfig",
    "augment_batch",
]


def affine_matrix(angle_deg: float = 0.0, scale: float = 1.0, translation=(0.0, 0.0), center=(0.0, 0.0)) -> np.ndarray:
    """The 2x3 map p -> s R (p - c) + c + t in image px; a positive angle turns the x axis towards
    the y axis (clockwise on screen, where y points down).

    angle_deg: degrees; scale: > 0; translation, center: (2,) px. Returns (2, 3) float64.
    """
    if not scale > 0:
        raise ValueError(f"scale: expected a positive factor, got {scale}")
    th = np.deg2rad(angle_deg)
    R = scale * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.asarray(center, dtype=float)
    t = np.asarray(translation, dtype=float)
    if c.shape != (2,) or t.shape != (2,):
        raise ValueError(f"center/translation: expected (2,) px, got {c.shape} and {t.shape}")
    return np.concatenate([R, (c + t - R @ c)[:, None]], axis=1)


def _as_affines(A, n: int | None = None) -> np.ndarray:
    A = np.asarray(A, dtype=float)
    if A.ndim == 2:
        A = A[None]
    if A.ndim != 3 or A.shape[1:] != (2, 3):
        raise ValueError(f"A: expected (N, 2, 3) affine maps, got {A.shape}")
    if n is not None and A.shape[0] not in (1, n):
        raise ValueError(f"A: expected {n} maps (or 1), got {A.shape[0]}")
    return A


def transform_keypoints(keypoints, A) -> np.ndarray:
    """Map keypoints through affine maps: keypoints (N, K, 2) px, A (N, 2, 3) or (2, 3) -> (N, K, 2) px.

    NaN keypoints stay NaN.
    """
    pts = np.asarray(keypoints, dtype=float)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"keypoints: expected (N, K, 2) px, got {pts.shape}")
    A = _as_affines(A, pts.shape[0])
    return np.einsum("nij,nkj->nki", A[:, :, :2], pts) + A[:, None, :, 2]


def _homogeneous(A: np.ndarray) -> np.ndarray:
    """(N, 2, 3) affine maps -> (N, 3, 3) with the row (0, 0, 1) appended."""
    return np.concatenate([A, np.tile([0.0, 0.0, 1.0], (A.shape[0], 1, 1))], axis=1)


def invert_affines(A) -> np.ndarray:
    """The inverse maps: A (N, 2, 3) or (2, 3) px -> px, returns (N, 2, 3) with A^-1 (A p) = p."""
    return np.linalg.inv(_homogeneous(_as_affines(A)))[:, :2]


def warp_images(images: torch.Tensor, A, out_shape=None, fill: float = 0.0) -> torch.Tensor:
    """Resample images so that input pixel p lands on output pixel A p (bilinear).

    images: (N, C, H, W) float tensor; A: (N, 2, 3) or (2, 3) px maps (input -> output);
    out_shape: (Ho, Wo) px, default (H, W); fill: value outside the input image.
    Returns (N, C, Ho, Wo).
    """
    if not torch.is_tensor(images) or images.ndim != 4:
        raise ValueError("images: expected a float tensor (N, C, H, W)")
    N, C, H, W = images.shape
    Ho, Wo = (H, W) if out_shape is None else (int(out_shape[0]), int(out_shape[1]))
    A = _as_affines(A, N)
    A = np.broadcast_to(A, (N, 2, 3))
    Minv = np.linalg.inv(_homogeneous(A))  # output px -> input px
    # normalised coords (align_corners=True): u = 2 x / (W - 1) - 1
    def to_norm(w, h):
        return np.array([[2.0 / max(w - 1, 1), 0, -1.0], [0, 2.0 / max(h - 1, 1), -1.0], [0, 0, 1.0]])
    theta = to_norm(W, H)[None] @ Minv @ np.linalg.inv(to_norm(Wo, Ho))[None]
    grid = F.affine_grid(torch.as_tensor(theta[:, :2], dtype=images.dtype), (N, C, Ho, Wo), align_corners=True)
    if fill == 0.0:
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    ones = torch.ones((N, 1, H, W), dtype=images.dtype)
    out = F.grid_sample(torch.cat([images, ones], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    inside = out[:, -1:]
    return out[:, :-1] + (1.0 - inside) * fill


def random_affines(rng: np.random.Generator, n: int, image_shape, *, rotation_deg: float = 20.0,
                   scale_range=(0.85, 1.15), translate_frac: float = 0.08, center=None) -> np.ndarray:
    """n random rotation + scale + translation maps about the image centre (or ``center`` (n, 2) px).

    image_shape: (H, W) px. Angle ~ U(-rotation_deg, rotation_deg), scale ~ log-uniform on
    scale_range, translation ~ U(-translate_frac, translate_frac) * (W, H). Returns (n, 2, 3).
    """
    H, W = image_shape
    ang = rng.uniform(-rotation_deg, rotation_deg, n)
    sc = np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]), n))
    tr = rng.uniform(-translate_frac, translate_frac, (n, 2)) * np.array([W, H])
    cen = np.tile([(W - 1) / 2.0, (H - 1) / 2.0], (n, 1)) if center is None else np.asarray(center, float)
    return np.stack([affine_matrix(a, s, t, c) for a, s, t, c in zip(ang, sc, tr, cen)])


def mirror_pairs(names) -> np.ndarray:
    """Which keypoint each keypoint becomes in a mirror image: "left..." <-> "right..." by name.

    names: K keypoint names (e.g. ``left_ear``/``right_ear``, or DeepLabCut's ``leftear``/``rightear``;
    case-insensitive). Returns (K,) int, ``mirror[k]`` = the index of k's mirror partner (k itself
    for a midline part such as the nose).
    """
    lower = [str(n).lower() for n in names]
    index = {n: k for k, n in enumerate(lower)}
    swap = {"left": "right", "right": "left"}
    mirror = np.arange(len(lower))
    for k, n in enumerate(lower):
        for side, other in swap.items():
            if side in n:
                partner = n.replace(side, other)
                if partner in index:
                    mirror[k] = index[partner]
                break
    return mirror


def flip_horizontal(images: torch.Tensor, keypoints, visible, mirror) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Mirror images left-right; keypoints follow (x -> W - 1 - x) and swap sides (a mirrored left
    paw is a right paw).

    images: (N, C, H, W); keypoints: (N, K, 2) px; visible: (N, K) bool; mirror: (K,) int from
    :func:`mirror_pairs`. Returns (images, keypoints, visible) of the same shapes.
    """
    kp = np.asarray(keypoints, dtype=float)
    mirror = np.asarray(mirror, dtype=int)
    if mirror.shape != kp.shape[1:2] or not np.array_equal(mirror[mirror], np.arange(len(mirror))):
        raise ValueError(f"mirror: expected a ({kp.shape[1]},) permutation that is its own inverse, got {mirror}")
    W = images.shape[-1]
    out = kp[:, mirror].copy()
    out[..., 0] = W - 1 - out[..., 0]
    return torch.flip(images, dims=(-1,)), out, np.asarray(visible, dtype=bool)[:, mirror]


def random_flips(images: torch.Tensor, keypoints, visible, rng: np.random.Generator, mirror, prob: float = 0.5):
    """:func:`flip_horizontal` applied to each image independently with probability ``prob``.
    Shapes as in :func:`flip_horizontal`; returns new arrays (the inputs are not changed)."""
    chosen = rng.random(images.shape[0]) < prob
    kp = np.array(keypoints, dtype=float)
    vis = np.array(visible, dtype=bool)
    out = images.clone()
    if chosen.any():
        picked = torch.as_tensor(chosen)
        flipped, kp[chosen], vis[chosen] = flip_horizontal(images[picked], kp[chosen], vis[chosen], mirror)
        out[picked] = flipped
    return out, kp, vis


def occlude(images: torch.Tensor, rng: np.random.Generator, *, prob: float = 0.5,
            max_frac: float = 0.25) -> torch.Tensor:
    """Paste one grey rectangle (side up to ``max_frac`` of the image) into each image with probability ``prob``.

    images: (N, C, H, W) float. Returns a new tensor; keypoints stay labelled (an occluded paw is still a paw).
    """
    out = images.clone()
    N, C, H, W = images.shape
    for n in range(N):
        if rng.random() < prob:
            h = int(rng.integers(2, max(3, int(max_frac * H))))
            w = int(rng.integers(2, max(3, int(max_frac * W))))
            i, j = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            out[n, :, i:i + h, j:j + w] = images[n].mean(dim=(1, 2), keepdim=True)
    return out


def adjust_brightness_contrast(images: torch.Tensor, rng: np.random.Generator, *, brightness: float = 0.2,
                               contrast: float = 0.2) -> torch.Tensor:
    """x -> c (x - mean) + mean + b per image, c ~ U(1 - contrast, 1 + contrast), b ~ U(-brightness, brightness)
    (in the units of the images, e.g. standardised). images: (N, C, H, W) float."""
    N = images.shape[0]
    c = torch.as_tensor(rng.uniform(1 - contrast, 1 + contrast, (N, 1, 1, 1)), dtype=images.dtype)
    b = torch.as_tensor(rng.uniform(-brightness, brightness, (N, 1, 1, 1)), dtype=images.dtype)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return c * (images - mean) + mean + b


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths of every augmentation (0 switches one off)."""

    rotation_deg: float = 20.0
    scale_range: tuple = (0.85, 1.15)
    translate_frac: float = 0.08
    occlusion_prob: float = 0.3
    occlusion_frac: float = 0.25
    brightness: float = 0.2
    contrast: float = 0.2


def augment_batch(images: torch.Tensor, keypoints, visible, rng: np.random.Generator,
                  config: AugmentConfig = AugmentConfig()):
    """One random augmentation per image, keypoints moved consistently.

    images: (N, C, H, W) float; keypoints: (N, K, 2) px; visible: (N, K) bool.
    Returns (images (N, C, H, W), keypoints (N, K, 2) px, visible (N, K) bool); keypoints that
    leave the image are marked invisible.
    """
    N, C, H, W = images.shape
    kp = np.asarray(keypoints, dtype=float)
    vis = np.asarray(visible, dtype=bool)
    if kp.shape[:1] != (N,) or vis.shape != kp.shape[:2]:
        raise ValueError(f"keypoints/visible: expected ({N}, K, 2) and ({N}, K), got {kp.shape} and {vis.shape}")
    A = random_affines(rng, N, (H, W), rotation_deg=config.rotation_deg, scale_range=config.scale_range,
                       translate_frac=config.translate_frac)
    fill = float(images.mean())
    out = warp_images(images, A, fill=fill)
    kp2 = transform_keypoints(kp, A)
    inside = (kp2[..., 0] >= 0) & (kp2[..., 0] <= W - 1) & (kp2[..., 1] >= 0) & (kp2[..., 1] <= H - 1)
    vis2 = vis & inside & np.all(np.isfinite(kp2), -1)
    if config.occlusion_prob > 0:
        out = occlude(out, rng, prob=config.occlusion_prob, max_frac=config.occlusion_frac)
    if config.brightness > 0 or config.contrast > 0:
        out = adjust_brightness_contrast(out, rng, brightness=config.brightness, contrast=config.contrast)
    return out, kp2, vis2
