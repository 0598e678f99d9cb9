"""The ``lecturekit`` command: one verb per course task, each with ``--help``.

    lecturekit release  [PART ...]          annotate solutions/ and write notebooks/ (nbgrader)
    lecturekit execute  [PART ...]          run solution notebooks in place, storing their outputs
    lecturekit data     build | list        build or list the course datasets (the virtual rodent)
    lecturekit collect  INBOX [--part PART] LMS export -> submitted/<student>/<part>/
    lecturekit grade    PART [--workers N] [--scheduler ADDRESS|local]
                                            autograde, feedback/, grading/<part>/grades.csv
    lecturekit feedback PART                after manual grading: feedback/ and grades.csv again
    lecturekit export   [--pdf]             student notebooks as HTML (and PDF) in exports/

Worked examples: README.md and docs/INSTRUCTORS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import release as release_mod


# release / execute -------------------------------------------------------------------------
def _cmd_release(args) -> int:
    parts = release_mod.release(Path(args.course), args.parts or None)
    for part in parts:
        print(f"released {part} -> notebooks/{part}/{part}.ipynb")
    return 0


def _cmd_execute(args) -> int:
    import nbformat

    from .notebook_run import cell_errors, execute_notebook

    root = release_mod.course_root(Path(args.course))
    parts = args.parts or release_mod.list_parts(root)
    status = 0
    for part in parts:
        path = release_mod.solution_path(root, part)
        nb = execute_notebook(path, timeout=args.timeout, allow_errors=True)
        errors = cell_errors(nb)
        if errors:
            status = 1
            for e in errors:
                print(f"{part}: cell {e.index} raised {e.ename}: {e.evalue}", file=sys.stderr)
            print(f"{part}: NOT saved (a solution notebook must run without errors)", file=sys.stderr)
            continue
        nbformat.write(nb, path)
        print(f"executed {part} -> {path.relative_to(root)}")
    return status


# data ---------------------------------------------------------------------------------------
def _cmd_data(args) -> int:
    from .. import datasets

    if args.action == "build":
        start = time.perf_counter()
        paths = datasets.build_all(rebuild=args.rebuild)
        for name, path in paths.items():
            print(f"{name:10s} {path.stat().st_size / 1e6:7.1f} MB  {path}")
        print(f"built in {time.perf_counter() - start:.1f} s (cache: {datasets.cache_dir()})")
        return 0
    print(f"cache: {datasets.cache_dir()}")
    for name in datasets.names():
        print(f"{name:10s} {datasets.cache_state(name):24s} {datasets.describe(name)}")
    return 0


# collect / grade / feedback ------------------------------------------------------------------
def _cmd_collect(args) -> int:
    from . import grading

    collected = grading.collect(Path(args.inbox), Path(args.course), part=args.part)
    placed = [c for c in collected if c.dest]
    for c in collected:
        where = f"-> {c.dest}" if c.dest else ""
        status = f" [{c.status}]" if getattr(c, "status", "collected") != "collected" else ""
        print(f"{c.source}{status} {where}" + (f"  ({c.note})" if c.note else ""))
    unmatched = [c for c in collected if getattr(c, "status", "") == "unmatched"]
    print(f"collected {len(placed)} submission(s), skipped {len(collected) - len(placed) - len(unmatched)} file(s)")
    if unmatched:
        print(f"WARNING: {len(unmatched)} notebook(s) NOT matched to a student/part (rename them and collect again; "
              f"they are listed in grades.csv as 'unmatched'): " + ", ".join(c.source for c in unmatched))
        return 1
    return 0


def _cmd_grade(args) -> int:
    from . import grading

    def show(result) -> None:
        print(f"  {result.student}: {result.status}" + (f" ({result.reason})" if result.reason else ""), flush=True)

    results = grading.grade(Path(args.course), args.part, workers=args.workers, cell_timeout=args.timeout,
                            submission_timeout=args.submission_timeout, force=args.force,
                            students=args.student or None, memory_limit_mb=args.memory_limit_mb,
                            require_sandbox=args.require_sandbox, scheduler=args.scheduler, progress=show)
    now = sum(r.graded_now for r in results)
    print(f"{args.part}: graded {now} submission(s) now, {len(results) - now} unchanged since last time")
    for r in results:
        print(f"{r.student:>20}  {r.score:6g} / {r.max_score:<6g} {r.status}")
    print(f"grades: grading/{args.part}/grades.csv   feedback: feedback/<student>/{args.part}/")
    exposed = [r.student for r in results if r.graded_now and grading.NOT_ISOLATED in r.reason]
    if exposed:
        print(f"WARNING: {len(exposed)} submission(s) graded NOT ISOLATED (no bwrap sandbox): student code ran "
              "with your files in reach; see docs/INSTRUCTORS.md")
    flagged = [r.student for r in results if r.integrity]
    if flagged:
        print(f"integrity findings for {len(flagged)} submission(s) (column 'integrity'): {', '.join(flagged)}")
    return 0


def _cmd_feedback(args) -> int:
    from . import grading

    results = grading.feedback(Path(args.course), args.part)
    for r in results:
        print(f"{r.student:>20}  {r.score:6g} / {r.max_score:<6g} {r.status}")
    print(f"feedback: feedback/<student>/{args.part}/   grades: grading/{args.part}/grades.csv")
    return 0


# export -------------------------------------------------------------------------------------
def _cmd_export(args) -> int:
    from . import export

    return export.main(args.export_args)  # export has its own options: lecturekit export --help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lecturekit", description="Markerless Pose Tracking course tools")
    parser.add_argument("--course", default=".", help="course folder (default: the current one)")
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("release", help="annotate solutions/ and generate the student notebooks/")
    p.add_argument("parts", nargs="*", help="parts to release (default: all)")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("execute", help="run solution notebooks in place, storing outputs for nbval")
    p.add_argument("parts", nargs="*", help="parts to execute (default: all)")
    p.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    p.set_defaults(func=_cmd_execute)

    p = sub.add_parser("data", help="build or list the course datasets (the virtual rodent)")
    actions = p.add_subparsers(dest="action", required=True)
    b = actions.add_parser("build", help="build every dataset into the cache")
    b.add_argument("--rebuild", action="store_true", help="rebuild even when the cache is valid")
    actions.add_parser("list", help="list the datasets and their cache state")
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("collect", help="copy an LMS export of notebooks into submitted/<student>/<part>/")
    p.add_argument("inbox", help="folder of submitted .ipynb files (e.g. alice_01_logistic_regression.ipynb)")
    p.add_argument("--part", help="every notebook in the folder is for this part (default: read from file names)")
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("grade", help="autograde a part's submissions, write feedback and grades.csv")
    p.add_argument("part", help="the part to grade, e.g. 01_logistic_regression")
    p.add_argument("--workers", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--timeout", type=int, default=None,
                   help="per-cell timeout in seconds (default: LECTUREKIT_CELL_TIMEOUT or 300)")
    p.add_argument("--submission-timeout", type=float, default=None,
                   help="wall-clock limit of one student's whole run, seconds (default 20 cell timeouts + 120)")
    p.add_argument("--memory-limit-mb", type=int, default=None,
                   help="resident-memory limit of each student's kernel in MB; past it the row gets status "
                        "'memory' (default: min(4096, 60%% of RAM / workers); 0: no limit)")
    p.add_argument("--require-sandbox", action="store_true",
                   help="refuse to grade when the bwrap sandbox is unavailable (default: grade, marked 'not isolated')")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="grade on a Dask cluster: its scheduler address (tcp://host:8786; the workers must see "
                        "the course folder at the same path) or 'local' for a LocalCluster of --workers processes; "
                        "the gradebook is still written here only (needs dask[distributed])")
    p.add_argument("--force", action="store_true", help="re-grade submissions that did not change")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("feedback", help="after manual grading: regenerate feedback HTML and grades.csv")
    p.add_argument("part", help="the part, e.g. 01_logistic_regression")
    p.set_defaults(func=_cmd_feedback)

    p = sub.add_parser("export", help="student notebooks as HTML (and PDF with --pdf) in exports/",
                       add_help=False)
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if args.verb == "export":
        args.export_args = extra
    elif extra:
        build_parser().parse_args(argv)  # reports the unrecognised arguments and exits
    from .grading import GradingError

    try:
        return args.func(args)
    except (release_mod.ReleaseError, GradingError, ValueError) as error:
        print(f"lecturekit {args.verb}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
