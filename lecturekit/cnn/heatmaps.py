"""Keypoint heatmaps: targets, the Bernoulli loss and decoding (evaluation: ``lecturekit.metrics``)
(lecture: "Pose tracking with convolutional neural networks").

A heatmap model predicts, for every keypoint k and every output cell (i, j), the probability
that the keypoint lies there: a per-pixel Bernoulli, exactly lecture 1's logistic regression but
with the image-wide cross-correlation ``X * W`` in place of one patch's dot product.

Conventions (used by every function here):

* image coordinates ``(x, y)`` in pixels with the **centre** of pixel (row i, column j) at
  ``(x, y) = (j, i)`` (DeepLabCut's and OpenCV's convention);
* a heatmap of stride ``s`` has cell (i, j) centred at image point
  ``(j * s + (s - 1) / 2, i * s + (s - 1) / 2)``: the cell covers pixels ``j*s .. j*s + s - 1``.

Math:

* Gaussian target (SLEAP): ``Y_k(u) = exp(-||u - y_k||^2 / (2 sigma^2))``;
  disk target (DeepLabCut): ``Y_k(u) = 1[||u - y_k|| <= r]``.
* loss: the Bernoulli negative log-likelihood (binary cross-entropy) summed over cells,
  ``-sum_u [Y(u) log sigma(a_u) + (1 - Y(u)) log(1 - sigma(a_u))]``, averaged here.
* decoding: the argmax cell, then subpixel refinement: a parabola fitted to the log-heatmap
  around the peak (exact for a Gaussian peak) or the probability-weighted mean of a small
  window ("integral regression").
* quantisation floor: rounding to a grid of spacing ``s`` gives a uniform error on
  ``[-s/2, s/2]`` per axis, i.e. RMSE ``s / sqrt(12)`` per coordinate (``s / sqrt(6)`` as a 2D
  distance) -- what subpixel refinement removes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "cell_centers",
    "heatmap_targets",
    "heatmap_loss",
    "score_map_conv2d",
    "probability_map_conv2d",
    "score_map_patch_loop",
    "decode_argmax",
    "decode_heatmaps",
    "average_with_mirrored",
    "grid_affine",
    "subpixel_refine",
    "quantization_floor",
]


def _as_points(keypoints, name: str = "keypoints") -> np.ndarray:
    pts = np.asarray(keypoints, dtype=float)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"{name}: expected shape (N, K, 2) px, got {pts.shape}")
    return pts


def cell_centers(n_cells: int, stride: int) -> np.ndarray:
    """Image coordinates (px) of the centres of ``n_cells`` heatmap cells along one axis.

    n_cells: int >= 1; stride: int >= 1 (image pixels per heatmap cell). Returns (n_cells,) px.
    """
    if int(stride) < 1:
        raise ValueError(f"stride: expected an integer >= 1, got {stride}")
    if int(n_cells) < 1:
        raise ValueError(f"n_cells: expected an integer >= 1, got {n_cells}")
    return np.arange(int(n_cells)) * stride + (stride - 1) / 2.0


def heatmap_targets(keypoints, image_shape, *, stride: int = 1, sigma: float = 2.0, kind: str = "gaussian",
                    radius: float | None = None, visible=None) -> np.ndarray:
    """Target heatmaps, one channel per keypoint.

    keypoints: (N, K, 2) px (x, y); NaN marks a missing keypoint.
    image_shape: (H, W) of the image in px; the heatmap has (ceil(H/stride), ceil(W/stride)) cells.
    stride: image pixels per heatmap cell.
    sigma: Gaussian width in image px (kind="gaussian").
    kind: "gaussian" (SLEAP-style, values in (0, 1]) or "disk" (DeepLabCut-style, 0/1 inside ``radius``).
    radius: disk radius in image px (kind="disk"; default 2 * sigma).
    visible: optional (N, K) bool; False (or NaN coordinates) gives an all-zero channel.
    Returns (N, K, Hs, Ws) float32.
    """
    pts = _as_points(keypoints)
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise ValueError(f"image_shape: expected (H, W) with positive sizes, got {image_shape}")
    if kind not in ("gaussian", "disk"):
        raise ValueError(f"kind: expected 'gaussian' or 'disk', got {kind!r}")
    if not sigma > 0:
        raise ValueError(f"sigma: expected a positive width in px, got {sigma}")
    H, W = int(image_shape[0]), int(image_shape[1])
    Hs, Ws = -(-H // int(stride)), -(-W // int(stride))
    xs, ys = cell_centers(Ws, stride), cell_centers(Hs, stride)
    ok = np.all(np.isfinite(pts), axis=-1)
    if visible is not None:
        vis = np.asarray(visible, dtype=bool)
        if vis.shape != pts.shape[:2]:
            raise ValueError(f"visible: expected shape {pts.shape[:2]}, got {vis.shape}")
        ok &= vis
    px = np.where(ok, pts[..., 0], 0.0)[..., None, None]
    py = np.where(ok, pts[..., 1], 0.0)[..., None, None]
    d2 = (xs[None, None, None, :] - px) ** 2 + (ys[None, None, :, None] - py) ** 2
    if kind == "gaussian":
        out = np.exp(-d2 / (2.0 * sigma ** 2))
    else:
        r = 2.0 * sigma if radius is None else float(radius)
        out = (d2 <= r * r).astype(float)
    out[~ok] = 0.0
    return out.astype(np.float32)


def heatmap_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None,
                 pos_weight: float = 1.0) -> torch.Tensor:
    """Bernoulli negative log-likelihood (binary cross-entropy with logits), averaged per cell.

    logits: (N, K, Hs, Ws) the pre-sigmoid activations a_u; targets: same shape, values in [0, 1].
    mask: optional (N, K) (1 = labelled keypoint, 0 = missing: its channel is ignored).
    pos_weight: weight of the positive term (> 1 counters the many background cells).
    Returns a scalar tensor.
    """
    if logits.shape != targets.shape or logits.ndim != 4:
        raise ValueError(f"logits/targets: expected equal shapes (N, K, Hs, Ws), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    pw = torch.tensor(float(pos_weight), dtype=logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pw, reduction="none")
    if mask is None:
        return loss.mean()
    m = mask.to(logits.dtype)
    if m.shape != logits.shape[:2]:
        raise ValueError(f"mask: expected shape {tuple(logits.shape[:2])}, got {tuple(m.shape)}")
    per_channel = loss.mean(dim=(2, 3))
    return (per_channel * m).sum() / m.sum().clamp(min=1.0)


def _check_patch_problem(image, weights, padding):
    x = np.asarray(image, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"image: expected a grayscale image (H, W), got shape {x.shape}")
    if w.ndim != 2 or w.shape[0] % 2 == 0 or w.shape[1] % 2 == 0:
        raise ValueError(f"weights: expected (P_h, P_w) with odd sizes, got shape {w.shape}")
    if padding not in ("zeros", "edge"):
        raise ValueError(f"padding: expected 'zeros' or 'edge', got {padding!r}")
    return x, w


def score_map_conv2d(image, weights, bias: float, *, standardize: bool = False, eps: float = 1e-6,
                     padding: str = "zeros") -> np.ndarray:
    """Lecture 1's patch classifier applied to every patch at once, as cross-correlations.

    image: (H, W) grayscale; weights: (P_h, P_w), odd sizes; bias: float.
    Returns the logits a(i, j) (H, W) for the patch centred on every pixel (i, j):

    * ``standardize=False``: a = (X * W)(i, j) + b, one ``F.conv2d`` (a one-layer CNN);
    * ``standardize=True`` (lecture 1's per-patch standardisation): with the box filter
      ``B = 1 / (P_h P_w)``, mean m = X * B, variance v = X^2 * B - m^2 and
      a = ((X * W) - m sum(W)) / (sqrt(v) + eps) + b: still three cross-correlations.

    padding: "zeros" or "edge" (repeat the border pixels, as :mod:`lecturekit.patch_classifier.patches` does).
    """
    x, w = _check_patch_problem(image, weights, padding)
    ph, pw = w.shape[0] // 2, w.shape[1] // 2
    xt = torch.as_tensor(x)[None, None]
    xt = F.pad(xt, (pw, pw, ph, ph), mode="replicate" if padding == "edge" else "constant")
    wt = torch.as_tensor(w)[None, None]
    corr = F.conv2d(xt, wt)[0, 0]
    if not standardize:
        return (corr + float(bias)).numpy()
    box = torch.full_like(wt, 1.0 / w.size)
    mean = F.conv2d(xt, box)[0, 0]
    var = (F.conv2d(xt ** 2, box)[0, 0] - mean ** 2).clamp(min=0.0)
    return ((corr - mean * float(w.sum())) / (var.sqrt() + eps) + float(bias)).numpy()


def probability_map_conv2d(image, weights, bias: float, **kwargs) -> np.ndarray:
    """sigma(:func:`score_map_conv2d`): the probability map (H, W) of the patch classifier."""
    return 1.0 / (1.0 + np.exp(-score_map_conv2d(image, weights, bias, **kwargs)))


def score_map_patch_loop(image, weights, bias: float, *, standardize: bool = False, eps: float = 1e-6,
                         padding: str = "zeros") -> np.ndarray:
    """The same logits by an explicit loop over every patch: the oracle for :func:`score_map_conv2d`.

    image: (H, W); weights: (P_h, P_w) odd. Returns (H, W).
    """
    x, w = _check_patch_problem(image, weights, padding)
    ph, pw = w.shape[0] // 2, w.shape[1] // 2
    padded = np.pad(x, ((ph, ph), (pw, pw)), mode="edge" if padding == "edge" else "constant")
    out = np.empty(x.shape)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            patch = padded[i:i + w.shape[0], j:j + w.shape[1]]
            if standardize:
                patch = (patch - patch.mean()) / (patch.std() + eps)
            out[i, j] = np.sum(patch * w) + bias
    return out


def _as_heatmaps(heatmaps) -> np.ndarray:
    h = heatmaps.detach().cpu().numpy() if hasattr(heatmaps, "detach") else np.asarray(heatmaps)
    h = np.asarray(h, dtype=float)
    if h.ndim != 4:
        raise ValueError(f"heatmaps: expected shape (N, K, Hs, Ws), got {h.shape}")
    return h


def decode_argmax(heatmaps, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The argmax cell of every heatmap, in image px.

    heatmaps: (N, K, Hs, Ws) (probabilities or logits). Returns (points (N, K, 2) px, scores (N, K)).
    """
    h = _as_heatmaps(heatmaps)
    N, K, Hs, Ws = h.shape
    flat = h.reshape(N, K, -1)
    idx = flat.argmax(-1)
    i, j = np.divmod(idx, Ws)
    pts = np.stack([j * stride + (stride - 1) / 2.0, i * stride + (stride - 1) / 2.0], axis=-1)
    return pts, np.take_along_axis(flat, idx[..., None], -1)[..., 0]


def decode_heatmaps(heatmaps, stride: int = 1, *, refine: str = "quadratic", window: int = 1,
                    logits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Argmax plus subpixel refinement.

    heatmaps: (N, K, Hs, Ws) probabilities in (0, 1] (or logits if ``logits=True``).
    stride: image px per cell.
    refine: "none" (cell centre), "quadratic" (parabola through the log-heatmap at the peak and its
        two neighbours per axis: exact for a Gaussian peak) or "integral" (probability-weighted mean
        over the (2 window + 1)^2 cells around the peak).
    window: half-width of the integral window in cells.
    Returns (points (N, K, 2) image px, scores (N, K) = heatmap value at the peak).
    """
    if refine not in ("none", "quadratic", "integral"):
        raise ValueError(f"refine: expected 'none', 'quadratic' or 'integral', got {refine!r}")
    h = _as_heatmaps(heatmaps)
    if logits:
        h = 1.0 / (1.0 + np.exp(-h))
    N, K, Hs, Ws = h.shape
    flat = h.reshape(N, K, -1)
    idx = flat.argmax(-1)
    ii, jj = np.divmod(idx, Ws)
    scores = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    return subpixel_refine(h, ii, jj, stride, refine=refine, window=window), scores


def average_with_mirrored(heatmaps, mirrored_heatmaps, mirror, image_width: int, stride: int = 1) -> np.ndarray:
    """Test-time flip augmentation: average the heatmaps of an image with those of its mirror image.

    heatmaps, mirrored_heatmaps: (N, K, Hs, Ws), the second predicted on the left-right flipped
    images; mirror: (K,) int from :func:`lecturekit.cnn.augment.mirror_pairs` (a flipped left paw is a
    right paw); image_width: W px, a multiple of ``stride`` so that cell j of the flipped image
    is exactly cell Ws - 1 - j of the original. Returns (N, K, Hs, Ws).
    """
    h, hm = _as_heatmaps(heatmaps), _as_heatmaps(mirrored_heatmaps)
    if h.shape != hm.shape:
        raise ValueError(f"mirrored_heatmaps: expected shape {h.shape}, got {hm.shape}")
    if int(image_width) % int(stride) or int(image_width) // int(stride) != h.shape[-1]:
        raise ValueError(f"image_width: expected {h.shape[-1]} cells x stride {stride} px, got {image_width} px "
                         "(pad the images to a multiple of the stride)")
    return 0.5 * (h + hm[:, np.asarray(mirror, dtype=int)][..., ::-1])


def grid_affine(A, stride: int) -> np.ndarray:
    """The same affine map in heatmap-cell coordinates: cell (i, j) sits at image px
    (stride j + (stride - 1) / 2, stride i + (stride - 1) / 2) (:func:`cell_centers`).

    A: (2, 3) map of image px; stride: int >= 1. Returns (2, 3), G = S A S^-1 with S: px -> cells,
    so that resampling heatmaps with G (:func:`lecturekit.cnn.augment.warp_images`) moves them as A
    moves the image.
    """
    A = np.asarray(A, dtype=float)
    if A.shape != (2, 3):
        raise ValueError(f"A: expected a (2, 3) affine map of image px, got shape {A.shape}")
    if int(stride) < 1:
        raise ValueError(f"stride: expected an integer >= 1, got {stride}")
    st = float(int(stride))
    S = np.array([[1 / st, 0, -(st - 1) / (2 * st)], [0, 1 / st, -(st - 1) / (2 * st)], [0, 0, 1]])
    return (S @ np.vstack([A, [0, 0, 1]]) @ np.linalg.inv(S))[:2]


def subpixel_refine(heatmaps, ii, jj, stride: int = 1, *, refine: str = "quadratic", window: int = 1) -> np.ndarray:
    """Refine given peak cells to subpixel image positions.

    heatmaps: (N, K, Hs, Ws) probabilities; ii, jj: (N, K) int row / column of the peak cell
    (e.g. the argmax, or the tree MAP of :mod:`lecturekit.cnn.pictorial`). refine, window: as in
    :func:`decode_heatmaps`. Returns (N, K, 2) image px.
    """
    if refine not in ("none", "quadratic", "integral"):
        raise ValueError(f"refine: expected 'none', 'quadratic' or 'integral', got {refine!r}")
    h = _as_heatmaps(heatmaps)
    N, K, Hs, Ws = h.shape
    ii = np.asarray(ii, dtype=int)
    jj = np.asarray(jj, dtype=int)
    if ii.shape != (N, K) or jj.shape != (N, K):
        raise ValueError(f"ii, jj: expected shape ({N}, {K}), got {ii.shape} and {jj.shape}")
    di = np.zeros((N, K))
    dj = np.zeros((N, K))
    if refine == "quadratic":
        logh = np.log(np.clip(h, 1e-10, None))
        n_idx, k_idx = np.meshgrid(np.arange(N), np.arange(K), indexing="ij")

        def offset(center, minus, plus, inside):
            denom = minus - 2.0 * center + plus
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.where(inside & (denom < 0), 0.5 * (minus - plus) / denom, 0.0)
            return np.clip(d, -0.5, 0.5)

        c = logh[n_idx, k_idx, ii, jj]
        in_j = (jj > 0) & (jj < Ws - 1)
        in_i = (ii > 0) & (ii < Hs - 1)
        jm, jp = np.clip(jj - 1, 0, Ws - 1), np.clip(jj + 1, 0, Ws - 1)
        im, ip = np.clip(ii - 1, 0, Hs - 1), np.clip(ii + 1, 0, Hs - 1)
        dj = offset(c, logh[n_idx, k_idx, ii, jm], logh[n_idx, k_idx, ii, jp], in_j)
        di = offset(c, logh[n_idx, k_idx, im, jj], logh[n_idx, k_idx, ip, jj], in_i)
    elif refine == "integral":
        r = int(window)
        for n in range(N):
            for k in range(K):
                i0, i1 = max(ii[n, k] - r, 0), min(ii[n, k] + r + 1, Hs)
                j0, j1 = max(jj[n, k] - r, 0), min(jj[n, k] + r + 1, Ws)
                patch = h[n, k, i0:i1, j0:j1]
                total = patch.sum()
                if total > 0:
                    gi, gj = np.mgrid[i0:i1, j0:j1]
                    di[n, k] = (patch * gi).sum() / total - ii[n, k]
                    dj[n, k] = (patch * gj).sum() / total - jj[n, k]
    x = (jj + dj) * stride + (stride - 1) / 2.0
    y = (ii + di) * stride + (stride - 1) / 2.0
    return np.stack([x, y], axis=-1)


def quantization_floor(stride: float, two_d: bool = False) -> float:
    """RMSE (px) of rounding to a grid of spacing ``stride``: stride/sqrt(12) per coordinate,
    stride/sqrt(6) as a 2D Euclidean distance (``two_d=True``)."""
    if not stride > 0:
        raise ValueError(f"stride: expected a positive spacing in px, got {stride}")
    return float(stride / math.sqrt(6.0 if two_d else 12.0))
