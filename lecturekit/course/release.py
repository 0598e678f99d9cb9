"""One source, two notebooks: turn ``solutions/<part>/<part>.ipynb`` into the student version.

Authors write only solution notebooks, marking exercises with plain-text markers; this module
writes the nbgrader cell metadata those markers imply (so nobody edits JSON by hand) and then
runs nbgrader's own ``generate_assignment`` to write ``notebooks/<part>/<part>.ipynb``.

Markers (see CONTRIBUTING.md for a worked example):

* **code exercise** - a code cell containing ``### BEGIN SOLUTION`` / ``### END SOLUTION``.
  Its id is the first ``def name(`` in the cell (or an explicit ``# exercise: name`` line).
* **self-check (autograded test)** - a code cell whose first line is
  ``# Self-check (N points)`` (``N`` may be ``0.5``). It belongs to the exercise above it;
  stricter cases go between ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.
* **written answer (manually graded)** - two markdown cells: the question, with the comment
  ``<!-- question: name -->`` (released as a locked, read-only cell), and directly below it the
  answer cell, with ``<!-- answer: name (N points) -->`` and only the model answer between the
  solution markers (students type there; deleting its text cannot delete the question).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import nbformat

__all__ = [
    "ReleaseError",
    "CellRole",
    "course_root",
    "list_parts",
    "solution_path",
    "annotate_notebook",
    "annotate_solutions",
    "generate_student_notebooks",
    "release",
    "solution_function",
]

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
_CHECK_HEADER = re.compile(r"^#\s*Self-check\b[^\n]*?\((\d+(?:\.\d+)?)\s+points?\)", re.IGNORECASE)
_ANSWER_COMMENT = re.compile(r"<!--\s*answer:\s*([A-Za-z_][\w-]*)\s*\((\d+(?:\.\d+)?)\s+points?\)\s*-->")
_QUESTION_COMMENT = re.compile(r"<!--\s*question:\s*([A-Za-z_][\w-]*)\s*-->")
_EXERCISE_NAME = re.compile(r"^\s*#\s*exercise:\s*([A-Za-z_]\w*)", re.MULTILINE)
_FIRST_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


class ReleaseError(RuntimeError):
    """A solution notebook's markers are inconsistent, or nbgrader failed."""


@dataclass(frozen=True)
class CellRole:
    """What the markers say one cell is: ``kind`` in {"exercise", "check", "question", "answer"}."""

    index: int
    kind: str
    grade_id: str
    points: float = 0.0


def course_root(start: Path | str | None = None) -> Path:
    """The course folder: the nearest ancestor of ``start`` (default: cwd) holding ``solutions/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir() and (folder / "nbgrader_config.py").is_file():
            return folder
    raise ReleaseError(f"no course folder (with solutions/ and nbgrader_config.py) at or above {here}")


def list_parts(root: Path) -> list[str]:
    """Names of the course parts, e.g. ``["00_welcome", "01_logistic_regression"]``."""
    return sorted(p.parent.name for p in Path(root, "solutions").glob("*/*.ipynb")
                  if p.stem == p.parent.name)


def solution_path(root: Path, part: str) -> Path:
    return Path(root) / "solutions" / part / f"{part}.ipynb"


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def find_roles(nb) -> list[CellRole]:
    """Read the markers of every cell; raise ReleaseError when they are inconsistent."""
    roles: list[CellRole] = []
    used: set[str] = set()
    last_exercise: str | None = None
    checks_of_last = 0

    def unique(grade_id: str, index: int) -> str:
        if grade_id in used:
            raise ReleaseError(f"cell {index}: grade id {grade_id!r} is used twice in this notebook")
        used.add(grade_id)
        return grade_id

    for i, cell in enumerate(nb.cells):
        src = _source(cell)
        if cell.cell_type == "code" and SOLUTION_BEGIN in src:
            if last_exercise is not None and checks_of_last == 0:
                raise ReleaseError(f"exercise {last_exercise!r} has no self-check cell after it")
            if SOLUTION_END not in src:
                raise ReleaseError(f"cell {i}: {SOLUTION_BEGIN} without {SOLUTION_END}")
            match = _EXERCISE_NAME.search(src) or _FIRST_DEF.search(src)
            if not match:
                raise ReleaseError(f"cell {i}: an exercise needs a `def name(` or a `# exercise: name` line")
            last_exercise, checks_of_last = match.group(1), 0
            roles.append(CellRole(i, "exercise", unique(last_exercise, i)))
        elif cell.cell_type == "code" and (m := _CHECK_HEADER.match(src)):
            if last_exercise is None:
                raise ReleaseError(f"cell {i}: a self-check before any exercise")
            checks_of_last += 1
            suffix = "" if checks_of_last == 1 else f"_{checks_of_last}"
            roles.append(CellRole(i, "check", unique(f"check_{last_exercise}{suffix}", i), float(m.group(1))))
        elif cell.cell_type == "markdown" and (m := _ANSWER_COMMENT.search(src)):
            name = m.group(1)
            if SOLUTION_BEGIN not in src or SOLUTION_END not in src:
                raise ReleaseError(f"cell {i}: answer {name!r} needs a model answer between the solution markers")
            if not (roles and roles[-1].kind == "question" and roles[-1].index == i - 1
                    and roles[-1].grade_id == f"question_{name}"):
                raise ReleaseError(f"cell {i}: answer {name!r} needs its question in the markdown cell just above, "
                                   f"marked <!-- question: {name} -->")
            if src.split(SOLUTION_BEGIN)[0].replace(m.group(0), "").strip() or src.split(SOLUTION_END)[-1].strip():
                raise ReleaseError(f"cell {i}: answer {name!r} must hold only its marker and the model answer; "
                                   "put the question in the cell above and other text in a cell below")
            roles.append(CellRole(i, "answer", unique(f"answer_{name}", i), float(m.group(2))))
        elif cell.cell_type == "markdown" and (m := _QUESTION_COMMENT.search(src)):
            if SOLUTION_BEGIN in src:
                raise ReleaseError(f"cell {i}: question {m.group(1)!r} holds solution markers; the model answer "
                                   "goes in its answer cell below")
            roles.append(CellRole(i, "question", unique(f"question_{m.group(1)}", i)))
        elif SOLUTION_BEGIN in src or HIDDEN_BEGIN in src:
            raise ReleaseError(f"cell {i}: solution or hidden-test markers in a cell that is neither an "
                               "exercise, a '# Self-check (N points)' cell nor an answer cell")
    if last_exercise is not None and checks_of_last == 0:
        raise ReleaseError(f"exercise {last_exercise!r} has no self-check cell after it")
    answered = {r.grade_id.removeprefix("answer_") for r in roles if r.kind == "answer"}
    for role in roles:
        if role.kind == "question" and role.grade_id.removeprefix("question_") not in answered:
            name = role.grade_id.removeprefix("question_")
            raise ReleaseError(f"cell {role.index}: question {name!r} has no answer cell "
                               f"(<!-- answer: {name} (N points) -->) just below it")
    return roles


def _nbgrader_metadata(role: CellRole) -> dict:
    meta = {"schema_version": 3, "grade_id": role.grade_id, "task": False}
    if role.kind == "exercise":
        meta.update(solution=True, grade=False, locked=False)
    elif role.kind == "check":
        meta.update(solution=False, grade=True, locked=True, points=role.points)
    elif role.kind == "question":
        meta.update(solution=False, grade=False, locked=True)
    else:
        meta.update(solution=True, grade=True, locked=False, points=role.points)
    return meta


def annotate_notebook(nb):
    """Return a copy of ``nb`` whose nbgrader metadata is exactly what its markers say."""
    nb = copy.deepcopy(nb)
    roles = {r.index: r for r in find_roles(nb)}
    for i, cell in enumerate(nb.cells):
        if i in roles:
            cell.metadata["nbgrader"] = _nbgrader_metadata(roles[i])
        else:
            cell.metadata.pop("nbgrader", None)
    return nb


def annotate_solutions(root: Path, parts: Iterable[str]) -> list[Path]:
    """Write nbgrader metadata into the solution notebooks in place; return those changed."""
    changed = []
    for part in parts:
        path = solution_path(root, part)
        nb = nbformat.read(path, as_version=4)
        annotated = annotate_notebook(nb)
        if json.dumps(annotated, sort_keys=True) != json.dumps(nb, sort_keys=True):
            nbformat.write(annotated, path)
            changed.append(path)
    return changed


def ensure_environment_on_path() -> None:
    """Put this Python's ``bin`` folder on PATH: nbgrader runs ``alembic`` as a subprocess, which
    fails when ``.venv/bin/lecturekit`` is called without activating the environment."""
    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path, extra: dict | None = None):
    """The course's ``nbgrader_config.py`` with ``CourseDirectory.root`` set, plus ``extra`` overrides."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(Config({"CourseDirectory": {"root": str(root)}}))
    config.merge(Config(extra or {}))
    return config


def nbgrader_api(root: Path, extra: dict | None = None):
    """nbgrader's API object configured for the course at ``root`` (see :func:`course_config`)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    ensure_environment_on_path()
    config = course_config(root, extra)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _api(root: Path, release_directory: str | Path | None, db_url: str | None):
    overrides = {}
    if release_directory is not None:
        overrides["release_directory"] = str(release_directory)
    if db_url is not None:
        overrides["db_url"] = db_url
    return nbgrader_api(root, {"CourseDirectory": overrides})


def generate_student_notebooks(root: Path, parts: Iterable[str], *, release_directory=None, db_url=None) -> None:
    """Run nbgrader's ``generate_assignment`` for each part (solutions must be annotated)."""
    api = _api(Path(root), release_directory, db_url)
    for part in parts:
        result = api.generate_assignment(part, force=True, create=True)
        if not result.get("success"):
            raise ReleaseError(f"nbgrader generate_assignment failed for {part}:\n"
                               f"{result.get('error', '')}\n{result.get('log', '')}")


def release(root: Path | None = None, parts: Iterable[str] | None = None, *, release_directory=None,
            db_url=None, annotate: bool = True) -> list[str]:
    """Annotate the solution notebooks, then write their student versions. Returns the parts."""
    root = course_root(root)
    known = list_parts(root)
    chosen = list(parts) if parts else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ReleaseError(f"parts: unknown part(s) {unknown}; expected some of {known}")
    if annotate:
        annotate_solutions(root, chosen)
    generate_student_notebooks(root, chosen, release_directory=release_directory, db_url=db_url)
    return chosen


def solution_function(root: Path, part: str, name: str, namespace: dict | None = None):
    """The function ``name`` as the solution notebook of ``part`` defines it in its exercise cell.

    Executes that one cell in ``namespace`` (the imports it needs, e.g. ``{"np": numpy}``), so tests
    can check that a notebook's inline solution agrees with the ``lecturekit`` reference.
    """
    nb = nbformat.read(solution_path(root, part), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and SOLUTION_BEGIN in cell.source and f"def {name}(" in cell.source:
            scope = dict(namespace or {})
            exec(compile(cell.source, f"{part}:{name}", "exec"), scope)
            return scope[name]
    raise ReleaseError(f"{part}: no exercise cell defines {name}()")
