"""Submissions as an LMS hands them over: find the student and part of each file, copy it into
nbgrader's layout, and look at it before nbgrader runs it.

* :func:`collect` turns a folder (or ``.zip``) of files as an LMS exports them
  (``alice_01_logistic_regression.ipynb``, ``alice/01_logistic_regression.ipynb``, Canvas-style
  ``alice_late_123_456_<part>-1.ipynb``) into ``submitted/<student>/<part>/<part>.ipynb``;
  :func:`parse_submission_name` is the name reading behind it.
* :func:`diagnose_submission` finds files nbgrader must not run (missing, empty, not a
  notebook, another part's notebook) and notes test cells a student deleted, duplicated or
  edited (nbgrader restores them).

:mod:`lecturekit.course.grading` builds the class's grading on these.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .release import course_root, list_parts

__all__ = [
    "Collected",
    "COLLECT_STATUSES",
    "parse_submission_name",
    "normalise_student_id",
    "looks_like_notebook",
    "unmatched_submissions",
    "collect",
    "submitted_students",
    "diagnose_submission",
    "digest",
    "write_json_atomic",
]


# ----------------------------------------------------------------------------------- collect
#: What :func:`collect` did with a file: placed, replaced by a newer file of the same student,
#: not a notebook, or a notebook whose student (or part) could not be read from its name.
COLLECT_STATUSES = ("collected", "superseded", "skipped", "unmatched")
UNMATCHED_FILE = ".lecturekit_unmatched.json"


@dataclass(frozen=True)
class Collected:
    """One file of the inbox: where it went (``dest`` None when not placed) and why.

    ``student`` is the normalised id (:func:`normalise_student_id`), ``original`` the name as the
    file gave it (``"José García"``); ``status`` is one of :data:`COLLECT_STATUSES`.
    """

    source: str
    student: str | None
    part: str | None
    dest: str | None
    note: str = ""
    status: str = "collected"
    original: str = ""


_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@\-]*(_|$)")
_NAME = re.compile(r"^[^_\W]", re.UNICODE)


def normalise_student_id(name: str) -> str:
    """A student id as LMSs export it: accents dropped (NFKD -> ASCII), lower case, spaces and
    anything but letters, digits, ``.``, ``@``, ``-`` removed (Canvas: ``"José García"`` ->
    ``"josegarcia"``). A name with no ASCII letter at all (``"李雷"``) gets ``"student-<8 hex>"``
    from its UTF-8 bytes, so it is never lost and stays the same on every collect.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, got {type(name).__name__}")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    ascii_name = re.sub(r"[^a-z0-9.@\-]", "", ascii_name).strip(".-")
    if not ascii_name:
        return "student-" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()[:8]
    return ascii_name


def _raw_student(text: str) -> str | None:
    """The student part of ``<student>[_late][_<ids>]``: text before the first underscore."""
    head = text.split("_")[0].strip()
    return head if head and _NAME.match(head) else None


def parse_submission_name(relpath: str | Path, parts: list[str], *,
                          raw: bool = False) -> tuple[str | None, str | None, str]:
    """Read (student, part, file stem) from a submission's path relative to the inbox.

    Understood: ``<student>_<file>.ipynb`` (LMS exports; Canvas adds ``late_`` and numeric ids
    and ``-1`` for resubmissions), ``<student>/<part>.ipynb`` and
    ``<student>/<part>/<part>.ipynb`` (nbgrader's own layouts). The student is normalised with
    :func:`normalise_student_id` (``raw=True``: as written in the name, e.g. ``"José García"``);
    None when the name holds none. ``part`` is None when the file names no known part.
    ``parts``: the course's part names, e.g. ``["01_logistic_regression"]``.
    """
    relpath = Path(relpath)
    if not isinstance(parts, (list, tuple)) or not all(isinstance(p, str) for p in parts):
        raise TypeError(f"parts: expected a list of part names, got {parts!r}")
    if relpath.suffix.lower() != ".ipynb":
        raise ValueError(f"relpath: expected a .ipynb file, got {str(relpath)!r}")
    student, part, stem = _parse_name(relpath, parts)
    if student is not None and not raw:
        student = normalise_student_id(student)
    return student, part, stem


def _parse_name(relpath: Path, parts: list[str]) -> tuple[str | None, str | None, str]:
    stem, folders = relpath.stem, relpath.parts[:-1]
    if stem in parts and folders:
        student = folders[-2] if folders[-1] == stem and len(folders) >= 2 else folders[-1]
        if student != stem:
            return student, stem, stem
    name = re.sub(r"-\d+$", "", stem)  # an LMS's "-1" suffix for a resubmission
    for part in sorted(parts, key=len, reverse=True):
        if name.endswith("_" + part) and (student := _raw_student(name[: -len(part) - 1])):
            return student, part, part
    if folders:
        return folders[0], None, stem
    if name in parts:
        return None, name, stem
    return (_raw_student(name) if "_" in name else None), None, stem


def looks_like_notebook(path: Path) -> bool:
    """A ``.ipynb`` file (any case), or a ``.json`` / ``.txt`` file holding a notebook's JSON
    (some browsers and LMSs rename downloads: ``x.ipynb.txt``)."""
    if path.suffix.lower() == ".ipynb":
        return True
    if path.suffix.lower() in (".json", ".txt") and path.stat().st_size < 200 * 2**20:
        with path.open("rb") as f:
            head = f.read(65536)
        return head.lstrip().startswith(b"{") and b'"nbformat"' in head and b'"cells"' in head
    return False


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes (hex): has a submission changed since it was graded?"""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def collect(inbox: Path | str, root: Path | str | None = None, part: str | None = None) -> list[Collected]:
    """Copy the ``.ipynb`` files under ``inbox`` into ``<root>/submitted/<student>/<part>/<part>.ipynb``.

    ``inbox``: a folder (searched recursively, e.g. nbgrader's ``downloaded/<part>/extracted/``)
    or a ``.zip`` as an LMS downloads it.

    ``part``: when given, every notebook of the inbox is a submission to it (a file whose name
    names no part, e.g. ``carol_homework.ipynb``, is collected with a note; grading then finds out
    whether its content is that part). Without it, the part is read from each file name and
    files naming none are ``unmatched``. When a student has several files for a part, the newest
    (modification time) wins. A file whose bytes are already there is left untouched, so
    collecting twice changes nothing. Each submission's ``timestamp.txt`` is the file's
    modification time (UTC), which nbgrader uses for late penalties.
    Returns one :class:`Collected` per file seen, in path order.
    """
    inbox = Path(inbox)
    if inbox.is_file() and inbox.suffix == ".zip":  # an LMS's download: unpack it, then collect that
        import zipfile

        with tempfile.TemporaryDirectory(prefix="lecturekit-collect-") as tmp:
            with zipfile.ZipFile(inbox) as archive:
                for member in archive.namelist():
                    if Path(member).is_absolute() or ".." in Path(member).parts:
                        raise ValueError(f"inbox: unsafe path {member!r} in {inbox.name}")
                archive.extractall(tmp)
            return collect(tmp, root, part)
    if not inbox.is_dir():
        raise ValueError(f"inbox: expected a folder (or .zip) of submitted notebooks, got {str(inbox)!r}")
    root = course_root(root)
    parts = list_parts(root)
    if part is not None and part not in parts:
        raise ValueError(f"part: unknown part {part!r}; expected one of {parts}")
    seen: list[Collected] = []
    chosen: dict[tuple[str, str], tuple[Path, str, str]] = {}
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        rel = path.relative_to(inbox)
        if any(s.startswith(".") or s == "__MACOSX" for s in rel.parts):
            continue
        if not looks_like_notebook(path):
            seen.append(Collected(str(rel), None, None, None, "skipped: not a .ipynb file", "skipped"))
            continue
        name_path = rel.with_name(re.sub(r"(\.ipynb)?\.(json|txt)$", "", rel.name, flags=re.I) + ".ipynb") \
            if rel.suffix.lower() != ".ipynb" else rel
        original, named_part, file_id = parse_submission_name(name_path, parts, raw=True)
        note = ""
        if original is None:
            seen.append(Collected(str(rel), None, part or named_part, None,
                                  f"unmatched: no student name in the file name {rel.name!r}", "unmatched"))
            continue
        student = normalise_student_id(original)
        if part is not None and named_part != part:
            note = (f"file {rel.name!r} does not name part {part!r}" if named_part is None
                    else f"file {rel.name!r} is named for part {named_part!r}") + f"; collected as {part}"
            named_part = part
        if original != student and not note:
            note = f"file {rel.name!r} collected as student {student!r}"
        if named_part is None:
            seen.append(Collected(str(rel), student, None, None,
                                  f"unmatched: {file_id!r} in {rel.name!r} is not a part of the course "
                                  f"({', '.join(parts)})",
                                  "unmatched", original))
            continue
        key = (student, named_part)
        if key in chosen and chosen[key][0].stat().st_mtime >= path.stat().st_mtime:
            seen.append(Collected(str(rel), student, named_part, None,
                                  f"skipped: an older file of {student} for {named_part}", "superseded", original))
            continue
        if key in chosen:
            old = str(chosen[key][0].relative_to(inbox))
            seen = [c if c.source != old else
                    Collected(c.source, student, named_part, None,
                              f"skipped: an older file of {student} for {named_part}", "superseded", c.original)
                    for c in seen]
        chosen[key] = (path, note, original)
        dest = root / "submitted" / student / named_part / f"{named_part}.ipynb"
        seen.append(Collected(str(rel), student, named_part, str(dest.relative_to(root)), note, "collected", original))
    for (student, named_part), (path, note, original) in chosen.items():
        _place_submission(path, root / "submitted" / student / named_part, named_part)
        note_file = root / "submitted" / student / named_part / ".lecturekit_collect.json"
        if note:
            write_json_atomic(note_file, {"note": note, "original": original, "source": path.name})
        elif note_file.is_file():  # a later, correctly named file replaces the one with a note
            note_file.unlink()
    _record_unmatched(root, seen)
    return seen


def _record_unmatched(root: Path, seen: list[Collected]) -> None:
    """Keep ``submitted/.lecturekit_unmatched.json`` (source -> part, reason) current."""
    path = root / "submitted" / UNMATCHED_FILE
    known = json.loads(path.read_text()) if path.is_file() else {}
    for c in seen:
        if c.status == "unmatched":
            known[c.source] = {"part": c.part, "reason": c.note, "original": c.original}
        else:
            known.pop(c.source, None)
    if known or path.is_file():
        write_json_atomic(path, known)


def unmatched_submissions(root: Path | str, part: str) -> list[Collected]:
    """Notebooks :func:`collect` could not match to a student (or part) that may belong to ``part``.

    Each is a row of ``part``'s grades.csv with status ``unmatched``: those collected for
    ``part`` and those whose part is unknown. Sorted by file name.
    """
    path = Path(root) / "submitted" / UNMATCHED_FILE
    known = json.loads(path.read_text()) if path.is_file() else {}
    return [Collected(source, None, entry["part"], None, entry["reason"], "unmatched", entry.get("original") or "")
            for source, entry in sorted(known.items()) if entry.get("part") in (None, part)]


def _place_submission(path: Path, folder: Path, part: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{part}.ipynb"
    if dest.is_file() and dest.read_bytes() == path.read_bytes():
        return
    shutil.copyfile(path, dest)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(path.stat().st_mtime))
    (folder / "timestamp.txt").write_text(stamp + "\n")


def submitted_students(root: Path | str, part: str) -> list[str]:
    """Students with a ``submitted/<student>/<part>/`` folder, sorted."""
    base = Path(root) / "submitted"
    return sorted(p.parent.name for p in base.glob(f"*/{part}") if p.is_dir()) if base.is_dir() else []


# --------------------------------------------------------------------------------- diagnosis
def _cell_sources(nb) -> dict[str, str]:
    out = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade_id") and meta["grade_id"] not in out:
            src = cell.get("source", "")
            out[meta["grade_id"]] = "".join(src) if isinstance(src, list) else src
    return out


def diagnose_submission(path: Path | str, released) -> tuple[str | None, list[str]]:
    """Look at a submitted file before nbgrader runs it.

    ``released``: the released student notebook (nbformat node) of the part.
    Returns ``(status, notes)``: status is ``"unreadable"`` (missing, empty, not a notebook) or
    ``"wrong_part"`` (none of the part's exercise or test cells), in which case nbgrader is not run, or None
    (grade it); notes name each test cell that was deleted, duplicated or edited (nbgrader
    restores it from the release) and each written answer that was deleted or duplicated, with
    its cell number in the submission.
    """
    path = Path(path)
    if not path.is_file():
        return "unreadable", ["no notebook file in the submission"]
    if path.stat().st_size == 0:
        return "unreadable", ["the file is empty"]
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8", errors="replace"), as_version=4)
    except Exception as error:  # nbformat raises several types for broken JSON / schema
        first = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
        return "unreadable", [f"not a valid notebook ({type(error).__name__}: {first})"]
    ours, theirs = set(_cell_sources(released)), set(_cell_sources(nb))
    if ours and not ours & theirs:
        other = f" (it has cells {', '.join(sorted(theirs)[:3])})" if theirs else ""
        return "wrong_part", [f"none of this part's exercise or test cells ({', '.join(sorted(ours)[:3])}, ...) "
                              f"is in the notebook{other}: a notebook for another part, or one rebuilt from scratch?"]
    return None, _cell_notes(released, nb)


def _cell_notes(released, nb) -> list[str]:
    """One note per test cell deleted, duplicated or edited, and per written answer deleted.

    Test cells (locked, graded code) come back from the release (nbgrader's OverwriteCells);
    a written answer (a graded markdown cell) is the student's own text, so editing it is the
    point and gets no note; a deleted one is added back empty by nbgrader.
    """
    released_cells = {}
    for cell in released.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade") and meta.get("grade_id"):
            released_cells.setdefault(meta["grade_id"], cell)
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade") and meta.get("grade_id"):
            positions.setdefault(meta["grade_id"], []).append(index)
    notes = []
    for grade_id, cell in released_cells.items():
        written = cell.get("cell_type") == "markdown" or cell.get("metadata", {}).get("nbgrader", {}).get("solution")
        kind = "written answer" if written else "test cell"
        found = positions.get(grade_id, [])
        if not found:
            notes.append(f"{kind} {grade_id} deleted: " + ("nbgrader adds it back empty, so it has nothing to grade"
                                                           if written else "nbgrader put the released test back"))
            continue
        if len(found) > 1:
            notes.append(f"{kind} {grade_id} duplicated (cells {', '.join(map(str, found))}): "
                         f"cell {found[0]} is graded, the copies are ignored")
        if not written:
            src = nb["cells"][found[0]].get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            ref = cell.get("source", "")
            ref = "".join(ref) if isinstance(ref, list) else ref
            if src.strip() != ref.strip():
                notes.append(f"test cell {grade_id} (cell {found[0]}) edited: nbgrader ran the released test instead")
    return notes


def write_json_atomic(path: Path, data) -> None:
    """Write JSON through a temporary file and a rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
