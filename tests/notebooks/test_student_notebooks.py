"""Student notebooks run top to bottom: the only failures are unfinished exercises.

For every released notebook: execute it as a student receives it and assert that
* no cell fails with anything but ``NotImplementedError`` (the exercise stubs);
* every self-check cell prints NOT YET, and says "not implemented yet" for its stub
  (so each stub really raises, i.e. no solution leaked into notebooks/);
* every ``# NBVAL_CHECK_OUTPUT`` cell that students receive unchanged prints exactly what the
  stored solution notebook printed: a second, independent execution with the same seeds
  (determinism; nbval re-runs the solutions themselves).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from lecturekit.course import release
from lecturekit.course.notebook_run import cell_errors, execute_notebook

ROOT = release.course_root(__file__)
PARTS = release.list_parts(ROOT)


def _shows_text(out) -> bool:
    """Printed lines, and displayed results that are text (self-checks display one rich line each);
    not figures, nor widgets such as progress bars (their text fallback holds timings)."""
    if out.get("output_type") == "stream":
        return True
    data = out.get("data", {})
    return (out.get("output_type") == "display_data" and "image/png" not in data
            and "application/vnd.jupyter.widget-view+json" not in data)


def _text(cell) -> str:
    """What a cell showed as text (see :func:`_shows_text`)."""
    return "".join(out.get("text", "") if out.get("output_type") == "stream"
                   else out.get("data", {}).get("text/plain", "") + "\n"
                   for out in cell.get("outputs", []) if _shows_text(out))


@pytest.fixture(scope="module", params=PARTS)
def executed(request):
    part = request.param
    path = ROOT / "notebooks" / part / f"{part}.ipynb"
    return part, execute_notebook(path, allow_errors=True, timeout=600)


def test_only_exercise_stubs_fail(executed):
    part, nb = executed
    unexpected = [e for e in cell_errors(nb) if e.ename != "NotImplementedError"]
    assert not unexpected, f"{part}: cells failed with more than NotImplementedError: {unexpected}"


def test_every_self_check_says_not_yet(executed):
    part, nb = executed
    checks = [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    exercises = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    assert checks, f"{part}: no self-check cells"
    for cell in checks:
        text = _text(cell)
        assert "NOT YET" in text, f"{part}: self-check {cell.metadata.nbgrader.grade_id} did not report NOT YET:\n{text}"
        assert "PASSED" not in text, f"{part}: a check passed on an unfinished notebook: {cell.metadata.nbgrader.grade_id}"
    for cell in exercises:
        assert "raise NotImplementedError()" in cell.source, f"{part}: exercise {cell.metadata.nbgrader.grade_id} has no stub"
    stub_reports = sum(_text(c).count("not implemented yet") for c in checks)
    stub_errors = sum(e.ename == "NotImplementedError" for e in cell_errors(nb))
    assert stub_reports + stub_errors >= len(exercises), f"{part}: some stub did not raise NotImplementedError"


def test_checked_outputs_match_the_solution_run(executed):
    part, nb = executed
    solution = nbformat.read(release.solution_path(ROOT, part), as_version=4)
    stored = {c.source: _text(c) for c in solution.cells
              if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT")}
    compared = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source in stored and not re.search(r"NotImplementedError", _text(cell)):
            if cell.get("outputs") and any(o.get("output_type") == "error" for o in cell.outputs):
                continue  # depends on an exercise the student has not done
            assert _text(cell) == stored[cell.source], f"{part}: checked output differs between two executions"
            compared += 1
    assert compared >= 1, f"{part}: no NBVAL_CHECK_OUTPUT cell could be compared"


@pytest.mark.parametrize("part", PARTS)
def test_setup_seeds_randomness(part):
    nb = nbformat.read(release.solution_path(ROOT, part), as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert re.search(r"default_rng\(|np\.random\.seed\(|manual_seed\(|SEED\s*=", code), f"{part}: no seed"
