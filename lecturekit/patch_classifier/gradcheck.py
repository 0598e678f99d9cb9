"""Gradient and Hessian checks by finite differences (lecture: "Calculating the gradient";
in the spirit of CS231n's ``gradient_check``).

Central differences approximate a derivative with error O(h^2):

    df/dw_i ~ (f(w + h e_i) - f(w - h e_i)) / (2 h).

A check reports the *relative* error ||a - b|| / max(||a|| + ||b||, tiny): about 1e-7 or less
means the analytic derivative is right (float64, h ~ 1e-5); 1e-2 or more means it is wrong.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["relative_error", "numerical_gradient", "numerical_jacobian", "gradient_check", "hessian_check"]


def relative_error(a, b) -> float:
    """||a - b|| / max(||a|| + ||b||, 1e-300) over all entries (Frobenius norm); 0 when both are 0.

    a, b: arrays of the same shape.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a, b: expected the same shape, got {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    if denom == 0:
        return 0.0
    return float(np.linalg.norm(a - b) / max(denom, 1e-300))


def _check_step(h: float) -> float:
    h = float(h)
    if not (np.isfinite(h) and h > 0):
        raise ValueError(f"h: expected a positive finite step, got {h}")
    return h


def numerical_gradient(f: Callable[[np.ndarray], float], w, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function.

    f: maps a (P,) array to a float; w: (P,) point; h: step (same units as w). Returns (P,).
    """
    h = _check_step(h)
    w = np.array(w, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"w: expected shape (P,), got {w.shape}")
    g = np.empty_like(w)
    for i in range(w.size):
        old = w[i]
        w[i] = old + h
        fp = float(f(w))
        w[i] = old - h
        fm = float(f(w))
        w[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


def numerical_jacobian(F: Callable[[np.ndarray], np.ndarray], w, h: float = 1e-5) -> np.ndarray:
    """Central-difference Jacobian J[i, j] = dF_i / dw_j of a vector function F: (P,) -> (M,).

    Returns (M, P). Applied to a gradient it gives the Hessian.
    """
    h = _check_step(h)
    w = np.array(w, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"w: expected shape (P,), got {w.shape}")
    columns = []
    for j in range(w.size):
        old = w[j]
        w[j] = old + h
        Fp = np.asarray(F(w), dtype=float).copy()
        w[j] = old - h
        Fm = np.asarray(F(w), dtype=float).copy()
        w[j] = old
        columns.append((Fp - Fm) / (2 * h))
    return np.stack(columns, axis=-1)


def gradient_check(f, grad_f, w, h: float = 1e-5, verbose: bool = True) -> float:
    """Compare ``grad_f(w)`` with the central-difference gradient of ``f``; return the relative error.

    f: (P,) -> float; grad_f: (P,) -> (P,); w: (P,) point.
    """
    analytic = np.asarray(grad_f(np.array(w, dtype=float)), dtype=float)
    numeric = numerical_gradient(f, w, h)
    err = relative_error(analytic, numeric)
    if verbose:
        print(f"gradient check: relative error {err:.1e}")
    return err


def hessian_check(grad_f, hess_f, w, h: float = 1e-5, verbose: bool = True) -> float:
    """Compare ``hess_f(w)`` (P, P) with the central-difference Jacobian of ``grad_f``; return the relative error."""
    analytic = np.asarray(hess_f(np.array(w, dtype=float)), dtype=float)
    numeric = numerical_jacobian(grad_f, w, h)
    err = relative_error(analytic, numeric)
    if verbose:
        print(f"Hessian check: relative error {err:.1e}")
    return err
