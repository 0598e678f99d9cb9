"""Friendly self-checks for students (every exercise is followed by one).

A self-check calls the student's function inside ``try`` and shows ONE coloured line:

* ``PASSED  name: ...``                     the answer matches the reference;
* ``NOT YET name: not implemented yet ...`` the stub still raises ``NotImplementedError``;
* ``NOT YET name: <what was measured> Hint: <diagnosis>`` the answer is wrong.

Self-check cells call :func:`check_exercise` with the exercise's name, so the cell shows neither
the formula nor a reference function: the inputs and the references live in :data:`EXERCISES`.
A result displays itself once (HTML in JupyterLab, plain text elsewhere) and is never echoed a
second time as ``Out[n]``. While nbgrader grades a notebook (it sets ``NBGRADER_EXECUTION``), a
failing check raises :class:`CheckFailed` instead, so the test cell scores zero points.

``%load_ext lecturekit.checks`` (loaded by the course's kernel config, see ``jupyter/``) turns a
``NameError`` in a self-check cell - the usual sight after a kernel restart - into one line
telling the student to run the cells above first.
"""

from __future__ import annotations

import html
import os
import re
from typing import Any, Callable

import numpy as np

__all__ = ["CheckFailed", "CheckResult", "check_close", "check_true", "check_shape", "check_exercise",
           "diagnose", "grading_mode", "EXERCISES", "SOLVED_BY", "RUN_ABOVE_MESSAGE", "load_ipython_extension"]

PASS_WORD = "PASSED "
FAIL_WORD = "NOT YET"
RUN_ABOVE_MESSAGE = "run the cells above first (Run > Run All Above Selected Cell)"
_COLOURS = {True: "#1a7f37", False: "#b35900"}   # green PASSED, amber NOT YET (readable on white and dark)


class CheckFailed(AssertionError):
    """Raised by a failing self-check while nbgrader executes the notebook."""


class CheckResult:
    """What one self-check found; displays itself once as one coloured line.

    Attributes: ``name``, ``passed``, ``detail`` (what was measured), ``hint`` (the diagnosis),
    ``message`` (the plain-text line).
    """

    def __init__(self, name: str, passed: bool, detail: str, hint: str = ""):
        self.name, self.passed, self.detail, self.hint = name, bool(passed), detail, hint
        word = PASS_WORD if passed else FAIL_WORD
        self.message = f"{word} {name}: {detail}" + (f" Hint: {hint}" if hint and not passed else "")
        self._shown = False

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        word = "PASSED" if self.passed else "NOT YET"
        rest = html.escape(self.message[len(PASS_WORD if self.passed else FAIL_WORD):])
        return (f'<div class="lecturekit-check lecturekit-check-{"pass" if self.passed else "fail"}">'
                f'<b style="color:{_COLOURS[self.passed]}">{word}</b>{rest}</div>')

    def _ipython_display_(self) -> None:
        # Called by display() and by the displayhook of a cell ending in a check: show only once.
        if self._shown:
            return
        self._shown = True
        from IPython.display import publish_display_data
        publish_display_data({"text/plain": self.message, "text/html": self._repr_html_()})

    def show(self) -> "CheckResult":
        """Display the line now (printed outside IPython); later displays of it show nothing."""
        try:
            from IPython import get_ipython
            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython is a dependency
            shell = None
        if shell is None:
            print(self.message)
            self._shown = True
        else:
            self._ipython_display_()
        return self


def grading_mode() -> bool:
    """True while nbgrader autogrades or validates a notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _report(name: str, passed: bool, detail: str, hint: str = "") -> CheckResult:
    result = CheckResult(name, passed, detail, hint).show()
    if not passed and grading_mode():
        raise CheckFailed(result.message)
    return result


def _call(compute: Callable[[], Any]) -> tuple[bool, Any]:
    """Run the student's code; return (ok, value or the message explaining why not)."""
    try:
        return True, compute()
    except NotImplementedError:
        return False, "not implemented yet: replace `raise NotImplementedError()` with your code."
    except Exception as error:  # a student's bug must become a hint, not a traceback
        return False, f"your code raised {type(error).__name__}: {error}."


SHAPE_ERROR_HINT = ("the shapes of two operands do not fit: a missing transpose (.T)? Print the shape of every "
                    "array in the failing line.")


def _failure_hint(message: str, hint: str) -> str:
    """The hint for a failed call: none for a stub, the shape diagnosis for a shape error."""
    if message.startswith("not implemented"):
        return ""
    if re.search(r"shape|broadcast|matmul|size \d+ is different|dimension", message):
        return SHAPE_ERROR_HINT
    return hint


def _as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _close(a, b, rtol, atol) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def diagnose(got, expected, *, rtol: float = 1e-6, atol: float = 1e-8) -> tuple[str, str]:
    """Measure how ``got`` differs from ``expected`` and name the likely mistake.

    Returns ``(measured, hint)``: ``measured`` states the quantity (shapes, max abs difference,
    relative error); ``hint`` is the diagnosis of a common mistake (sign flipped, transposed,
    a missing or extra 1/N factor, a reduction over the wrong axis, float32, wrong shape), or ""
    when none fits. Both arrays are array-likes of numbers.
    """
    got_raw, want = _as_array(got), np.asarray(expected, dtype=float)
    got = got_raw.astype(float)
    if got.shape != want.shape:
        measured = f"expected shape {want.shape}, got {got.shape}."
        if got.ndim == 2 and got.shape == want.shape[::-1]:
            return measured, ("your result is transposed: check the order of the factors of each matrix product "
                              "(or the axes).")
        if got.size == want.size and got.size > 1:
            if np.allclose(got.reshape(want.shape), want, rtol=rtol, atol=atol):
                return measured, "the numbers are right but the shape is not: do not reshape/flatten the result."
            return measured, "same number of entries, different shape: check the order of the axes."
        dropped = [want.shape[:i] + want.shape[i + 1:] for i in range(want.ndim)]
        if got.ndim == want.ndim - 1 and got.shape in dropped:
            return measured, "you reduced (summed or averaged) over an axis that should be kept: check `axis=`."
        if got.ndim == want.ndim + 1 and any(got.shape[:i] + got.shape[i + 1:] == want.shape for i in range(got.ndim)):
            return measured, "one axis too many: reduce (sum) over it, or sum over the other axis."
        if got.ndim == 0 and want.ndim > 0:
            return measured, "you returned one number: a sum over everything? Keep one value per entry."
        return measured, "compare the shape your function returns with the one its docstring promises."
    if not np.all(np.isfinite(got)):
        return "your result contains NaN or infinity.", "look for overflow (exp of a large number) or 0/0."
    diff = got - want
    err = float(np.max(np.abs(diff))) if got.size else 0.0
    scale = float(np.linalg.norm(want))
    rel = float(np.linalg.norm(diff) / scale) if scale > 0 else float("inf")
    measured = f"max abs difference {err:.3g}, relative error {rel:.3g}."
    if got.size and scale > 0:
        if _close(got, -want, rtol, atol):
            return measured, "the sign is flipped: e.g. prediction minus label, not label minus prediction."
        if got.ndim == 2 and got.shape[0] == got.shape[1] and _close(got, want.T, rtol, atol):
            return measured, "your result is transposed: check the order of the factors of each matrix product."
        if got_raw.dtype == np.float32 or (np.allclose(got, want, rtol=1e-4, atol=max(atol, 1e-6))):
            return measured, "close but not within tolerance: compute in float64 (float32 keeps only ~7 digits)."
        factor = float(np.dot(got.ravel(), want.ravel()) / scale**2)
        if factor and _close(got, factor * want, 1e-6, atol):
            n, inv = round(factor), round(1 / factor)
            if abs(factor) > 1 and n >= 2 and abs(factor - n) < 1e-6 * n:
                return measured, (f"your result is {n} times too large: a missing 1/N factor, or a sum where a "
                                  "mean (or a single term) was wanted?")
            if abs(factor) < 1 and inv >= 2 and abs(1 / factor - inv) < 1e-6 * inv:
                return measured, (f"your result is {inv} times too small: an extra 1/N factor (a mean where a sum "
                                  "was wanted)?")
            return measured, f"your result is the right one times {factor:.4g}: a constant factor is wrong."
    return measured, ""


def check_close(name: str, compute: Callable[[], Any], expected: Any, *, rtol: float = 1e-6, atol: float = 1e-8,
                hint: str = "") -> CheckResult:
    """Check that ``compute()`` returns an array close to ``expected``.

    Args:
        name: what is checked, as the student knows it (e.g. ``"gradient"``).
        compute: a zero-argument callable that calls the student's function.
        expected: the reference value (any array-like; shapes must match exactly).
        rtol, atol: tolerances as in :func:`numpy.allclose`.
        hint: the fallback hint when :func:`diagnose` recognises no common mistake.
    """
    ok, value = _call(compute)
    if not ok:
        return _report(name, False, value, _failure_hint(value, hint))
    try:
        got = _as_array(value).astype(float)
    except (TypeError, ValueError):
        return _report(name, False, f"expected numbers, got {type(value).__name__}.", hint)
    want = np.asarray(expected, dtype=float)
    if got.shape == want.shape and np.all(np.isfinite(got)) and np.allclose(got, want, rtol=rtol, atol=atol):
        err = float(np.max(np.abs(got - want))) if got.size else 0.0
        return _report(name, True, f"matches the reference (max abs difference {err:.1e}).")
    measured, diagnosis = diagnose(value, want, rtol=rtol, atol=atol)
    return _report(name, False, measured, diagnosis or hint)


def check_true(name: str, compute: Callable[[], Any], *, hint: str = "", success: str = "correct.",
               failure: str = "the answer does not have the expected property.") -> CheckResult:
    """Check that ``compute()`` returns something truthy (a property of the answer)."""
    ok, value = _call(compute)
    if not ok:
        return _report(name, False, value, _failure_hint(value, hint))
    return _report(name, bool(value), success if value else failure, hint)


def check_shape(name: str, compute: Callable[[], Any], shape: tuple[int, ...], *, hint: str = "") -> CheckResult:
    """Check only the shape of ``compute()`` (for answers with randomness)."""
    ok, value = _call(compute)
    if not ok:
        return _report(name, False, value, _failure_hint(value, hint))
    got = tuple(np.shape(value))
    if got == tuple(shape):
        return _report(name, True, f"shape {got} as expected.")
    return _report(name, False, f"expected shape {tuple(shape)}, got {got}.", hint)


def check_gradient(name: str, gradient: Callable[[np.ndarray], Any], loss: Callable[[np.ndarray], float], w,
                   *, tol: float = 1e-6, eps: float = 1e-6, hint: str = "") -> CheckResult:
    """Compare ``gradient(w)`` with central finite differences of ``loss`` at ``w`` ((P,) array).

    Shows the relative error ``|g - g_fd| / max(|g|, |g_fd|)`` (2-norms), which must be below ``tol``.
    """
    w = np.asarray(w, dtype=float)
    ok, value = _call(lambda: gradient(w.copy()))
    if not ok:
        return _report(name, False, value, _failure_hint(value, hint))
    numeric = np.array([(loss(w + eps * e) - loss(w - eps * e)) / (2 * eps) for e in np.eye(w.size)])
    got = _as_array(value).astype(float)
    if got.shape != numeric.shape:
        measured, diagnosis = diagnose(got, numeric)
        return _report(name, False, measured, diagnosis or hint)
    rel = float(np.linalg.norm(got - numeric) / max(np.linalg.norm(got), np.linalg.norm(numeric), 1e-300))
    if rel < tol:
        return _report(name, True, f"relative error {rel:.1e} against finite differences (below {tol:.0e}).")
    _, diagnosis = diagnose(got, numeric, rtol=1e-5, atol=1e-7)
    return _report(name, False, f"relative error {rel:.3g} against finite differences (should be below {tol:.0e}).",
                   diagnosis or hint)


# --------------------------------------------------------------------------------------------
# The registry: exercise name -> the checks its self-check cell runs. Each entry gets the
# student's function (and the notebook objects named in ``context``) and returns nothing; it
# calls the check_* functions above with inputs and references the student does not see.


def _logreg_problem(n: int = 60, p: int = 5, seed: int = 11):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, p - 1)), np.ones(n)])
    y = (rng.uniform(size=n) < 0.5).astype(float)
    return 0.3 * rng.normal(size=p), X, y


def _sigmoid(answer, **_):
    from lecturekit.patch_classifier import logreg
    a = np.array([-3.0, 0.0, 0.5, 4.0])
    check_close("sigmoid", lambda: answer(a), logreg.sigmoid(a), hint="sigma(0) should be 0.5.")
    check_close("sigmoid for huge |a|", lambda: answer(np.array([-1000.0, 1000.0])), [0.0, 1.0],
                hint="exp of a large positive number overflows: only ever exponentiate -|a|.")


def _nll(answer, **_):
    from lecturekit.patch_classifier import logreg
    w, X, y = _logreg_problem()
    check_close("nll", lambda: answer(w, X, y), logreg.nll(w, X, y), hint="the loss is a sum over the patches.")
    check_close("nll for confident weights", lambda: answer(1000 * w, X, y), logreg.nll(1000 * w, X, y),
                hint="log(sigmoid(a)) underflows for confident logits: write the loss without it.")


def _grad(answer, **_):
    from lecturekit.patch_classifier import logreg
    w, X, y = _logreg_problem()
    check_close("grad", lambda: answer(w, X, y), logreg.grad(w, X, y),
                hint="compare each term with your derivation of the gradient.")
    check_gradient("grad passes a finite-difference check", lambda v: answer(v, X, y),
                   lambda v: logreg.nll(v, X, y), w, hint="differentiate the loss once more, term by term.")


def _hessian(answer, **_):
    from lecturekit.patch_classifier import logreg
    w, X, y = _logreg_problem()
    check_close("hessian", lambda: answer(w, X, y), logreg.hessian(w, X, y),
                hint="compare with your derivation: each patch contributes an outer product, weighted.")
    check_true("hessian is symmetric", lambda: np.allclose(answer(w, X, y), np.transpose(answer(w, X, y))),
               failure="your matrix is not symmetric.", hint="a Hessian is always symmetric.")


def _gradient_descent(answer, **_):
    from lecturekit.patch_classifier import optim
    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, -1.0])
    gradient = lambda w: A @ w - b  # noqa: E731 - a quadratic whose minimiser is known
    check_close("gradient_descent", lambda: answer(gradient, np.zeros(2), 0.1, 5),
                optim.gradient_descent(gradient, np.zeros(2), 0.1, 5).path,
                hint="return the start too: the result has n_iter + 1 rows.")
    check_close("gradient_descent converges", lambda: np.asarray(answer(gradient, np.zeros(2), 0.3, 200))[-1],
                np.linalg.solve(A, b), hint="step against the gradient.")


def _newton_step(answer, **_):
    from lecturekit.patch_classifier import optim
    w, X, y = _logreg_problem(seed=12)
    check_close("newton_step", lambda: answer(0.1 * w, X, y, 0.5), optim.newton_step(0.1 * w, X, y, 0.5),
                rtol=1e-6, atol=1e-9, hint="remember the penalty's contribution to gradient and Hessian.")


def _adam_step(answer, **_):
    from lecturekit.patch_classifier import optim
    w, g, zeros = np.array([1.0, -2.0, 0.5]), np.array([0.3, -0.1, 2.0]), np.zeros(3)
    check_close("adam_step, step 1", lambda: np.stack(answer(w, g, zeros, zeros, 1, 0.1)),
                np.stack(optim.adam_step(w, g, zeros, zeros, 1, 0.1)),
                hint="return (w, m, v); step 1 moves every weight by about alpha against the sign of its gradient.")
    w1, m1, v1 = optim.adam_step(w, g, zeros, zeros, 1, 0.1)
    check_close("adam_step, step 2", lambda: np.stack(answer(w1, -g, m1, v1, 2, 0.1)),
                np.stack(optim.adam_step(w1, -g, m1, v1, 2, 0.1)), hint="the bias corrections use the step number t.")


def _body_length(answer, skeleton=None, **_):
    if skeleton is None:
        from lecturekit.synth.skeleton import rodent_skeleton
        skeleton = rodent_skeleton()
    x = np.random.default_rng(5).normal(size=(6, skeleton.K, 3))
    nose, tail = skeleton.index("nose"), skeleton.index("tail_base")
    expected = np.sqrt(np.sum((x[:, nose] - x[:, tail]) ** 2, axis=1))
    check_close("body_length", lambda: answer(x, skeleton), expected,
                hint="one distance per frame, between the two named keypoints.")


def _patch_classifier_map(answer, **_):
    from lecturekit.patch_classifier import patches
    img = np.random.default_rng(3).uniform(size=(21, 17))
    w = np.random.default_rng(4).normal(size=(5, 7))
    check_close("patch_classifier_map", lambda: answer(img, w, 0.2),
                patches.probability_map(img, w.ravel(), 0.2, (5, 7)),
                atol=1e-9, rtol=0, hint="the map must have the image's size: pad the borders the way lecture 1 did.")


def _gaussian_targets(answer, **_):
    from lecturekit.cnn import heatmaps
    kp = np.random.default_rng(5).uniform(4, 120, (3, 4, 2))
    check_close("gaussian_targets", lambda: answer(kp, (128, 128), 4, 2.0),
                heatmaps.heatmap_targets(kp, (128, 128), stride=4, sigma=2.0), atol=1e-6,
                hint="where is the centre of cell (i, j) of a stride-s grid, in image pixels?")


def _rotate_keypoints(answer, **_):
    from lecturekit.cnn import augment
    kp = np.random.default_rng(6).uniform(0, 127, (2, 5, 2))
    A = augment.affine_matrix(30.0, 1.0, (0, 0), (63.5, 63.5))
    check_close("rotate_keypoints", lambda: answer(kp, 30.0, (63.5, 63.5)), augment.transform_keypoints(kp, A),
                atol=1e-8, hint="rotate about the centre, in the direction the image rotates.")
    # does the rotated keypoint land on the rotated pixel? Rotate an image of a bright blob and find its peak.
    import torch

    from lecturekit.cnn import heatmaps
    point = np.array([[[40.0, 70.0]]])
    blob = torch.as_tensor(heatmaps.heatmap_targets(point, (128, 128), sigma=1.5))
    peak = heatmaps.decode_heatmaps(augment.warp_images(blob, A).numpy().clip(1e-6), 1)[0][0, 0]
    check_close("rotate_keypoints lands on the rotated pixel",
                lambda: np.asarray(answer(point, 30.0, (63.5, 63.5)))[0, 0],
                peak, atol=0.3, rtol=0, hint="rotate in the direction the image rotates (image y points down).")


def _subpixel_offset(answer, **_):
    bump = lambda u: np.exp(-(u - 0.3) ** 2 / 2)  # noqa: E731 - a Gaussian bump peaking at +0.3 cells
    check_close("subpixel_offset", lambda: answer(bump(-1.0), bump(0.0), bump(1.0)), 0.3, atol=1e-9,
                hint="fit the parabola to log h, not to h.")


def _project_points(answer, **_):
    rng = np.random.default_rng(8)
    A = np.array([[800.0, 0, 320], [0, 800, 240], [0, 0, 1]]) @ np.eye(3)
    b = np.array([10.0, -20.0, 1500.0])
    x = rng.uniform(-200, 200, (7, 3))
    uvw = x @ A.T + b
    check_close("project_points", lambda: answer(A, b, x), uvw[:, :2] / uvw[:, 2:],
                hint="divide by the third homogeneous coordinate.")


def _dlt(answer, **_):
    rng = np.random.default_rng(9)
    P = rng.normal(size=(3, 3, 4))
    P[:, 2, 3] += 10.0                                   # keep the points in front of every camera
    x = rng.uniform(-1, 1, (6, 3))
    xh = np.column_stack([x, np.ones(len(x))])
    uvw = np.einsum("cij,nj->cni", P, xh)
    check_close("dlt", lambda: answer(P, uvw[..., :2] / uvw[..., 2:]), x, atol=1e-6,
                hint="the solution is the right singular vector of the smallest singular value, de-homogenised.")


def _rigid_procrustes(answer, **_):
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(10)
    true = rng.normal(0, 30, (12, 3))
    moved = true @ Rotation.from_rotvec([0.3, -0.5, 1.0]).as_matrix().T + np.array([40.0, -25.0, 10.0])
    check_close("rigid_procrustes", lambda: answer(moved, true), true, atol=1e-6,
                hint="centre both poses first; make sure the rotation is not a reflection (det = +1).")


def _uniform_direction_bone_length_pdf(answer, **_):
    from lecturekit.gimbal import spatial_priors
    r = np.array([0.5, 5.0, 12.0, 30.0])
    check_close("uniform_direction_bone_length_pdf", lambda: answer(r, 10.0, 4.0),
                spatial_priors.bone_length_pdf_uniform_direction(r, 10.0, 4.0), rtol=1e-6,
                hint="compare with the density of r you derived above.")


def _vmf_log_density(answer, **_):
    from scipy import stats
    u = np.random.default_rng(11).standard_normal((5, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    mu = np.array([0.0, 0.6, 0.8])
    check_close("vmf_log_density", lambda: answer(u, mu, 3.0), stats.vonmises_fisher(mu, 3.0).logpdf(u), rtol=1e-8,
                hint="check the log normaliser of the vMF on the sphere S^2.")


def _direction_posterior(answer, **_):
    from lecturekit.gimbal import vmf
    args = (np.array([0.0, 0.0, 1.0]), 4.0, np.array([20.0, 5.0, -3.0]), 25.0, 30.0)
    mean, kappa = vmf.vmf_posterior(*args)

    def both():
        m, k = answer(*args)
        return np.concatenate([np.ravel(m), np.ravel(k)])
    check_close("direction_posterior", both, np.concatenate([mean, np.ravel(kappa)]),
                hint="compare with the natural parameter of your derivation.")


def _heading_posterior(answer, **_):
    from lecturekit.gimbal import model, vmf
    h = np.linspace(-np.pi, np.pi, 3601)[:-1]
    nu = vmf.sample_vmf(np.array([1.0, 0, 0]), 2.0, np.random.default_rng(3), size=5)
    u = vmf.sample_vmf(np.array([0, 1.0, 0]), 2.0, np.random.default_rng(4), size=5)
    kappa = np.array([1.0, 5.0, 20.0, 2.0, 0.5])
    logp = np.sum(kappa * np.sum(model.rotate_about_z(nu[None], h[:, None]) * u, -1), axis=1)  # brute force on a grid
    density = np.exp(logp - logp.max())
    density /= density.sum() * (h[1] - h[0])

    def von_mises_density():
        from scipy import stats
        mean, concentration = answer(nu, kappa, u)
        return stats.vonmises(concentration, loc=mean).pdf(h)
    check_close("heading_posterior", von_mises_density, density, rtol=1e-4, atol=1e-6,
                hint="collect the cos h and sin h terms of the exponent.")


def _confidence_outlier_prior(answer, **_):
    from lecturekit.triangulation import bayes3d
    conf = np.array([[[1.0, 0.9, 0.5, 0.2, 0.0, np.nan]], [[1.3, -0.2, 0.75, 0.98, 0.6, 0.1]]])   # (C=2, T=1, K=6)
    beta = 0.1
    check_close("confidence_outlier_prior", lambda: answer(conf, beta, (2, 1, 6)),
                bayes3d.confidence_outlier_prior(conf, beta, (2, 1, 6)), atol=1e-12,
                hint="score 0.5 gives the global beta, a sure score a tiny floor; clip scores to [0, 1] and treat "
                     "NaN as 0.5; no prior above 0.5.")


def _stage_table(answer, **_):
    from lecturekit import metrics
    rng = np.random.default_rng(12)
    truth = rng.normal(0, 20, (5, 4, 3))
    c, s = np.cos(0.4), np.sin(0.4)
    turned = truth @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T + 3.0      # off raw, exact after Procrustes
    noisy = truth + rng.normal(0, 2.0, truth.shape)
    noisy[1, 2] = np.nan                                                       # one keypoint not triangulated
    estimates = {"turned": turned, "noisy": noisy}
    expected = [metrics.mpe(x, truth, procrustes=p, missing="exclude")
                for x in estimates.values() for p in (False, True)]

    def flat():
        rows = answer(estimates, truth)
        if list(rows) != list(estimates):
            raise ValueError(f"expected the keys {list(estimates)} in that order, got {list(rows)}")
        return np.array([v for name in estimates for v in rows[name]], dtype=float)
    check_close("stage_table", flat, np.array(expected), rtol=1e-8,
                hint="raw: mean distance over finite keypoints; Procrustes: align each frame (rotation + translation) "
                     "on its finite keypoints first; leave NaN keypoints out of the mean.")


#: The other lecturekit functions that would solve an exercise ("module:qualified name"), besides
#: the one of the exercise's own name (e.g. ``logreg.grad`` for ``grad``). While an exercise's test
#: cell runs in grading, they raise when called from the student's function, and the submission
#: scan names calls to them (``lecturekit.course.integrity``). Functions an exercise may use (the
#: notebook says so, e.g. ``metrics.procrustes_align`` in ``stage_table``) are not listed.
SOLVED_BY: dict[str, tuple[str, ...]] = {
    "newton_step": ("lecturekit.patch_classifier.optim:fit_newton",),
    "patch_classifier_map": ("lecturekit.patch_classifier.patches:probability_map",
                             "lecturekit.patch_classifier.patches:score_map",
                             "lecturekit.cnn.heatmaps:probability_map_conv2d",
                             "lecturekit.cnn.heatmaps:score_map_conv2d",
                             "lecturekit.cnn.heatmaps:score_map_patch_loop"),
    "gaussian_targets": ("lecturekit.cnn.heatmaps:heatmap_targets",),
    "rotate_keypoints": ("lecturekit.cnn.augment:transform_keypoints", "lecturekit.cnn.augment:affine_matrix"),
    "subpixel_offset": ("lecturekit.cnn.heatmaps:subpixel_refine", "lecturekit.cnn.heatmaps:decode_heatmaps"),
    "project_points": ("lecturekit.geometry:project", "lecturekit.geometry:Camera.project",
                       "lecturekit.geometry:Rig.project", "lecturekit.geometry:Rig.project_components"),
    "dlt": ("lecturekit.triangulation.dlt:triangulate_dlt",),
    "rigid_procrustes": ("lecturekit.metrics:procrustes_align", "lecturekit.metrics:rigid_transform"),
    "uniform_direction_bone_length_pdf": ("lecturekit.gimbal.spatial_priors:bone_length_pdf_uniform_direction",
                                          "lecturekit.gimbal.spatial_priors:uniform_direction_logpdf"),
    "vmf_log_density": ("lecturekit.gimbal.vmf:vmf_logpdf", "lecturekit.gimbal.vmf:vmf_log_normalizer"),
    "direction_posterior": ("lecturekit.gimbal.vmf:vmf_posterior", "lecturekit.gimbal.vmf:natural_to_mean"),
    "heading_posterior": ("lecturekit.gimbal.sampler:GimbalSampler.heading_conditional",),
    "stage_table": ("lecturekit.metrics:mpe", "lecturekit.metrics:per_keypoint_error"),
}


EXERCISES: dict[str, Callable[..., None]] = {
    "sigmoid": _sigmoid, "nll": _nll, "grad": _grad, "hessian": _hessian,
    "gradient_descent": _gradient_descent, "newton_step": _newton_step, "adam_step": _adam_step,
    "body_length": _body_length,
    "patch_classifier_map": _patch_classifier_map, "gaussian_targets": _gaussian_targets,
    "rotate_keypoints": _rotate_keypoints, "subpixel_offset": _subpixel_offset,
    "project_points": _project_points, "dlt": _dlt, "rigid_procrustes": _rigid_procrustes,
    "uniform_direction_bone_length_pdf": _uniform_direction_bone_length_pdf, "vmf_log_density": _vmf_log_density,
    "direction_posterior": _direction_posterior, "heading_posterior": _heading_posterior,
    "confidence_outlier_prior": _confidence_outlier_prior, "stage_table": _stage_table,
}


def check_exercise(name: str, answer: Callable, **context) -> None:
    """Run the self-checks of exercise ``name`` on the student's function ``answer``.

    ``context``: notebook objects an exercise needs besides its own inputs (e.g. ``skeleton=``).
    Every check displays its line; nothing is returned (so nothing is echoed as ``Out[n]``).
    """
    if name not in EXERCISES:
        raise ValueError(f"name: expected one of the exercises {sorted(EXERCISES)}, got {name!r}")
    if not callable(answer):
        raise TypeError(f"answer: expected your function {name}, got {type(answer).__name__}")
    EXERCISES[name](answer, **context)


# --------------------------------------------------------------------------------------------
# IPython extension: a friendly line instead of a NameError traceback after a kernel restart.


def _is_self_check(source: str) -> bool:
    return source.lstrip().lower().startswith("# self-check")


def _name_error_handler(shell, etype, value, tb, tb_offset=None):
    cell = shell.user_ns.get("In", [""])[-1] if shell.user_ns.get("In") else ""
    if _is_self_check(cell) and not grading_mode():
        missing = getattr(value, "name", None) or str(value)
        CheckResult("self-check", False, f"`{missing}` is not defined yet: {RUN_ABOVE_MESSAGE}.").show()
        return None
    return shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def load_ipython_extension(ipython) -> None:
    """Register the NameError handler (``%load_ext lecturekit.checks``)."""
    ipython.set_custom_exc((NameError,), _name_error_handler)


def unload_ipython_extension(ipython) -> None:
    ipython.set_custom_exc((), None)
