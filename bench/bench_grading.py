"""Benchmark: grading a class serially and in parallel with ``lecturekit.course.grading.grade``.

Builds a temporary course (never the repository's gradebook), releases a part, submits N copies
of its solution, then grades them three ways in the same run:

* nbgrader alone: ``NbGraderAPI.autograde`` then ``generate_feedback`` per student, in this
  process, serially (the peer: what an instructor gets from nbgrader without lecturekit, with
  no isolation between students);
* ``grade(..., workers=1)``: lecturekit, one process per student, its kernel in the bwrap sandbox
  (when available) under the default memory cap, one at a time;
* ``grade(..., workers=W)``: the same with W workers.

Prints submissions per minute, the speed-ups, and the overhead per student: the time one
student's grading takes minus the notebook's own run time (the seconds its cells ran during
grading, recorded per student in ``grading/<part>/status.json``), for lecturekit serially and
for nbgrader alone, with where lecturekit's per-student time goes (private folder, kernel start
and nbgrader, feedback page, merge into the shared gradebook). Writes ``bench/results/grading.json``.

    .venv/bin/python bench/bench_grading.py [--n 20] [--workers 2] [--part 01_logistic_regression]

The default is the real part 01. ``--part 95_bench`` uses a tiny built-in part (two exercises),
so the figures measure the grading machinery (kernel start, nbgrader, gradebook) alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def tiny_part() -> nbformat.NotebookNode:
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np\nfrom lecturekit.checks import check_close"),
        new_code_cell('def double(x):\n    """Return 2 x."""\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n'
                      "    ### END SOLUTION"),
        new_code_cell('# Self-check (2 points)\ncheck_close("double", lambda: double(np.array([1.0, 2.0])), '
                      "np.array([2.0, 4.0]))\n### BEGIN HIDDEN TESTS\nassert double(3.0) == 6.0\n### END HIDDEN TESTS"),
        new_code_cell('def square(x):\n    """Return x squared."""\n    ### BEGIN SOLUTION\n    return np.asarray(x) ** 2\n'
                      "    ### END SOLUTION"),
        new_code_cell('# Self-check (3 points)\ncheck_close("square", lambda: square(np.array([1.0, 3.0])), '
                      "np.array([1.0, 9.0]))\n### BEGIN HIDDEN TESTS\nassert square(-2.0) == 4.0\n### END HIDDEN TESTS"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def build_course(folder: Path, part: str, n: int) -> float:
    """A course in ``folder`` with ``part`` released and n students who submitted its solution."""
    from lecturekit.course.release import release

    shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    dest = folder / "solutions" / part
    if (ROOT / "solutions" / part).is_dir():
        shutil.copytree(ROOT / "solutions" / part, dest)
    else:
        dest.mkdir(parents=True)
        nbformat.write(tiny_part(), dest / f"{part}.ipynb")
    release(folder, [part])
    solution = dest / f"{part}.ipynb"
    for i in range(n):
        student = folder / "submitted" / f"student{i:03d}" / part
        student.mkdir(parents=True)
        shutil.copy(solution, student / f"{part}.ipynb")
    return n


def fresh_copy(template: Path, name: str) -> Path:
    target = template.parent / name
    shutil.copytree(template, target)
    return target


def time_nbgrader_alone(course: Path, part: str, students: list[str]) -> float:
    from lecturekit.course.release import nbgrader_api

    api = nbgrader_api(course, {"CourseDirectory": {"db_url": f"sqlite:///{course / 'gradebook.db'}"}})
    start = time.perf_counter()
    for student in students:
        result = api.autograde(part, student, force=True, create=True)
        if result.get("success"):
            result = api.generate_feedback(part, student, force=True)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader failed for {student}: {result.get('log', '')[-500:]}")
    return time.perf_counter() - start


def phases(course: Path, part: str) -> dict[str, float]:
    """Mean seconds per student of each phase of lecturekit's grading (from grading/<part>/status.json).

    ``cells``: the notebook's own run time; ``kernel_and_nbgrader``: autograde minus the cells
    (sandboxed kernel start and stop, nbgrader's sanitising and gradebook); ``process``: the whole
    per-student process; ``feedback``: the HTML page; ``prepare`` / ``merge``: the private course
    folder and the merge into the shared gradebook (in the grade process).
    """
    state = json.loads((course / "grading" / part / "status.json").read_text())
    rows = [entry["seconds"] for entry in state.values() if "seconds" in entry]
    mean = lambda key: sum(r.get(key, 0.0) for r in rows) / len(rows)  # noqa: E731
    out = {key: mean(key) for key in ("prepare", "process", "autograde", "cells", "feedback", "merge")}
    out["kernel_and_nbgrader"] = out["autograde"] - out["cells"]
    out["process_start_and_exit"] = out["process"] - mean("worker")
    return out


def time_lecturekit(course: Path, part: str, workers: int, cell_timeout: int) -> tuple[float, float]:
    from lecturekit.course.grading import grade

    start = time.perf_counter()
    results = grade(course, part, workers=workers, cell_timeout=cell_timeout)
    seconds = time.perf_counter() - start
    # every copy is the same solution: same automatic score (written answers stay 0 until graded by hand)
    bad = [r for r in results if r.status != "graded" or r.score != results[0].score or r.score == 0]
    if bad:
        raise RuntimeError(f"a copy of the solution was not graded like the others: {bad[0]}")
    return seconds, results[0].max_score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="submissions (>= 20 for the reported figure)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--part", default="01_logistic_regression",
                        help="a part of the course, or 95_bench for the built-in tiny one")
    parser.add_argument("--cell-timeout", type=int, default=120)
    parser.add_argument("--skip-nbgrader-alone", action="store_true", help="do not time the nbgrader-only peer")
    args = parser.parse_args()

    from lecturekit.course.grading import ensure_nbgrader_tools_on_path
    from lecturekit.course.sandbox import sandbox_available

    ensure_nbgrader_tools_on_path()
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="lecturekit-bench-grading-") as tmp:
        template = Path(tmp) / "template"
        template.mkdir()
        build_course(template, args.part, args.n)
        students = sorted(p.name for p in (template / "submitted").iterdir())
        alone = None
        if not args.skip_nbgrader_alone:
            alone = time_nbgrader_alone(fresh_copy(template, "alone"), args.part, students)
        serial_course = fresh_copy(template, "serial")
        serial, max_score = time_lecturekit(serial_course, args.part, 1, args.cell_timeout)
        breakdown = phases(serial_course, args.part)
        parallel, _ = time_lecturekit(fresh_copy(template, "parallel"), args.part, args.workers, args.cell_timeout)

    per_min = lambda seconds: 60.0 * args.n / seconds  # noqa: E731
    record = {
        "benchmark": "grading",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version()},
        "part": args.part, "submissions": args.n, "workers": args.workers, "max_score": max_score,
        "seconds": {"nbgrader_alone_serial": alone, "lecturekit_serial": serial, "lecturekit_parallel": parallel},
        "submissions_per_minute": {"nbgrader_alone_serial": per_min(alone) if alone else None,
                                   "lecturekit_serial": per_min(serial), "lecturekit_parallel": per_min(parallel)},
        "speedup_parallel_vs_serial": serial / parallel,
        "speedup_parallel_vs_nbgrader_alone": (alone / parallel) if alone else None,
        "notebook_run_s": breakdown["cells"],
        "overhead_per_student_s": {
            "lecturekit_serial": serial / args.n - breakdown["cells"],
            "nbgrader_alone_serial": (alone / args.n - breakdown["cells"]) if alone else None,
            "lecturekit_minus_nbgrader_alone": ((serial - alone) / args.n) if alone else None,
        },
        "lecturekit_phases_mean_s": breakdown,
        "sandbox": sandbox_available()[0],
        "load_average_1_5_15": list(os.getloadavg()),
    }
    if alone:
        print(f"nbgrader alone (serial):   {alone:7.1f} s  {per_min(alone):6.1f} submissions/min")
    print(f"lecturekit, 1 worker:      {serial:7.1f} s  {per_min(serial):6.1f} submissions/min")
    print(f"lecturekit, {args.workers} workers:     {parallel:7.1f} s  {per_min(parallel):6.1f} submissions/min")
    print(f"speed-up {args.workers} workers / 1 worker: {serial / parallel:.2f}x"
          + (f"; vs nbgrader alone: {alone / parallel:.2f}x" if alone else "")
          + f"  ({args.n} submissions of {args.part}, {os.cpu_count()} CPUs)")
    over = record["overhead_per_student_s"]
    print(f"the notebook's own run time (its cells, while graded): {breakdown['cells']:.1f} s per student")
    print(f"overhead per student (time per student - notebook run time): lecturekit 1 worker "
          f"{over['lecturekit_serial']:.1f} s" + (f", nbgrader alone {over['nbgrader_alone_serial']:.1f} s"
                                                  f" (difference {over['lecturekit_minus_nbgrader_alone']:+.1f} s)"
                                                  if alone else "")
          + f"  (sandbox {'on' if record['sandbox'] else 'OFF: not isolated'})")
    print("lecturekit per student, mean s: " + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()))
    print(f"load average during the run (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} CPUs")
    out = ROOT / "bench" / "results" / "grading.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
