"""The gradient-descent widget figure of notebook 02: what it plots; it leaves BLAS threads as it found them."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import expit, log_expit  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402

from lecturekit.patch_classifier import figures  # noqa: E402


def _problem(seed=0, N=300, P=6):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.normal(size=(N, P - 1)), np.ones(N)]
    y = (rng.random(N) < expit(X @ rng.normal(size=P))).astype(float)
    return X, y


def test_gd_figure_plots_the_suboptimality_of_plain_gradient_descent():
    """Oracle: gradient descent written out here with scipy's log-sigmoid, L* from scipy's BFGS."""
    X, y, l2, n_iter = *_problem(), 0.5, 25
    nll = lambda w: -np.sum(y * log_expit(X @ w) + (1 - y) * log_expit(-(X @ w))) + 0.5 * l2 * w @ w  # noqa: E731
    grad = lambda w: X.T @ (expit(X @ w) - y) + l2 * w  # noqa: E731
    f_star = minimize(nll, np.zeros(X.shape[1]), jac=grad, method="BFGS", options={"gtol": 1e-10}).fun
    L = np.linalg.eigvalsh(X.T @ X / 4 + l2 * np.eye(X.shape[1]))[-1]   # the Hessian's largest eigenvalue at w = 0
    for alpha_L in (0.5, 1.5):
        w, expected = np.zeros(X.shape[1]), []
        for _ in range(n_iter + 1):
            expected.append(nll(w) - f_star)
            w = w - alpha_L / L * grad(w)
        fig = figures.gd_learning_rate_figure(alpha_L, X, y, l2=l2, n_iter=n_iter)
        shown = fig.axes[0].lines[0].get_ydata()
        np.testing.assert_allclose(shown, np.maximum(expected, 1e-12), rtol=1e-6, atol=1e-8)
        assert shown[-1] < shown[0]                                   # converges below 2 / L
        plt.close(fig)


def test_gd_figure_restores_the_blas_thread_count():
    before = [(lib["internal_api"], lib["num_threads"]) for lib in threadpool_info()]
    plt.close(figures.gd_learning_rate_figure(1.0, *_problem(), l2=0.5, n_iter=5))
    assert [(lib["internal_api"], lib["num_threads"]) for lib in threadpool_info()] == before
