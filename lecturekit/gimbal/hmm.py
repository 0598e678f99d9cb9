"""Hidden Markov model utilities for GIMBAL's pose states (lecture: "GIMBAL: capturing
correlations in direction vectors with pose states").

Pose states s_t in {0..S-1} follow a Markov chain: p(s_1) = pi0, p(s_t = j | s_{t-1} = i) =
Lambda[i, j]. Given log-likelihoods log p(obs_t | s_t = j) (the vMF emissions), the Gibbs step
draws the whole sequence from p(s_{1:T} | obs) by forward filtering, backward sampling (FFBS):

    alpha_t(j) ∝ p(obs_t | j) sum_i alpha_{t-1}(i) Lambda[i, j]          (filter)
    s_T ~ alpha_T,   p(s_t = i | s_{t+1} = j, obs) ∝ alpha_t(i) Lambda[i, j]   (backward)

Both passes are associative, so they are vectorised over frames with a parallel prefix scan
(log2 T rounds of batched S x S products for the filter; composition of the backward maps
s_{t+1} -> s_t, each a lookup table of size S, for the sampler), not a Python loop over t.
"""

from __future__ import annotations

import numpy as np

__all__ = ["forward_filter", "backward_sample", "ffbs", "sample_transition_matrix", "count_transitions",
           "hmm_log_marginal"]


def _check(log_likelihoods, transition, initial):
    ll = np.asarray(log_likelihoods, dtype=float)
    if ll.ndim != 2 or ll.shape[0] < 1:
        raise ValueError(f"log_likelihoods: expected shape (T, S), got {ll.shape}")
    S = ll.shape[1]
    Lam = np.asarray(transition, dtype=float)
    if Lam.shape != (S, S) or np.any(Lam < 0) or not np.allclose(Lam.sum(1), 1.0, atol=1e-8):
        raise ValueError(f"transition: expected a row-stochastic ({S}, {S}) matrix")
    pi0 = np.full(S, 1.0 / S) if initial is None else np.asarray(initial, dtype=float)
    if pi0.shape != (S,) or np.any(pi0 < 0) or abs(pi0.sum() - 1) > 1e-8:
        raise ValueError(f"initial: expected a probability vector of shape ({S},)")
    if np.any(np.isnan(ll)):
        raise ValueError("log_likelihoods: contains NaN")
    return ll, Lam, pi0


def _prefix_products(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive prefix products P_t = M_0 M_1 ... M_t of (T, S, S) matrices (Hillis-Steele scan).

    Each product is rescaled to max 1; returns (P normalised, log scale) so P_true = P e^scale.
    """
    P = M.copy()
    log_scale = np.zeros(len(M))
    d = 1
    while d < len(M):
        prod = P[:-d] @ P[d:]
        m = prod.max(axis=(1, 2))
        m = np.where(m > 0, m, 1.0)
        new_scale = log_scale[:-d] + log_scale[d:] + np.log(m)
        P[d:] = prod / m[:, None, None]
        log_scale[d:] = new_scale
        d *= 2
    return P, log_scale


def forward_filter(log_likelihoods, transition, initial=None) -> tuple[np.ndarray, float]:
    """Filtered marginals alpha_t(j) = p(s_t = j | obs_{1:t}) and the log marginal likelihood.

    log_likelihoods: (T, S) log p(obs_t | s_t = j); transition: (S, S) Lambda[i, j];
    initial: (S,) pi0 (uniform if None). Returns (alpha (T, S), log p(obs_{1:T})).
    """
    ll, Lam, pi0 = _check(log_likelihoods, transition, initial)
    T, S = ll.shape
    shift = ll.max(axis=1)
    L = np.exp(ll - shift[:, None])                       # (T, S), max 1 per frame
    M = Lam[None, :, :] * L[:, None, :]                  # M_t[i, j] = Lambda[i, j] p(obs_t | j)
    M[0] = np.diag(L[0])                                  # the first frame has no transition
    P, log_scale = _prefix_products(M)
    unnorm = np.einsum("i,tij->tj", pi0, P)              # pi0^T M_0 ... M_t
    total = unnorm.sum(axis=1)
    alpha = unnorm / total[:, None]
    log_marginal = float(np.log(total[-1]) + log_scale[-1] + shift.sum())
    return alpha, log_marginal


def hmm_log_marginal(log_likelihoods, transition, initial=None) -> float:
    """log p(obs_{1:T}) of an HMM (see :func:`forward_filter`)."""
    return forward_filter(log_likelihoods, transition, initial)[1]


def backward_sample(alpha, transition, rng: np.random.Generator) -> np.ndarray:
    """Draw s_{1:T} ~ p(s | obs) from filtered marginals alpha (T, S) and Lambda (S, S).

    The maps f_t: s_{t+1} -> s_t (inverse-CDF draws with pre-drawn uniforms) are composed by a
    suffix scan, so s_t = f_t(f_{t+1}(... f_{T-1}(s_T))). Returns (T,) int states.
    """
    alpha = np.asarray(alpha, dtype=float)
    Lam = np.asarray(transition, dtype=float)
    T, S = alpha.shape
    s_last = min(int(np.searchsorted(np.cumsum(alpha[-1]), rng.random() * alpha[-1].sum())), S - 1)
    if T == 1:
        return np.array([s_last])
    cond = alpha[:-1, :, None] * Lam[None, :, :]          # (T-1, i, j) ∝ p(s_t = i | s_{t+1} = j)
    cdf = np.cumsum(cond, axis=1)
    U = rng.random((T - 1, 1, S)) * cdf[:, -1:, :]
    F = np.minimum((cdf < U).sum(axis=1), S - 1)           # (T-1, S): f_t(j)
    d = 1
    while d < T - 1:                                       # F[t] <- F[t] o F[t+d]
        F[:-d] = np.take_along_axis(F[:-d], F[d:], axis=1)
        d *= 2
    states = np.empty(T, dtype=int)
    states[-1] = s_last
    states[:-1] = F[:, s_last]
    return states


def ffbs(log_likelihoods, transition, rng: np.random.Generator, initial=None) -> tuple[np.ndarray, float]:
    """Forward-filter backward-sample: one exact draw of s_{1:T} from p(s | obs).

    log_likelihoods: (T, S); transition: (S, S); initial: (S,) or None (uniform).
    Returns (states (T,) int, log p(obs_{1:T})).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: expected a numpy.random.Generator")
    alpha, log_marginal = forward_filter(log_likelihoods, transition, initial)
    return backward_sample(alpha, transition, rng), log_marginal


def count_transitions(states, n_states: int) -> np.ndarray:
    """Transition counts N[i, j] = #{t: s_t = i, s_{t+1} = j}. states: (T,) or (N, T) ints."""
    states = np.atleast_2d(np.asarray(states))
    if states.size and (states.min() < 0 or states.max() >= n_states):
        raise ValueError(f"states: expected integers in [0, {n_states})")
    idx = states[:, :-1] * n_states + states[:, 1:]
    return np.bincount(idx.ravel(), minlength=n_states * n_states).reshape(n_states, n_states).astype(float)


def sample_transition_matrix(states, n_states: int, rng: np.random.Generator, concentration=1.0,
                             stickiness: float = 0.0) -> np.ndarray:
    """Draw Lambda | s from its conditional: row i ~ Dirichlet(concentration + stickiness e_i + N[i, :]).

    states: (T,) ints; concentration: scalar or (S, S) Dirichlet pseudo-counts.
    Returns (S, S) row-stochastic matrix.
    """
    counts = count_transitions(states, n_states)
    alpha = np.broadcast_to(np.asarray(concentration, dtype=float), (n_states, n_states)) + counts
    alpha = alpha + stickiness * np.eye(n_states)
    if np.any(alpha <= 0):
        raise ValueError("concentration: expected positive Dirichlet pseudo-counts")
    g = rng.standard_gamma(alpha)
    return g / g.sum(axis=1, keepdims=True)
