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
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .release import course_root, list_parts

__all__ = [
    "Collected",
    "parse_submission_name",
    "collect",
    "submitted_students",
    "diagnose_submission",
    "digest",
    "write_json_atomic",
]


# ----------------------------------------------------------------------------------- collect
@dataclass(frozen=True)
class Collected:
    """One file of the inbox: where it went (``dest`` None when skipped) and why."""

    source: str
    student: str | None
    part: str | None
    dest: str | None
    note: str = ""


_STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@\-]*(_|$)")


def parse_submission_name(relpath: str | Path, parts: list[str]) -> tuple[str | None, str | None, str]:
    """Read (student, part, file stem) from a submission's path relative to the inbox.

    Understood: ``<student>_<file>.ipynb`` (LMS exports; Canvas adds ``late_`` and numeric ids
    and ``-1`` for resubmissions), ``<student>/<part>.ipynb`` and
    ``<student>/<part>/<part>.ipynb`` (nbgrader's own layouts). ``part`` is None when the file
    names no known part. ``parts``: the course's part names, e.g. ``["01_logistic_regression"]``.
    """
    relpath = Path(relpath)
    if not isinstance(parts, (list, tuple)) or not all(isinstance(p, str) for p in parts):
        raise TypeError(f"parts: expected a list of part names, got {parts!r}")
    if relpath.suffix != ".ipynb":
        raise ValueError(f"relpath: expected a .ipynb file, got {str(relpath)!r}")
    stem, folders = relpath.stem, relpath.parts[:-1]
    if stem in parts and folders:
        student = folders[-2] if folders[-1] == stem and len(folders) >= 2 else folders[-1]
        if student != stem:
            return student, stem, stem
    name = re.sub(r"-\d+$", "", stem)  # an LMS's "-1" suffix for a resubmission
    for part in sorted(parts, key=len, reverse=True):
        if name.endswith("_" + part) and _STUDENT.match(name[: -len(part) - 1]):
            return name[: -len(part) - 1].split("_")[0], part, part
    if folders:
        return folders[0], None, stem
    if name in parts:
        return None, name, stem
    match = _STUDENT.match(name)
    return (name.split("_")[0] if match and "_" in name else None), None, stem


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
    files naming none are skipped. When a student has several files for a part, the newest
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
    chosen: dict[tuple[str, str], tuple[Path, str]] = {}
    for path in sorted(p for p in inbox.rglob("*") if p.is_file()):
        rel = path.relative_to(inbox)
        if any(s.startswith(".") or s == "__MACOSX" for s in rel.parts):
            continue
        if path.suffix != ".ipynb":
            seen.append(Collected(str(rel), None, None, None, "skipped: not a .ipynb file"))
            continue
        student, named_part, file_id = parse_submission_name(rel, parts)
        note = ""
        if student is None:
            seen.append(Collected(str(rel), None, None, None, "skipped: no student name in the file name"))
            continue
        if part is not None and named_part != part:
            note = (f"file {rel.name!r} does not name part {part!r}" if named_part is None
                    else f"file {rel.name!r} is named for part {named_part!r}") + f"; collected as {part}"
            named_part = part
        if named_part is None:
            seen.append(Collected(str(rel), student, None, None,
                                  f"skipped: {file_id!r} is not a part of the course ({', '.join(parts)})"))
            continue
        key = (student, named_part)
        if key in chosen and chosen[key][0].stat().st_mtime >= path.stat().st_mtime:
            seen.append(Collected(str(rel), student, named_part, None,
                                  f"skipped: an older file of {student} for {named_part}"))
            continue
        if key in chosen:
            old = chosen[key][0]
            seen = [c if c.source != str(old.relative_to(inbox)) else
                    Collected(c.source, student, named_part, None, f"skipped: an older file of {student} for {named_part}")
                    for c in seen]
        chosen[key] = (path, note)
        dest = root / "submitted" / student / named_part / f"{named_part}.ipynb"
        seen.append(Collected(str(rel), student, named_part, str(dest.relative_to(root)), note))
    for (student, named_part), (path, note) in chosen.items():
        _place_submission(path, root / "submitted" / student / named_part, named_part)
        note_file = root / "submitted" / student / named_part / ".lecturekit_collect.json"
        if note:
            write_json_atomic(note_file, {"note": note})
        elif note_file.is_file():  # a later, correctly named file replaces the one with a note
            note_file.unlink()
    return seen


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
def _grade_ids(nb) -> list[str]:
    ids = []
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade") and meta.get("grade_id"):
            ids.append(meta["grade_id"])
    return ids


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
    (grade it); notes name test cells that were deleted, duplicated or edited (nbgrader restores
    them from the release source).
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
    expected = _grade_ids(released)
    found = _grade_ids(nb)
    ours, theirs = set(_cell_sources(released)), set(_cell_sources(nb))
    if ours and not ours & theirs:
        other = f" (it has cells {', '.join(sorted(theirs)[:3])})" if theirs else ""
        return "wrong_part", [f"none of this part's exercise or test cells ({', '.join(sorted(ours)[:3])}, ...) "
                              f"is in the notebook{other}: a notebook for another part, or one rebuilt from scratch?"]
    notes = []
    deleted = [g for g in expected if g not in found]
    duplicated = sorted({g for g in found if found.count(g) > 1})
    released_src, submitted_src = _cell_sources(released), _cell_sources(nb)
    edited = [g for g in expected if g in submitted_src and submitted_src[g].strip() != released_src.get(g, "").strip()]
    if deleted:
        notes.append(f"test cell(s) {', '.join(deleted)} deleted: restored from the source")
    if duplicated:
        notes.append(f"test cell(s) {', '.join(duplicated)} duplicated: copies ignored")
    if edited:
        notes.append(f"test cell(s) {', '.join(edited)} edited: restored from the source")
    return None, notes


def write_json_atomic(path: Path, data) -> None:
    """Write JSON through a temporary file and a rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
