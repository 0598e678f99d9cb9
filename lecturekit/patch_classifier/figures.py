"""Figures and widget callbacks for notebooks 01 (logistic regression) and 02 (optimisation).

Every function is pure: data and control values in, a matplotlib Figure out (tests call them
without a browser; notebooks wire sliders to them with :func:`lecturekit.interactive.interactive_figure`).

* :func:`bernoulli_pmf_figure` - Bern(y; p) = p^y (1 - p)^(1 - y) for a slider ``p``.
* :func:`logistic_figure` - sigma(a) = e^a / (1 + e^a) for a slider ``a``.
* :func:`gd_learning_rate_figure` - gradient descent with alpha = alpha_L / L on the logistic NLL
  and on its quadratic model at w_0 = 0 (which diverges exactly when alpha > 2 / L).
* :func:`patch_gallery_figure`, :func:`probability_map_figure`, :func:`convergence_figure`,
  :func:`complexity_figure`, :func:`weight_norm_figure` - the static figures of the two notebooks.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from . import logreg, optim

__all__ = [
    "bernoulli_pmf_figure",
    "logistic_figure",
    "gd_learning_rate_figure",
    "patch_gallery_figure",
    "probability_map_figure",
    "convergence_figure",
    "complexity_figure",
    "weight_norm_figure",
    "OPTIMIZER_STYLES",
]


def bernoulli_pmf_figure(p: float = 0.3) -> plt.Figure:
    """Bar plot of Bern(y; p) for y in {0, 1}.  p: probability in [0, 1]."""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], got {p}")
    fig, ax = plt.subplots(layout="constrained", figsize=(5.0, 3.2))
    pmf = logreg.bernoulli_pmf(np.array([0, 1]), p)
    ax.bar([0, 1], pmf, width=0.5, color=["#BBBBBB", "#CC6677"])
    for y, v in zip((0, 1), pmf):
        ax.text(y, v + 0.02, f"{v:.2f}", ha="center")
    ax.set(xticks=[0, 1], xticklabels=["y = 0\n(not a keypoint)", "y = 1\n(keypoint)"], ylim=(0, 1.1),
           ylabel="Bern(y; p)", title=f"Bernoulli pmf, p = {p:.2f}")
    return fig


def logistic_figure(a: float = 0.0) -> plt.Figure:
    """The logistic function over [-8, 8] with the point (a, sigma(a)) marked.  a: logit."""
    a = float(a)
    grid = np.linspace(-8, 8, 401)
    fig, ax = plt.subplots(layout="constrained", figsize=(6.0, 3.2))
    ax.plot(grid, logreg.sigmoid(grid), color="#4477AA")
    ax.axhline(0.5, color="#BBBBBB", lw=0.8, ls="--")
    s = float(logreg.sigmoid(a))
    ax.plot([a], [s], "o", color="#CC6677")
    ax.annotate(f"sigma({a:.1f}) = {s:.3f}", (a, s), textcoords="offset points", xytext=(8, -14))
    ax.set(xlabel="a = w^T x (logit)", ylabel="sigma(a)", ylim=(-0.05, 1.05), title="The logistic function")
    return fig


def gd_learning_rate_figure(alpha_L: float, X, y, l2=0.0, n_iter: int = 60, f_star: float | None = None) -> plt.Figure:
    """Gradient descent with learning rate alpha = alpha_L / L from w_0 = 0.

    alpha_L: learning rate in units of 1 / L, where L = lambda_max(hess L(0)) = lambda_max(X^T X)/4 + l2
    is also the largest Hessian eigenvalue anywhere; X: (N, P); y: (N,); l2: scalar;
    f_star: the optimal NLL (computed with Newton's method when None).
    Left: the NLL's suboptimality L(w_i) - L*. Right: the same for the quadratic Taylor model at
    w_0 = 0, which converges for alpha < 2/L and diverges for alpha > 2/L.
    """
    alpha_L = float(alpha_L)
    if not alpha_L > 0:
        raise ValueError(f"alpha_L: expected a positive learning rate (units of 1/L), got {alpha_L}")
    # One BLAS thread: these are small products repeated 120 times, and a widget redraws this
    # figure on every move; with a thread per core, on a busy 2-core machine, the numbers took
    # 0.4-1.6 s instead of 0.05-0.13 s.
    with threadpool_limits(limits=1, user_api="blas"):
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        P = X.shape[1]
        w0 = np.zeros(P)
        H0 = logreg.hessian(w0, X, y, l2)
        g0 = logreg.grad(w0, X, y, l2)
        L = float(np.linalg.eigvalsh(H0)[-1])
        alpha = alpha_L / L
        if f_star is None:
            f_star = logreg.nll(optim.fit_newton(X, y, l2).w, X, y, l2)
        nll_path = optim.gradient_descent(lambda w: logreg.grad(w, X, y, l2), w0, alpha, n_iter).path
        sub_nll = optim.losses_along_path(nll_path, X, y, l2) - f_star
        # quadratic model q(w) = L(0) + g0^T w + w^T H0 w / 2, minimised at w_q = -H0^{-1} g0
        w_q = -np.linalg.lstsq(H0, g0, rcond=None)[0]
        q = lambda w: g0 @ w + 0.5 * w @ H0 @ w  # noqa: E731
        q_path = optim.gradient_descent(lambda w: g0 + H0 @ w, w0, alpha, n_iter).path
        with np.errstate(over="ignore", invalid="ignore"):
            sub_q = np.array([q(w) - q(w_q) if np.all(np.isfinite(w)) else np.inf for w in q_path])
    fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(8.4, 3.0))
    for ax, sub, title in ((axes[0], sub_nll, "logistic NLL"), (axes[1], sub_q, "quadratic model at w = 0")):
        sub = np.where(np.isfinite(sub), np.maximum(sub, 1e-12), np.nan)
        ax.semilogy(np.arange(len(sub)), sub, color="#CC6677" if alpha_L > 2 else "#4477AA")
        ax.set(xlabel="iteration i", ylabel="suboptimality (nats)", title=title)
    fig.suptitle(f"gradient descent, alpha = {alpha_L:.2f} / L  (2 / L is the stability limit)", fontsize=11)
    return fig


def patch_gallery_figure(patches, labels, n_per_class: int = 8, seed: int = 0) -> plt.Figure:
    """Two rows of example patches: positives (y = 1) on top, negatives (y = 0) below.

    patches: (N, P_h, P_w) grayscale; labels: (N,) in {0, 1}.
    """
    patches = np.asarray(patches, dtype=float)
    labels = np.asarray(labels)
    if patches.ndim != 3 or labels.shape != (len(patches),):
        raise ValueError(f"patches, labels: expected (N, P_h, P_w) and (N,), got {patches.shape}, {labels.shape}")
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, n_per_class, layout="constrained", figsize=(max(6.0, 0.9 * n_per_class + 1.0), 2.6))
    im = None
    for row, (cls, name) in enumerate(((1, "positive"), (0, "negative"))):
        idx = np.flatnonzero(labels == cls)
        pick = rng.choice(idx, size=min(n_per_class, len(idx)), replace=False) if len(idx) else []
        for j in range(n_per_class):
            ax = axes[row, j]
            ax.axis("off")
            if j < len(pick):
                im = ax.imshow(patches[pick[j]], cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title(name, fontsize=10, loc="left")
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.9, label="gray level")
    return fig


def probability_map_figure(image, prob_map, true_xy=None, detected_xy=None, title: str = "") -> plt.Figure:
    """A frame beside the classifier's probability map, with true (x) and detected (o) keypoints.

    image: (H, W) or (H, W, 3); prob_map: (H, W) in [0, 1]; true_xy, detected_xy: (2,) px.
    """
    fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(7.5, 3.9))
    image = np.asarray(image)
    axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None)
    im = axes[1].imshow(prob_map, vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[1], fraction=0.046, label="p(keypoint)")
    for ax in axes:
        if true_xy is not None:
            ax.plot(*true_xy, "x", color="#DDCC77", ms=9, mew=2, label="truth")
        if detected_xy is not None:
            ax.plot(*detected_xy, "o", mfc="none", color="#CC6677", ms=10, mew=1.5, label="most likely")
        ax.set(xlabel="x (px)", ylabel="y (px)")
    axes[0].set_title("frame")
    axes[1].set_title("probability map")
    if true_xy is not None or detected_xy is not None:  # below the panels, not on the (dark) map
        fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# Distinct colour, line style and marker per optimiser, so every curve stays visible where they overlap.
OPTIMIZER_STYLES = {
    "gradient descent": dict(color="#332288", ls="-", marker="o"),
    "Newton": dict(color="#CC6677", ls="-", marker="s"),
    "BFGS": dict(color="#117733", ls="--", marker="^"),
    "SGD + momentum": dict(color="#DDCC77", ls="-", marker="v"),
    "Adagrad": dict(color="#88CCEE", ls=":", marker="D"),
    "RMSProp": dict(color="#AA4499", ls="-.", marker="P"),
    "Adam": dict(color="#999933", ls="--", marker="X"),
}


def _style(name: str, k: int) -> dict:
    fallback = list(OPTIMIZER_STYLES.values())
    return OPTIMIZER_STYLES.get(name, fallback[k % len(fallback)])


def convergence_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """Suboptimality vs iteration (left) and vs compute time (right), one line per optimiser.

    curves: name -> (elapsed (I+1,) seconds, suboptimality (I+1,) nats).  Log axes; each method
    has its own colour, line style and marker (about 8 markers per curve); values below 1e-12
    are drawn at 1e-12.  The legend sits to the right of the panels.
    """
    fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(10.0, 3.8), sharey=True)
    for k, (name, (elapsed, sub)) in enumerate(curves.items()):
        sub = np.maximum(np.asarray(sub, dtype=float), 1e-12)
        every = max(1, len(sub) // 8)
        style = dict(_style(name, k), markevery=every, ms=5, lw=1.6)
        axes[0].plot(np.arange(1, len(sub) + 1), sub, label=name, **style)
        axes[1].plot(np.maximum(np.asarray(elapsed, dtype=float), 1e-5), sub, **style)
    axes[0].set(xlabel="iteration + 1", ylabel="L(w_i) - L* (nats)", xscale="log", yscale="log", title="per iteration")
    axes[1].set(xlabel="compute time (s)", xscale="log", yscale="log", title="per second")
    fig.legend(loc="outside right center")
    return fig


def weight_norm_figure(paths: Mapping[str, np.ndarray]) -> plt.Figure:
    """||w_i|| against iteration i = 1, 2, ... on log-log axes, one line per run (w_0 is not drawn).

    paths: name -> (I+1, P) iterates w_0 ... w_I.  Each run has its own colour, line style and
    marker; markers are spaced evenly on the log axis.
    """
    fig, ax = plt.subplots(layout="constrained", figsize=(7.5, 3.6))
    styles = [dict(color="#CC6677", ls="-", marker="o"), dict(color="#DDCC77", ls="--", marker="v"),
              dict(color="#332288", ls="-", marker="s"), dict(color="#88CCEE", ls=":", marker="D")]
    for k, (name, path) in enumerate(paths.items()):
        norms = np.linalg.norm(np.asarray(path, dtype=float), axis=1)[1:]
        marks = np.unique(np.geomspace(1, len(norms), 10).astype(int) - 1)
        ax.plot(np.arange(1, len(norms) + 1), norms, label=name, markevery=list(marks), ms=5, lw=1.6,
                **styles[k % len(styles)])
    ax.set(xscale="log", yscale="log", xlabel="iteration i", ylabel="||w_i||")
    fig.legend(loc="outside right center")
    return fig


def complexity_figure(P_values: Sequence[int], seconds: Mapping[str, np.ndarray]) -> plt.Figure:
    """Time per iteration vs dimension P on log-log axes, with the fitted slope of each method.

    P_values: (M,) dimensions; seconds: name -> (M,) seconds per iteration (the slope is a
    least-squares fit of log(seconds) against log(P)).
    """
    P_values = np.asarray(P_values, dtype=float)
    fig, ax = plt.subplots(layout="constrained", figsize=(7.0, 3.6))
    for k, (name, t) in enumerate(seconds.items()):
        t = np.asarray(t, dtype=float)
        slope = np.polyfit(np.log(P_values), np.log(t), 1)[0]
        ax.plot(P_values, t, label=f"{name} (slope {slope:.1f})", **_style(name, k))
    ax.set(xscale="log", yscale="log", xlabel="dimension P", ylabel="seconds per iteration",
           title="cost of one iteration")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xticks(P_values, [f"{int(p)}" for p in P_values])
    fig.legend(loc="outside right center")
    return fig
