"""lecturekit.patch_classifier.optim: Newton vs scikit-learn's optimum, quadratic convergence, the 2/L stability
limit of gradient descent, IRLS = Newton, and the notebook-02 inline solutions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from lecturekit.course import release
from lecturekit.patch_classifier import logreg, optim

ROOT = release.course_root(__file__)


def _problem(N=300, P=8, seed=0, scale=1.0):
    X, y, _, _ = logreg.simulate_problem(N, P, seed=seed, scale=scale)
    return X, y


@pytest.mark.parametrize("l2", [0.1, 1.0, 10.0])
def test_newton_optimum_equals_sklearn(l2):
    X, y = _problem(seed=1)
    ours = optim.fit_newton(X, y, l2=l2, tol=1e-16)
    sk = LogisticRegression(C=1.0 / l2,  # default penalty: L2 (penalty="l2" is deprecated in sklearn 1.8)
                            fit_intercept=False, tol=1e-12, max_iter=10_000,
                            solver="lbfgs").fit(X, y)
    assert ours.converged
    assert np.linalg.norm(ours.w - sk.coef_[0]) <= 1e-6 * np.linalg.norm(sk.coef_[0])


def test_unpenalised_bias_matches_sklearn_intercept():
    X, y = _problem(seed=2)
    l2 = np.r_[np.full(X.shape[1] - 1, 2.0), 0.0]  # no penalty on the bias feature
    ours = optim.fit_newton(X, y, l2=l2, tol=1e-16)
    sk = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000, solver="newton-cholesky").fit(X[:, :-1], y)
    want = np.r_[sk.coef_[0], sk.intercept_]
    assert np.linalg.norm(ours.w - want) <= 1e-6 * np.linalg.norm(want)


def test_newton_converges_quadratically():
    X, y = _problem(N=500, P=10, seed=3)
    res = optim.fit_newton(X, y, l2=0.5, tol=0.0, max_iter=12, line_search=False)
    w_star = res.w
    err = np.array([np.linalg.norm(w - w_star) for w in res.path[:-1]])
    # near the optimum the log error roughly doubles per step: e_{k+1} <= C e_k^2
    ratios = [np.log(err[k + 1]) / np.log(err[k]) for k in range(len(err) - 1)
              if 1e-12 < err[k + 1] and err[k] < 0.1]
    assert len(ratios) >= 1
    assert min(ratios) > 1.6
    # and gradient descent is linear at best: 20 steps do not reach the accuracy of 6 Newton steps
    gd = optim.fit_gradient_descent(X, y, l2=0.5, max_iter=20, tol=0.0)
    assert np.linalg.norm(gd.w - w_star) > 1e3 * np.linalg.norm(res.path[6] - w_star)


def _quadratic(P=6, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.normal(size=(P, P)))[0]
    eig = np.linspace(0.5, 4.0, P)
    A = Q @ np.diag(eig) @ Q.T
    b = rng.normal(size=P)
    f = lambda w: 0.5 * w @ A @ w - b @ w  # noqa: E731
    return A, b, f, eig[-1]


def test_gradient_descent_on_a_quadratic_obeys_the_two_over_L_limit():
    A, b, f, L = _quadratic()
    w0 = np.ones(len(b)) * 3
    stable = optim.gradient_descent(lambda w: A @ w - b, w0, 1.9 / L, 200)
    values = np.array([f(w) for w in stable.path])
    assert np.all(np.diff(values) <= 1e-12)  # monotone (up to round-off once converged)
    assert np.all(np.diff(values)[:50] < 0)
    assert np.allclose(stable.path[-1], np.linalg.solve(A, b), atol=1e-6)
    unstable = optim.gradient_descent(lambda w: A @ w - b, w0, 2.1 / L, 200)
    values = np.array([f(w) for w in unstable.path])
    assert values[-1] > 1e6 * abs(values[0])


def test_gradient_descent_with_one_over_L_decreases_the_nll_monotonically():
    X, y = _problem(seed=4)
    res = optim.fit_gradient_descent(X, y, l2=1.0, max_iter=100, tol=0.0)
    losses = optim.losses_along_path(res.path, X, y, 1.0)
    assert np.all(np.diff(losses) <= 1e-12)
    assert np.isclose(losses[-1], logreg.nll(res.w, X, y, 1.0))


def test_lipschitz_constant_bounds_every_hessian():
    X, y = _problem(N=100, P=5, seed=5)
    L = optim.lipschitz_constant(X, 0.3)
    assert np.isclose(L, np.linalg.eigvalsh(logreg.hessian(np.zeros(5), X, y, 0.3))[-1])
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert np.linalg.eigvalsh(logreg.hessian(rng.normal(size=5) * 3, X, y, 0.3))[-1] <= L + 1e-9


def test_irls_step_is_the_newton_step():
    X, y = _problem(seed=6)
    w = np.random.default_rng(1).normal(size=X.shape[1])
    assert np.allclose(optim.irls_step(w, X, y, 0.2), optim.newton_step(w, X, y, 0.2), rtol=1e-10)
    irls = optim.fit_irls(X, y, 0.2, n_iter=12)
    assert np.allclose(irls.w, optim.fit_newton(X, y, 0.2, tol=1e-16).w, rtol=1e-8)


def test_bfgs_and_stochastic_optimisers_approach_the_optimum():
    X, y = _problem(N=400, P=6, seed=7)
    w_star = optim.fit_newton(X, y, 1.0, tol=1e-16).w
    f_star = logreg.nll(w_star, X, y, 1.0)
    bfgs = optim.fit_scipy(X, y, 1.0, method="BFGS")
    assert np.linalg.norm(bfgs.w - w_star) < 1e-6 * np.linalg.norm(w_star)
    for name, lr in (("sgd", 0.1), ("adam", 0.02)):
        res = optim.fit_torch(X, y, 1.0, optimizer=name, lr=lr, n_epochs=15, batch_size=40, seed=0)
        losses = optim.losses_along_path(res.path, X, y, 1.0)
        assert losses[-1] - f_star < 0.02 * (losses[0] - f_star), name
        assert np.all(np.diff(res.elapsed) >= 0)
    with pytest.raises(ValueError, match="optimizer: expected"):
        optim.fit_torch(X, y, optimizer="lbfgs")


def test_separable_data_needs_l2():
    rng = np.random.default_rng(8)
    X = np.hstack([rng.normal(size=(60, 2)), np.ones((60, 1))])
    y = (X[:, 0] + X[:, 1] > 0).astype(float)  # linearly separable
    free = optim.fit_newton(X, y, l2=0.0, max_iter=40, tol=1e-14)
    reg = optim.fit_newton(X, y, l2=1.0, tol=1e-14)
    norms = np.linalg.norm(free.path, axis=1)
    assert norms[-1] > 10 * np.linalg.norm(reg.w)  # the weights run away without a penalty
    assert np.all(np.diff(norms[1:]) > 0)
    assert reg.converged and np.linalg.norm(logreg.grad(reg.w, X, y, 1.0)) < 1e-6


def test_validation_messages():
    X, y = _problem(N=20, P=3)
    with pytest.raises(ValueError, match="alpha: expected a positive"):
        optim.gradient_descent(lambda w: w, np.zeros(2), -1.0, 10)
    with pytest.raises(ValueError, match="n_iter: expected a non-negative integer"):
        optim.gradient_descent(lambda w: w, np.zeros(2), 0.1, 2.5)
    with pytest.raises(ValueError, match=r"w: expected shape \(3,\)"):
        optim.fit_newton(X, y, w0=np.zeros(2))
    with pytest.raises(ValueError, match="path: expected shape"):
        optim.losses_along_path(np.zeros((4, 2)), X, y)


# ----- one source, no drift: the notebook's inline solutions agree with lecturekit ------------

def _solution_function(part: str, name: str):
    return release.solution_function(ROOT, part, name, {"np": np, "logreg": logreg})


def test_notebook_02_gradient_descent_agrees_with_lecturekit():
    student = _solution_function("02_optimization", "gradient_descent")
    for seed in range(3):
        A, b, _, L = _quadratic(seed=seed)
        w0 = np.random.default_rng(seed).normal(size=len(b))
        got = student(lambda w: A @ w - b, w0, 1.0 / L, 25)
        want = optim.gradient_descent(lambda w: A @ w - b, w0, 1.0 / L, 25).path
        assert np.allclose(got, want, rtol=1e-12, atol=1e-14)


def test_notebook_02_newton_step_agrees_with_lecturekit():
    student = _solution_function("02_optimization", "newton_step")
    for seed in range(3):
        X, y = _problem(N=50, P=5, seed=seed)
        w = np.random.default_rng(seed).normal(size=5)
        assert np.allclose(student(w, X, y, 0.5), optim.newton_step(w, X, y, 0.5), rtol=1e-9, atol=1e-12)
