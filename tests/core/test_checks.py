"""Student self-checks: one line per check, a diagnosis per common mistake, a failing cell while grading."""

import numpy as np
import pytest

from lecturekit import checks
from lecturekit.patch_classifier import logreg


@pytest.fixture(autouse=True)
def student_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def stub(*_):
    raise NotImplementedError()


def test_pass_prints_one_line_outside_ipython(capsys):
    result = checks.check_close("sum", lambda: np.array([1.0, 2.0]), [1.0, 2.0])
    out = capsys.readouterr().out
    assert result.passed and out.startswith("PASSED") and out.count("\n") == 1


@pytest.mark.parametrize("compute, phrase", [
    (stub, "not implemented yet"),
    (lambda: [1.0, 3.5], "max abs difference 1.5"),
    (lambda: [1.0], "expected shape (2,), got (1,)"),
    (lambda: 1 / 0, "ZeroDivisionError"),
    (lambda: [np.nan, 1.0], "NaN"),
    (lambda: "text", "expected numbers"),
])
def test_failures_say_not_yet_and_never_raise_for_students(capsys, compute, phrase):
    result = checks.check_close("thing", compute, [1.0, 2.0], hint="look again")
    out = capsys.readouterr().out
    assert not result.passed
    assert out.startswith("NOT YET thing:") and phrase in out


W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])


@pytest.mark.parametrize("got, expected, phrase", [
    (-W, W, "sign is flipped"),
    (W.T, W, "transposed"),
    (W[:, :2].T, W[:, :2], "transposed"),                  # square: same shape, transposed values
    (W * 50, W, "50 times too large"),
    (W / 50, W, "50 times too small"),
    (W.sum(axis=0), W, "reduced (summed or averaged) over an axis"),
    (W[None].repeat(3, 0), W, "one axis too many"),
    (np.float64(W.sum()), W, "one number"),
    (W.ravel(), W, "do not reshape"),
    ((W * (1 + 3e-6)).astype(np.float32), W, "float64"),
])
def test_each_common_mistake_gets_its_own_hint(got, expected, phrase):
    measured, hint = checks.diagnose(got, expected)
    assert phrase in hint, hint
    assert measured  # the quantity is always stated


def test_measured_quantities_are_reported():
    measured, _ = checks.diagnose(np.array([1.0, 2.5]), np.array([1.0, 2.0]))
    rel = 0.5 / np.linalg.norm([1.0, 2.0])
    assert "max abs difference 0.5" in measured and f"relative error {rel:.3g}" in measured


def test_an_unrecognised_error_falls_back_to_the_exercise_hint(capsys):
    checks.check_close("thing", lambda: [1.0, 2.0 + 0.37], [1.0, 2.0], hint="look again")
    assert "Hint: look again" in capsys.readouterr().out


def test_a_shape_error_inside_the_students_code_gets_the_transpose_hint(capsys):
    X = np.ones((6, 3))
    checks.check_close("grad", lambda: X @ np.ones(6), np.ones(3), hint="sign")
    out = capsys.readouterr().out
    assert "ValueError" in out and "missing transpose" in out and "sign" not in out.split("Hint:")[1]


def test_gradient_check_shows_the_relative_error(capsys):
    w, X, y = checks._logreg_problem()   # noqa: SLF001 - the registry's own problem
    loss = lambda v: logreg.nll(v, X, y)  # noqa: E731
    assert checks.check_gradient("g", lambda v: logreg.grad(v, X, y), loss, w)
    assert not checks.check_gradient("g", lambda v: 1.01 * logreg.grad(v, X, y), loss, w)
    out = capsys.readouterr().out.splitlines()
    assert "relative error" in out[0] and "relative error 0.0099" in out[1]


@pytest.mark.parametrize("mistake, phrase", [
    (lambda w, X, y: logreg.grad(w, X, y), None),
    (lambda w, X, y: -logreg.grad(w, X, y), "sign is flipped"),
    (lambda w, X, y: logreg.grad(w, X, y) / len(y), "extra 1/N factor"),
    (lambda w, X, y: X @ (logreg.sigmoid(X @ w) - y), "missing transpose"),
    (stub, "not implemented yet"),
])
def test_check_exercise_grad_diagnoses_the_bug(capsys, mistake, phrase):
    assert checks.check_exercise("grad", mistake) is None        # nothing to echo as Out[n]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2                                        # the value check and the finite-difference check
    if phrase is None:
        assert all(line.startswith("PASSED") for line in lines)
    else:
        assert lines[0].startswith("NOT YET grad") and phrase in lines[0]
        if phrase != "not implemented yet":
            assert "sign is flipped" not in lines[0] or phrase == "sign is flipped"


def test_every_registered_exercise_passes_its_reference(capsys):
    from lecturekit.patch_classifier import optim
    references = {"sigmoid": logreg.sigmoid, "nll": logreg.nll, "grad": logreg.grad, "hessian": logreg.hessian,
                  "gradient_descent": lambda *a: optim.gradient_descent(*a).path, "newton_step": optim.newton_step}
    for name, reference in references.items():
        checks.check_exercise(name, reference)
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(line.startswith("PASSED") for line in lines), lines


def test_check_exercise_names_a_bad_argument():
    with pytest.raises(ValueError, match="name: expected one of the exercises"):
        checks.check_exercise("gard", logreg.grad)
    with pytest.raises(TypeError, match="answer: expected your function grad"):
        checks.check_exercise("grad", 3)


def test_failures_raise_while_nbgrader_grades(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(checks.CheckFailed, match="not implemented yet"):
        checks.check_close("thing", stub, 1.0)
    with pytest.raises(checks.CheckFailed, match="sign is flipped"):
        checks.check_exercise("grad", lambda w, X, y: -logreg.grad(w, X, y))
    checks.check_true("ok", lambda: True)  # a pass does not raise


def test_check_true_and_shape(capsys):
    assert not checks.check_true("psd", lambda: False)
    assert checks.check_shape("map", lambda: np.zeros((3, 4)), (3, 4))
    assert not checks.check_shape("map", lambda: np.zeros((4, 3)), (3, 4))
    assert "expected shape (3, 4), got (4, 3)" in capsys.readouterr().out


def test_result_is_displayed_once_in_ipython(monkeypatch):
    """display() then the displayhook (a cell ending in a check) publish one output, not two."""
    published = []
    import IPython.display
    monkeypatch.setattr(IPython.display, "publish_display_data", lambda data, **_: published.append(data))
    result = checks.CheckResult("x", False, "max abs difference 1.", "flip it")
    result._ipython_display_()
    result._ipython_display_()
    assert len(published) == 1
    assert published[0]["text/plain"] == "NOT YET x: max abs difference 1. Hint: flip it"
    assert "NOT YET</b>" in published[0]["text/html"] and "#b35900" in published[0]["text/html"]
    assert "#1a7f37" in checks.CheckResult("x", True, "ok.")._repr_html_()


def test_name_error_extension_prints_one_friendly_line():
    import IPython
    from IPython.testing.globalipapp import start_ipython
    from IPython.utils.capture import capture_output

    shell = start_ipython() or IPython.get_ipython()
    checks.load_ipython_extension(shell)
    try:
        with capture_output() as captured:
            shell.run_cell("# Self-check (1 point)\nnot_defined_after_restart(1)", store_history=True)
        text = captured.stdout + "".join(o.data.get("text/plain", "") for o in captured.outputs)
        assert checks.RUN_ABOVE_MESSAGE in text and "not_defined_after_restart" in text
        assert "Traceback" not in text and "Traceback" not in captured.stderr
        with capture_output() as captured:
            shell.run_cell("other_cell_name_error", store_history=True)
        assert checks.RUN_ABOVE_MESSAGE not in captured.stdout   # only self-check cells are softened
    finally:
        checks.unload_ipython_extension(shell)
