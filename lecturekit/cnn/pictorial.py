"""Structured prediction with pictorial structures (lecture: "Structured prediction: how do we
aggregate key point probabilities for each pixel?"; Felzenszwalb & Huttenlocher 2004/2005).

Each keypoint k has a unary score over heatmap cells, ``U_k(l) = log p_k(l)`` (the CNN's
heatmap), and each skeleton edge (child c, parent p) a Gaussian spring on the offset,

    S_cp(l_c, l_p) = -w_x (x_c - x_p - mu_x)^2 - w_y (y_c - y_p - mu_y)^2,   w = 1 / (2 var).

The MAP pose ``argmax_l sum_k U_k(l_k) + sum_edges S_cp`` is exact on a tree by max-product
(dynamic programming from the leaves to the root):

    m_c(l_p) = max_{l_c} [ U_c(l_c) + sum_{children d of c} m_d(l_c) + S_cp(l_c, l_p) ].

The max over l_c of a function plus a quadratic is a generalised **distance transform**; it is
separable (rows, then columns) and each 1D transform takes O(n) with the lower envelope of
parabolas, so a message costs O(H W) instead of O((H W)^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import heatmaps as _heatmaps

__all__ = ["PairwiseModel", "fit_pairwise", "distance_transform_1d", "max_transform_2d", "tree_order",
           "tree_map", "tree_map_batch", "tempered_unaries", "pictorial_decode", "swap_count", "decoder_errors"]


@dataclass(frozen=True)
class PairwiseModel:
    """Gaussian springs on the skeleton tree.

    parents: (K,) int, -1 for the root; offset_mean: (K, 2) px, mean of (child - parent) (0 for the
    root); offset_var: (K, 2) px^2 per axis.
    """

    parents: tuple
    offset_mean: np.ndarray
    offset_var: np.ndarray


def tree_order(parents) -> list[int]:
    """Keypoints in breadth-first order from the root (parents before children).

    parents: (K,) int with exactly one -1. Raises ValueError if it is not a tree.
    """
    par = [int(p) for p in parents]
    K = len(par)
    roots = [k for k in range(K) if par[k] == -1]
    if len(roots) != 1:
        raise ValueError(f"parents: expected exactly one root (-1), got {len(roots)}")
    if any(not -1 <= p < K for p in par):
        raise ValueError(f"parents: entries must be -1 or in 0..{K - 1}, got {par}")
    order, frontier = [], roots
    while frontier:
        order.extend(frontier)
        frontier = [k for k in range(K) if par[k] in frontier]
    if len(order) != K:
        raise ValueError("parents: not a tree (a cycle, or keypoints not connected to the root)")
    return order


def fit_pairwise(keypoints, parents, min_var: float = 1.0) -> PairwiseModel:
    """Estimate the springs from labelled poses: mean and variance of (child - parent) offsets.

    keypoints: (N, K, 2) px (NaN = missing); parents: (K,) int. min_var: floor on the variance (px^2).
    """
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim != 3 or kp.shape[-1] != 2 or kp.shape[1] != len(parents):
        raise ValueError(f"keypoints: expected (N, {len(parents)}, 2) px, got {kp.shape}")
    tree_order(parents)
    K = kp.shape[1]
    mean = np.zeros((K, 2))
    var = np.full((K, 2), float(min_var))
    for c, p in enumerate(parents):
        if p < 0:
            continue
        d = kp[:, c] - kp[:, p]
        d = d[np.all(np.isfinite(d), -1)]
        if len(d) >= 2:
            mean[c] = d.mean(0)
            var[c] = np.maximum(d.var(0), min_var)
    return PairwiseModel(tuple(int(p) for p in parents), mean, var)


def distance_transform_1d(f, weight: float, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """M(p) = max_q f(q) - weight (p + shift - q)^2 for p = 0..n-1, in O(n) (lower envelope).

    f: (n,) finite scores; weight > 0; shift: real offset in cells. Returns (M (n,), argmax q (n,) int).
    """
    f = np.asarray(f, dtype=float)
    if f.ndim != 1 or f.size == 0 or not np.all(np.isfinite(f)):
        raise ValueError(f"f: expected a finite 1D array, got shape {f.shape}")
    if not weight > 0:
        raise ValueError(f"weight: expected > 0, got {weight}")
    n = f.size
    g = -f  # minimisation form: D(r) = min_q g(q) + w (r - q)^2
    v = np.zeros(n, dtype=int)  # centres of the parabolas in the envelope
    z = np.empty(n + 1)  # boundaries between them
    k = 0
    z[0], z[1] = -np.inf, np.inf
    for q in range(1, n):
        s = ((g[q] + weight * q * q) - (g[v[k]] + weight * v[k] * v[k])) / (2.0 * weight * (q - v[k]))
        while s <= z[k]:  # parabola v[k] is hidden by q: drop it (never the first, z[0] = -inf)
            k -= 1
            s = ((g[q] + weight * q * q) - (g[v[k]] + weight * v[k] * v[k])) / (2.0 * weight * (q - v[k]))
        k += 1
        v[k] = q
        z[k], z[k + 1] = s, np.inf
    values = np.empty(n)
    arg = np.empty(n, dtype=int)
    j = 0
    for p in range(n):  # query points r = p + shift are increasing
        r = p + shift
        while z[j + 1] < r:
            j += 1
        arg[p] = v[j]
        values[p] = f[v[j]] - weight * (r - v[j]) ** 2
    return values, arg


def max_transform_2d(f, weight_xy, shift_xy=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M(i, j) = max_{a, b} f(a, b) - w_x (j + s_x - b)^2 - w_y (i + s_y - a)^2, separably.

    f: (H, W) finite; weight_xy: (w_x, w_y) > 0 per cell^2; shift_xy: (s_x, s_y) cells.
    Returns (M (H, W), argmax row a (H, W), argmax column b (H, W)).
    """
    f = np.asarray(f, dtype=float)
    if f.ndim != 2:
        raise ValueError(f"f: expected (H, W), got {f.shape}")
    H, W = f.shape
    wx, wy = weight_xy
    sx, sy = shift_xy
    rows = np.empty((H, W))
    arg_b = np.empty((H, W), dtype=int)
    for a in range(H):  # along x for every row a: h(a, j) = max_b f(a, b) - w_x (j + s_x - b)^2
        rows[a], arg_b[a] = distance_transform_1d(f[a], wx, sx)
    out = np.empty((H, W))
    arg_a = np.empty((H, W), dtype=int)
    for j in range(W):  # along y for every column j
        out[:, j], arg_a[:, j] = distance_transform_1d(rows[:, j], wy, sy)
    return out, arg_a, arg_b[arg_a, np.arange(W)[None, :]]


def _tree_problem(unaries, parents, offset_mean, weights, *, batched: bool):
    """The checked arrays of a tree-MAP problem: unaries ((N,) K, H, W) finite, offset_mean, weights."""
    U = np.asarray(unaries, dtype=float)
    lead = "N, " if batched else ""
    if U.ndim != 3 + batched or U.shape[int(batched)] != len(parents):
        raise ValueError(f"unaries: expected ({lead}{len(parents)}, H, W), got {U.shape}")
    if not np.all(np.isfinite(U)):
        raise ValueError("unaries: must be finite (clip log-probabilities, e.g. log(max(p, 1e-6)))")
    return U, np.asarray(offset_mean, dtype=float), np.asarray(weights, dtype=float)


def tree_map(unaries, parents, offset_mean, weights) -> tuple[np.ndarray, float]:
    """Exact MAP cells of a pictorial structure by max-product with distance transforms.

    unaries: (K, H, W) finite log-scores U_k; parents: (K,) int, -1 root; offset_mean: (K, 2)
    cells (x, y) mean of child - parent; weights: (K, 2) (w_x, w_y) > 0 per cell^2.
    Returns (cells (K, 2) int (row i, column j), the maximal total score).
    """
    U, mu, w = _tree_problem(unaries, parents, offset_mean, weights, batched=False)
    order = tree_order(parents)
    K, H, W = U.shape
    belief = U.copy()
    arg = {}
    for c in reversed(order):  # leaves first: send m_c to the parent
        p = parents[c]
        if p < 0:
            continue
        msg, a, b = max_transform_2d(belief[c], (w[c, 0], w[c, 1]), (mu[c, 0], mu[c, 1]))
        belief[p] += msg
        arg[c] = (a, b)
    root = order[0]
    cells = np.zeros((K, 2), dtype=int)
    cells[root] = np.unravel_index(np.argmax(belief[root]), (H, W))
    best = float(belief[root][tuple(cells[root])])
    for c in order[1:]:  # root first: read the best child cell given the parent's
        i, j = cells[parents[c]]
        cells[c] = arg[c][0][i, j], arg[c][1][i, j]
    return cells, best


def _max_transform_last_axis(f: np.ndarray, weight: float, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Batched 1D transform along the last axis by brute force over all (p, q) pairs:
    M[..., p] = max_q f[..., q] - weight (p + shift - q)^2. O(n^2) per line, but vectorised."""
    import torch

    n = f.shape[-1]
    p = np.arange(n)[:, None] + shift
    penalty = torch.as_tensor(weight * (p - np.arange(n)[None, :]) ** 2)  # (p, q)
    values, arg = (torch.as_tensor(f)[..., None, :] - penalty).max(-1)
    return values.numpy(), arg.numpy()


def tree_map_batch(unaries, parents, offset_mean, weights) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tree_map` for a batch of frames at once (same result, vectorised over frames).

    unaries: (N, K, H, W) finite log-scores; parents, offset_mean (K, 2) cells, weights (K, 2) per
    cell^2 as in :func:`tree_map`. Each message is computed separably (rows, then columns) by a
    brute-force max over all pairs of a line, O(H W (H + W)) per frame, in numpy.
    Returns (cells (N, K, 2) int (row, column), maximal total score (N,)).
    """
    U, mu, w = _tree_problem(unaries, parents, offset_mean, weights, batched=True)
    if np.any(w <= 0):
        raise ValueError("weights: expected > 0 per cell^2")
    order = tree_order(parents)
    N, K, H, W = U.shape
    belief = U.copy()
    arg = {}
    rows_n = np.arange(N)[:, None, None]
    for c in reversed(order):
        p = parents[c]
        if p < 0:
            continue
        along_x, arg_b = _max_transform_last_axis(belief[:, c], w[c, 0], mu[c, 0])  # (N, H, W)
        along_y, arg_a = _max_transform_last_axis(along_x.transpose(0, 2, 1), w[c, 1], mu[c, 1])  # (N, W, H)
        arg_a = arg_a.transpose(0, 2, 1)  # (N, H, W): best row a for parent cell (i, j)
        arg_b = arg_b[rows_n, arg_a, np.arange(W)[None, None, :]]
        belief[:, p] += along_y.transpose(0, 2, 1)
        arg[c] = (arg_a, arg_b)
    root = order[0]
    cells = np.zeros((N, K, 2), dtype=int)
    flat = belief[:, root].reshape(N, -1)
    best_idx = flat.argmax(-1)
    cells[:, root] = np.stack(np.unravel_index(best_idx, (H, W)), -1)
    best = flat[np.arange(N), best_idx]
    n = np.arange(N)
    for c in order[1:]:
        i, j = cells[:, parents[c], 0], cells[:, parents[c], 1]
        cells[:, c] = np.stack([arg[c][0][n, i, j], arg[c][1][n, i, j]], -1)
    return cells, best


def tempered_unaries(heatmaps, temperature: float = 1.0, eps: float = 1e-6) -> np.ndarray:
    """Unaries from heatmap probabilities: U = log sigma(logit(h) / T), floored at log(eps).

    heatmaps: (..., Hs, Ws) in [0, 1]; temperature T > 0: T > 1 flattens the heatmap (trusts it
    less against the springs), T < 1 sharpens it; T = 1 gives log h. Returns the same shape.
    """
    if not temperature > 0:
        raise ValueError(f"temperature: expected > 0, got {temperature}")
    h = np.clip(np.asarray(heatmaps, dtype=float), eps, 1 - eps)
    if temperature == 1.0:
        return np.log(h)
    z = np.log(h) - np.log1p(-h)
    return np.maximum(-np.logaddexp(0.0, -z / temperature), np.log(eps))


def pictorial_decode(heatmaps, model: PairwiseModel, stride: float = 1, *, strength: float = 1.0,
                     temperature: float = 1.0, eps: float = 1e-6, refine: str = "quadratic") -> np.ndarray:
    """Tree-MAP keypoints for a batch of heatmaps, refined to subpixel positions.

    heatmaps: (N, K, Hs, Ws) probabilities; model: springs in image px; stride: px per cell;
    strength: multiplies the spring weights (stiffness); temperature: of the unaries
    (:func:`tempered_unaries`). Returns (N, K, 2) image px.
    """
    h = np.asarray(heatmaps, dtype=float)
    if h.ndim != 4 or h.shape[1] != len(model.parents):
        raise ValueError(f"heatmaps: expected (N, {len(model.parents)}, Hs, Ws), got {h.shape}")
    if not strength > 0:
        raise ValueError(f"strength: expected > 0, got {strength}")
    mu = model.offset_mean / stride
    w = strength / (2.0 * model.offset_var / stride ** 2)
    cells, _ = tree_map_batch(tempered_unaries(h, temperature, eps), model.parents, mu, w)
    return _heatmaps.subpixel_refine(h, cells[..., 0], cells[..., 1], stride, refine=refine)


def swap_count(pred, truth, visible, mirror) -> int:
    """Left/right swaps: pairs (k, m = mirror[k], k < m), both visible, whose predictions are each
    closer to the other side's truth than to their own. pred, truth: (N, K, 2) px; visible (N, K);
    mirror (K,) int. Returns the number of swapped (frame, pair)."""
    p, t = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    vis = np.asarray(visible, dtype=bool)
    count = 0
    for k, m in enumerate(np.asarray(mirror, dtype=int)):
        if k >= m:
            continue
        both = vis[:, k] & vis[:, m]
        crossed = (np.linalg.norm(p[:, k] - t[:, m], axis=-1) < np.linalg.norm(p[:, k] - t[:, k], axis=-1)) & \
                  (np.linalg.norm(p[:, m] - t[:, k], axis=-1) < np.linalg.norm(p[:, m] - t[:, m], axis=-1))
        count += int(np.sum(both & crossed))
    return count


def decoder_errors(pred, truth, visible, mirror, gross_px: float = 10.0) -> dict:
    """The structured-prediction scorecard over a set of frames: RMSE (px, visible keypoints),
    gross errors (visible keypoints off by more than ``gross_px``) and left/right swaps
    (:func:`swap_count`). pred, truth: (N, K, 2) px; visible (N, K) bool; mirror (K,) int."""
    p, t = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    vis = np.asarray(visible, dtype=bool)
    if p.shape != t.shape or p.ndim != 3 or vis.shape != p.shape[:2]:
        raise ValueError(f"pred, truth, visible: expected (N, K, 2), (N, K, 2), (N, K); got {p.shape}, {t.shape}, "
                         f"{vis.shape}")
    err = np.linalg.norm(p - t, axis=-1)[vis]
    return {"rmse_px": float(np.sqrt(np.mean(err ** 2))), "gross": int(np.sum(err > gross_px)),
            "swaps": swap_count(p, t, vis, mirror)}
