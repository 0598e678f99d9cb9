"""Release: markers -> nbgrader metadata, and notebooks/ is exactly what nbgrader generates."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lecturekit.course import release

EXERCISE = 'def square(x):\n    """Return x squared."""\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION'
CHECK = ('# Self-check (2 points)\ncheck_close("square", lambda: square(3), 9)\n'
         '### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS')
QUESTION = "<!-- question: why_square -->\n**Why?**"
ANSWER = "<!-- answer: why_square (3 points) -->\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"


def small_notebook(*cells):
    return new_notebook(cells=[new_markdown_cell("# Title")] + list(cells))


def test_markers_become_nbgrader_metadata():
    nb = small_notebook(new_code_cell(EXERCISE), new_code_cell(CHECK), new_markdown_cell(QUESTION),
                        new_markdown_cell(ANSWER), new_code_cell("print(1)"))
    nb.cells[5].metadata["nbgrader"] = {"grade": True}  # stale metadata on an ordinary cell is removed
    out = release.annotate_notebook(nb)
    meta = [c.metadata.get("nbgrader") for c in out.cells]
    question = meta.pop(3)
    assert question == {"schema_version": 3, "grade_id": "question_why_square", "task": False,
                        "solution": False, "grade": False, "locked": True}
    assert meta[0] is None and meta[4] is None
    assert meta[1] == {"schema_version": 3, "grade_id": "square", "task": False,
                       "solution": True, "grade": False, "locked": False}
    assert meta[2]["grade_id"] == "check_square" and meta[2]["points"] == 2.0
    assert meta[2]["grade"] and meta[2]["locked"] and not meta[2]["solution"]
    assert meta[3]["grade_id"] == "answer_why_square" and meta[3]["points"] == 3.0
    assert meta[3]["grade"] and meta[3]["solution"]
    assert "nbgrader" not in nb.cells[1].metadata  # the input notebook is not modified


def test_second_check_of_an_exercise_gets_its_own_id():
    nb = small_notebook(new_code_cell(EXERCISE), new_code_cell(CHECK),
                        new_code_cell(CHECK.replace("2 points", "1 point")))
    ids = [c.metadata["nbgrader"]["grade_id"] for c in release.annotate_notebook(nb).cells[1:]]
    assert ids == ["square", "check_square", "check_square_2"]


@pytest.mark.parametrize("cells, message", [
    ([new_code_cell(EXERCISE)], "has no self-check"),
    ([new_code_cell(EXERCISE), new_code_cell(EXERCISE.replace("square", "cube")), new_code_cell(CHECK)],
     "'square' has no self-check"),
    ([new_code_cell(CHECK)], "before any exercise"),
    ([new_code_cell(EXERCISE), new_code_cell(CHECK), new_code_cell(EXERCISE), new_code_cell(CHECK)], "used twice"),
    ([new_code_cell("x = 1\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS")], "neither an exercise"),
    ([new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")], "needs a `def name"),
    ([new_markdown_cell("<!-- answer: a (1 point) -->\nno markers")], "model answer"),
    ([new_markdown_cell(ANSWER)], "needs its question in the markdown cell just above"),
    ([new_markdown_cell(QUESTION.replace("why_square", "other")), new_markdown_cell(ANSWER)], "needs its question"),
    ([new_markdown_cell(QUESTION), new_markdown_cell("text"), new_markdown_cell(ANSWER)], "needs its question"),
    ([new_markdown_cell(QUESTION)], "'why_square' has no answer cell"),
    ([new_markdown_cell(QUESTION), new_markdown_cell(ANSWER.replace("-->", "-->\n**Why?**"))], "only its marker"),
    ([new_markdown_cell(QUESTION), new_markdown_cell(ANSWER + "\n## Next section")], "only its marker"),
    ([new_markdown_cell(QUESTION + "\n### BEGIN SOLUTION\nx\n### END SOLUTION")], "holds solution markers"),
])
def test_inconsistent_markers_are_refused_with_a_reason(cells, message):
    with pytest.raises(release.ReleaseError, match=message):
        release.annotate_notebook(small_notebook(*cells))


def test_unknown_part_is_refused(course_root):
    with pytest.raises(release.ReleaseError, match="parts: unknown"):
        release.release(course_root, ["99_nonexistent"], annotate=False)


PARTS = release.list_parts(release.course_root(__file__))


def test_course_has_parts():
    assert "00_welcome" in PARTS


@pytest.mark.parametrize("part", PARTS)
def test_solution_metadata_is_up_to_date(course_root, part):
    """The nbgrader metadata stored in solutions/ is what the markers say (run `lecturekit release`)."""
    nb = nbformat.read(release.solution_path(course_root, part), as_version=4)
    assert release.annotate_notebook(nb) == nb, f"run `lecturekit release {part}`: metadata is stale"


@pytest.mark.parametrize("part", PARTS)
def test_student_notebook_is_not_stale(course_root, part, tmp_path):
    """Regenerate the student notebook with nbgrader into a temporary folder: it must equal notebooks/."""
    release.generate_student_notebooks(course_root, [part], release_directory=tmp_path / "release",
                                       db_url=f"sqlite:///{tmp_path / 'gradebook.db'}")
    fresh = tmp_path / "release" / part / f"{part}.ipynb"
    committed = course_root / "notebooks" / part / f"{part}.ipynb"
    assert committed.exists(), f"{committed} missing: run `lecturekit release {part}`"
    assert json.loads(fresh.read_text()) == json.loads(committed.read_text()), \
        f"{committed} is stale: run `lecturekit release {part}` (never edit notebooks/ by hand)"


@pytest.mark.parametrize("part", PARTS)
def test_released_notebook_has_no_outputs_and_no_solutions(course_root, part):
    nb = nbformat.read(course_root / "notebooks" / part / f"{part}.ipynb", as_version=4)
    text = json.dumps(nb)
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
