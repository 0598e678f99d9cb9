"""Grading a class end to end with the real nbgrader: collect, autograde in parallel, CSV, feedback.

A fake class is built in a temporary course folder (never the repository's own submitted/,
autograded/, feedback/ or gradebook.db): a tiny part written with the course's markers, and the
real released ``00_welcome``. Expected scores come from the markers (``# Self-check (N points)``)
through ``lecturekit.course.release.find_roles``, not from the grader.
"""

from __future__ import annotations

import copy
import csv
import html
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lecturekit.course import grading
from lecturekit.course.release import find_roles, release

ROOT = Path(__file__).resolve().parents[2]
FAKE = "90_fake"
CELL_TIMEOUT = 4
MEMORY_MB = 600  # the kernel with numpy imported needs about 250 MB

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------------ fake course
def fake_solution() -> nbformat.NotebookNode:
    """The fake part: two autograded exercises (2 and 3 points) and a written answer (1 point)."""
    cells = [
        new_markdown_cell("# A fake part\nTwo exercises and a written answer, for the grading tests."),
        new_code_cell("import numpy as np\nfrom lecturekit.checks import check_close"),
        new_code_cell('def double(x):\n    """Return 2 x, elementwise.\n\n    x: array of any shape.\n    """\n'
                      "    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION"),
        new_code_cell('# Self-check (2 points)\ncheck_close("double", lambda: double(np.array([1.0, 2.0])), '
                      "np.array([2.0, 4.0]))\n### BEGIN HIDDEN TESTS\n"
                      "assert np.allclose(double(np.arange(5.0)), 2 * np.arange(5.0))\n### END HIDDEN TESTS"),
        new_code_cell('def square(x):\n    """Return x squared, elementwise.\n\n    x: array of any shape.\n    """\n'
                      "    ### BEGIN SOLUTION\n    return np.asarray(x) ** 2\n    ### END SOLUTION"),
        new_code_cell('# Self-check (3 points)\ncheck_close("square", lambda: square(np.array([1.0, 3.0])), '
                      "np.array([1.0, 9.0]))\n### BEGIN HIDDEN TESTS\n"
                      "assert np.allclose(square(-np.arange(4.0)), np.arange(4.0) ** 2)\n### END HIDDEN TESTS"),
        new_markdown_cell("<!-- question: why_square -->\n**Why is a square never negative?**"),
        new_markdown_cell("<!-- answer: why_square (1 points) -->\n"
                          "### BEGIN SOLUTION\nBecause $x^2 = |x|^2$.\n### END SOLUTION"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb




def make_course(tmp: Path, parts: dict[str, nbformat.NotebookNode | Path]) -> Path:
    """A course folder in ``tmp`` with the repository's nbgrader_config.py and the given parts released."""
    grading.ensure_nbgrader_tools_on_path()
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    for part, source in parts.items():
        (tmp / "solutions" / part).mkdir(parents=True)
        if isinstance(source, Path):
            shutil.copytree(source.parent, tmp / "solutions" / part, dirs_exist_ok=True)
        else:
            nbformat.write(source, tmp / "solutions" / part / f"{part}.ipynb")
    release(tmp, list(parts))
    return tmp


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answered(released, solution, exercises=None, replace: dict[str, str] | None = None):
    """The released notebook with the solution's code put into ``exercises`` (default: all).

    ``replace`` maps an exercise name to a body of our own (a student's bug).
    """
    nb = copy.deepcopy(released)
    model = {_meta(c).get("grade_id"): c.source for c in solution.cells if _meta(c).get("grade_id")}
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if cell.cell_type != "code" or not _meta(cell).get("solution"):
            continue
        if replace and gid in replace:
            head = model[gid].split("### BEGIN SOLUTION")[0]
            cell.source = head.rstrip(" ") + "    " + replace[gid].replace("\n", "\n    ") + "\n"
        elif exercises is None or gid in exercises:
            cell.source = model[gid]
    return nb


def check_points(solution) -> dict[str, float]:
    """``{check grade id: points}`` read from the markers (the oracle for expected scores)."""
    return {r.grade_id: r.points for r in find_roles(solution) if r.kind == "check"}


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def rows(course: Path, part: str) -> dict[str, dict]:
    with (course / "grading" / part / "grades.csv").open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def table_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(str(db))
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")}
    finally:
        con.close()


# ------------------------------------------------------------------------- the fake class
@pytest.fixture(scope="module")
def fake_class(tmp_path_factory):
    """A class of 13 submissions of the fake part, collected from an LMS-style inbox and graded."""
    course = make_course(tmp_path_factory.mktemp("course"), {FAKE: fake_solution()})
    released = nbformat.read(course / "notebooks" / FAKE / f"{FAKE}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / FAKE / f"{FAKE}.ipynb", as_version=4)
    inbox = course.parent / "inbox"
    alice = answered(released, solution)
    answer = next(c for c in alice.cells if _meta(c).get("grade_id") == "answer_why_square")
    answer.source = "Because it is |x| times |x|."  # a written answer nbgrader keeps: no note about it
    write(alice, inbox / f"alice_{FAKE}.ipynb")
    write(released, inbox / f"bob_{FAKE}.ipynb")
    write(answered(released, solution, exercises={"double"}), inbox / f"carol_{FAKE}.ipynb")
    write(answered(released, solution, replace={"double": "while True:\n    pass"}), inbox / f"dave_{FAKE}.ipynb")
    write(answered(released, solution, replace={"square": "import os\nos._exit(1)"}), inbox / f"erin_{FAKE}.ipynb")
    nb = answered(released, solution)
    nb.cells = [c for c in nb.cells if _meta(c).get("grade_id") != "check_square"]
    write(nb, inbox / f"frank_{FAKE}.ipynb")
    nb = answered(released, solution, exercises={"double"})
    check = next(c for c in nb.cells if _meta(c).get("grade_id") == "check_square")
    check.source = "# Self-check (3 points)\nprint('all good')"  # an edited test cell must not pass
    nb.cells.insert(nb.cells.index(check), copy.deepcopy(nb.cells[3]))  # and a duplicated one
    write(nb, inbox / f"grace_{FAKE}.ipynb")
    (inbox / f"heidi_{FAKE}.ipynb").write_text('{"cells": [ this is not json')
    (inbox / f"ivan_{FAKE}.ipynb").write_text("")
    write(answered(released, solution), inbox / "judy_homework_final.ipynb")  # wrong name, right content
    other = new_notebook(cells=[new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": True, "grade_id": "check_other", "points": 1, "solution": False, "locked": True,
        "schema_version": 3, "task": False}})])
    write(other, inbox / f"mallory_{FAKE}.ipynb")  # a notebook of another part
    write(answered(released, solution, replace={"double": "print('x' * 3_000_000)\nreturn 2 * np.asarray(x)"}),
          inbox / f"niaj_{FAKE}.ipynb")
    (inbox / "notes.txt").write_text("not a notebook")

    collected = grading.collect(inbox, course, part=FAKE)
    results = grading.grade(course, FAKE, workers=2, cell_timeout=CELL_TIMEOUT)  # the default memory cap
    return {"course": course, "inbox": inbox, "collected": collected, "results": results,
            "released": released, "solution": solution}


def test_collect_places_every_notebook_in_nbgraders_layout(fake_class):
    course, collected = fake_class["course"], {c.source: c for c in fake_class["collected"]}
    assert collected["notes.txt"].dest is None and "not a .ipynb" in collected["notes.txt"].note
    judy = collected["judy_homework_final.ipynb"]
    assert judy.student == "judy" and judy.part == FAKE and "does not name part" in judy.note
    students = grading.submitted_students(course, FAKE)
    assert students == sorted(["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
                               "judy", "mallory", "niaj"])
    for student in students:
        assert (course / "submitted" / student / FAKE / f"{FAKE}.ipynb").is_file()
        assert (course / "submitted" / student / FAKE / "timestamp.txt").is_file()


def test_scores_statuses_and_reasons(fake_class):
    course, solution = fake_class["course"], fake_class["solution"]
    points = check_points(solution)
    full = sum(points.values())
    table = rows(course, FAKE)
    assert set(table) == set(grading.submitted_students(course, FAKE))
    expected = {  # student: (score, status, words the reason must contain)
        "alice": (full, "graded", []),
        "bob": (0, "graded", ["check_double: CheckFailed", "check_square: CheckFailed"]),
        "carol": (points["check_double"], "graded", ["check_square"]),
        "dave": (points["check_square"], "timeout", ["check_double: timed out"]),
        "erin": (0, "crashed", ["kernel died"]),
        "frank": (full, "graded", ["check_square", "deleted", "put the released test back"]),
        "grace": (points["check_double"], "graded", ["edited", "duplicated", "check_square"]),
        "heidi": (0, "unreadable", ["not a valid notebook"]),
        "ivan": (0, "unreadable", ["empty"]),
        "judy": (full, "graded", ["does not name part"]),
        "mallory": (0, "wrong_part", ["another part"]),
        "niaj": (full, "graded", ["huge output truncated"]),
    }
    for student, (score, status, words) in expected.items():
        row = table[student]
        assert (float(row["score"]), row["status"]) == (score, status), (student, row)
        assert float(row["max_score"]) == full + 1  # the written answer's point is graded by hand
        for word in words:
            assert word in row["reason"], (student, word, row["reason"])
        for gid, pts in points.items():
            assert float(row[gid]) in (0.0, pts)
    assert table["alice"]["reason"] == "" and table["alice"]["integrity"] == ""
    assert all(row["integrity"] == "" for row in table.values())
    assert float(table["carol"]["check_double"]) == points["check_double"]
    assert float(table["carol"]["check_square"]) == 0.0


def test_feedback_for_every_student_and_hidden_tests_only_there(fake_class):
    course = fake_class["course"]
    for student in grading.submitted_students(course, FAKE):
        page = course / "feedback" / student / FAKE / f"{FAKE}.html"
        assert page.is_file() and page.stat().st_size > 200, student
    alice = html.unescape(re.sub(r"<[^>]+>", "", (course / "feedback" / "alice" / FAKE / f"{FAKE}.html").read_text()))
    assert "double(np.arange(5.0))" in alice  # the hidden test, shown after grading (documented policy)
    assert "could not be graded" in (course / "feedback" / "heidi" / FAKE / f"{FAKE}.html").read_text()
    assert "double(np.arange(5.0))" not in (course / "notebooks" / FAKE / f"{FAKE}.ipynb").read_text()
    niaj = course / "autograded" / "niaj" / FAKE / f"{FAKE}.ipynb"
    assert niaj.stat().st_size < 1_000_000  # 3 MB printed, cut to 100 000 characters


def test_gradebook_has_one_row_per_student_and_matches_csv(fake_class):
    course = fake_class["course"]
    counts = table_counts(course / "gradebook.db")
    students = grading.submitted_students(course, FAKE)
    assert counts["student"] == len(students)
    assert counts["submitted_assignment"] == len(students)
    assert counts["grade"] == len(students) * 3  # two self-checks and one written answer each
    scores = grading.read_grades(course, FAKE)
    for student, row in rows(course, FAKE).items():
        assert scores[student][0] == pytest.approx(float(row["score"]))


def test_regrading_is_idempotent_keeps_manual_grades_and_adds_a_late_student(fake_class):
    from nbgrader.api import Gradebook

    course, inbox = fake_class["course"], fake_class["inbox"]
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:  # an instructor grades alice's derivation in the formgrader
        gb.find_grade("answer_why_square", FAKE, FAKE, "alice").manual_score = 1.0
        gb.db.commit()
    before_csv = rows(course, FAKE)
    before_counts = table_counts(course / "gradebook.db")
    grading.feedback(course, FAKE)  # the manual point reaches alice's feedback page
    page = (course / "feedback" / "alice" / FAKE / f"{FAKE}.html").read_text()
    full = sum(check_points(fake_class["solution"]).values()) + 1
    assert f"{FAKE} (Score: {full:.1f} / {full:.1f})" in html.unescape(re.sub(r"<[^>]+>", "", page))

    grading.collect(inbox, course, part=FAKE)  # collecting the same inbox again changes nothing
    again = grading.grade(course, FAKE, workers=2, cell_timeout=CELL_TIMEOUT)
    assert not any(r.graded_now for r in again)
    assert table_counts(course / "gradebook.db") == before_counts
    after = rows(course, FAKE)
    assert float(after["alice"]["score"]) == float(before_csv["alice"]["score"]) + 1
    assert {s: r for s, r in after.items() if s != "alice"} == {s: r for s, r in before_csv.items() if s != "alice"}

    released, solution = fake_class["released"], fake_class["solution"]
    write(answered(released, solution, exercises={"square"}), inbox / f"peggy_{FAKE}.ipynb")
    grading.collect(inbox, course, part=FAKE)
    late = grading.grade(course, FAKE, workers=2, cell_timeout=CELL_TIMEOUT)
    assert [r.student for r in late if r.graded_now] == ["peggy"]
    table = rows(course, FAKE)
    assert float(table["peggy"]["score"]) == check_points(solution)["check_square"]
    assert float(table["alice"]["score"]) == float(after["alice"]["score"])  # the manual point survives
    assert table_counts(course / "gradebook.db")["submitted_assignment"] == before_counts["submitted_assignment"] + 1

    forced = grading.grade(course, FAKE, workers=2, cell_timeout=CELL_TIMEOUT, force=True, students=["alice"])
    assert [r.student for r in forced if r.graded_now] == ["alice"]
    assert float(rows(course, FAKE)["alice"]["score"]) == float(after["alice"]["score"])


def test_cli_collect_and_grade_verbs(fake_class, tmp_path, capsys):
    from lecturekit.course.cli import main

    course = make_course(tmp_path / "course", {FAKE: fake_solution()})
    inbox = tmp_path / "export.zip"  # an LMS download, as a zip with a folder inside
    with zipfile.ZipFile(inbox, "w") as archive:
        archive.write(fake_class["inbox"] / f"alice_{FAKE}.ipynb", f"submissions/alice_{FAKE}.ipynb")
    assert main(["--course", str(course), "collect", str(inbox)]) == 0
    assert main(["--course", str(course), "grade", FAKE, "--workers", "1", "--timeout", str(CELL_TIMEOUT)]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "grades.csv" in out
    assert rows(course, FAKE)["alice"]["status"] == "graded"
    assert main(["--course", str(course), "feedback", FAKE]) == 0
    alice = rows(course, FAKE)["alice"]
    shutil.copytree(fake_class["course"] / "submitted" / "dave", course / "submitted" / "dave")  # endless loop
    assert main(["--course", str(course), "grade", FAKE, "--timeout", "60", "--submission-timeout", "6"]) == 0
    table = rows(course, FAKE)
    assert table["dave"]["status"] == "timeout" and "stopped" in table["dave"]["reason"]
    assert float(table["dave"]["score"]) == 0 and table["alice"] == alice  # the killed worker harmed nobody
    assert table_counts(course / "gradebook.db")["submitted_assignment"] == 2
    assert main(["--course", str(course), "grade", "no_such_part"]) == 2


# --------------------------------------------------------------------- validation messages
def test_parse_submission_name_layouts():
    parts = ["00_welcome", "01_logistic_regression"]
    parse = grading.parse_submission_name
    assert parse("alice_01_logistic_regression.ipynb", parts)[:2] == ("alice", "01_logistic_regression")
    assert parse("bob_late_1234_5678_00_welcome-1.ipynb", parts)[:2] == ("bob", "00_welcome")
    assert parse("carol/00_welcome.ipynb", parts)[:2] == ("carol", "00_welcome")
    assert parse("dave/00_welcome/00_welcome.ipynb", parts)[:2] == ("dave", "00_welcome")
    assert parse("erin_homework.ipynb", parts)[:2] == ("erin", None)
    with pytest.raises(ValueError, match="relpath: expected a .ipynb"):
        parse("alice_00_welcome.pdf", parts)
    with pytest.raises(TypeError, match="parts: expected a list"):
        parse("alice_00_welcome.ipynb", "00_welcome")


def test_grade_and_collect_validate_arguments(fake_class, tmp_path):
    course = fake_class["course"]
    with pytest.raises(ValueError, match="workers: expected an integer >= 1"):
        grading.grade(course, FAKE, workers=0)
    with pytest.raises(ValueError, match="part: unknown part"):
        grading.grade(course, "99_nothing")
    with pytest.raises(ValueError, match="students: no submission"):
        grading.grade(course, FAKE, students=["nobody"])
    with pytest.raises(ValueError, match="inbox: expected a folder"):
        grading.collect(tmp_path / "missing", course)
    with pytest.raises(ValueError, match="part: unknown part"):
        grading.collect(fake_class["inbox"], course, part="99_nothing")


# ---------------------------------------------------------------- the real released notebook
REAL_PART = "00_welcome"


def test_real_part_graded_end_to_end(tmp_path):
    """The cheapest real part: its solution scores full marks, the released copy zero, one
    exercise left undone loses exactly that exercise's points, deleted/edited test cells are
    restored, and broken files (not JSON, empty, another part's notebook) still get a row."""
    source = ROOT / "solutions" / REAL_PART / f"{REAL_PART}.ipynb"
    if not source.is_file():
        pytest.skip(f"solutions/{REAL_PART} is not written yet")  # only before the part exists
    course = make_course(tmp_path / "course", {REAL_PART: source})
    released = nbformat.read(course / "notebooks" / REAL_PART / f"{REAL_PART}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / REAL_PART / f"{REAL_PART}.ipynb", as_version=4)
    roles = find_roles(solution)
    points = check_points(solution)
    exercises = [r.grade_id for r in roles if r.kind == "exercise"]
    inbox = tmp_path / "inbox"
    write(answered(released, solution), inbox / f"alice_{REAL_PART}.ipynb")
    write(released, inbox / f"bob_{REAL_PART}.ipynb")
    (inbox / f"heidi_{REAL_PART}.ipynb").write_text("{ not json")
    (inbox / f"ivan_{REAL_PART}.ipynb").write_text("")
    write(fake_solution(), inbox / f"mallory_{REAL_PART}.ipynb")  # another part's notebook
    nb = answered(released, solution)
    checks = [c for c in nb.cells if _meta(c).get("grade_id") in points]
    if checks:
        nb.cells.remove(checks[0])  # deleted, and the next one edited: both restored by nbgrader
        if len(checks) > 1:
            checks[1].source = "pass"
    write(nb, inbox / f"frank_{REAL_PART}.ipynb")
    if exercises:
        write(answered(released, solution, exercises=set(exercises[1:])), inbox / f"carol_{REAL_PART}.ipynb")
    grading.collect(inbox, course, part=REAL_PART)
    grading.grade(course, REAL_PART, workers=2, cell_timeout=60)
    table = rows(course, REAL_PART)
    full = sum(points.values())
    assert (float(table["alice"]["score"]), table["alice"]["status"]) == (full, "graded"), table["alice"]
    assert (float(table["bob"]["score"]), table["bob"]["status"]) == (0.0, "graded"), table["bob"]
    assert table["heidi"]["status"] == "unreadable" and table["ivan"]["status"] == "unreadable"
    assert table["mallory"]["status"] == "wrong_part" and float(table["mallory"]["score"]) == 0
    assert (float(table["frank"]["score"]), table["frank"]["status"]) == (full, "graded"), table["frank"]
    if points:
        assert "put the released test back" in table["frank"]["reason"]
    if exercises:
        first = [g for g in points if g == f"check_{exercises[0]}" or g.startswith(f"check_{exercises[0]}_")]
        assert float(table["carol"]["score"]) == full - sum(points[g] for g in first)
    for student in table:
        assert (course / "feedback" / student / REAL_PART / f"{REAL_PART}.html").is_file()


def test_integrity_cheats_score_zero_and_are_flagged(tmp_path):
    """D2's integrity guard inside the sandboxed kernel, its static scan in the csv, unmatched files listed."""
    course = make_course(tmp_path / "course", {FAKE: fake_solution()})
    released = nbformat.read(course / "notebooks" / FAKE / f"{FAKE}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / FAKE / f"{FAKE}.ipynb", as_version=4)
    inbox = tmp_path / "inbox"
    write(answered(released, solution), inbox / f"José García_{FAKE}.ipynb")
    nb = answered(released, solution, replace={"double": "return 0 * x", "square": "return 0 * x"})
    nb.cells.insert(1, new_code_cell("import lecturekit.checks\nlecturekit.checks.check_close = lambda *a, **k: None\n"
                                     "check_close = lambda *a, **k: None\nnp.allclose = lambda *a, **k: True"))
    write(nb, inbox / f"mallet_{FAKE}.ipynb")
    write(answered(released, solution), inbox / f"{FAKE}.ipynb")  # no student name
    collected = grading.collect(inbox, course)
    assert [c.status for c in collected].count("unmatched") == 1
    grading.grade(course, FAKE, workers=2, cell_timeout=30)
    table = rows(course, FAKE)
    full = sum(check_points(solution).values())
    assert float(table["josegarcia"]["score"]) == full and table["josegarcia"]["integrity"] == ""
    assert float(table["mallet"]["score"]) == 0
    assert "assigns `lecturekit.checks.check_close`" in table["mallet"]["integrity"]
    assert table[f"{FAKE}.ipynb"]["status"] == "unmatched" and f"{FAKE}.ipynb" in table[f"{FAKE}.ipynb"]["reason"]


def test_memory_cap_stops_a_30_gb_allocation_and_spares_the_solution(tmp_path):
    """Resident memory is capped (not address space): 30 GB of touched pages, 256 MB at a time, is
    stopped near MEMORY_MB; the full solution passes under the same cap."""
    course = make_course(tmp_path / "course", {FAKE: fake_solution()})
    released = nbformat.read(course / "notebooks" / FAKE / f"{FAKE}.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / FAKE / f"{FAKE}.ipynb", as_version=4)
    inbox = tmp_path / "inbox"
    write(answered(released, solution), inbox / f"alice_{FAKE}.ipynb")
    write(answered(released, solution, replace={"double": "big = [np.ones(2**25) for _ in range(120)]\n"
                                                           "return 2 * np.asarray(x)"}),
          inbox / f"olivia_{FAKE}.ipynb")
    grading.collect(inbox, course, part=FAKE)
    results = {r.student: r for r in grading.grade(course, FAKE, workers=2, cell_timeout=120,
                                                   memory_limit_mb=MEMORY_MB)}
    assert results["olivia"].status == "memory" and results["olivia"].score == 0, results["olivia"]
    assert f"memory limit of {MEMORY_MB} MB while running check_double" in results["olivia"].reason
    resident = float(re.search(r"\((\d+) MB resident\)", results["olivia"].reason).group(1))
    assert MEMORY_MB <= resident < MEMORY_MB + 1024  # stopped early, nowhere near 30 GB
    full = sum(check_points(solution).values())
    assert (results["alice"].status, results["alice"].score) == ("graded", full), results["alice"]
    assert rows(course, FAKE)["olivia"]["status"] == "memory"
    assert "could not be graded (memory)" in (course / "feedback" / "olivia" / FAKE / f"{FAKE}.html").read_text()


def test_default_memory_cap_is_a_fraction_of_the_machine():
    import psutil

    total_mb = psutil.virtual_memory().total / 2**20
    for workers in (1, 2, 8):
        assert grading.default_memory_limit_mb(workers) == int(min(4096, 0.6 * total_mb / workers))
