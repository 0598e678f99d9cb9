"""What a CNN learned, made visible (lecture: "Feature learning in CNNs").

* :func:`first_layer_filters`: the first convolution's kernels as small RGB images;
* :func:`features_at_points`: the feature vector of a map at given image points (bilinear);
* :func:`pca`: principal components by the SVD of the centred data, to project features to 2D.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["first_layer_filters", "features_at_points", "pca"]


def first_layer_filters(weight) -> np.ndarray:
    """Kernels (C_out, 3, kh, kw) -> (C_out, kh, kw, 3) in [0, 1], each scaled symmetrically
    about 0.5 by its own largest absolute weight (grey = 0), ready for ``imshow``."""
    w = weight.detach().cpu().numpy() if torch.is_tensor(weight) else np.asarray(weight, dtype=float)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"weight: expected (C_out, 3, kh, kw), got {w.shape}")
    scale = np.abs(w).reshape(len(w), -1).max(1)[:, None, None, None]
    return (0.5 + 0.5 * w / np.where(scale > 0, scale, 1.0)).transpose(0, 2, 3, 1)


def features_at_points(feature_map, points, stride: float) -> np.ndarray:
    """Bilinear samples of a feature map at image points.

    feature_map: (C, h, w) tensor or array, cell (i, j) centred at image px
    (stride j + (stride - 1) / 2, stride i + (stride - 1) / 2); points: (P, 2) image px (x, y).
    Returns (P, C). Points outside the map read the nearest border cell.
    """
    f = torch.as_tensor(np.asarray(feature_map, dtype=np.float32)) if not torch.is_tensor(feature_map) \
        else feature_map.detach().float()
    if f.ndim != 3:
        raise ValueError(f"feature_map: expected (C, h, w), got {tuple(f.shape)}")
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"points: expected (P, 2) px, got {p.shape}")
    C, h, w = f.shape
    cells = (p - (stride - 1) / 2.0) / stride  # (x, y) in cell units
    norm = np.stack([2 * cells[:, 0] / max(w - 1, 1) - 1, 2 * cells[:, 1] / max(h - 1, 1) - 1], -1)
    grid = torch.as_tensor(norm, dtype=torch.float32)[None, :, None, :]
    out = F.grid_sample(f[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, :, 0].T.numpy()


def pca(X, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Principal component analysis by the SVD of the centred data.

    X: (N, D). Returns (scores (N, n), components (n, D) orthonormal rows, explained variance
    ratio (n,)). Signs follow the convention that each component's largest-|.| entry is positive.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X: expected (N, D) with N >= 2, got {X.shape}")
    if not 1 <= n_components <= min(X.shape):
        raise ValueError(f"n_components: expected 1..{min(X.shape)}, got {n_components}")
    Xc = X - X.mean(0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    comps = Vt[:n_components]
    comps = comps * np.sign(comps[np.arange(n_components), np.abs(comps).argmax(1)])[:, None]
    var = s ** 2
    return Xc @ comps.T, comps, var[:n_components] / var.sum()
