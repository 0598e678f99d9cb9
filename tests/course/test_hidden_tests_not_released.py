"""Hidden tests and model answers never reach a student: scan every released notebook in notebooks/.

A released notebook must contain no solution or hidden-test marker, no line of a model answer
in its exercise and answer cells, and no line of a hidden test in its self-check cells (each
compared with the solution cell of the same grade id). The scanner itself is tested on a part
released into a temporary course with a leak planted in it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION")
RELEASED = sorted(ROOT.glob("notebooks/*/*.ipynb"))


def _blocks(source: str, begin: str, end: str) -> list[str]:
    """Non-blank lines strictly between ``begin`` and ``end`` marker lines."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _by_grade_id(nb) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def find_leaks(released, solution) -> list[str]:
    """Every marker, model-answer line or hidden-test line of ``solution`` found in ``released``."""
    leaks = []
    for i, cell in enumerate(released.cells):
        for marker in MARKERS:
            if marker in cell.source:
                leaks.append(f"cell {i}: marker {marker!r}")
    shown = _by_grade_id(released)
    for grade_id, source in _by_grade_id(solution).items():
        secret = (_blocks(source, "BEGIN SOLUTION", "END SOLUTION")
                  + _blocks(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
        student_lines = {line.strip() for line in shown.get(grade_id, "").splitlines()}
        leaks += [f"{grade_id}: {line!r}" for line in secret if line in student_lines]
    return leaks


def _tiny_part() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfrom lecturekit.checks import check_close"),
        new_code_cell('def triple(x):\n    """Return 3 x."""\n    ### BEGIN SOLUTION\n    return 3 * np.asarray(x)\n'
                      "    ### END SOLUTION"),
        new_code_cell('# Self-check (1 points)\ncheck_close("triple", lambda: triple(1.0), 3.0)\n'
                      "### BEGIN HIDDEN TESTS\nassert triple(-2.0) == -6.0\n### END HIDDEN TESTS"),
        new_markdown_cell("<!-- question: why -->\nWhy?"),
        new_markdown_cell("<!-- answer: why (1 points) -->\n### BEGIN SOLUTION\nLinearity of scaling.\n"
                          "### END SOLUTION"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_scanner_finds_planted_leaks(tmp_path):
    from lecturekit.course.grading import ensure_nbgrader_tools_on_path
    from lecturekit.course.release import release

    ensure_nbgrader_tools_on_path()
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    part = "91_tiny"
    path = tmp_path / "solutions" / part / f"{part}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(_tiny_part(), path)
    release(tmp_path, [part])
    released = nbformat.read(tmp_path / "notebooks" / part / f"{part}.ipynb", as_version=4)
    solution = nbformat.read(path, as_version=4)
    assert find_leaks(released, solution) == []  # nbgrader's release strips them

    leaky = nbformat.from_dict(released)
    check = next(c for c in leaky.cells if c.source.startswith("# Self-check"))
    check.source += "\nassert triple(-2.0) == -6.0"
    answer = next(c for c in leaky.cells if "answer: why" in c.source)
    answer.source += "\nLinearity of scaling."
    leaky.cells[0].source += "\n### BEGIN HIDDEN TESTS"
    leaks = find_leaks(leaky, solution)
    assert any("check_triple" in leak and "triple(-2.0)" in leak for leak in leaks)
    assert any("answer_why" in leak and "Linearity" in leak for leak in leaks)
    assert any("BEGIN HIDDEN TESTS" in leak for leak in leaks)


@pytest.mark.parametrize("released_path", RELEASED, ids=[p.parent.name for p in RELEASED])
def test_released_notebook_has_no_hidden_tests_or_solutions(released_path):
    part = released_path.parent.name
    solution_path = ROOT / "solutions" / part / f"{part}.ipynb"
    assert solution_path.is_file(), f"notebooks/{part} has no source in solutions/"
    released = nbformat.read(released_path, as_version=4)
    solution = nbformat.read(solution_path, as_version=4)
    assert find_leaks(released, solution) == []
    text = released_path.read_text()
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} in {released_path.relative_to(ROOT)}"
