"""Student self-checks: friendly lines for students, a failing cell while nbgrader grades."""

import numpy as np
import pytest

from lecturekit import checks


def stub():
    raise NotImplementedError()


def test_pass(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    result = checks.check_close("sum", lambda: np.array([1.0, 2.0]), [1.0, 2.0])
    assert result.passed and capsys.readouterr().out.startswith("PASSED")


@pytest.mark.parametrize("compute, phrase", [
    (stub, "not implemented yet"),
    (lambda: [1.0, 3.0], "max abs difference"),
    (lambda: [1.0], "expected shape (2,)"),
    (lambda: 1 / 0, "ZeroDivisionError"),
    (lambda: [np.nan, 1.0], "NaN"),
    (lambda: "text", "expected numbers"),
])
def test_failures_print_not_yet_and_never_raise_for_students(capsys, monkeypatch, compute, phrase):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    result = checks.check_close("thing", compute, [1.0, 2.0], hint="look again")
    out = capsys.readouterr().out
    assert not result.passed
    assert out.startswith("NOT YET thing:") and phrase in out and "Hint: look again" in out


def test_failures_raise_while_nbgrader_grades(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(checks.CheckFailed, match="not implemented yet"):
        checks.check_close("thing", stub, 1.0)
    checks.check_true("ok", lambda: True)  # a pass does not raise


def test_check_true_and_shape(capsys, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not checks.check_true("psd", lambda: False)
    assert checks.check_shape("map", lambda: np.zeros((3, 4)), (3, 4))
    assert not checks.check_shape("map", lambda: np.zeros((4, 3)), (3, 4))
    assert "expected shape (3, 4), got (4, 3)" in capsys.readouterr().out
