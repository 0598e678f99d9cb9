"""Basic pose tracking via logistic regression (lecture: "Basic pose tracking", slides
"Via logistic regression", "Maximum likelihood estimation", "Calculating the gradient",
"The negative log likelihood is convex").

A patch ``x_n`` (P features, the last one a constant bias feature) is a keypoint with
probability ``sigma(w^T x_n)``:

    p(y_n | x_n, w) = Bern(y_n | sigma(w^T x_n)),     sigma(a) = e^a / (1 + e^a).

The negative log-likelihood, with an optional L2 penalty of strength ``l2`` (a scalar, or one
strength per feature so that e.g. the bias stays unpenalised), is

    L(w) = sum_n [ softplus(a_n) - y_n a_n ] + (l2 / 2) ||w||^2,     a_n = w^T x_n,
    grad L(w)    = X^T (sigma(X w) - y) + l2 w,
    hess L(w)    = X^T diag(sigma(a) (1 - sigma(a))) X + diag(l2),

where ``softplus(a) = log(1 + e^a) = -log sigma(-a)`` is evaluated stably (``np.logaddexp``):
``log(sigmoid(a))`` computed naively underflows to ``log(0) = -inf`` for ``a`` below about -745
and loses all digits of ``1 - sigma(a)`` for large positive ``a``. The Hessian is a weighted Gram
matrix with positive weights, hence positive semi-definite, so ``L`` is convex.

The L2 convention matches scikit-learn's ``LogisticRegression(C=1/l2, fit_intercept=False)`` on
the same design matrix (which minimises ``C sum_n loss_n + ||w||^2 / 2``).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "simulate_problem",
    "sigmoid",
    "log_sigmoid",
    "softplus",
    "bernoulli_pmf",
    "nll",
    "grad",
    "hessian",
    "predict_proba",
    "check_problem",
]


def sigmoid(a):
    """The logistic function sigma(a) = 1 / (1 + exp(-a)), elementwise and overflow-free.

    a: array of any shape (logits, unitless). Returns an array of the same shape in [0, 1].
    """
    a = np.asarray(a, dtype=float)
    # exp(-|a|) never overflows; pick the algebraically equal form for each sign.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(a):
    """softplus(a) = log(1 + exp(a)), elementwise, stable for any |a| (log-sum-exp of 0 and a).

    a: array of any shape. Returns an array of the same shape, values >= 0.
    """
    return np.logaddexp(0.0, np.asarray(a, dtype=float))


def log_sigmoid(a):
    """log sigma(a) = -softplus(-a), elementwise, finite for every finite ``a``.

    a: array of any shape. Returns an array of the same shape, values <= 0.
    """
    return -softplus(-np.asarray(a, dtype=float))


def bernoulli_pmf(y, p):
    """Bern(y; p) = p^y (1 - p)^(1 - y).

    y: array of 0/1 values (any shape); p: probability in [0, 1] (broadcast against y).
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if np.any((y != 0) & (y != 1)):
        raise ValueError("y: expected values in {0, 1}")
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("p: expected probabilities in [0, 1]")
    return np.where(y == 1, p, 1.0 - p)


def _l2_vector(l2, P: int) -> np.ndarray:
    lam = np.asarray(l2, dtype=float)
    if lam.ndim == 0:
        lam = np.full(P, float(lam))
    if lam.shape != (P,):
        raise ValueError(f"l2: expected a scalar or shape ({P},), got shape {lam.shape}")
    if np.any(lam < 0) or not np.all(np.isfinite(lam)):
        raise ValueError("l2: expected finite, non-negative strength(s)")
    return lam


def check_problem(w, X, y):
    """Validate and convert ``(w, X, y)``: w (P,), X (N, P), y (N,) in {0, 1}; float64 arrays.

    Raises ValueError naming the argument and the expected shape or values.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X: expected a design matrix of shape (N, P), got shape {X.shape}")
    N, P = X.shape
    w = np.asarray(w, dtype=float)
    if w.shape != (P,):
        raise ValueError(f"w: expected shape ({P},) to match X (N, P) = {X.shape}, got {w.shape}")
    y = np.asarray(y, dtype=float)
    if y.shape != (N,):
        raise ValueError(f"y: expected shape ({N},) to match X (N, P) = {X.shape}, got {y.shape}")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("y: expected labels in {0, 1}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(w))):
        raise ValueError("X, w: expected finite values (no NaN or inf)")
    return w, X, y


def nll(w, X, y, l2=0.0) -> float:
    """Negative log-likelihood L(w) = sum_n [softplus(w^T x_n) - y_n w^T x_n] + l2/2 ||w||^2.

    w: (P,) weights; X: (N, P) design matrix (patches, bias feature included);
    y: (N,) labels in {0, 1}; l2: scalar or (P,) L2 strength. Returns a float (nats).
    """
    w, X, y = check_problem(w, X, y)
    a = X @ w
    lam = _l2_vector(l2, X.shape[1])
    return float(np.sum(softplus(a) - y * a) + 0.5 * np.sum(lam * w * w))


def grad(w, X, y, l2=0.0) -> np.ndarray:
    """Gradient of :func:`nll`: X^T (sigma(X w) - y) + l2 w.  Shapes as in :func:`nll`; returns (P,)."""
    w, X, y = check_problem(w, X, y)
    return X.T @ (sigmoid(X @ w) - y) + _l2_vector(l2, X.shape[1]) * w


def hessian(w, X, y, l2=0.0) -> np.ndarray:
    """Hessian of :func:`nll`: X^T diag(sigma (1 - sigma)) X + diag(l2).  Returns (P, P), symmetric PSD.

    ``y`` does not enter the Hessian; it is validated for a uniform signature.
    """
    w, X, y = check_problem(w, X, y)
    s = sigmoid(X @ w)
    H = (X * (s * (1.0 - s))[:, None]).T @ X
    H = 0.5 * (H + H.T)
    H[np.diag_indices_from(H)] += _l2_vector(l2, X.shape[1])
    return H


def predict_proba(w, X) -> np.ndarray:
    """p(y = 1 | x_n, w) = sigma(w^T x_n) for every row of X (N, P); returns (N,)."""
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float)
    if X.ndim != 2 or w.shape != (X.shape[1],):
        raise ValueError(f"X, w: expected X (N, P) and w (P,), got {X.shape} and {w.shape}")
    return sigmoid(X @ w)


def simulate_problem(n: int = 300, p: int = 8, *, seed: int = 0, scale: float = 1.0):
    """A logistic-regression problem with known weights (for tests and demonstrations).

    Features are ``scale`` times standard normals with a bias column of ones last. Returns
    ``(X, y, w_true, w_random)``: X (n, p), y (n,) in {0, 1} drawn from Bern(sigma(X w_true)),
    the true weights (p,) and an independent random weight vector (p,) to evaluate functions at.
    """
    if n < 1 or p < 2:
        raise ValueError(f"n, p: expected n >= 1 and p >= 2 (a feature and the bias), got {n}, {p}")
    rng = np.random.default_rng(seed)
    X = np.hstack([scale * rng.normal(size=(n, p - 1)), np.ones((n, 1))])
    w_true = rng.normal(size=p)
    y = (rng.random(n) < sigmoid(X @ w_true)).astype(float)
    return X, y, w_true, rng.normal(size=p)
