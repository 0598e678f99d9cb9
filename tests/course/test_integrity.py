"""Grading integrity: cheats score 0 for the exercise (with the reason) and are flagged; honest work is untouched.

The runtime part executes small notebooks written with the course's markers through
``IntegrityExecute`` (nbgrader's own ``Execute`` preprocessor plus lecturekit's guard) and scores
each test cell with nbgrader's ``determine_grade``, as ``autograde`` does. The exercise is named
``sigmoid`` so that its reference is the real ``lecturekit.patch_classifier.logreg.sigmoid``.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lecturekit.course import integrity
from lecturekit.course.integrity import scan_notebook, scan_submission

ROOT = Path(__file__).resolve().parents[2]

SETUP = ("import numpy as np\nfrom lecturekit.patch_classifier import logreg, gradcheck\n"
         "from lecturekit.checks import check_close, check_true")
HONEST = "def sigmoid(a):\n    a = np.asarray(a, dtype=float)\n    return 1.0 / (1.0 + np.exp(-a))"
WRONG = "def sigmoid(a):\n    return np.asarray(a) * 0.0 + 0.5"
TEST = ('# Self-check (2 points)\na_test = np.array([-3.0, 0.0, 0.5, 4.0])\n'
        'check_close("sigmoid", lambda: sigmoid(a_test), logreg.sigmoid(a_test))\n'
        'assert np.allclose(sigmoid(np.linspace(-5, 5, 11)), 1 / (1 + np.exp(-np.linspace(-5, 5, 11))))\n'
        'assert abs(float(sigmoid(np.array([0.0]))[0]) - 0.5) < 1e-12')
OTHER_TEST = '# Self-check (1 point)\nassert np.allclose(double(np.arange(3.0)), [0.0, 2.0, 4.0])'


def _grade_meta(grade_id: str, *, solution: bool, grade: bool, points: float = 0.0) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": not solution,
            "schema_version": 3, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def course_notebook(exercise: str, *, first: str = "", extra_exercise: str = "") -> nbformat.NotebookNode:
    """setup, [a student's first cell], exercise sigmoid + its test, exercise double + its test."""
    cells = [new_markdown_cell("# tiny part"), new_code_cell(SETUP)]
    if first:
        cells.append(new_code_cell(first))
    cells += [new_code_cell(exercise, metadata=_grade_meta("sigmoid", solution=True, grade=False)),
              new_code_cell(TEST, metadata=_grade_meta("check_sigmoid", solution=False, grade=True, points=2.0)),
              new_code_cell(extra_exercise or "def double(x):\n    return 2 * np.asarray(x)",
                            metadata=_grade_meta("double", solution=True, grade=False)),
              new_code_cell(OTHER_TEST, metadata=_grade_meta("check_double", solution=False, grade=True, points=1.0)),
              new_markdown_cell("<!-- answer: why (1 point) -->\nmy answer",
                                metadata=_grade_meta("answer_why", solution=True, grade=True, points=1.0))]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def run_graded(nb, tmp_path, monkeypatch) -> dict[str, tuple[float, list[str]]]:
    """Execute as the autograder does; ``{grade_id: (score, error lines)}`` of each code test cell."""
    pytest.importorskip("nbgrader")
    from nbgrader.utils import determine_grade

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    executor = integrity.IntegrityExecute(timeout=60)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            score = determine_grade(cell)[0]
            errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
            out[meta["grade_id"]] = (score, errors)
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every variant graded once in one kernel run each (kernels are the slow part)."""
    cases = {
        "honest": course_notebook(HONEST),
        "calls_reference": course_notebook("def sigmoid(a):\n    return logreg.sigmoid(a)"),
        "catches_the_refusal": course_notebook(
            "def sigmoid(a):\n    try:\n        return logreg.sigmoid(a)\n    except Exception:\n"
            "        return logreg.sigmoid(a)"),
        "helper_calls_reference": course_notebook(
            "from lecturekit.patch_classifier.logreg import sigmoid as _s\n"
            "def helper(a):\n    return _s(a)\ndef sigmoid(a):\n    return helper(a)"),
        "is_the_reference": course_notebook("sigmoid = logreg.sigmoid"),
        "monkeypatches": course_notebook(WRONG, first=(
            "import lecturekit.checks, builtins\n"
            "lecturekit.checks.check_close = lambda *a, **k: None\n"
            "check_close = lambda *a, **k: None\n"
            "np.allclose = lambda *a, **k: True\n"
            "builtins.abs = lambda x: 0.0\n"
            "abs = lambda x: 0.0")),
        "patches_code": course_notebook(WRONG, first=(
            "check_close.__code__ = (lambda *a, **k: None).__code__\n"
            "import numpy\nnumpy.allclose.__code__ = (lambda *a, **k: True).__code__")),
    }
    mp = pytest.MonkeyPatch()
    try:
        return {name: run_graded(nb, tmp_path_factory.mktemp(name), mp) for name, nb in cases.items()}
    finally:
        mp.undo()


@pytest.mark.slow
def test_honest_solution_keeps_full_marks(graded):
    assert graded["honest"] == {"check_sigmoid": (2.0, []), "check_double": (1.0, [])}


@pytest.mark.slow
@pytest.mark.parametrize("case", ["calls_reference", "catches_the_refusal", "helper_calls_reference"])
def test_calling_the_reference_scores_zero_with_the_reason(graded, case):
    score, errors = graded[case]["check_sigmoid"]
    assert score == 0.0
    assert any("IntegrityError" in e and "calls lecturekit's reference `logreg.sigmoid`" in e for e in errors), errors
    assert graded[case]["check_double"] == (1.0, [])  # the other exercise is untouched


@pytest.mark.slow
def test_binding_the_reference_itself_scores_zero(graded):
    score, errors = graded["is_the_reference"]["check_sigmoid"]
    assert score == 0.0 and any("is lecturekit's reference `logreg.sigmoid`" in e for e in errors), errors


@pytest.mark.slow
@pytest.mark.parametrize("case", ["monkeypatches", "patches_code"])
def test_monkeypatched_checks_do_not_reach_the_tests(graded, case):
    score, errors = graded[case]["check_sigmoid"]
    assert score == 0.0 and errors, "a wrong sigmoid passed thanks to a patched check"
    assert graded[case]["check_double"] == (1.0, [])


@pytest.mark.slow
def test_plain_nbconvert_run_has_the_guard_too(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb = course_notebook("def sigmoid(a):\n    return logreg.sigmoid(a)")
    executor = integrity.IntegrityExecutePreprocessor(timeout=60, allow_errors=True)
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "check_sigmoid")
    errors = [f"{o.ename}: {o.evalue}" for o in test_cell.outputs if o.output_type == "error"]
    assert any("IntegrityError" in e and "`logreg.sigmoid`" in e for e in errors), errors
    # nothing injected is left in the notebook: same cells, student's execution counts untouched
    fresh = course_notebook("def sigmoid(a):\n    return logreg.sigmoid(a)")
    assert [c.source for c in nb.cells] == [c.source for c in fresh.cells]
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))


# ------------------------------------------- other lecturekit functions that solve an exercise
PROCRUSTES_SETUP = "import numpy as np\nfrom lecturekit import metrics\nfrom lecturekit.metrics import procrustes_align"
PROCRUSTES_HONEST = ("def rigid_procrustes(pred, true):\n"
                     "    mp, mq = pred.mean(axis=0), true.mean(axis=0)\n"
                     "    U, _, Vt = np.linalg.svd((pred - mp).T @ (true - mq))\n"
                     "    d = np.sign(np.linalg.det(Vt.T @ U.T))\n"
                     "    return (pred - mp) @ (Vt.T @ np.diag([1.0, 1.0, d]) @ U.T).T + mq")
PROCRUSTES_TEST = ("# Self-check (1 point)\nq = np.random.default_rng(0).normal(size=(6, 3))\n"
                   "c, s = np.cos(0.3), np.sin(0.3)\np = q @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) + 2.0\n"
                   "assert np.allclose(rigid_procrustes(p, q), metrics.procrustes_align(p[None], q[None])[0])")


def procrustes_notebook(exercise: str) -> nbformat.NotebookNode:
    """A part whose exercise ``rigid_procrustes`` is solved by lecturekit's ``metrics.procrustes_align``."""
    nb = new_notebook(cells=[
        new_code_cell(PROCRUSTES_SETUP),
        new_code_cell(exercise, metadata=_grade_meta("rigid_procrustes", solution=True, grade=False)),
        new_code_cell(PROCRUSTES_TEST, metadata=_grade_meta("check_rigid_procrustes", solution=False, grade=True,
                                                             points=1.0))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_every_listed_solver_exists():
    """checks.SOLVED_BY names real lecturekit functions of real exercises (a rename must update it)."""
    import importlib
    import types

    from lecturekit import checks
    for exercise, specs in checks.SOLVED_BY.items():
        assert exercise in checks.EXERCISES, exercise
        for spec in specs:
            module_name, _, qualname = spec.partition(":")
            obj = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
            assert isinstance(obj, types.FunctionType), spec


@pytest.mark.parametrize("exercise, expected", [
    ("def rigid_procrustes(pred, true):\n    return metrics.procrustes_align(pred[None], true[None])[0]",
     "`rigid_procrustes` calls lecturekit's `metrics.procrustes_align`, which solves it"),
    ("def rigid_procrustes(pred, true):\n    return procrustes_align(pred[None], true[None])[0]",
     "`rigid_procrustes` calls lecturekit's `metrics.procrustes_align`, which solves it"),
])
def test_scan_flags_another_library_function_that_solves_the_exercise(exercise, expected):
    assert scan_notebook(procrustes_notebook(exercise)) == [f"cell 1: line 2: {expected}"]
    assert scan_notebook(procrustes_notebook(PROCRUSTES_HONEST)) == []


@pytest.mark.slow
def test_calling_another_solver_scores_zero_and_honest_work_full(tmp_path, monkeypatch):
    cheat = "def rigid_procrustes(pred, true):\n    return metrics.procrustes_align(pred[None], true[None])[0]"
    (tmp_path / "cheat").mkdir()
    (tmp_path / "honest").mkdir()
    score, errors = run_graded(procrustes_notebook(cheat), tmp_path / "cheat", monkeypatch)["check_rigid_procrustes"]
    assert score == 0.0
    assert any("IntegrityError" in e and "`metrics.procrustes_align`" in e for e in errors), errors
    assert run_graded(procrustes_notebook(PROCRUSTES_HONEST), tmp_path / "honest", monkeypatch) == {
        "check_rigid_procrustes": (1.0, [])}


# ------------------------------------------------------------------------------ static scan
def test_scan_flags_both_cheats_with_cell_numbers():
    calls = scan_notebook(course_notebook("def sigmoid(a):\n    return logreg.sigmoid(a)"))
    assert calls == ["cell 2: line 2: `sigmoid` calls lecturekit's reference `logreg.sigmoid`"]
    patched = scan_notebook(course_notebook(WRONG, first=(
        "import lecturekit.checks\nlecturekit.checks.check_close = lambda *a, **k: None\n"
        "check_close = lambda *a, **k: None\nnp.allclose = lambda *a, **k: True\n"
        "check_true.__code__ = check_close.__code__")))
    text = "\n".join(patched)
    assert "cell 2: line 2: assigns `lecturekit.checks.check_close`" in text
    assert "cell 2: line 3: assigns `check_close` (imported from lecturekit.checks.check_close)" in text
    assert "cell 2: line 4: assigns `np.allclose`" in text
    assert "cell 2: line 5: uses `__code__`" in text
    assert all(f.startswith("cell 2:") for f in patched), patched


@pytest.mark.parametrize("source, expected", [
    ("import subprocess\nsubprocess.run(['ls'])", "imports `subprocess`"),
    ("import os\nos.system('cat /etc/passwd')", "runs a shell command (`os.system`)"),
    ("!ls -la", "runs a shell command (`!`)"),
    ("open('/proc/self/environ').read()", "uses the path '/proc/self/environ'"),
    ("import importlib\nimportlib.reload(np)", "calls `importlib.reload`"),
    ("setattr(np, 'allclose', print)", "calls `setattr` on `np`"),
    ("import builtins\nbuiltins.len = lambda x: 0", "assigns `builtins.len`"),
    ("grad = logreg.sigmoid\nsigmoid = logreg.sigmoid", "`sigmoid` is lecturekit's reference `logreg.sigmoid`"),
    ("from lecturekit.patch_classifier.logreg import sigmoid", "`sigmoid` is lecturekit's reference `logreg.sigmoid`"),
])
def test_scan_flags_each_trick(source, expected):
    findings = scan_notebook(course_notebook(HONEST, first=source))
    assert any(expected in f for f in findings), findings


def test_scan_is_clean_for_honest_work_with_magics():
    nb = course_notebook(HONEST, first="%matplotlib inline\nx = np.arange(3)\nprint(np.allclose(x, x))")
    assert scan_notebook(nb) == []


def test_scan_is_clean_on_every_released_and_solution_notebook():
    paths = sorted(glob.glob(str(ROOT / "solutions" / "*" / "*.ipynb"))
                   + glob.glob(str(ROOT / "notebooks" / "*" / "*.ipynb")))
    assert len(paths) >= 10
    assert {Path(p).name + ":" + str(i): f for i, p in enumerate(paths) if (f := scan_submission(p))} == {}


def test_scan_of_a_broken_file_says_so(tmp_path):
    bad = tmp_path / "x.ipynb"
    bad.write_text("{not json")
    assert scan_submission(bad)[0].startswith("unreadable")


# ------------------------------------------------------------------- through nbgrader autograde
@pytest.mark.slow
def test_nbgrader_autograde_with_the_integrity_preprocessor(tmp_path):
    """A released tiny part graded by ``nbgrader autograde`` with IntegrityExecute in place of Execute."""
    pytest.importorskip("nbgrader")
    import shutil

    from lecturekit.course.grading import read_grades
    from lecturekit.course.release import nbgrader_api, release

    part = "91_integrity"
    root = tmp_path / "course"
    (root / "solutions" / part).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    solution = new_notebook(cells=[
        new_markdown_cell("# tiny part"), new_code_cell(SETUP),
        new_code_cell('def sigmoid(a):\n    """The logistic function.\n\n'
                      '    a: array. Returns an array of the same shape.\n    """\n'
                      "    ### BEGIN SOLUTION\n    a = np.asarray(a, dtype=float)\n"
                      "    return 1.0 / (1.0 + np.exp(-a))\n    ### END SOLUTION"),
        new_code_cell(TEST)])
    solution.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(solution, root / "solutions" / part / f"{part}.ipynb")
    release(root, [part])
    released = nbformat.read(root / "notebooks" / part / f"{part}.ipynb", as_version=4)
    bodies = {"honest": HONEST, "cheater": "def sigmoid(a):\n    return logreg.sigmoid(a)", "patcher": WRONG}
    for student, body in bodies.items():
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        exercise = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sigmoid")
        exercise.source = body
        if student == "patcher":
            nb.cells.insert(2, new_code_cell(
                "import lecturekit.checks\nlecturekit.checks.check_close = lambda *a, **k: None\n"
                "check_close = lambda *a, **k: None\nnp.allclose = lambda *a, **k: True"))
        (root / "submitted" / student / part).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / part / f"{part}.ipynb")
    pipeline = ["lecturekit.course.integrity.IntegrityExecute", "nbgrader.preprocessors.IgnorePattern",
                "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.SaveAutoGrades",
                "nbgrader.preprocessors.CheckCellMetadata"]
    api = nbgrader_api(root, {"IntegrityExecute": {"timeout": 60}, "Autograde": {"autograde_preprocessors": pipeline}})
    for student in bodies:
        assert api.autograde(part, student, force=True, create=True)["success"]
    grades = read_grades(root, part)
    assert {s: g[:2] for s, g in grades.items()} == {"honest": (2.0, 2.0), "cheater": (0.0, 2.0), "patcher": (0.0, 2.0)}
    feedback = nbformat.read(root / "autograded" / "cheater" / part / f"{part}.ipynb", as_version=4)
    shown = json.dumps([c.get("outputs", []) for c in feedback.cells])
    assert "calls lecturekit's reference `logreg.sigmoid`" in shown and "__lecturekit_integrity__" not in shown
    assert scan_submission(root / "submitted" / "cheater" / part / f"{part}.ipynb")
    assert scan_submission(root / "submitted" / "patcher" / part / f"{part}.ipynb")
    assert scan_submission(root / "submitted" / "honest" / part / f"{part}.ipynb") == []
