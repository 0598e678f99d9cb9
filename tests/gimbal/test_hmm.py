"""HMM utilities: FFBS against exact enumeration on a tiny HMM."""

import itertools

import numpy as np
import pytest

from lecturekit.gimbal import hmm


def _tiny(T=5, S=3, seed=0):
    rng = np.random.default_rng(seed)
    Lam = rng.dirichlet(np.ones(S) * 2, size=S)
    pi0 = rng.dirichlet(np.ones(S))
    ll = rng.normal(0, 1.5, (T, S))
    return ll, Lam, pi0


def _enumerate(ll, Lam, pi0):
    T, S = ll.shape
    seqs = list(itertools.product(range(S), repeat=T))
    logp = []
    for s in seqs:
        lp = np.log(pi0[s[0]]) + ll[0, s[0]]
        for t in range(1, T):
            lp += np.log(Lam[s[t - 1], s[t]]) + ll[t, s[t]]
        logp.append(lp)
    logp = np.array(logp)
    m = logp.max()
    return seqs, logp, m + np.log(np.exp(logp - m).sum())


def test_marginal_likelihood_and_filter_match_enumeration():
    ll, Lam, pi0 = _tiny()
    seqs, logp, logZ = _enumerate(ll, Lam, pi0)
    alpha, log_marginal = hmm.forward_filter(ll, Lam, pi0)
    assert abs(log_marginal - logZ) < 1e-9
    # the last filtered marginal equals the smoothed one at T
    post = np.exp(logp - logZ)
    last = np.array([post[[s[-1] == j for s in seqs]].sum() for j in range(3)])
    np.testing.assert_allclose(alpha[-1], last, atol=1e-12)


def test_ffbs_draws_follow_the_exact_posterior():
    ll, Lam, pi0 = _tiny(T=4, S=3, seed=1)
    seqs, logp, logZ = _enumerate(ll, Lam, pi0)
    post = np.exp(logp - logZ)
    rng = np.random.default_rng(2)
    n = 30000
    index = {s: i for i, s in enumerate(seqs)}
    counts = np.zeros(len(seqs))
    for _ in range(n):
        counts[index[tuple(hmm.ffbs(ll, Lam, rng, pi0)[0])]] += 1
    tv = 0.5 * np.abs(counts / n - post).sum()
    assert tv < 0.03, tv


def test_long_sequence_is_stable_and_scan_matches_loop():
    rng = np.random.default_rng(4)
    T, S = 3000, 4
    Lam = rng.dirichlet(np.ones(S), size=S)
    ll = rng.normal(0, 30, (T, S))            # huge likelihood ratios: needs the rescaling
    alpha, lm = hmm.forward_filter(ll, Lam)
    # reference: a plain normalised loop
    a = np.full(S, 1 / S) * np.exp(ll[0] - ll[0].max())
    ref_lm = np.log(a.sum()) + ll[0].max()
    a /= a.sum()
    for t in range(1, T):
        a = (a @ Lam) * np.exp(ll[t] - ll[t].max())
        ref_lm += np.log(a.sum()) + ll[t].max()
        a /= a.sum()
    np.testing.assert_allclose(alpha[-1], a, atol=1e-8)
    assert abs(lm - ref_lm) < 1e-6 * abs(ref_lm)
    states = hmm.backward_sample(alpha, Lam, rng)
    assert states.shape == (T,) and states.min() >= 0 and states.max() < S


def test_transition_counts_and_dirichlet_conditional():
    s = np.array([0, 0, 1, 2, 2, 2, 0])
    N = hmm.count_transitions(s, 3)
    assert N.sum() == 6 and N[2, 2] == 2 and N[0, 1] == 1
    rng = np.random.default_rng(0)
    draws = np.array([hmm.sample_transition_matrix(s, 3, rng, 1.0) for _ in range(4000)])
    np.testing.assert_allclose(draws.mean(0), (N + 1) / (N + 1).sum(1, keepdims=True), atol=0.01)


def test_validation_messages():
    with pytest.raises(ValueError, match="transition: expected a row-stochastic"):
        hmm.forward_filter(np.zeros((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="log_likelihoods: expected shape"):
        hmm.forward_filter(np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="states: expected integers"):
        hmm.count_transitions([0, 3], 2)
