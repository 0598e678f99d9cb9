"""GIMBAL: conditionals vs brute force, the position update's invariance, calibration on data
from GIMBAL's own generative model, NaN masking, fitting."""

import numpy as np
import pytest
from scipy import stats

from lecturekit.geometry import make_camera
from lecturekit.gimbal import (
    GimbalParams,
    GimbalSampler,
    comparison,
    diagnostics,
    dispersed_starts,
    fit_gimbal,
    model,
    run_chains,
    sample_gimbal,
    vmf,
)
from lecturekit.gimbal.model import (
    fit_observation_model,
    fit_vmf_mixture,
    position_prior_precision,
    sample_positions_given_directions,
)
from lecturekit.gimbal.sampler import FrameBlock, Projection, from_components, to_components

PARENTS = np.array([1, -1, 1, 2, 1, 4])      # root 1; a small tree of depth 2


def _params(S=2, seed=0, kappa=15.0, eta=6.0, sigma=2.0, beta=0.1, init_std=100.0):
    rng = np.random.default_rng(seed)
    K = len(PARENTS)
    nu = vmf.sample_vmf(np.array([1.0, 0.0, 0.0]), 1.0, rng, size=(S, K))
    kap = np.full((S, K), kappa)
    kap[:, PARENTS < 0] = 0.0
    Lam = np.full((S, S), 0.1 / max(S - 1, 1)) + np.eye(S) * (0.9 - 0.1 / max(S - 1, 1)) if S > 1 else np.ones((1, 1))
    return GimbalParams(parents=PARENTS, rho=np.where(PARENTS >= 0, 25.0, 0.0), sigma2=np.full(K, sigma**2),
                        eta2=np.full(K, eta**2), nu=nu, kappa=kap, transition=Lam, initial=np.full(S, 1 / S),
                        obs_std=2.0, outlier_std=80.0, outlier_prob=beta, init_std=init_std)


def _cameras(k1=0.0):
    angles = np.linspace(0, 2 * np.pi, 5)[:-1] + 0.3
    return [make_camera([500 * np.cos(a), 500 * np.sin(a), 250], [0, 0, 0], 550.0, k1=k1 * (i % 2), name=f"c{i}")
            for i, a in enumerate(angles)]


def _grid_sphere(n=250):
    th = (np.arange(n) + 0.5) * np.pi / n
    ph = (np.arange(2 * n) + 0.5) * np.pi / n
    T, P = np.meshgrid(th, ph, indexing="ij")
    pts = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    return pts, np.sin(T).ravel()


def test_projection_jacobian_matches_finite_differences():
    cams = _cameras(k1=-0.2)
    p = _params()
    rng = np.random.default_rng(0)
    x = rng.normal(0, 40, (3, len(PARENTS), 3))
    smp = GimbalSampler(p, cams, np.full((4, 3, len(PARENTS), 2), np.nan))
    pix, ok, J = smp.project(to_components(x), True)                  # (2, C, n, K), (C, n, K), (C, 3, 2, n, K)
    assert ok.all()
    ref = np.stack([c.project(x) for c in cams])
    np.testing.assert_allclose(np.moveaxis(pix, 0, -1), ref, atol=1e-9)
    eps = 1e-5
    for a in range(3):
        dx = np.zeros(3)
        dx[a] = eps
        plus, minus = smp.project(to_components(x + dx), False), smp.project(to_components(x - dx), False)
        fd = (plus.pixels - minus.pixels) / (2 * eps)
        np.testing.assert_allclose(np.moveaxis(J[:, a], 1, 0), fd, rtol=1e-5, atol=1e-6)


def test_tree_elimination_matches_dense_linear_algebra():
    p = _params()
    K = len(PARENTS)
    smp = GimbalSampler(p, _cameras(), np.full((4, 5, K, 2), np.nan))
    rng = np.random.default_rng(1)
    n = 3
    # per-axis prior precision of frames 1..3 given their neighbours: diagonal blocks of the
    # banded precision of the whole field (an independent construction in model.py)
    ab, _ = position_prior_precision(p, 5)
    dense = np.diag(ab[K])
    for off in range(1, K + 1):
        dense += np.diag(ab[K - off, off:], off) + np.diag(ab[K - off, off:], -off)
    A = np.stack([dense[K * t:K * t + K, K * t:K * t + K] for t in range(1, 1 + n)])
    np.testing.assert_allclose(smp.diag_prior[1:1 + n], A[:, np.arange(K), np.arange(K)])
    np.testing.assert_allclose(smp.tree_offdiag, A[0] - np.diag(np.diag(A[0])))
    Hroot = rng.normal(size=(n, K, 3, 3))
    H = Hroot @ np.swapaxes(Hroot, -1, -2)
    D = H + A[:, np.arange(K), np.arange(K)][..., None, None] * np.eye(3)
    h = rng.normal(size=(n, K, 3))
    Dinv, h_red, logdet, quad = smp.eliminate(np.moveaxis(D, (-2, -1), (0, 1)).copy(), to_components(h))
    for i in range(n):
        P = np.kron(A[i], np.eye(3))
        for k in range(K):
            P[3 * k:3 * k + 3, 3 * k:3 * k + 3] += H[i, k]
        assert abs(np.linalg.slogdet(P)[1] - logdet[i]) < 1e-8
        assert abs(h[i].ravel() @ np.linalg.solve(P, h[i].ravel()) - quad[i]) < 1e-8 * max(1, abs(quad[i]))
    # samples from the eliminated form have mean P^{-1} h and covariance P^{-1}
    big = 20000
    xs = from_components(smp.tree_sample(np.repeat(Dinv[:, :, :1], big, 2), np.repeat(h_red[:, :1], big, 1), rng))
    xs = xs.reshape(big, -1)
    P = np.kron(A[0], np.eye(3))
    for k in range(K):
        P[3 * k:3 * k + 3, 3 * k:3 * k + 3] += H[0, k]
    cov = np.linalg.inv(P)
    np.testing.assert_allclose(xs.mean(0), cov @ h[0].ravel(), atol=4 * np.sqrt(np.diag(cov).max() / big))
    np.testing.assert_allclose(np.cov(xs.T), cov, atol=0.05 * np.abs(cov).max())


def test_direction_conditional_matches_grid_posterior():
    p = _params()
    rng = np.random.default_rng(2)
    smp = GimbalSampler(p, _cameras(), np.full((4, 1, len(PARENTS), 2), np.nan))
    x = rng.normal(0, 20, (1, len(PARENTS), 3))
    heading, states = np.array([0.7]), np.array([1])
    mu, kappa = smp.direction_conditional(x, heading, states)
    pts, w = _grid_sphere()
    for k in np.flatnonzero(PARENTS >= 0):
        prior_mean = model.rotate_about_z(p.nu[1, k], 0.7)
        d = x[0, k] - x[0, PARENTS[k]]
        log_lik = -np.sum((d - p.rho[k] * pts) ** 2, 1) / (2 * p.sigma2[k])
        logpost = vmf.vmf_logpdf(pts, prior_mean, p.kappa[1, k]) + log_lik
        q = np.exp(logpost - logpost.max()) * w
        grid_mean = (q[:, None] * pts).sum(0) / q.sum()
        np.testing.assert_allclose(vmf.vmf_mean_resultant(kappa[0, k]) * mu[0, k], grid_mean, atol=3e-4)


def test_heading_conditional_matches_grid_posterior_with_kappa_weights():
    p = _params()
    rng = np.random.default_rng(3)
    kap = p.kappa.copy()
    kap[:, 2:] *= 5.0                                          # unequal kappas: the weights matter
    p = p.replace(kappa=kap)
    smp = GimbalSampler(p, _cameras(), np.full((4, 2, len(PARENTS), 2), np.nan))
    u = vmf.sample_vmf(np.array([0.0, 0.0, 1.0]), 0.0, rng, size=(2, len(PARENTS)))
    states = np.array([0, 1])
    mean, conc = smp.heading_conditional(u, states)
    h = np.linspace(-np.pi, np.pi, 20001)[:-1]
    for t in range(2):
        s = states[t]
        mu = model.rotate_about_z(p.nu[s][None], h[:, None])          # (H, K, 3)
        logp = np.sum(p.kappa[s] * np.sum(mu * u[t], -1), axis=1)
        grid = np.exp(logp - logp.max())
        grid /= grid.sum() * (h[1] - h[0])
        np.testing.assert_allclose(stats.vonmises(conc[t], loc=mean[t]).pdf(h), grid, atol=1e-6 * grid.max() + 1e-9)


def test_state_likelihoods_match_scipy_vmf():
    p = _params(S=3)
    rng = np.random.default_rng(4)
    smp = GimbalSampler(p, _cameras(), np.full((4, 2, len(PARENTS), 2), np.nan))
    u = vmf.sample_vmf(np.array([0.0, 0.0, 1.0]), 0.0, rng, size=(2, len(PARENTS)))
    heading = np.array([0.3, -2.0])
    ll = smp.state_log_likelihoods(u, heading)
    for t in range(2):
        for s in range(3):
            ref = sum(stats.vonmises_fisher(model.rotate_about_z(p.nu[s, k], heading[t]), p.kappa[s, k]).logpdf(u[t, k])
                      for k in np.flatnonzero(PARENTS >= 0))
            assert abs(ll[t, s] - ref) < 1e-8


class _NoMetropolisCorrection(GimbalSampler):
    """Negative control: takes every Gauss-Newton proposal (no MH correction) - not invariant."""

    def _update_positions(self, xc, uc, z, rng, proj):
        xc = xc.copy()
        for parity, block in enumerate(self._blocks):
            sl = slice(parity, None, 2)
            b = self.prior_linear_term(xc, uc, block.frames)
            proj_blk = Projection(*(np.ascontiguousarray(a[..., sl, :]) for a in proj))
            prop = self._laplace(np.ascontiguousarray(xc[:, sl]), proj_blk, block, b, np.ascontiguousarray(z[:, sl]))
            xc[:, sl] = self.tree_sample(prop.Dinv, prop.h_reduced, rng)
            proj = self.project(xc, True)
        return xc, 1.0, proj


def _geweke_position_statistics(sampler_class, R=400, T=4, sweeps=4, seed=1):
    """x ~ its exact Gaussian prior given u, y | x from one close camera (a strongly nonlinear
    likelihood), then MH position updates given y: x must still follow the prior."""
    p = _params(beta=0.0, eta=30.0, init_std=50.0).replace(obs_std=3.0)
    cams = [make_camera([150.0, 0, 0], [0, 0, 0], 300.0, name="close")]
    rng = np.random.default_rng(seed)
    K = len(PARENTS)
    u = vmf.sample_vmf(np.array([1.0, 0.0, 0.0]), 2.0, rng, size=(T, K))
    u[:, PARENTS < 0] = 0
    before, after = [], []
    for _ in range(R):
        x = sample_positions_given_directions(p, u, rng)
        y = cams[0].project(x)[None] + p.obs_std * rng.standard_normal((1, T, K, 2))
        smp = sampler_class(p, cams, y, outlier_model=False)
        z = np.zeros((1, T, K), bool)
        x1 = to_components(x)
        proj = smp.project(x1, True)
        for _ in range(sweeps):
            x1, _, proj = smp._update_positions(x1, to_components(u), z, rng, proj)
        before.append(x)
        after.append(from_components(x1))
    before, after = np.array(before), np.array(after)
    z_mean = (after.mean(0) - before.mean(0)) / (before.std(0) * np.sqrt(2 / R))
    return np.mean(after != before), np.abs(z_mean).max(), after.var(0).mean() / before.var(0).mean()


def test_position_update_leaves_the_joint_invariant():
    moved, z_max, var_ratio = _geweke_position_statistics(GimbalSampler)
    assert moved > 0.5
    assert z_max < 2.0 and abs(var_ratio - 1) < 0.02, (z_max, var_ratio)
    # the same statistics catch a kernel without the Metropolis-Hastings correction
    _, z_max_bad, var_ratio_bad = _geweke_position_statistics(_NoMetropolisCorrection)
    assert z_max_bad > 2.6 or abs(var_ratio_bad - 1) > 0.03, (z_max_bad, var_ratio_bad)


def test_interval_coverage_on_data_from_the_generative_model():
    """90% credible intervals of positions cover ~90% of the true positions (85-95%).

    Uses the model without the temporal factor, where ancestral sampling is exact (with it, the
    positions' Gaussian field makes the joint a Markov random field; see model.py)."""
    p = _params(S=2, beta=0.15)
    cams = _cameras()
    rng = np.random.default_rng(6)
    covs = []
    for _ in range(2):
        d = sample_gimbal(p, 40, cams, rng, temporal=False)
        smp = GimbalSampler(p, cams, d["observations"], temporal=False)
        state = smp.initial_state(d["positions"] + rng.normal(0, 3, d["positions"].shape), rng)
        state, out = smp.run(state, 300, rng, burn_in=60, progress=False)
        covs.append(diagnostics.interval_coverage(out["positions"], d["positions"], 0.9))
    assert 0.85 <= np.mean(covs) <= 0.95, covs


def _masked_run(p, cams, observations, start, mask=None):
    smp = GimbalSampler(p, cams, observations, mask=mask)
    rng = np.random.default_rng(8)
    state = smp.initial_state(start, rng)
    state, _ = smp.run(state, 5, rng, progress=False)
    return state


def test_nan_observations_are_masked():
    """Detections off the mask (NaN, or wild values with mask=False) must not change the chain;
    the same wild values, unmasked, must."""
    p = _params()
    cams = _cameras()
    rng = np.random.default_rng(7)
    d = sample_gimbal(p, 10, cams, rng)
    y = d["observations"].copy()
    y[0, :, 2] = np.nan
    y[1:3, 4, :] = np.nan
    missing = np.isnan(y).any(-1)
    # finite garbage where missing: far-off values, and values near the true projection (which an
    # outlier draw that ignored the mask would call inliers)
    near = np.stack([c.project(d["positions"]) for c in cams]) + 5.0
    garbage = np.where(rng.random(y.shape[:3] + (1,)) < 0.5, rng.uniform(-1e4, 1e4, y.shape), near)
    wild = np.where(missing[..., None], garbage, y)
    ref = _masked_run(p, cams, y, d["positions"])
    masked = _masked_run(p, cams, wild, d["positions"], mask=~missing)
    assert np.all(np.isfinite(ref.positions))
    np.testing.assert_array_equal(masked.positions, ref.positions)
    np.testing.assert_array_equal(masked.outliers, ref.outliers)
    # negative control: the wild values, used, move the positions
    unmasked = _masked_run(p, cams, wild, d["positions"])
    assert np.max(np.abs(unmasked.positions - ref.positions)) > 1.0
    with pytest.raises(ValueError, match="mask: expected a bool array"):
        GimbalSampler(p, cams, y, mask=np.ones((4, 10, 2), bool))


def test_block_likelihood_matches_brute_force_over_observed_detections():
    """The position move's log-likelihood and Gauss-Newton gradient of a frame block against a
    direct sum over the detections on the mask (camera.project, finite differences)."""
    p = _params()
    cams = _cameras(k1=-0.2)
    rng = np.random.default_rng(15)
    d = sample_gimbal(p, 6, cams, rng)
    y = d["observations"]
    mask = rng.random(y.shape[:3]) > 0.3
    z = rng.random(y.shape[:3]) < 0.2
    smp = GimbalSampler(p, cams, y, mask=mask)
    x = d["positions"] + rng.normal(0, 2, d["positions"].shape)
    block = smp._blocks[1]                                              # frames 1, 3, 5
    zb = np.ascontiguousarray(z[:, 1::2])

    def brute(xb):                                                      # (n, K, 3) -> (n,)
        res = np.stack([c.project(xb) for c in cams]) - y[:, 1::2]
        std = np.where(zb, p.outlier_std, p.obs_std)
        return -0.5 * np.sum(np.where(mask[:, 1::2], np.sum(res**2, -1) / std**2, 0.0), axis=(0, 2))

    xb = x[1::2]
    terms = smp._likelihood(smp.project(to_components(xb), True), block, zb, True)
    np.testing.assert_allclose(terms.log_lik, brute(xb), rtol=1e-10)
    eps = 1e-4
    for k in (0, 3):
        for a in range(3):
            dx = np.zeros_like(xb)
            dx[:, k, a] = eps
            fd = (brute(xb + dx) - brute(xb - dx)) / (2 * eps)
            np.testing.assert_allclose(terms.gradient[a, :, k], fd, rtol=1e-4, atol=1e-6)
    assert isinstance(block, FrameBlock) and np.array_equal(block.frames, [1, 3, 5])


def test_submodel_switches():
    p = _params()
    cams = _cameras()
    rng = np.random.default_rng(9)
    d = sample_gimbal(p, 8, cams, rng)
    smp = GimbalSampler(p, cams, d["observations"], outlier_model=False, infer_heading=False)
    state = smp.initial_state(d["positions"], rng)
    state, _ = smp.run(state, 3, rng, progress=False)
    assert not state.outliers.any() and np.all(state.heading == 0)
    m2 = model.uniform_direction_params(p)
    assert m2.n_states == 1 and np.all(m2.kappa == 0)


def test_vmf_mixture_em_recovers_known_parameters():
    rng = np.random.default_rng(10)
    K, S, T = 4, 3, 3000
    nu = np.array([[[1, 0, 0]] * K, [[0, 1, 0]] * K, [[0, 0, 1]] * K], float)
    kappa = np.array([[20.0, 5, 50, 10], [8, 30, 15, 40], [25, 25, 5, 12]])
    w = np.array([0.5, 0.3, 0.2])
    s = rng.choice(S, T, p=w)
    u = vmf.sample_vmf(nu[s], kappa[s], rng)
    w_hat, nu_hat, k_hat, resp, trace = fit_vmf_mixture(u, S, rng)
    order = [int(np.argmax(nu_hat[:, 0] @ nu[j, 0])) for j in range(S)]
    np.testing.assert_allclose(w_hat[order], w, atol=0.03)
    assert np.min(np.sum(nu_hat[order] * nu, -1)) > 0.98
    np.testing.assert_allclose(k_hat[order], kappa, rtol=0.2)
    assert np.all(np.diff(trace) > -1e-6)                     # EM never decreases the likelihood


def test_fit_gimbal_recovers_generative_parameters():
    p = _params(S=1, kappa=20.0, eta=4.0, sigma=2.0)
    rng = np.random.default_rng(11)
    d = sample_gimbal(p, 1500, _cameras(), rng, temporal=False)     # exact ancestral draws
    fit, states = fit_gimbal(d["positions"], PARENTS, 1, rng, heading=d["heading"], sigma_min=0.1)
    nonroot = PARENTS >= 0
    np.testing.assert_allclose(fit.rho[nonroot], 25.0, rtol=0.02)
    np.testing.assert_allclose(np.sqrt(fit.sigma2[nonroot]), 2.0, rtol=0.15)
    assert np.min(np.sum(fit.nu[0, nonroot] * p.nu[0, nonroot], -1)) > 0.98
    # observation model from reprojection residuals
    res = d["observations"] - np.stack([c.project(d["positions"]) for c in _cameras()])
    s_in, s_out, beta = fit_observation_model(res)
    assert abs(s_in - 2.0) < 0.1 and abs(s_out - 80.0) < 8 and abs(beta.mean() - 0.1) < 0.02


def test_validation_messages():
    p = _params()
    with pytest.raises(ValueError, match=r"observations: expected shape \(4, T, 6, 2\)"):
        GimbalSampler(p, _cameras(), np.zeros((3, 5, 6, 2)))
    with pytest.raises(TypeError, match="cameras"):
        GimbalSampler(p, [1, 2], np.zeros((2, 5, 6, 2)))
    with pytest.raises(ValueError, match="parents: expected"):
        p.replace(parents=np.array([0, 0, 1, 2, 1, 4]))
    with pytest.raises(ValueError, match="sigma2"):
        p.replace(sigma2=np.zeros(6))
    with pytest.raises(ValueError, match="heading"):
        fit_gimbal(np.zeros((5, 6, 3)), PARENTS, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="chains"):
        diagnostics.rhat(np.zeros(5))


def rank_normalised_split_rhat(x):
    """Independent oracle: Vehtari et al. (2021) eq. 4-5 written out for (M, N) chains: split the
    chains, rank-normalise (Blom's offset 3/8), classic R-hat; the same on the folded draws
    |x - median|; the larger of the two."""
    def classic(z):
        n = z.shape[1]
        W = z.var(axis=1, ddof=1).mean()
        B = n * z.mean(axis=1).var(ddof=1)
        return np.sqrt(((n - 1) / n * W + B / n) / W)

    def normal_scores(z):
        ranks = stats.rankdata(z, method="average").reshape(z.shape)
        return stats.norm.ppf((ranks - 3 / 8) / (z.size + 1 / 4))

    n = x.shape[1] // 2
    split = np.concatenate([x[:, :n], x[:, -n:]], axis=0)
    folded = np.abs(split - np.median(split))
    return max(classic(normal_scores(split)), classic(normal_scores(folded)))


def test_arviz_diagnostics_on_chains_with_known_answers():
    rng = np.random.default_rng(12)
    phi, M, N = 0.7, 4, 3000
    e = rng.standard_normal((M, N, 20))
    x = np.zeros_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, N):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    ess = diagnostics.ess(x)
    assert ess.shape == (20,)
    assert abs(ess.mean() / (M * N * (1 - phi) / (1 + phi)) - 1) < 0.1     # AR(1): ESS = MN (1 - phi) / (1 + phi)
    rhat = diagnostics.rhat(x)
    assert np.all(rhat < 1.01)
    x[0] += 3.0                                                           # one chain stuck elsewhere
    rhat = diagnostics.rhat(x)
    assert np.all(rhat > 1.1)
    oracle = np.array([rank_normalised_split_rhat(x[..., q]) for q in range(3)])
    assert np.allclose(rhat[:3], oracle, rtol=1e-6)
    # trailing shapes are kept; the tail ESS is a different quantity from the bulk ESS
    y = rng.standard_normal((4, 200, 2, 3))
    assert diagnostics.rhat(y).shape == (2, 3) and diagnostics.ess(y, kind="tail").shape == (2, 3)
    idata = diagnostics.to_inference_data({"a": y, "b": y[..., 0]})
    assert idata.posterior["a"].shape == (4, 200, 2, 3)
    with pytest.raises(ValueError, match="same"):
        diagnostics.to_inference_data({"a": y, "b": y[:2]})
    with pytest.raises(ValueError, match="kind"):
        diagnostics.ess(y, kind="median")


def test_dispersed_starts_and_one_start_per_chain():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 30, (50, len(PARENTS), 3))
    x[4, 2] = np.nan
    starts = dispersed_starts(x, 400, 20.0, np.random.default_rng(0))
    assert starts.shape == (400,) + x.shape and np.all(np.isfinite(starts))
    offset = starts - np.where(np.isfinite(x), x, 0.0)
    shift = offset[:, :, :2].mean(axis=(1, 2))                            # per chain: whole-skeleton shift
    assert abs(shift.std() / 20.0 - 1) < 0.12                              # N(0, scale^2) per axis
    jitter = offset[:, 10:] - offset[:, 10:].mean(axis=(1, 2), keepdims=True)
    assert abs(jitter.std() / 10.0 - 1) < 0.05                             # N(0, (scale/2)^2)
    with pytest.raises(ValueError, match="scale"):
        dispersed_starts(x, 2, -1.0, rng)
    p = _params()
    cams = _cameras()
    d = sample_gimbal(p, 6, cams, np.random.default_rng(14))
    far = np.stack([d["positions"], d["positions"] + 60.0])               # chain 1 starts 60 mm away per axis
    out = run_chains(p, cams, d["observations"], far, n_chains=2, n_sweeps=1, burn_in=0, progress=False,
                     newton_steps=0)
    same = run_chains(p, cams, d["observations"], far[0], n_chains=2, n_sweeps=1, burn_in=0, progress=False,
                      newton_steps=0)
    gap_far = np.abs(out["positions"][1, 0] - out["positions"][0, 0]).mean()
    gap_same = np.abs(same["positions"][1, 0] - same["positions"][0, 0]).mean()
    assert gap_far > 10 * gap_same
    with pytest.raises(ValueError, match="init_positions"):
        run_chains(p, cams, d["observations"], far, n_chains=3, n_sweeps=1, progress=False)


def test_widget_figures_draw_and_validate():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lecturekit.gimbal import figures as gw

    fig = gw.draw_vmf_samples(kappa=10.0, azimuth_deg=0.0, elevation_deg=90.0, n=50)
    assert isinstance(fig, plt.Figure)
    plt.close(fig)
    with pytest.raises(ValueError, match="kappa"):
        gw.draw_vmf_samples(kappa=-1.0)
    rng = np.random.default_rng(0)
    K = len(PARENTS)
    samples = rng.normal(0, 20, (6, 4, K, 3))
    cams = _cameras()
    obs = np.stack([c.project(samples[0]) for c in cams])
    fig = gw.draw_posterior_frame(2, samples=samples, cameras=cams, observations=obs, parents=PARENTS,
                                  names=[f"k{i}" for i in range(K)], truth=samples[0])
    assert len(fig.axes) == 4
    plt.close(fig)
    with pytest.raises(ValueError, match="t: expected a frame"):
        gw.draw_posterior_frame(9, samples=samples, cameras=cams, observations=obs, parents=PARENTS, names=["a"] * K)
    fig = gw.plot_traces(rng.normal(size=(2, 10, 3)), labels=["a", "b", "c"], burn_in=4)
    assert len(fig.axes) == 6                                             # trace and rank plot per quantity
    plt.close(fig)
    with pytest.raises(ValueError, match="burn_in"):
        gw.plot_traces(rng.normal(size=(2, 10, 3)), burn_in=8)
    fig = gw.plot_credible_intervals(samples, samples[0], 1, estimate=samples[1], n_clean=np.arange(4))
    assert len(fig.axes) == 5                                             # x, y, z, width + its twin
    plt.close(fig)
    with pytest.raises(ValueError, match="samples"):
        gw.plot_credible_intervals(samples[0], samples[0], 1)
    states, behaviour = rng.integers(0, 2, 40), rng.integers(0, 3, 40)
    fig = gw.plot_state_behaviour(states, behaviour, ("a", "b", "c"), 2)
    shown = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in fig.axes[0].texts}
    assert all(shown[s, b] == np.sum((states == s) & (behaviour == b)) for s in range(2) for b in range(3))
    assert len(fig.axes) == 2                                             # the matrix and its colour bar
    plt.close(fig)
    with pytest.raises(ValueError, match="states, behaviour"):
        gw.plot_state_behaviour(states, behaviour[:5], ("a", "b", "c"), 2)
    fig = gw.plot_estimate_errors({"RANSAC": samples[1], "Model 2": samples[2]}, samples[0], PARENTS)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    plt.close(fig)
    with pytest.raises(ValueError, match="traces"):
        gw.plot_traces(np.zeros((3, 4)))


def test_pose_from_directions_inverts_bone_directions():
    rng = np.random.default_rng(13)
    x = rng.normal(0, 30, (5, len(PARENTS), 3))
    u, length = model.bone_directions(x, PARENTS)
    rebuilt = np.stack([model.pose_from_directions(x[t, 1], u[t], PARENTS, length[t]) for t in range(5)])
    np.testing.assert_allclose(rebuilt, x, atol=1e-9)


def test_run_chains_shapes_and_model2_variant():
    p = _params()
    cams = _cameras()
    rng = np.random.default_rng(14)
    d = sample_gimbal(p, 6, cams, rng)
    out = run_chains(p, cams, d["observations"], d["positions"], n_chains=2, n_sweeps=4, burn_in=1, progress=False)
    assert out["positions"].shape == (2, 3, 6, len(PARENTS), 3)
    assert out["states"].shape == (2, 3, 6) and out["accept_rate"].shape == (2, 4)
    names = [name for name, _, _ in comparison.gimbal_variants(p, p, p)]
    assert names[0].startswith("Model 2") and "GIMBAL, fixed heading" in names
    raw, rpa = comparison.mpe_pair(d["positions"] + 1.0, d["positions"])
    assert abs(raw - np.sqrt(3)) < 1e-9 and rpa < 1e-6


def test_compare_methods_scores_every_method_with_gaps_in_the_triangulation():
    p = _params()
    cams = _cameras()
    rng = np.random.default_rng(16)
    d = sample_gimbal(p, 6, cams, rng)
    y = d["observations"].copy()
    y[1:, 2, 3] = np.nan                                        # seen by one camera: no triangulation there
    rows, posterior = comparison.compare_methods(cams, y, d["positions"], p, p, p, n_sweeps=2, burn_in=0,
                                                 progress=False, include_models01=False)
    assert {"DLT", "RANSAC", "GIMBAL", "GIMBAL, fixed heading"} <= set(rows)
    assert all(np.isfinite(raw) and np.isfinite(rpa) for raw, rpa in rows.values())
    assert posterior["GIMBAL"].shape == (2, 6, len(PARENTS), 3)
    # a model run beforehand with the same settings is scored, not run again: same row
    again, _ = comparison.compare_methods(cams, y, d["positions"], p, p, p, n_sweeps=2, burn_in=0, progress=False,
                                          include_models01=False,
                                          precomputed={comparison.MODEL2: posterior[comparison.MODEL2]})
    assert again[comparison.MODEL2] == rows[comparison.MODEL2]
    shifted, _ = comparison.compare_methods(cams, y, d["positions"], p, p, p, n_sweeps=2, burn_in=0, progress=False,
                                            include_models01=False,
                                            precomputed={comparison.MODEL2: posterior[comparison.MODEL2] + 5.0})
    assert shifted[comparison.MODEL2][0] > rows[comparison.MODEL2][0] + 1.0
    with pytest.raises(ValueError, match="precomputed"):
        comparison.compare_methods(cams, y, d["positions"], p, p, p, n_sweeps=2, progress=False,
                                   include_models01=False, precomputed={"Model 3": posterior["GIMBAL"]})


def test_per_observation_outlier_prior_is_the_outlier_draw_prior():
    """outlier_prior (C, T, K) replaces params.outlier_prob observation by observation: a missing
    detection draws z from it, and a visible one's posterior odds move with it (Bayes' rule)."""
    p = _params(beta=0.1)
    cams = _cameras()
    d = sample_gimbal(p, 6, cams, np.random.default_rng(3))
    y = d["observations"].copy()
    y[0] = np.nan                                                      # camera 0 sees nothing
    C, T, K = y.shape[:3]
    default = GimbalSampler(p, cams, y)
    np.testing.assert_array_equal(default.beta, np.full((C, T, K), 0.1))
    prior = np.full((C, T, K), 0.1)
    prior[0] = 0.9                                                     # trust camera 0 less
    prior[1, :, 0] = 0.5
    sampler = GimbalSampler(p, cams, y, outlier_prior=prior)
    draws = np.mean([sampler.sample_outliers(d["positions"], np.random.default_rng(s)) for s in range(400)], axis=0)
    assert abs(draws[0].mean() - 0.9) < 0.03                           # missing: the prior itself
    log_in, log_out = sampler._outlier_log_odds(sampler.project(to_components(d["positions"]), False))
    log_in0, log_out0 = default._outlier_log_odds(default.project(to_components(d["positions"]), False))
    # the posterior log odds of "outlier" shift by exactly the prior log odds' change
    shift = (log_out - log_in) - (log_out0 - log_in0)
    np.testing.assert_allclose(shift[1, :, 0], np.log(0.5 / 0.5) - np.log(0.1 / 0.9))
    np.testing.assert_allclose(shift[2:], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="outlier_prior: expected probabilities"):
        GimbalSampler(p, cams, y, outlier_prior=np.zeros((C, T, K)))
