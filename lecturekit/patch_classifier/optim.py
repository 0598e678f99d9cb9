"""Fitting the patch classifier (lecture: "Gradient descent", "Newton's Method",
"Computational complexity").

Gradient descent        w_{i+1} = w_i - alpha grad L(w_i)                  O(N P) per iteration
Newton's method         w_{i+1} = w_i - [hess L(w_i)]^{-1} grad L(w_i)     O(N P^2 + P^3)
IRLS                    the same Newton step written as a weighted least-squares problem with
                        weights s_n = sigma_n (1 - sigma_n) and working response
                        z_n = a_n + (y_n - sigma_n) / s_n:  (X^T S X + Lambda) w_{i+1} = X^T S z.

For a convex objective whose Hessian is bounded by L I (an L-smooth function), gradient descent
with a fixed 0 < alpha < 2 / L decreases the objective at every step; on a quadratic with largest
Hessian eigenvalue L it diverges for alpha > 2 / L.  For the logistic NLL,
hess L(w) <= X^T X / 4 + l2 I, so ``L = lambda_max(X^T X) / 4 + max(l2)``.

Stochastic optimisers ("Computational complexity": "SGD (with momentum) uses mini-batches ... Adagrad,
RMSProp, and Adam tune the learning rates as they go").  Each step sees a mini-batch gradient
g_i = grad of L_B(w_i) / |B| (an unbiased estimate of grad L(w_i) / N, see :func:`minibatch_grad`);
products, squares, square roots and divisions of vectors are elementwise; i = 1, 2, ...:

SGD with momentum       v_i = mu v_{i-1} + g_i;                 w_i = w_{i-1} - alpha v_i
Adagrad                 G_i = G_{i-1} + g_i^2;                  w_i = w_{i-1} - alpha g_i / (sqrt(G_i) + eps)
RMSProp                 s_i = rho s_{i-1} + (1 - rho) g_i^2;    w_i = w_{i-1} - alpha g_i / (sqrt(s_i) + eps)
Adam                    m_i = b1 m_{i-1} + (1 - b1) g_i;  v_i = b2 v_{i-1} + (1 - b2) g_i^2;
                        w_i = w_{i-1} - alpha [m_i / (1 - b1^i)] / (sqrt(v_i / (1 - b2^i)) + eps)

with v_0 = G_0 = s_0 = m_0 = 0 and torch.optim's default hyper-parameters (the tests check the
iterates against torch.optim step by step).

Every ``fit_*`` returns a :class:`FitResult` holding the iterates and the cumulative compute time
(seconds, time spent recording excluded) so that convergence can be plotted per iteration and per
second.  The objective is always :func:`lecturekit.patch_classifier.logreg.nll` (a sum over patches); the
stochastic optimisers (torch) minimise the same function divided by N.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.optimize

from . import logreg

__all__ = [
    "FitResult",
    "lipschitz_constant",
    "gradient_descent",
    "gradient_descent_step",
    "newton_step",
    "irls_step",
    "fit_gradient_descent",
    "fit_newton",
    "fit_irls",
    "fit_scipy",
    "fit_torch",
    "minibatch_grad",
    "sgd_momentum_step",
    "adagrad_step",
    "rmsprop_step",
    "adam_step",
    "STOCHASTIC_METHODS",
    "fit_minibatch",
    "losses_along_path",
]


@dataclass(frozen=True)
class FitResult:
    """The outcome of one optimiser run.

    w: (P,) final weights; path: (I+1, P) iterates w_0 ... w_I; elapsed: (I+1,) cumulative
    compute seconds at each iterate (0 at w_0); converged: whether the stopping rule was met;
    method: a short name for plots.
    """

    w: np.ndarray
    path: np.ndarray
    elapsed: np.ndarray
    converged: bool
    method: str

    @property
    def n_iter(self) -> int:
        """Number of iterations taken (I)."""
        return len(self.path) - 1


class _Recorder:
    """Collects iterates and compute time, pausing the clock while recording."""

    def __init__(self, w0):
        self.path = [np.array(w0, dtype=float)]
        self.elapsed = [0.0]
        self._t = time.perf_counter()
        self._total = 0.0

    def record(self, w):
        now = time.perf_counter()
        self._total += now - self._t
        self.path.append(np.array(w, dtype=float))
        self.elapsed.append(self._total)
        self._t = time.perf_counter()

    def result(self, converged: bool, method: str) -> FitResult:
        path = np.stack(self.path)
        return FitResult(path[-1].copy(), path, np.asarray(self.elapsed), bool(converged), method)


def _positive_int(value, name: str) -> int:
    if int(value) != value or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)


def lipschitz_constant(X, l2=0.0) -> float:
    """Smoothness constant of the logistic NLL: lambda_max(X^T X) / 4 + max(l2).

    X: (N, P) design matrix; l2: scalar or (P,). Every Hessian satisfies hess L(w) <= L I.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X: expected shape (N, P), got {X.shape}")
    lam_max = float(np.linalg.eigvalsh(X.T @ X)[-1])
    return lam_max / 4.0 + float(np.max(np.asarray(l2, dtype=float)))


def gradient_descent(grad_fn: Callable[[np.ndarray], np.ndarray], w0, alpha: float, n_iter: int,
                     tol: float = 0.0) -> FitResult:
    """Plain gradient descent on any differentiable objective.

    grad_fn: (P,) -> (P,) gradient; w0: (P,) start; alpha: learning rate (> 0); n_iter: maximum
    number of steps; tol: stop when ||grad||_2 <= tol.  Stops early (converged=False) when the
    iterates overflow, which is what divergence looks like.
    """
    alpha = float(alpha)
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha: expected a positive learning rate, got {alpha}")
    n_iter = _positive_int(n_iter, "n_iter")
    w = np.array(w0, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"w0: expected shape (P,), got {w.shape}")
    rec = _Recorder(w)
    converged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_iter):
            g = grad_fn(w)
            if np.linalg.norm(g) <= tol:
                converged = True
                break
            w = w - alpha * g
            rec.record(w)
            if not np.all(np.isfinite(w)):
                break
    return rec.result(converged, "gradient descent")


def gradient_descent_step(w, X, y, alpha: float, l2=0.0) -> np.ndarray:
    """One gradient-descent step on the logistic NLL: w - alpha grad L(w).  w (P,), X (N, P), y (N,)."""
    return np.asarray(w, dtype=float) - alpha * logreg.grad(w, X, y, l2)


def _solve_psd(H, g):
    """Solve H d = g for symmetric PSD H; falls back to least squares when H is singular."""
    try:
        c = scipy.linalg.cho_factor(H, lower=False, check_finite=False)
        d = scipy.linalg.cho_solve(c, g, check_finite=False)
        if np.all(np.isfinite(d)):
            return d
    except np.linalg.LinAlgError:
        pass
    return np.linalg.lstsq(H, g, rcond=None)[0]


def newton_step(w, X, y, l2=0.0) -> np.ndarray:
    """The full Newton step on the logistic NLL: w - [hess L(w)]^{-1} grad L(w).  Returns (P,)."""
    w = np.asarray(w, dtype=float)
    return w - _solve_psd(logreg.hessian(w, X, y, l2), logreg.grad(w, X, y, l2))


def irls_step(w, X, y, l2=0.0) -> np.ndarray:
    """One iteratively reweighted least-squares update; algebraically equal to :func:`newton_step`.

    Solves (X^T S X + Lambda) w_new = X^T S z with S = diag(s), s = sigma(1 - sigma) and working
    response z = X w + (y - sigma) / s (computed as S z = s * (X w) + y - sigma, no division).
    """
    w, X, y = logreg.check_problem(w, X, y)
    a = X @ w
    p = logreg.sigmoid(a)
    s = p * (1.0 - p)
    lam = logreg._l2_vector(l2, X.shape[1])
    A = (X * s[:, None]).T @ X
    A[np.diag_indices_from(A)] += lam
    return _solve_psd(0.5 * (A + A.T), X.T @ (s * a + y - p))


def fit_gradient_descent(X, y, l2=0.0, alpha: float | None = None, w0=None, max_iter: int = 1000,
                         tol: float = 1e-6) -> FitResult:
    """Minimise the logistic NLL by gradient descent.

    X: (N, P); y: (N,) in {0, 1}; l2: scalar or (P,); alpha: learning rate (default 1 / L with
    L = :func:`lipschitz_constant`); w0: (P,) start (default zeros); stop when ||grad|| <= tol.
    """
    logreg.check_problem(np.zeros(np.shape(X)[-1]), X, y)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if alpha is None:
        alpha = 1.0 / lipschitz_constant(X, l2)
    w0 = np.zeros(X.shape[1]) if w0 is None else w0
    result = gradient_descent(lambda w: logreg.grad(w, X, y, l2), w0, alpha, max_iter, tol)
    return FitResult(result.w, result.path, result.elapsed, result.converged, "gradient descent")


def fit_newton(X, y, l2=0.0, w0=None, max_iter: int = 50, tol: float = 1e-10,
               line_search: bool = True) -> FitResult:
    """Minimise the logistic NLL by Newton's method (Cholesky solve of the Newton system).

    X: (N, P); y: (N,) in {0, 1}; l2: scalar or (P,); w0: (P,) start (default zeros).
    Stops when half the squared Newton decrement, g^T H^{-1} g / 2 (an estimate of L(w) - L*),
    is <= tol.  With ``line_search`` a backtracking (Armijo) search halves the step until the
    NLL decreases enough; near the optimum the full step is always accepted, so the quadratic
    convergence of the pure method is kept.
    """
    w, X, y = logreg.check_problem(np.zeros(np.shape(X)[-1]) if w0 is None else w0, X, y)
    max_iter = _positive_int(max_iter, "max_iter")
    lam = logreg._l2_vector(l2, X.shape[1])
    rec = _Recorder(w)
    converged = False
    f = logreg.nll(w, X, y, lam)
    for _ in range(max_iter):
        a = X @ w
        p = logreg.sigmoid(a)
        g = X.T @ (p - y) + lam * w
        Xs = X * np.sqrt(p * (1.0 - p))[:, None]
        H = Xs.T @ Xs  # numpy uses a symmetric rank-k update for A.T @ A
        H[np.diag_indices_from(H)] += lam
        d = _solve_psd(H, g)
        decrement = float(g @ d)
        if 0.5 * decrement <= tol:
            converged = True
            break
        t = 1.0
        if line_search:
            while True:
                f_new = logreg.nll(w - t * d, X, y, lam)
                if f_new <= f - 0.25 * t * decrement or t < 1e-10:
                    break
                t *= 0.5
            f = f_new
        w = w - t * d
        rec.record(w)
    return rec.result(converged, "Newton")


def fit_irls(X, y, l2=0.0, w0=None, n_iter: int = 10) -> FitResult:
    """Run ``n_iter`` IRLS updates (:func:`irls_step`) from w0 (default zeros); no line search."""
    w, X, y = logreg.check_problem(np.zeros(np.shape(X)[-1]) if w0 is None else w0, X, y)
    rec = _Recorder(w)
    for _ in range(_positive_int(n_iter, "n_iter")):
        w = irls_step(w, X, y, l2)
        rec.record(w)
    return rec.result(False, "IRLS")


def fit_scipy(X, y, l2=0.0, method: str = "BFGS", w0=None, max_iter: int = 500, tol: float = 1e-10) -> FitResult:
    """Minimise the logistic NLL with ``scipy.optimize.minimize`` (e.g. BFGS, L-BFGS-B); records every iterate."""
    w, X, y = logreg.check_problem(np.zeros(np.shape(X)[-1]) if w0 is None else w0, X, y)
    rec = _Recorder(w)
    fun = lambda v: logreg.nll(v, X, y, l2)  # noqa: E731
    jac = lambda v: logreg.grad(v, X, y, l2)  # noqa: E731
    res = scipy.optimize.minimize(fun, w, jac=jac, method=method, callback=lambda v: rec.record(v),
                                  options={"maxiter": _positive_int(max_iter, "max_iter"), "gtol": tol})
    return rec.result(bool(res.success), method)


def fit_torch(X, y, l2=0.0, optimizer: str = "adam", lr: float = 0.01, n_epochs: int = 20,
              batch_size: int = 256, momentum: float = 0.9, seed: int = 0, w0=None) -> FitResult:
    """Minimise L(w) / N with a ``torch.optim`` optimiser on shuffled mini-batches (float64).

    optimizer: "sgd" (SGD with ``momentum``) or "adam"; lr: learning rate; one recorded iterate
    per mini-batch step.  A mini-batch B estimates L(w)/N by mean_{n in B} loss_n + l2 ||w||^2 / (2N).
    """
    import torch

    w, X, y = logreg.check_problem(np.zeros(np.shape(X)[-1]) if w0 is None else w0, X, y)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer: expected 'sgd' or 'adam', got {optimizer!r}")
    N = X.shape[0]
    lam = torch.as_tensor(logreg._l2_vector(l2, X.shape[1]))
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    wt = torch.tensor(w, requires_grad=True)
    opt = (torch.optim.SGD([wt], lr=lr, momentum=momentum) if optimizer == "sgd"
           else torch.optim.Adam([wt], lr=lr))
    gen = torch.Generator().manual_seed(seed)
    rec = _Recorder(w)
    for _ in range(_positive_int(n_epochs, "n_epochs")):
        order = torch.randperm(N, generator=gen)
        for start in range(0, N, batch_size):
            idx = order[start:start + batch_size]
            a = Xt[idx] @ wt
            loss = (torch.nn.functional.softplus(a) - yt[idx] * a).mean() + 0.5 * (lam * wt * wt).sum() / N
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.record(wt.detach().numpy())
    return rec.result(False, {"sgd": "SGD + momentum", "adam": "Adam"}[optimizer])


def minibatch_grad(w, X, y, l2=0.0) -> np.ndarray:
    """Gradient of the mini-batch estimate of L(w) / N.

    w: (P,); X: (B, P) the batch's patches; y: (B,) in {0, 1}; l2: scalar or (P,), the penalty of
    the *full* objective divided by ``N`` by the caller (so pass l2 / N).  Returns (P,):
    X^T (sigma(X w) - y) / B + l2 * w.
    """
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float)
    return X.T @ (logreg.sigmoid(X @ w) - np.asarray(y, dtype=float)) / X.shape[0] + np.asarray(l2, dtype=float) * w


def sgd_momentum_step(w, g, velocity, alpha: float, momentum: float = 0.9):
    """SGD with momentum: v = mu v + g; w = w - alpha v.  w, g, velocity: (P,).  Returns (w, velocity)."""
    velocity = momentum * velocity + g
    return w - alpha * velocity, velocity


def adagrad_step(w, g, sum_sq, alpha: float, eps: float = 1e-10):
    """Adagrad: G = G + g^2; w = w - alpha g / (sqrt(G) + eps).  w, g, sum_sq: (P,).  Returns (w, sum_sq)."""
    sum_sq = sum_sq + g * g
    return w - alpha * g / (np.sqrt(sum_sq) + eps), sum_sq


def rmsprop_step(w, g, mean_sq, alpha: float, rho: float = 0.99, eps: float = 1e-8):
    """RMSProp: s = rho s + (1 - rho) g^2; w = w - alpha g / (sqrt(s) + eps).  Returns (w, mean_sq)."""
    mean_sq = rho * mean_sq + (1.0 - rho) * g * g
    return w - alpha * g / (np.sqrt(mean_sq) + eps), mean_sq


def adam_step(w, g, m, v, t: int, alpha: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
    """Adam step number t (t = 1, 2, ...): running means of g and g^2 with bias correction.

    w, g, m, v: (P,).  Returns (w, m, v) after the step.
    """
    m = beta1 * m + (1.0 - beta1) * g
    v = beta2 * v + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    return w - alpha * m_hat / (np.sqrt(v_hat) + eps), m, v


STOCHASTIC_METHODS = ("SGD + momentum", "Adagrad", "RMSProp", "Adam")


def fit_minibatch(X, y, l2=0.0, method: str = "Adam", alpha: float = 0.01, n_epochs: int = 5,
                  batch_size: int = 256, seed: int = 0, w0=None) -> FitResult:
    """Minimise L(w) / N with one of :data:`STOCHASTIC_METHODS` on shuffled mini-batches (numpy).

    X: (N, P); y: (N,) in {0, 1}; l2: scalar or (P,) penalty of L(w); method: a name in
    STOCHASTIC_METHODS; alpha: learning rate; one recorded iterate per mini-batch step.  Stops
    early (converged=False) when the iterates overflow.
    """
    if method not in STOCHASTIC_METHODS:
        raise ValueError(f"method: expected one of {STOCHASTIC_METHODS}, got {method!r}")
    alpha = float(alpha)
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha: expected a positive learning rate, got {alpha}")
    w, X, y = logreg.check_problem(np.zeros(np.shape(X)[-1]) if w0 is None else w0, X, y)
    batch_size = _positive_int(batch_size, "batch_size")
    N = X.shape[0]
    lam = logreg._l2_vector(l2, X.shape[1]) / N
    rng = np.random.default_rng(seed)
    state = [np.zeros_like(w), np.zeros_like(w)]
    rec = _Recorder(w)
    t = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(_positive_int(n_epochs, "n_epochs")):
            order = rng.permutation(N)
            for start in range(0, N, batch_size):
                idx = order[start:start + batch_size]
                g = minibatch_grad(w, X[idx], y[idx], lam)
                t += 1
                if method == "SGD + momentum":
                    w, state[0] = sgd_momentum_step(w, g, state[0], alpha)
                elif method == "Adagrad":
                    w, state[0] = adagrad_step(w, g, state[0], alpha)
                elif method == "RMSProp":
                    w, state[0] = rmsprop_step(w, g, state[0], alpha)
                else:
                    w, state[0], state[1] = adam_step(w, g, state[0], state[1], t, alpha)
                rec.record(w)
                if not np.all(np.isfinite(w)):
                    return rec.result(False, method)
    return rec.result(False, method)


def losses_along_path(path, X, y, l2=0.0) -> np.ndarray:
    """The NLL at every iterate: path (I+1, P) -> (I+1,) nats (inf where an iterate overflowed)."""
    path = np.asarray(path, dtype=float)
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if path.ndim != 2 or path.shape[1] != X.shape[1]:
        raise ValueError(f"path: expected shape (I+1, {X.shape[1]}), got {path.shape}")
    lam = logreg._l2_vector(l2, X.shape[1])
    out = np.full(len(path), np.inf)
    finite = np.all(np.isfinite(path), axis=1)
    A = path[finite] @ X.T  # (I', N)
    with np.errstate(over="ignore", invalid="ignore"):
        vals = np.sum(logreg.softplus(A) - y * A, axis=1) + 0.5 * np.sum(lam * path[finite] ** 2, axis=1)
    out[finite] = np.where(np.isfinite(vals), vals, np.inf)
    return out
