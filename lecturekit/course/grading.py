"""Grading a class with nbgrader: collect submissions, autograde them in parallel, hand back feedback.

Nothing here grades a notebook itself: nbgrader's ``autograde`` runs every submission (its
``OverwriteCells`` restores edited or deleted test cells, ``DeduplicateIds`` drops duplicated
ones, the per-cell timeout interrupts endless loops) and its gradebook (SQLite) holds the
scores. This module adds what a class needs around it:

* :func:`collect` (from :mod:`lecturekit.course.submissions`) turns a folder of files as an LMS exports
  them (``alice_01_logistic_regression.ipynb``, ``alice/01_logistic_regression.ipynb``,
  Canvas-style ``alice_late_123_456_<part>-1.ipynb``) into nbgrader's
  ``submitted/<student>/<part>/<part>.ipynb`` layout.
* :func:`grade` autogrades every new or changed submission of a part, ``workers`` at a time.
  Each student is graded in **its own process against its own temporary course folder** (the
  part's released non-notebook files, no solution notebook) **and a gradebook copy holding only
  this part and no student**. The student's kernel runs in the bwrap sandbox of
  :mod:`lecturekit.course.sandbox` (its own folder, read-only environment, no network, no other
  process) under a resident-memory cap (status ``memory``). The parent alone writes the shared
  ``gradebook.db``, one student
  per SQLite transaction, copying only the automatic fields (``auto_score``, ``auto_comment``,
  ``needs_manual_grade``) so manual grades entered in the formgrader survive. A worker that
  crashes or hangs therefore cannot touch the shared gradebook; its student gets 0 and a reason.
  Workers are forked from a server with nbgrader already imported (started while the
  submissions are scanned), and the gradebook schema version nbgrader asks ``alembic heads`` for
  is read once in process, which keeps per-student overhead small; ``status.json`` records
  where each student's time went.
  With ``scheduler=`` the same per-student call runs on the workers of a Dask cluster
  (:mod:`lecturekit.course.dask_engine`) instead of a local thread pool; the merge does not move.
* Broken files (not JSON, empty, the wrong part) never reach nbgrader: they are recorded with 0
  points and a reason. Every graded submission gets a row in ``grading/<part>/grades.csv``
  (student, part, score, max score, points per test cell, status, reason) and an HTML feedback
  file under ``feedback/<student>/<part>/``.

Re-grading is idempotent: a submission whose bytes have not changed since it was graded is
skipped (``force=True`` re-runs it), so a late submission adds exactly one student.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .release import course_root, ensure_environment_on_path, list_parts, nbgrader_api
from .submissions import (
    Collected,
    collect,
    diagnose_submission,
    parse_submission_name,
    submitted_students,
    unmatched_submissions,
)
from .submissions import digest as _digest
from .submissions import write_json_atomic as _write_json_atomic

__all__ = [
    "GradingError",
    "Collected",
    "SubmissionResult",
    "parse_submission_name",
    "collect",
    "diagnose_submission",
    "submitted_students",
    "grade",
    "read_grades",
    "write_grades_csv",
    "write_part_csv",
    "feedback",
    "STATUSES",
    "ensure_nbgrader_tools_on_path",
    "default_memory_limit_mb",
    "drop_links",
    "NOT_ISOLATED",
]

#: Every status a row of grades.csv can have.
STATUSES = ("graded", "timeout", "memory", "crashed", "unreadable", "wrong_part", "failed", "unmatched")
#: Appended to the reason of every row graded without the bwrap sandbox.
NOT_ISOLATED = "not isolated"
_TRUNCATED = "... output truncated by lecturekit grading"
_STATUS_FILE = "status.json"


class GradingError(RuntimeError):
    """A class cannot be graded as asked (unknown part, nothing released, bad arguments)."""


# ----------------------------------------------------------------------------------- worker
def _api(root: Path, db_url: str, extra: dict | None = None):
    from traitlets.config import Config

    merged = Config({"CourseDirectory": {"db_url": db_url}})
    merged.merge(Config(extra or {}))
    return nbgrader_api(root, merged)


def _alembic_head() -> str:
    """The gradebook schema version of the installed nbgrader (asked once per process).

    nbgrader's ``Gradebook()`` runs ``alembic heads`` in a subprocess whenever it creates a
    database (seconds on a loaded machine); the answer is a constant of the installed nbgrader,
    read here from its migration scripts and handed to the workers.
    """
    import nbgrader.api as api

    if not hasattr(_alembic_head, "value"):
        try:  # in this process (0.2 s) rather than nbgrader's `alembic heads` subprocess (8 s on a loaded machine)
            from alembic.script import ScriptDirectory
            from nbgrader.dbutil import ALEMBIC_DIR

            _alembic_head.value = ScriptDirectory(ALEMBIC_DIR).get_current_head()
        except Exception:  # another alembic or nbgrader layout: ask nbgrader's own way
            _alembic_head.value = api.get_alembic_version()
        head = _alembic_head.value
        api.get_alembic_version = lambda: head
    return _alembic_head.value


def _worker_main(job_file: str) -> int:
    """Autograde one student in a private course folder (run by :func:`grade` in its own process)."""
    entered = time.perf_counter()
    job = json.loads(Path(job_file).read_text())
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(job["work"])
    import nbgrader.api

    head = job["alembic_head"]
    nbgrader.api.get_alembic_version = lambda: head
    os.environ["LECTUREKIT_CELL_TIMEOUT"] = str(job["cell_timeout"])
    work = Path(job["work"])
    extra = {
        "Execute": {"timeout": job["cell_timeout"], "kernel_name": "python3"},
        "IntegrityExecute": {"timeout": job["cell_timeout"]},
        "ExecutePreprocessor": {"timeout": job["cell_timeout"]},
        "Autograde": {"autograde_preprocessors": [
            "lecturekit.course.grading.ExecuteTracked", "nbgrader.preprocessors.IgnorePattern",
            "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
            "lecturekit.course.grading.LimitOutputSize", "nbgrader.preprocessors.SaveAutoGrades",
            "nbgrader.preprocessors.AssignLatePenalties", "nbgrader.preprocessors.CheckCellMetadata"]},
        "LimitOutputSize": {"max_chars": job["max_output_chars"]},
    }
    # nbgrader issue #1083: DeduplicateIds leaves `"nbgrader": {}` on a duplicated test cell and
    # OverwriteCells(add_missing_cells) then fails on it; drop that empty metadata in between.
    extra["Autograde"]["sanitize_preprocessors"] = [
        "nbgrader.preprocessors.ClearOutput", "nbgrader.preprocessors.DeduplicateIds",
        "lecturekit.course.grading.DropEmptyNbgraderMetadata", "nbgrader.preprocessors.OverwriteKernelspec",
        "nbgrader.preprocessors.OverwriteCells", "nbgrader.preprocessors.CheckCellMetadata"]
    if job.get("sandbox"):
        extra.update(_sandboxed_kernel(work, job["readonly"]))
    api = _api(work, f"sqlite:///{work / 'gradebook.db'}", extra)
    stop = None
    if job.get("memory_limit_bytes"):
        import threading

        stop = threading.Event()
        threading.Thread(target=_watch_memory, args=(int(job["memory_limit_bytes"]), Path(job["memory_flag"]), stop),
                         daemon=True).start()
    start = time.perf_counter()
    try:
        result = {"autograde": api.autograde(job["part"], job["student"], force=True, create=True)}
    finally:
        if stop is not None:
            stop.set()
        if job.get("sandbox"):
            shutil.rmtree(Path(extra["KernelManager"]["connection_file"]).parent, ignore_errors=True)
    result["seconds"] = {"setup": start - entered, "autograde": time.perf_counter() - start,
                         "cells": RUNNING.get("cell_seconds", 0.0)}
    result["last_cell"] = RUNNING.get("cell", "")
    autograded = work / "autograded" / job["student"] / job["part"]
    drop_links(autograded)  # written by student code: never follow its links outside the sandbox
    if result["autograde"].get("success"):
        result["feedback"] = api.generate_feedback(job["part"], job["student"], force=True)
        result["seconds"]["feedback"] = time.perf_counter() - start - result["seconds"]["autograde"]
    result["seconds"]["worker"] = time.perf_counter() - entered
    Path(job["result"]).write_text(json.dumps(result))
    return 0


#: The cell the kernel is running now (set by ExecuteTracked, read by the memory watchdog) and
#: ``cell_seconds``, the time spent running cells so far (the notebook's own run time).
RUNNING: dict = {}


def _cell_name(cell, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"


def _sandboxed_kernel(work: Path, readonly: list[str]) -> dict:
    """Config that starts nbgrader's kernel inside bwrap, talking over IPC sockets in a short temporary folder.

    The kernel spec ``python3`` is replaced (``JUPYTER_PATH`` comes first) by one whose argv runs
    ``python -m lecturekit.course.sandbox``; the connection file and the sockets are in a folder that
    holds nothing else and is bound read-write into the sandbox. ``readonly`` (the paths of
    :func:`lecturekit.course.sandbox.readonly_paths`, found once per grading process) and the bwrap
    executable go into the spec so that the launcher need not look them up for every student.
    """
    from .sandbox import write_kernelspec

    # A Unix socket's path may hold only ~107 bytes, and the student's folder can be deep (a course
    # on a shared filesystem, pytest's temporary folders): the sockets go in a short folder of their own.
    runtime = Path(tempfile.mkdtemp(prefix="lk-kernel-", dir="/tmp" if os.path.isdir("/tmp") else None))
    spec = work / "sandbox.json"
    spec.write_text(json.dumps({"writable": [str(runtime)], "readonly": readonly, "bwrap": shutil.which("bwrap")}))
    write_kernelspec(work / "jupyter", spec)
    search = [str(work / "jupyter"), *filter(None, [os.environ.get("JUPYTER_PATH")])]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(search)
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    return {"KernelManager": {"transport": "ipc", "ip": str(runtime / "k"),
                              "connection_file": str(runtime / "kernel.json")}}


def _watch_memory(limit: int, flag: Path, stop) -> None:
    """Kill the kernel (every process below this one) once their resident memory passes ``limit`` bytes.

    Resident, not virtual: PyTorch's CUDA build reserves gigabytes of address space it never
    touches. Writes ``flag`` (JSON: bytes seen, limit, cell) before killing.
    """
    import psutil

    me = psutil.Process()
    while not stop.wait(0.05):
        procs = me.children(recursive=True)
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        if total > limit:
            flag.write_text(json.dumps({"rss": total, "limit": limit, "cell": RUNNING.get("cell", "")}))
            for proc in procs:
                try:
                    proc.kill()
                except psutil.Error:
                    pass


def drop_links(folder: Path) -> list[str]:
    """Remove symbolic links and special files (FIFOs, sockets) under ``folder``; return their paths.

    Student code may leave a link to the gradebook in its folder; copying that folder later
    would follow it.
    """
    removed = []
    if not folder.is_dir():
        return removed
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                path.unlink()
                removed.append(str(path))
        dirnames[:] = [d for d in dirnames if (Path(dirpath) / d).is_dir() and not (Path(dirpath) / d).is_symlink()]
    return removed


def _preprocessor_classes() -> dict:
    """nbgrader preprocessors added to the autograde pipeline (built lazily: nbgrader is an extra)."""
    from nbgrader.preprocessors import NbGraderPreprocessor
    from traitlets import Integer

    class LimitOutputSize(NbGraderPreprocessor):
        """Cut each stream output and text result of a cell to ``max_chars`` characters.

        nbgrader's LimitOutput counts lines; one printed line of megabytes passes it.
        """

        max_chars = Integer(100_000, help="maximum characters kept per output").tag(config=True)

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type != "code":
                return cell, resources
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and len(out.get("text", "")) > self.max_chars:
                    out["text"] = out["text"][: self.max_chars] + f"\n{_TRUNCATED} ({len(out['text'])} characters)\n"
                data = out.get("data", {})
                for mime in ("text/plain", "text/html"):
                    text = data.get(mime)
                    if isinstance(text, str) and len(text) > self.max_chars:
                        data[mime] = text[: self.max_chars] + f"\n{_TRUNCATED} ({len(text)} characters)\n"
            return cell, resources

    from .integrity import IntegrityExecute

    class ExecuteTracked(IntegrityExecute):
        """nbgrader's Execute with lecturekit's integrity guard, recording which cell runs (for reasons)."""

        def preprocess_cell(self, cell, resources, index):
            RUNNING["cell"] = _cell_name(cell, index)
            start = time.perf_counter()
            try:
                return super().preprocess_cell(cell, resources, index)
            finally:
                RUNNING["cell_seconds"] = RUNNING.get("cell_seconds", 0.0) + time.perf_counter() - start

    class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
        """Remove the empty ``nbgrader`` metadata DeduplicateIds leaves on a duplicated cell."""

        def preprocess_cell(self, cell, resources, cell_index):
            if "nbgrader" in cell.metadata and not cell.metadata["nbgrader"]:
                del cell.metadata["nbgrader"]
            return cell, resources

    return {"LimitOutputSize": LimitOutputSize, "DropEmptyNbgraderMetadata": DropEmptyNbgraderMetadata,
            "ExecuteTracked": ExecuteTracked}


def __getattr__(name):  # the preprocessor classes are built on first use
    if name in ("LimitOutputSize", "DropEmptyNbgraderMetadata", "ExecuteTracked"):
        globals().update(_preprocessor_classes())
        return globals()[name]
    raise AttributeError(name)


# ------------------------------------------------------------------------------------ grade
@dataclass
class SubmissionResult:
    """What grading one student's submission of a part gave (one row of grades.csv)."""

    student: str
    part: str
    status: str
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    points: dict[str, float] = field(default_factory=dict)
    digest: str = ""
    graded_now: bool = False
    integrity: str = ""  # static-scan findings (lecturekit.course.integrity.scan_submission), "" when clean


ensure_nbgrader_tools_on_path = ensure_environment_on_path  # nbgrader runs `alembic` from PATH


def _snapshot_db(db: Path, dest: Path) -> None:
    """A consistent copy of the gradebook (SQLite's online backup), safe while others read it."""
    src = sqlite3.connect(str(db))
    out = sqlite3.connect(str(dest))
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()


def _blank_gradebook(db: Path, dest: Path, part: str) -> None:
    """A copy of the gradebook with only ``part`` and no student in it (what a worker needs).

    nbgrader's autograde needs the part's notebooks, grade cells and test-cell sources; other
    students' grades and other parts stay out of the per-student copies.
    """
    from nbgrader.api import Gradebook

    _snapshot_db(db, dest)
    with Gradebook(f"sqlite:///{dest}") as gb:
        for student in [s.id for s in gb.students]:
            gb.remove_student(student)
        for name in [a.name for a in gb.assignments if a.name != part]:
            gb.remove_assignment(name)


def _prepare_work(root: Path, part: str, student: str, work: Path, snapshot: Path) -> None:
    """The per-student course folder: config, the part's released non-notebook files, the submission.

    nbgrader copies a part's non-notebook files from the source folder into the autograded one;
    they are released unchanged, so they are taken from ``notebooks/``: no solution notebook here.
    """
    work.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", work / "nbgrader_config.py")
    (work / "solutions").mkdir()
    shutil.copytree(root / "notebooks" / part, work / "solutions" / part,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.ipynb", ".*"))
    shutil.copytree(root / "submitted" / student / part, work / "submitted" / student / part,
                    ignore=shutil.ignore_patterns(".*"))
    shutil.copy(snapshot, work / "gradebook.db")


def _failure_reason(log: str, cell_timeout: int, cell: str = "") -> tuple[str, str]:
    where = f" while running {cell}" if cell else ""
    if "DeadKernelError" in log or "Kernel died" in log or "kernel died" in log.lower():
        return "crashed", f"the kernel died{where} (os._exit, a segfault or the system ran out of memory)"
    if "UnresponsiveKernel" in log or "became unresponsive" in log:
        return "timeout", (f"the kernel stopped responding{where} (it ran past {cell_timeout} s and could not "
                           "be interrupted)")
    lines = [ln.strip() for ln in log.splitlines()
             if re.match(r"^\s*[A-Za-z_.]*(Error|Exception)\b.*:", ln) and "NbGraderException" not in ln]
    return "failed", "nbgrader could not grade it: " + (lines[-1][:200] if lines else "see the grading log")


def _cell_problems(autograded: Path, timeout: int | None = None) -> tuple[str, list[str]]:
    """Status and notes from the executed (autograded) notebook: timeouts, errors, truncation."""
    nb = nbformat.read(autograded, as_version=4)
    status, notes = "graded", []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {i}"
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                if out.get("ename") == "CellTimeoutError":
                    status = "timeout"
                    notes = [n for n in notes if n != f"{name}: KeyboardInterrupt"]  # our interrupt, not theirs
                    notes.append(f"{name}: timed out after {timeout} s (interrupted)" if timeout else
                                 f"{name}: timed out (interrupted)")
                else:
                    detail = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", ""))).strip().splitlines()
                    notes.append(f"{name}: {out.get('ename')}" + (f" ({detail[0][:100]})" if detail else ""))
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if _TRUNCATED in text or "Output truncated" in text:
                notes.append(f"{name}: huge output truncated")
    return status, list(dict.fromkeys(notes))


def _merge_submission(main_db_url: str, work_db_url: str, part: str, student: str) -> None:
    """Copy one student's automatic grades from a worker's gradebook into the shared one.

    One transaction; manual scores already in the shared gradebook are kept.
    """
    from nbgrader.api import Gradebook

    with Gradebook(work_db_url) as wgb, Gradebook(main_db_url) as gb:
        wsub = wgb.find_submission(part, student)
        gb.update_or_create_student(student)
        gb.update_or_create_submission(part, student, timestamp=wsub.timestamp)
        for wnb in wsub.notebooks:
            gb.find_submission_notebook(wnb.name, part, student).late_submission_penalty = wnb.late_submission_penalty
            for wgrade in wnb.grades:
                grade = gb.find_grade(wgrade.name, wnb.name, part, student)
                grade.auto_score = wgrade.auto_score
                grade.needs_manual_grade = bool(wgrade.needs_manual_grade or grade.manual_score is not None
                                                or wgrade.auto_score is None)
            for wcomment in wnb.comments:
                gb.find_comment(wcomment.name, wnb.name, part, student).auto_comment = wcomment.auto_comment
        gb.db.commit()


def _adopt_worker_result(root: Path, db_url: str, part: str, student: str, work: Path,
                         notes: list[str], cell_timeout: int | None = None) -> tuple[str, list[str]]:
    """Merge a successful worker's grades, autograded notebook and feedback into the course."""
    autograded = work / "autograded" / student / part
    drop_links(autograded)
    drop_links(work / "feedback" / student / part)
    status, cell_notes = _cell_problems(autograded / f"{part}.ipynb", cell_timeout)
    _merge_submission(db_url, f"sqlite:///{work / 'gradebook.db'}", part, student)
    _replace_tree(autograded, root / "autograded" / student / part)
    notes = notes + cell_notes
    page = work / "feedback" / student / part / f"{part}.html"
    if page.is_file():
        _replace_tree(page.parent, root / "feedback" / student / part)
    else:
        notes.append("nbgrader wrote no feedback page: run `lecturekit feedback`")
    return status, notes


def _record_zero(main_db_url: str, part: str, student: str) -> None:
    """A submission nbgrader could not grade: present in the gradebook, every auto score 0."""
    from nbgrader.api import Gradebook

    with Gradebook(main_db_url) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(part, student)
        for snb in sub.notebooks:
            for grade in snb.grades:
                grade.auto_score = 0.0
                grade.needs_manual_grade = False
        gb.db.commit()


def _replace_tree(src: Path, dest: Path) -> None:
    if not src.is_dir():
        return
    tmp = dest.with_name(dest.name + ".incoming")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, symlinks=True)
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, dest)


def _fallback_feedback(root: Path, part: str, student: str, status: str, reason: str, max_score: float) -> None:
    folder = root / "feedback" / student / part
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / f"{part}.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(part)}: feedback</title></head>"
        f"<body><h1>{html.escape(part)}: {html.escape(student)}</h1>"
        f"<p>Score: 0 / {max_score:g}</p><p>Your submission could not be graded ({html.escape(status)}): "
        f"{html.escape(reason)}.</p><p>Please check the file and talk to your instructor.</p></body></html>\n")


def _process_context():
    """Processes forked from a server that has nbgrader imported already (seconds saved per student).

    Each student still gets a fresh process: a crash or a kill touches nobody else.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["lecturekit.course.grading", "lecturekit.course.integrity", "nbgrader.apps",
                                "nbgrader.api", "nbconvert", "jupyter_client"])
    return ctx


def _warm_forkserver() -> None:
    """Start the forkserver now, so that its imports overlap the scan of the submissions."""
    import multiprocessing.forkserver

    _process_context()
    multiprocessing.forkserver.ensure_running()


def _kill_tree(process) -> None:
    """Kill a worker and its kernel (jupyter_client starts kernels in their own session)."""
    import psutil  # installed with ipykernel

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    process.kill()
    process.join()


def _grade_one(root: Path, part: str, student: str, snapshot: Path, scratch: Path, *, cell_timeout: int,
               submission_timeout: float, max_output_chars: int, memory_limit_bytes: int | None,
               sandbox: bool, alembic_head: str) -> tuple[str, str, Path, dict[str, float]]:
    """Run one student's worker process; return (status, reason, work folder, seconds per phase).

    ``seconds``: ``prepare`` (the private course folder), ``process`` (the worker process, start to
    exit) and, when it finished, the worker's own ``setup``, ``autograde``, ``cells`` (the notebook's
    cells running), ``feedback``, ``worker``.

    Runs in a thread of :func:`grade` or on a Dask worker (then ``root`` and ``scratch`` are on a
    filesystem both see).
    """
    ensure_nbgrader_tools_on_path()
    from .sandbox import readonly_paths

    work = scratch / student
    start = time.perf_counter()
    _prepare_work(root, part, student, work, snapshot)
    seconds = {"prepare": time.perf_counter() - start}
    job = {"work": str(work), "part": part, "student": student, "cell_timeout": cell_timeout,
           "max_output_chars": max_output_chars, "memory_limit_bytes": memory_limit_bytes,
           "result": str(scratch / f"{student}.result.json"), "sandbox": sandbox,
           "memory_flag": str(scratch / f"{student}.memory.json")}
    job["log"] = str(scratch / f"{student}.log")
    job["alembic_head"] = alembic_head
    job["readonly"] = readonly_paths() if sandbox else []
    job_file = scratch / f"{student}.job.json"
    job_file.write_text(json.dumps(job))
    process = _process_context().Process(target=_worker_main, args=(str(job_file),), name=f"grade-{student}")
    started = time.perf_counter()
    process.start()
    process.join(submission_timeout)
    seconds["process"] = time.perf_counter() - started
    if process.is_alive():
        _kill_tree(process)
        return "timeout", f"grading took longer than {submission_timeout:g} s and was stopped", work, seconds
    memory_flag = Path(job["memory_flag"])
    if memory_flag.is_file():
        seen = json.loads(memory_flag.read_text())
        where = f" while running {seen['cell']}" if seen.get("cell") else ""
        return "memory", (f"the notebook used more than the memory limit of {seen['limit'] / 2**20:.0f} MB{where} "
                          f"({seen['rss'] / 2**20:.0f} MB resident): its kernel was stopped"), work, seconds
    result_file = Path(job["result"])
    if process.exitcode != 0 or not result_file.is_file():
        log = Path(job["log"]).read_text(errors="replace").strip().splitlines() if Path(job["log"]).is_file() else []
        tail = [ln for ln in log if "Error" in ln or "error" in ln][-1:] or [f"exit status {process.exitcode}"]
        return "failed", f"the grading process failed: {tail[0][:200]}", work, seconds
    result = json.loads(result_file.read_text())
    seconds.update(result.get("seconds", {}))
    auto = result["autograde"]
    if not auto.get("success"):
        status, reason = _failure_reason(auto.get("log", "") + auto.get("error", ""), cell_timeout,
                                         result.get("last_cell", ""))
        return status, reason, work, seconds
    return "graded", "", work, seconds


def default_memory_limit_mb(workers: int = 1, memory_bytes: int | None = None) -> int:
    """The default memory limit of one student's kernel: min(4 GB, 60 % of the machine's RAM / workers), MB.

    ``memory_bytes``: the RAM of the machine the kernels run on (default: this one's).
    """
    if memory_bytes is None:
        import psutil

        memory_bytes = psutil.virtual_memory().total
    return int(min(4096, 0.6 * memory_bytes / 2**20 / max(1, workers)))


@contextmanager
def _grading_engine(scheduler: str | None, workers: int):
    """Yield ``(executor, isolated, why_not, default memory limit MB)`` for the students of one run.

    ``scheduler`` None: a pool of ``workers`` threads here, each starting one student's process.
    Otherwise the Dask cluster of :func:`lecturekit.course.dask_engine.dask_cluster`; grading is
    isolated only when bwrap works on every worker, and the default memory limit fits the
    smallest worker machine.
    """
    if scheduler is None:
        from .sandbox import sandbox_available

        isolated, why_not = sandbox_available()
        yield ThreadPoolExecutor(max_workers=workers), isolated, why_not, default_memory_limit_mb(workers)
        return
    from .dask_engine import dask_cluster

    with dask_cluster(scheduler, workers) as (executor, facts):
        exposed = [f for f in facts if not f.sandbox]
        why_not = f"on Dask worker {exposed[0].address}: {exposed[0].why_no_sandbox}" if exposed else ""
        memory = min(default_memory_limit_mb(f.threads, f.memory_bytes) for f in facts)
        yield executor, not exposed, why_not, memory


def read_grades(root: Path | str, part: str,
                db_url: str | None = None) -> dict[str, tuple[float, float, dict[str, float]]]:
    """From the gradebook: ``{student: (score, max_score, {grade cell: points})}`` for a part."""
    from nbgrader.api import Gradebook

    root = Path(root)
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    out = {}
    with Gradebook(db_url) as gb:
        for sub in gb.find_assignment(part).submissions:
            points = {}
            for snb in sub.notebooks:
                for g in snb.grades:
                    points[g.name] = float(g.score or 0.0)
            out[sub.student.id] = (float(sub.score or 0.0), float(sub.max_score or 0.0), points)
    return out


def write_grades_csv(path: Path | str, results: list[SubmissionResult], grade_cells: list[str]) -> Path:
    """Write grades.csv: student, part, score, max_score, one column per test cell, status, reason, integrity."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "part", "score", "max_score", *grade_cells, "status", "reason", "integrity"])
        for r in sorted(results, key=lambda r: r.student):
            writer.writerow([r.student, r.part, f"{r.score:g}", f"{r.max_score:g}",
                             *(f"{r.points.get(g, 0.0):g}" for g in grade_cells), r.status, r.reason, r.integrity])
    os.replace(tmp, path)
    return path


def _assignment_grade_cells(db_url: str, part: str) -> tuple[list[str], float]:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            assignment = gb.find_assignment(part)
        except MissingEntry:
            raise GradingError(f"part {part!r} is not in the gradebook: "
                               f"run `lecturekit release {part}` first") from None
        cells = [c.name for nb in assignment.notebooks for c in nb.grade_cells]
        return cells, float(assignment.max_score)


def grade(root: Path | str | None, part: str, *, workers: int = 2, cell_timeout: int | None = None,
          submission_timeout: float | None = None, force: bool = False, students: list[str] | None = None,
          max_output_chars: int = 100_000, memory_limit_mb: int | None = None,
          require_sandbox: bool = False, scheduler: str | None = None, progress=None) -> list[SubmissionResult]:
    """Autograde every new or changed submission of ``part``; write feedback and grades.csv.

    Args:
        root: the course folder (with ``nbgrader_config.py``, ``solutions/``, ``submitted/``).
        part: e.g. ``"01_logistic_regression"``; it must have been released (in the gradebook).
        workers: submissions graded at once (each in its own process), >= 1; with ``scheduler="local"``
            the number of Dask worker processes; ignored with a scheduler address (the cluster decides).
        cell_timeout: per-cell limit in seconds (default: LECTUREKIT_CELL_TIMEOUT or 300).
        submission_timeout: wall-clock limit of one student's whole grading run, seconds
            (default: 20 cell timeouts + 120).
        force: re-grade submissions that have not changed since they were graded.
        students: only these students (default: everyone under ``submitted/*/<part>``).
        max_output_chars: each output of a cell is cut to this many characters.
        memory_limit_mb: resident-memory limit (MB) of each student's kernel and what it starts; past it
            the kernel is killed and the row gets status ``memory``. None: :func:`default_memory_limit_mb`;
            0: no limit.
        require_sandbox: refuse (:class:`GradingError`) instead of grading without the bwrap sandbox.
        scheduler: None (default): grade on this machine. A Dask scheduler address
            (``tcp://host:8786``): each student's grading runs on a worker of that cluster, which must see
            the course folder at the same path; ``"local"``: on a LocalCluster started here. The gradebook,
            feedback/ and grades.csv are still written by this process alone.
        progress: optional callable ``progress(result)`` called as each submission finishes.
    Returns one :class:`SubmissionResult` per submitted student, sorted by student. Writes
    ``grading/<part>/grades.csv`` and ``grading/<part>/status.json``.

    Each kernel runs in the bwrap sandbox of :mod:`lecturekit.course.sandbox` when it is available;
    otherwise every row's reason says ``not isolated``.

    Workers are started with multiprocessing's ``forkserver``: a script that calls ``grade``
    needs the usual ``if __name__ == "__main__":`` guard (the CLI and pytest have it).
    """
    ensure_nbgrader_tools_on_path()
    root = course_root(root)
    if part not in list_parts(root):
        raise ValueError(f"part: unknown part {part!r}; expected one of {list_parts(root)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: expected an integer >= 1, got {workers!r}")
    cell_timeout = int(cell_timeout if cell_timeout is not None else os.environ.get("LECTUREKIT_CELL_TIMEOUT", "300"))
    if cell_timeout < 1:
        raise ValueError(f"cell_timeout: expected seconds >= 1, got {cell_timeout}")
    submission_timeout = float(submission_timeout or 20 * cell_timeout + 120)
    if memory_limit_mb is not None and (not isinstance(memory_limit_mb, int) or memory_limit_mb < 0):
        raise ValueError(f"memory_limit_mb: expected an integer >= 0 (0: no limit), got {memory_limit_mb!r}")
    released_path = root / "notebooks" / part / f"{part}.ipynb"
    if not released_path.is_file():
        raise GradingError(f"{released_path} is missing: run `lecturekit release {part}` first")
    db = root / "gradebook.db"
    db_url = f"sqlite:///{db}"
    if not db.is_file():
        raise GradingError(f"{db} is missing: run `lecturekit release {part}` first")
    _assignment_grade_cells(db_url, part)  # the part is in the gradebook
    with _grading_engine(scheduler, workers) as (executor, isolated, why_not, default_memory):
        if not isolated and require_sandbox:
            raise GradingError(f"the grading sandbox is not available ({why_not}); install bubblewrap or grade "
                               "without require_sandbox")
        graded_now = _grade_part(root, part, executor, isolated=isolated, why_not=why_not, force=force,
                                 students=students, cell_timeout=cell_timeout, submission_timeout=submission_timeout,
                                 max_output_chars=max_output_chars, progress=progress, on_dask=scheduler is not None,
                                 memory_limit_mb=default_memory if memory_limit_mb is None else memory_limit_mb)
    return write_part_csv(root, part, graded_now=graded_now)


def _grade_part(root: Path, part: str, executor, *, isolated: bool, why_not: str, force: bool,
                students: list[str] | None, cell_timeout: int, submission_timeout: float, max_output_chars: int,
                memory_limit_mb: int, progress, on_dask: bool) -> set[str]:
    """Grade the new or changed submissions of ``part`` with ``executor`` (see :func:`grade`); merge here.

    Returns the students graded now.
    """
    db = root / "gradebook.db"
    db_url = f"sqlite:///{db}"
    grade_cells, max_score = _assignment_grade_cells(db_url, part)
    released = nbformat.read(root / "notebooks" / part / f"{part}.ipynb", as_version=4)

    state_dir = root / "grading" / part
    state_file = state_dir / _STATUS_FILE
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    everyone = submitted_students(root, part)
    chosen = [s for s in everyone if students is None or s in students]
    if students is not None and (missing := sorted(set(students) - set(everyone))):
        raise ValueError(f"students: no submission of {part} from {missing}")

    todo = []
    for student in chosen:
        nb_path = root / "submitted" / student / part / f"{part}.ipynb"
        digest = _digest(nb_path) if nb_path.is_file() else "missing"
        if not force and state.get(student, {}).get("digest") == digest:
            continue
        todo.append((student, nb_path, digest))

    findings = {}
    if todo and not on_dask:
        _warm_forkserver()
    if todo:
        from .integrity import exercise_names, scan_submission

        exercises = exercise_names(released)
        for student, nb_path, _ in todo:  # an unreadable file is said so in `reason` already
            found = scan_submission(nb_path, exercises) if nb_path.is_file() else []
            findings[student] = "; ".join(f for f in found if not f.startswith("unreadable:"))

    timings: dict[str, dict[str, float]] = {}

    def finish(result: SubmissionResult) -> None:
        state[result.student] = {"status": result.status, "reason": result.reason, "digest": result.digest,
                                 "integrity": findings.get(result.student, "")}
        if result.student in timings:  # where one student's grading spent its time (bench/bench_grading.py)
            state[result.student]["seconds"] = {k: round(v, 3) for k, v in timings[result.student].items()}
        _write_json_atomic(state_file, state)
        if progress is not None:
            progress(result)

    def collect_note(student: str) -> list[str]:
        note_file = root / "submitted" / student / part / ".lecturekit_collect.json"
        return [json.loads(note_file.read_text())["note"]] if note_file.is_file() else []

    runnable = []
    for student, nb_path, digest in todo:
        status, notes = diagnose_submission(nb_path, released)
        notes = collect_note(student) + notes + ([] if isolated else [f"{NOT_ISOLATED} ({why_not})"])
        if status is None:
            runnable.append((student, digest, notes))
            continue
        _record_zero(db_url, part, student)
        _fallback_feedback(root, part, student, status, "; ".join(notes), max_score)
        shutil.rmtree(root / "autograded" / student / part, ignore_errors=True)
        finish(SubmissionResult(student, part, status, "; ".join(notes), digest=digest, graded_now=True))

    graded_now = {s for s, _, _ in todo}
    if not runnable:
        executor.shutdown()
        return graded_now
    shared = None
    if on_dask:  # Dask workers on other machines see the course folder, not this machine's /tmp
        shared = state_dir
        shared.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"lecturekit-grade-{part}-", dir=shared) as tmp:
        scratch = Path(tmp)
        snapshot = scratch / "gradebook.snapshot.db"
        _blank_gradebook(db, snapshot, part)
        options = dict(cell_timeout=cell_timeout, submission_timeout=submission_timeout,
                       max_output_chars=max_output_chars, sandbox=isolated, alembic_head=_alembic_head(),
                       memory_limit_bytes=memory_limit_mb * 2**20 if memory_limit_mb else None)
        with executor as pool:
            futures = {pool.submit(_grade_one, root, part, s, snapshot, scratch, **options): (s, d, n)
                       for s, d, n in runnable}
            for future in as_completed(futures):  # merging happens here, in this thread only
                student, digest, notes = futures[future]
                try:
                    status, reason, work, seconds = future.result()
                except Exception as error:  # preparing the worker failed: still a row, never a crash
                    status, reason, work, seconds = "failed", f"{type(error).__name__}: {error}", None, {}
                merging = time.perf_counter()
                adopted = False
                if status == "graded" and work is not None:
                    try:
                        status, notes = _adopt_worker_result(root, db_url, part, student, work, notes,
                                                             cell_timeout)
                        adopted = True
                    except Exception as error:  # a worker's output we cannot read: 0, never a crash
                        status, reason = "failed", f"reading the grading result failed: {type(error).__name__}: {error}"
                if not adopted:
                    _record_zero(db_url, part, student)
                    notes = notes + [reason]
                    shutil.rmtree(root / "autograded" / student / part, ignore_errors=True)
                    _fallback_feedback(root, part, student, status, "; ".join(notes), max_score)
                if work is not None:
                    shutil.rmtree(work, ignore_errors=True)
                seconds["merge"] = time.perf_counter() - merging
                timings[student] = seconds
                finish(SubmissionResult(student, part, status, "; ".join(notes), digest=digest, graded_now=True))
    return graded_now


def write_part_csv(root: Path | str, part: str,
                   graded_now: set[str] | frozenset = frozenset()) -> list[SubmissionResult]:
    """Rebuild ``grading/<part>/grades.csv`` from the gradebook (manual grades included).

    Returns the rows as :class:`SubmissionResult`, sorted by student.
    """
    root = Path(root)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    grade_cells, max_score = _assignment_grade_cells(db_url, part)
    state_dir = root / "grading" / part
    state_file = state_dir / _STATUS_FILE
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    scores = read_grades(root, part, db_url)
    results = []
    for student in submitted_students(root, part):
        entry = state.get(student)
        if entry is None:
            continue
        score, top, points = scores.get(student, (0.0, max_score, {}))
        results.append(SubmissionResult(student, part, entry["status"], entry["reason"], score, top, points,
                                        entry["digest"], student in graded_now, entry.get("integrity", "")))
    for c in unmatched_submissions(root, part):  # notebooks collect could not give a student or part
        results.append(SubmissionResult(c.source, part, "unmatched", c.note, 0.0, max_score))
    write_grades_csv(state_dir / "grades.csv", results, grade_cells)
    return results


def feedback(root: Path | str | None, part: str) -> list[SubmissionResult]:
    """After manual grading in the formgrader: regenerate every student's HTML feedback and grades.csv.

    Runs nbgrader's ``generate_feedback`` on the autograded notebooks (nothing is executed again);
    students whose submission could not be graded keep their explanatory page.
    """
    ensure_nbgrader_tools_on_path()
    root = course_root(root)
    if part not in list_parts(root):
        raise ValueError(f"part: unknown part {part!r}; expected one of {list_parts(root)}")
    _alembic_head()
    api = _api(root, f"sqlite:///{root / 'gradebook.db'}")
    for student in submitted_students(root, part):
        if (root / "autograded" / student / part / f"{part}.ipynb").is_file():
            result = api.generate_feedback(part, student, force=True)
            if not result.get("success"):
                raise GradingError(f"nbgrader generate_feedback failed for {student}: {result.get('error', '')}")
    return write_part_csv(root, part)


