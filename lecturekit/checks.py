"""Friendly self-checks for students (every exercise is followed by one).

A self-check calls the student's function inside ``try`` and prints one line:

* ``PASSED  name: ...``                    the answer matches the reference;
* ``NOT YET name: not implemented yet ...`` the stub still raises ``NotImplementedError``;
* ``NOT YET name: ... Hint: ...``           the answer is wrong, with a hint.

It never shows a traceback for a wrong answer. While nbgrader grades a notebook (it sets the
environment variable ``NBGRADER_EXECUTION``), a failing check raises :class:`CheckFailed`
instead, so the test cell scores zero points; students never see that path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["CheckFailed", "CheckResult", "check_close", "check_true", "check_shape", "grading_mode"]

PASS_WORD = "PASSED "
FAIL_WORD = "NOT YET"


class CheckFailed(AssertionError):
    """Raised by a failing self-check while nbgrader executes the notebook."""


@dataclass(frozen=True)
class CheckResult:
    """What one self-check found: ``passed`` and the message printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed


def grading_mode() -> bool:
    """True while nbgrader autogrades or validates a notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def _report(name: str, passed: bool, detail: str, hint: str = "") -> CheckResult:
    if passed:
        message = f"{PASS_WORD} {name}: {detail}"
    else:
        message = f"{FAIL_WORD} {name}: {detail}" + (f" Hint: {hint}" if hint else "")
    print(message)
    if not passed and grading_mode():
        raise CheckFailed(message)
    return CheckResult(name, passed, message)


def _call(name: str, compute: Callable[[], Any]) -> tuple[bool, Any]:
    """Run the student's code; return (ok, value or the message explaining why not)."""
    try:
        return True, compute()
    except NotImplementedError:
        return False, "not implemented yet: replace `raise NotImplementedError()` with your code."
    except Exception as error:  # a student's bug must become a hint, not a traceback
        return False, f"your code raised {type(error).__name__}: {error}."


def check_close(
    name: str,
    compute: Callable[[], Any],
    expected: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    hint: str = "",
) -> CheckResult:
    """Check that ``compute()`` returns an array close to ``expected``.

    Args:
        name: what is checked, as the student knows it (e.g. ``"gradient"``).
        compute: a zero-argument callable that calls the student's function.
        expected: the reference value (any array-like; shapes must match exactly).
        rtol, atol: tolerances as in :func:`numpy.allclose`.
        hint: one sentence pointing at the most likely mistake.
    """
    ok, value = _call(name, compute)
    if not ok:
        return _report(name, False, value, hint)
    try:
        got = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=float)
    except (TypeError, ValueError):
        return _report(name, False, f"expected numbers, got {type(value).__name__}.", hint)
    want = np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        return _report(name, False, f"expected shape {want.shape}, got {got.shape}.", hint)
    if not np.all(np.isfinite(got)):
        return _report(name, False, "your result contains NaN or infinity.", hint)
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return _report(name, True, f"matches the reference (max abs difference {err:.1e}).")
    return _report(name, False, f"max abs difference from the reference is {err:.3g}.", hint)


def check_true(name: str, compute: Callable[[], Any], *, hint: str = "", success: str = "correct.") -> CheckResult:
    """Check that ``compute()`` returns something truthy (a property of the answer)."""
    ok, value = _call(name, compute)
    if not ok:
        return _report(name, False, value, hint)
    return _report(name, bool(value), success if value else "the answer does not have the expected property.", hint)


def check_shape(name: str, compute: Callable[[], Any], shape: tuple[int, ...], *, hint: str = "") -> CheckResult:
    """Check only the shape of ``compute()`` (for answers with randomness)."""
    ok, value = _call(name, compute)
    if not ok:
        return _report(name, False, value, hint)
    got = tuple(np.shape(value))
    if got == tuple(shape):
        return _report(name, True, f"shape {got} as expected.")
    return _report(name, False, f"expected shape {tuple(shape)}, got {got}.", hint)
