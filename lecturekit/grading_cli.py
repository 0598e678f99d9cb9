"""The grading verbs of the ``lecturekit`` command (found by ``lecturekit.cli``).

    lecturekit collect INBOX [--part PART]      LMS export -> submitted/<student>/<part>/
    lecturekit grade PART [--workers N] [--timeout S] [--force] [--student NAME ...]
                                                autograde, feedback/, grading/<part>/grades.csv
    lecturekit feedback PART                    after manual grading: feedback/ and grades.csv again

Worked example: docs/INSTRUCTORS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import grading


def _cmd_collect(args) -> int:
    try:
        collected = grading.collect(Path(args.inbox), Path(args.course), part=args.part)
    except ValueError as error:
        print(f"lecturekit collect: {error}", file=sys.stderr)
        return 2
    placed = [c for c in collected if c.dest]
    for c in collected:
        where = f"-> {c.dest}" if c.dest else ""
        print(f"{c.source} {where}" + (f"  ({c.note})" if c.note else ""))
    print(f"collected {len(placed)} submission(s), skipped {len(collected) - len(placed)} file(s)")
    return 0


def _cmd_grade(args) -> int:
    def show(result: grading.SubmissionResult) -> None:
        print(f"  {result.student}: {result.status}" + (f" ({result.reason})" if result.reason else ""), flush=True)

    try:
        results = grading.grade(Path(args.course), args.part, workers=args.workers, cell_timeout=args.timeout,
                                submission_timeout=args.submission_timeout, force=args.force,
                                students=args.student or None, memory_limit_mb=args.memory_limit_mb,
                                progress=show)
    except (ValueError, grading.GradingError) as error:
        print(f"lecturekit grade: {error}", file=sys.stderr)
        return 2
    now = sum(r.graded_now for r in results)
    print(f"{args.part}: graded {now} submission(s) now, {len(results) - now} unchanged since last time")
    for r in results:
        print(f"{r.student:>20}  {r.score:6g} / {r.max_score:<6g} {r.status}")
    print(f"grades: grading/{args.part}/grades.csv   feedback: feedback/<student>/{args.part}/")
    return 0


def _cmd_feedback(args) -> int:
    try:
        results = grading.feedback(Path(args.course), args.part)
    except (ValueError, grading.GradingError) as error:
        print(f"lecturekit feedback: {error}", file=sys.stderr)
        return 2
    for r in results:
        print(f"{r.student:>20}  {r.score:6g} / {r.max_score:<6g} {r.status}")
    print(f"feedback: feedback/<student>/{args.part}/   grades: grading/{args.part}/grades.csv")
    return 0


def register(subparsers) -> None:
    """Add ``collect`` and ``grade`` to the ``lecturekit`` command's sub-commands."""
    p = subparsers.add_parser("collect", help="copy an LMS export of notebooks into submitted/<student>/<part>/")
    p.add_argument("inbox", help="folder of submitted .ipynb files (e.g. alice_01_logistic_regression.ipynb)")
    p.add_argument("--part", help="every notebook in the folder is for this part (default: read from file names)")
    p.set_defaults(func=_cmd_collect)

    p = subparsers.add_parser("grade", help="autograde a part's submissions, write feedback and grades.csv")
    p.add_argument("part", help="the part to grade, e.g. 01_logistic_regression")
    p.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=int, default=None,
                   help="per-cell timeout in seconds (default: LECTUREKIT_CELL_TIMEOUT or 300)")
    p.add_argument("--submission-timeout", type=float, default=None,
                   help="wall-clock limit of one student's whole run, seconds (default 20 cell timeouts + 120)")
    p.add_argument("--memory-limit-mb", type=int, default=None,
                   help="address-space limit of each grading process and its kernel (default: none)")
    p.add_argument("--force", action="store_true", help="re-grade submissions that did not change")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.set_defaults(func=_cmd_grade)

    p = subparsers.add_parser("feedback", help="after manual grading: regenerate feedback HTML and grades.csv")
    p.add_argument("part", help="the part, e.g. 01_logistic_regression")
    p.set_defaults(func=_cmd_feedback)
