"""lecturekit.patch_classifier.logreg, .gradcheck and the notebook-01 figures, against independent oracles
(torch.autograd, scipy.special, finite differences) and against the solution notebook's inline code."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.special  # noqa: E402
import torch  # noqa: E402

from lecturekit.course import release  # noqa: E402
from lecturekit.patch_classifier import figures as wl  # noqa: E402
from lecturekit.patch_classifier import gradcheck, logreg

ROOT = release.course_root(__file__)


def _problem(N=60, P=5, seed=0, scale=1.0):
    X, y, _, w = logreg.simulate_problem(N, P, seed=seed, scale=scale)
    return w, X, y


def _torch_nll(w, X, y, l2):
    a = X @ w
    lam = torch.as_tensor(np.broadcast_to(np.asarray(l2, float), w.shape).copy())
    return torch.nn.functional.binary_cross_entropy_with_logits(a, y, reduction="sum") + 0.5 * (lam * w * w).sum()


@pytest.mark.parametrize("l2", [0.0, 0.7, np.array([0.5, 1.0, 2.0, 0.1, 0.0])])
def test_nll_grad_hessian_match_torch_autograd(l2):
    w, X, y = _problem()
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    loss = _torch_nll(wt, Xt, yt, l2)
    (g_torch,) = torch.autograd.grad(loss, wt)
    H_torch = torch.autograd.functional.hessian(lambda v: _torch_nll(v, Xt, yt, l2), wt)
    assert abs(logreg.nll(w, X, y, l2) - loss.item()) <= 1e-10 * abs(loss.item())
    assert gradcheck.relative_error(logreg.grad(w, X, y, l2), g_torch.numpy()) < 1e-8
    assert gradcheck.relative_error(logreg.hessian(w, X, y, l2), H_torch.numpy()) < 1e-8


def test_gradient_and_hessian_pass_finite_difference_checks():
    w, X, y = _problem(seed=3)
    f = lambda v: logreg.nll(v, X, y, 0.3)  # noqa: E731
    g = lambda v: logreg.grad(v, X, y, 0.3)  # noqa: E731
    assert gradcheck.gradient_check(f, g, w, verbose=False) < 1e-7
    assert gradcheck.hessian_check(g, lambda v: logreg.hessian(v, X, y, 0.3), w, verbose=False) < 1e-7


def test_gradient_check_catches_a_wrong_gradient(capsys):
    w, X, y = _problem(seed=4)
    f = lambda v: logreg.nll(v, X, y)  # noqa: E731
    wrong = lambda v: X.T @ (y - logreg.sigmoid(X @ v))  # sign error  # noqa: E731
    assert gradcheck.gradient_check(f, wrong, w) > 0.5
    assert "relative error" in capsys.readouterr().out


def test_relative_error_and_step_validation():
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        gradcheck.relative_error(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="h: expected a positive"):
        gradcheck.numerical_gradient(np.sum, np.zeros(2), h=0.0)


@pytest.mark.parametrize("seed", range(5))
def test_hessian_is_positive_semidefinite(seed):
    w, X, y = _problem(N=30, P=8, seed=seed, scale=3.0)
    eig = np.linalg.eigvalsh(logreg.hessian(w * 5, X, y))
    assert eig.min() >= -1e-10 * max(1.0, eig.max())
    # and the NLL is convex along a random segment (midpoint below the chord)
    v = np.random.default_rng(seed).normal(size=w.shape) * 4
    f = lambda u: logreg.nll(u, X, y)  # noqa: E731
    assert f((w + v) / 2) <= (f(w) + f(v)) / 2 + 1e-12


def test_sigmoid_and_log_sigmoid_are_stable_for_large_logits():
    a = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 1000.0])
    assert np.allclose(logreg.sigmoid(a), scipy.special.expit(a), rtol=1e-14, atol=1e-300)
    ls = logreg.log_sigmoid(a)
    assert np.all(np.isfinite(ls))
    assert np.allclose(ls, torch.nn.functional.logsigmoid(torch.as_tensor(a)).numpy(), rtol=1e-14)
    with np.errstate(divide="ignore", over="ignore"):
        naive = np.log(1.0 / (1.0 + np.exp(-a[:2])))  # the naive formula underflows to log(0)
    assert np.all(np.isinf(naive))
    assert np.allclose(logreg.softplus(a), np.logaddexp(0, a))


def test_nll_is_finite_for_huge_weights():
    w, X, y = _problem(seed=1)
    assert np.isfinite(logreg.nll(1e4 * w, X, y))
    assert np.all(np.isfinite(logreg.grad(1e4 * w, X, y)))


def test_bernoulli_pmf():
    assert np.allclose(logreg.bernoulli_pmf([0, 1, 1], 0.3), [0.7, 0.3, 0.3])
    with pytest.raises(ValueError, match="y: expected values in"):
        logreg.bernoulli_pmf([2], 0.3)
    with pytest.raises(ValueError, match="p: expected probabilities"):
        logreg.bernoulli_pmf([1], 1.5)


def test_predict_proba():
    w, X, y = _problem()
    assert np.allclose(logreg.predict_proba(w, X), scipy.special.expit(X @ w))


@pytest.mark.parametrize("args, message", [
    ((np.zeros(3), np.zeros(5), np.zeros(5)), "X: expected a design matrix"),
    ((np.zeros(2), np.zeros((5, 3)), np.zeros(5)), r"w: expected shape \(3,\)"),
    ((np.zeros(3), np.zeros((5, 3)), np.zeros(4)), r"y: expected shape \(5,\)"),
    ((np.zeros(3), np.zeros((5, 3)), np.full(5, 0.5)), "y: expected labels in"),
])
def test_invalid_inputs_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message):
        logreg.grad(*args)


def test_l2_validation():
    w, X, y = _problem()
    with pytest.raises(ValueError, match="l2: expected a scalar or shape"):
        logreg.nll(w, X, y, l2=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        logreg.hessian(w, X, y, l2=-1.0)


# ----- figures (widget callbacks) -------------------------------------------------------------

def test_bernoulli_figure_bars_are_the_pmf():
    fig = wl.bernoulli_pmf_figure(0.3)
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert np.allclose(heights, [0.7, 0.3])
    plt.close(fig)
    with pytest.raises(ValueError, match="p: expected a probability"):
        wl.bernoulli_pmf_figure(1.2)


def test_logistic_figure_marks_sigma_of_a():
    fig = wl.logistic_figure(2.0)
    marker = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == 1][0]
    assert np.isclose(marker.get_ydata()[0], scipy.special.expit(2.0))
    plt.close(fig)


def test_gd_figure_quadratic_panel_diverges_past_two_over_L():
    _, X, y = _problem(N=80, P=4, seed=2)
    tails = {}
    for alpha_L in (1.5, 2.5):
        fig = wl.gd_learning_rate_figure(alpha_L, X, y, l2=0.1, n_iter=40)
        line = fig.axes[1].lines[0]
        tails[alpha_L] = np.asarray(line.get_ydata(), float)
        plt.close(fig)
    assert np.nanmax(tails[1.5][-5:]) < 1e-6 * tails[1.5][1]
    assert tails[2.5][-1] > 1e3 * tails[2.5][1]


# ----- one source, no drift: the notebook's inline solutions agree with lecturekit ------------

def _solution_function(part: str, name: str):
    return release.solution_function(ROOT, part, name, {"np": np, "logreg": logreg})


@pytest.mark.parametrize("name", ["sigmoid", "nll", "grad", "hessian"])
def test_notebook_01_solutions_agree_with_lecturekit(name):
    student = _solution_function("01_logistic_regression", name)
    reference = getattr(logreg, name)
    for seed in range(3):
        w, X, y = _problem(N=40, P=6, seed=seed, scale=2.0)
        if name == "sigmoid":
            a = np.concatenate([X @ w * 50, [-800.0, 800.0]])
            assert np.allclose(student(a), reference(a), rtol=1e-12, atol=0)
        else:
            assert np.allclose(student(w, X, y), reference(w, X, y), rtol=1e-10, atol=1e-12)


def test_static_figures_show_their_data():
    P = np.array([26, 82, 170, 290])
    fig = wl.complexity_figure(P, {"gradient descent": 1e-6 * P, "Newton": 1e-8 * P ** 2.0})
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert labels == ["gradient descent (slope 1.0)", "Newton (slope 2.0)"]
    plt.close(fig)
    fig = wl.convergence_figure({"a": (np.linspace(0, 1, 5), np.logspace(2, -2, 5)), "b": (np.arange(3.0), np.ones(3))})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)
    rng = np.random.default_rng(0)
    fig = wl.patch_gallery_figure(rng.random((20, 5, 5)), np.r_[np.ones(10), np.zeros(10)], n_per_class=4)
    assert sum(len(ax.images) for ax in fig.axes) == 8
    plt.close(fig)
    with pytest.raises(ValueError, match="patches, labels"):
        wl.patch_gallery_figure(np.zeros((3, 5, 5)), np.zeros(2))
    fig = wl.probability_map_figure(rng.random((10, 12)), rng.random((10, 12)), [3.0, 4.0], [5.0, 6.0])
    marker = [ln for ln in fig.axes[1].lines if ln.get_label() == "most likely"][0]
    assert np.allclose(np.r_[marker.get_xdata(), marker.get_ydata()], [5.0, 6.0])
    plt.close(fig)


def test_simulated_problem_has_a_bias_column_and_checks_its_size():
    X, y, w_true, _ = logreg.simulate_problem(50, 4, seed=9)
    assert X.shape == (50, 4) and np.all(X[:, -1] == 1) and set(np.unique(y)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="n, p"):
        logreg.simulate_problem(10, 1)
