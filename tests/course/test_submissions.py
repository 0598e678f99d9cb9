"""Collecting an LMS export loses nothing, and the notes before grading name each cell and what happened.

No nbgrader run here: ``collect`` and ``diagnose_submission`` only read and copy files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lecturekit.course.submissions import (
    collect,
    diagnose_submission,
    normalise_student_id,
    parse_submission_name,
    submitted_students,
    unmatched_submissions,
)

PART = "01_logistic_regression"
PARTS = [PART, "00_welcome"]


def _meta(grade_id, *, solution, grade, points=1.0):
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution, "schema_version": 3}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def released_notebook():
    return new_notebook(cells=[
        new_code_cell("import numpy as np"),
        new_code_cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                      metadata=_meta("f", solution=True, grade=False)),
        new_code_cell("# Self-check (2 points)\nassert f(1) == 2",
                      metadata=_meta("check_f", solution=False, grade=True, points=2)),
        new_markdown_cell("<!-- answer: why (1 point) -->\nYOUR ANSWER HERE",
                          metadata=_meta("answer_why", solution=True, grade=True)),
    ])


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    for part in PARTS:
        (root / "solutions" / part).mkdir(parents=True)
        nbformat.write(released_notebook(), root / "solutions" / part / f"{part}.ipynb")
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    return root


def _write(path: Path, nb=None, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb or released_notebook(), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize("raw, expected", [
    ("José García", "josegarcia"), ("ALICE", "alice"), ("Zoë O'Neil-Smith", "zoeoneil-smith"),
    ("bob.k@uni.edu", "bob.k@uni.edu"), ("  Ana  ", "ana"),
])
def test_normalise_student_id_like_an_lms(raw, expected):
    assert normalise_student_id(raw) == expected


def test_normalise_student_id_never_empty_and_stable():
    a, b = normalise_student_id("李雷"), normalise_student_id("韩梅梅")
    assert a.startswith("student-") and len(a) == len("student-") + 8
    assert a == normalise_student_id("李雷") and a != b
    with pytest.raises(TypeError, match="name"):
        normalise_student_id(3)


def test_parse_names_with_spaces_accents_and_capitals():
    assert parse_submission_name(f"José García_{PART}.ipynb", PARTS) == ("josegarcia", PART, PART)
    assert parse_submission_name(f"José García_{PART}.ipynb", PARTS, raw=True)[0] == "José García"
    assert parse_submission_name(f"Alice_late_123_456_{PART}-1.ipynb", PARTS)[:2] == ("alice", PART)
    assert parse_submission_name(f"alice_{PART}.IPYNB", PARTS)[:2] == ("alice", PART)
    assert parse_submission_name(f"{PART}.ipynb", PARTS) == (None, PART, PART)


def test_collect_loses_no_notebook(course, tmp_path):
    inbox = tmp_path / "inbox"
    _write(inbox / f"José García_{PART}.ipynb")
    _write(inbox / f"Bob_{PART}.ipynb")
    _write(inbox / f"{PART}.ipynb")                         # no student in the name
    _write(inbox / "carol_homework.ipynb")                   # names no part
    _write(inbox / f"dave_{PART}.ipynb.txt")                 # a renamed download
    (inbox / "notes.txt").write_text("not a notebook")
    seen = {c.source: c for c in collect(inbox, course)}
    assert len(seen) == 6
    jose = seen[f"José García_{PART}.ipynb"]
    assert (jose.status, jose.student, jose.original) == ("collected", "josegarcia", "José García")
    assert (course / "submitted" / "josegarcia" / PART / f"{PART}.ipynb").is_file()
    note = json.loads((course / "submitted" / "josegarcia" / PART / ".lecturekit_collect.json").read_text())
    assert note["original"] == "José García" and "josegarcia" in note["note"]
    assert seen[f"Bob_{PART}.ipynb"].student == "bob" and seen[f"dave_{PART}.ipynb.txt"].student == "dave"
    assert (course / "submitted" / "dave" / PART / f"{PART}.ipynb").is_file()
    assert seen["notes.txt"].status == "skipped"
    unmatched = {c.source: c for c in seen.values() if c.status == "unmatched"}
    assert set(unmatched) == {f"{PART}.ipynb", "carol_homework.ipynb"}
    assert all(source in c.note for source, c in unmatched.items())
    assert submitted_students(course, PART) == ["bob", "dave", "josegarcia"]
    # grading reads them back as rows: the part's own and those whose part is unknown
    rows = unmatched_submissions(course, PART)
    assert [(c.source, c.status) for c in rows] == [(f"{PART}.ipynb", "unmatched"),
                                                    ("carol_homework.ipynb", "unmatched")]
    assert [c.source for c in unmatched_submissions(course, "00_welcome")] == ["carol_homework.ipynb"]


def test_collect_twice_changes_nothing_and_a_fixed_name_clears_unmatched(course, tmp_path):
    inbox = tmp_path / "inbox"
    _write(inbox / f"{PART}.ipynb")
    collect(inbox, course)
    first = (course / "submitted" / ".lecturekit_unmatched.json").read_text()
    collect(inbox, course)
    assert (course / "submitted" / ".lecturekit_unmatched.json").read_text() == first
    (inbox / f"{PART}.ipynb").unlink()
    _write(inbox / f"erin_{PART}.ipynb")
    collect(tmp_path / "inbox", course)
    assert len(unmatched_submissions(course, PART)) == 1  # an earlier, unrelated file is still listed
    collect_part = collect(inbox, course, part=PART)
    assert [c.status for c in collect_part] == ["collected"]


def test_newest_file_of_a_student_wins_whatever_the_spelling(course, tmp_path):
    inbox = tmp_path / "inbox"
    _write(inbox / f"José García_{PART}.ipynb", mtime=1_000)
    _write(inbox / f"jose garcia_{PART}.ipynb", mtime=2_000)
    seen = {c.source: c for c in collect(inbox, course)}
    assert seen[f"José García_{PART}.ipynb"].status == "superseded"
    assert seen[f"jose garcia_{PART}.ipynb"].status == "collected"
    assert submitted_students(course, PART) == ["josegarcia"]


# ------------------------------------------------------------------------------- diagnosis
def test_written_answers_get_no_restored_note(tmp_path):
    released = released_notebook()
    answered = released_notebook()
    answered.cells[1].source = "def f(x):\n    return 2 * x"
    answered.cells[3].source = "<!-- answer: why (1 point) -->\nBecause 2 x is double."
    path = tmp_path / "a.ipynb"
    nbformat.write(answered, path)
    assert diagnose_submission(path, released) == (None, [])


def test_each_note_names_the_cell_and_what_happened(tmp_path):
    released = released_notebook()
    nb = released_notebook()
    nb.cells[2].source = "# Self-check (2 points)\nprint('all good')"
    nb.cells.append(nbformat.from_dict(json.loads(json.dumps(nb.cells[2]))))
    del nb.cells[3]  # the written answer
    path = tmp_path / "b.ipynb"
    nbformat.write(nb, path)
    status, notes = diagnose_submission(path, released)
    assert status is None
    assert notes == [
        "test cell check_f duplicated (cells 2, 3): cell 2 is graded, the copies are ignored",
        "test cell check_f (cell 2) edited: nbgrader ran the released test instead",
        "written answer answer_why deleted: nbgrader adds it back empty, so it has nothing to grade",
    ]
    assert not any("restored from the source" in n for n in notes)
