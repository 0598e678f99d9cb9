"""The numpy SGD-with-momentum, Adagrad, RMSProp and Adam steps against torch.optim, step by step:
same start, same mini-batch gradients -> the same iterates; plus the full-batch gradient oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecturekit.patch_classifier import logreg, optim


def _problem(N=200, P=5, seed=0):
    X, y, _, _ = logreg.simulate_problem(N, P, seed=seed)
    return X, y


TORCH = {
    "SGD + momentum": lambda p, lr: torch.optim.SGD([p], lr=lr, momentum=0.9),
    "Adagrad": lambda p, lr: torch.optim.Adagrad([p], lr=lr),
    "RMSProp": lambda p, lr: torch.optim.RMSprop([p], lr=lr),
    "Adam": lambda p, lr: torch.optim.Adam([p], lr=lr),
}


@pytest.mark.parametrize("method", optim.STOCHASTIC_METHODS)
def test_steps_equal_torch_optim_step_by_step(method):
    X, y = _problem()
    rng = np.random.default_rng(1)
    lr, lam = 0.05, 0.3 / len(y)
    w = rng.normal(size=X.shape[1])
    wt = torch.tensor(w.copy(), requires_grad=True)
    opt = TORCH[method](wt, lr)
    state = [np.zeros_like(w), np.zeros_like(w)]
    for t in range(1, 9):
        idx = rng.choice(len(y), size=32, replace=False)
        g = optim.minibatch_grad(w, X[idx], y[idx], lam)
        wt.grad = torch.as_tensor(g.copy())     # torch sees exactly the same gradient
        opt.step()
        if method == "SGD + momentum":
            w, state[0] = optim.sgd_momentum_step(w, g, state[0], lr)
        elif method == "Adagrad":
            w, state[0] = optim.adagrad_step(w, g, state[0], lr)
        elif method == "RMSProp":
            w, state[0] = optim.rmsprop_step(w, g, state[0], lr)
        else:
            w, state[0], state[1] = optim.adam_step(w, g, state[0], state[1], t, lr)
        assert np.max(np.abs(w - wt.detach().numpy())) < 1e-10, (method, t)


@pytest.mark.parametrize("method", optim.STOCHASTIC_METHODS)
def test_fit_minibatch_is_the_same_loop_as_torch(method):
    # The whole fit: replay fit_minibatch's shuffles through torch.optim with autograd gradients.
    X, y = _problem(N=150, P=4, seed=3)
    l2, lr, B = 2.0, 0.03, 40
    # A random start: at w = 0 a gradient entry can be pure round-off, which Adagrad's g / sqrt(g^2)
    # amplifies to a full step, so the two loops would differ by their (different) round-off alone.
    w0 = np.random.default_rng(2).normal(size=X.shape[1])
    res = optim.fit_minibatch(X, y, l2, method=method, alpha=lr, n_epochs=2, batch_size=B, seed=5, w0=w0)
    wt = torch.tensor(w0.copy(), requires_grad=True)
    opt = TORCH[method](wt, lr)
    rng = np.random.default_rng(5)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    path = [wt.detach().numpy().copy()]
    for _ in range(2):
        order = rng.permutation(len(y))
        for start in range(0, len(y), B):
            idx = torch.as_tensor(order[start:start + B])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(Xt[idx] @ wt, yt[idx]) \
                + 0.5 * l2 * (wt * wt).sum() / len(y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            path.append(wt.detach().numpy().copy())
    assert res.path.shape == (len(path), X.shape[1])
    assert np.max(np.abs(res.path - np.stack(path))) < 1e-10


def test_minibatch_grad_of_all_patches_is_the_full_gradient_over_N():
    X, y = _problem(N=90, P=6, seed=4)
    w = np.random.default_rng(0).normal(size=6)
    got = optim.minibatch_grad(w, X, y, 1.5 / 90)
    assert np.allclose(got, logreg.grad(w, X, y, 1.5) / 90, rtol=1e-12)


def test_tuned_stochastic_methods_reduce_the_nll():
    X, y = _problem(N=400, P=6, seed=7)
    f_star = logreg.nll(optim.fit_newton(X, y, 1.0, tol=1e-16).w, X, y, 1.0)
    f0 = logreg.nll(np.zeros(6), X, y, 1.0)
    for method, lr in zip(optim.STOCHASTIC_METHODS, (0.3, 0.3, 0.03, 0.03)):
        res = optim.fit_minibatch(X, y, 1.0, method=method, alpha=lr, n_epochs=20, batch_size=40)
        assert optim.losses_along_path(res.path[-1:], X, y, 1.0)[0] - f_star < 0.02 * (f0 - f_star), method


def test_fit_minibatch_validation():
    X, y = _problem(N=20, P=3)
    with pytest.raises(ValueError, match="method: expected one of"):
        optim.fit_minibatch(X, y, method="lbfgs")
    with pytest.raises(ValueError, match="alpha: expected a positive"):
        optim.fit_minibatch(X, y, alpha=-1.0)
