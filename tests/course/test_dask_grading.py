"""Grading on a Dask cluster gives the grades the local pool gives, and the gradebook stays the parent's.

A small class of the fake part of test_grading.py (a full solution, a half one, an endless loop,
a crash, a broken file) is collected once, copied, and graded twice: by the local pool and on a
2-worker LocalCluster reached through its scheduler address. The expected scores come from the
markers (``check_points``), not from either grader.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest
from test_grading import (  # the fake part and its helpers
    CELL_TIMEOUT,
    FAKE,
    answered,
    check_points,
    fake_solution,
    make_course,
    rows,
    table_counts,
    write,
)

from lecturekit.course import grading

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.slow


def local_cluster(n_workers: int, daemon: bool):
    """A LocalCluster of single-threaded worker processes on the loopback interface."""
    with dask.config.set({"distributed.worker.daemon": daemon}):
        return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None, memory_limit=0)


@pytest.fixture(scope="module")
def two_gradings(tmp_path_factory):
    """The same collected class graded by the local pool (``pool``) and on Dask (``dask``)."""
    pool = make_course(tmp_path_factory.mktemp("pool") / "course", {FAKE: fake_solution()})
    released = nbformat.read(pool / "notebooks" / FAKE / f"{FAKE}.ipynb", as_version=4)
    solution = nbformat.read(pool / "solutions" / FAKE / f"{FAKE}.ipynb", as_version=4)
    inbox = pool.parent / "inbox"
    write(answered(released, solution), inbox / f"alice_{FAKE}.ipynb")
    write(answered(released, solution, exercises={"double"}), inbox / f"carol_{FAKE}.ipynb")
    write(answered(released, solution, replace={"double": "while True:\n    pass"}), inbox / f"dave_{FAKE}.ipynb")
    write(answered(released, solution, replace={"square": "import os\nos._exit(1)"}), inbox / f"erin_{FAKE}.ipynb")
    (inbox / f"heidi_{FAKE}.ipynb").write_text('{"cells": [ this is not json')
    grading.collect(inbox, pool, part=FAKE)
    on_dask = pool.parent.parent / "dask"
    shutil.copytree(pool, on_dask)

    grading.grade(pool, FAKE, workers=2, cell_timeout=CELL_TIMEOUT)
    with local_cluster(2, daemon=False) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            grading.grade(on_dask, FAKE, cell_timeout=CELL_TIMEOUT, scheduler=cluster.scheduler_address)
    return {"pool": pool, "dask": on_dask, "tasks": stream.data, "solution": solution}


def test_dask_gives_the_same_grades_csv_as_the_local_pool(two_gradings):
    pool, on_dask = rows(two_gradings["pool"], FAKE), rows(two_gradings["dask"], FAKE)
    points = check_points(two_gradings["solution"])
    expected = {"alice": (sum(points.values()), "graded"), "carol": (points["check_double"], "graded"),
                "dave": (points["check_square"], "timeout"), "erin": (0, "crashed"), "heidi": (0, "unreadable")}
    assert set(on_dask) == set(pool) == set(expected)
    for student, (score, status) in expected.items():
        assert (float(on_dask[student]["score"]), on_dask[student]["status"]) == (score, status), on_dask[student]
        same = {k: v for k, v in on_dask[student].items() if k != "reason"}
        assert same == {k: v for k, v in pool[student].items() if k != "reason"}, student
    assert "kernel died" in on_dask["erin"]["reason"] and "check_double: timed out" in on_dask["dave"]["reason"]
    assert on_dask["alice"]["reason"] == pool["alice"]["reason"]


def test_dask_workers_graded_and_the_parent_merged(two_gradings):
    tasks = [t for t in two_gradings["tasks"] if t["key"].startswith("_grade_one")]
    assert len(tasks) == 4  # every student but the broken file, which never reaches a worker
    assert len({t["worker"] for t in tasks}) == 2
    course = two_gradings["dask"]
    assert table_counts(course / "gradebook.db") == table_counts(two_gradings["pool"] / "gradebook.db")
    for student in ("alice", "carol", "dave", "erin", "heidi"):
        assert (course / "feedback" / student / FAKE / f"{FAKE}.html").is_file()
    assert sorted(p.name for p in (course / "grading" / FAKE).iterdir()) == ["grades.csv", "status.json"]


def test_daemonic_workers_are_refused_with_the_fix(two_gradings):
    with local_cluster(1, daemon=True) as cluster:
        with pytest.raises(ValueError, match="daemonic.*DASK_DISTRIBUTED__WORKER__DAEMON=False"):
            grading.grade(two_gradings["pool"], FAKE, force=True, scheduler=cluster.scheduler_address)


def test_cli_scheduler_local_grades_a_late_student(two_gradings):
    from lecturekit.course.cli import main

    course = two_gradings["dask"]
    before = rows(course, FAKE)
    shutil.copytree(course / "submitted" / "alice", course / "submitted" / "peggy")
    assert main(["--course", str(course), "grade", FAKE, "--scheduler", "local", "--workers", "1",
                 "--timeout", str(CELL_TIMEOUT)]) == 0
    after = rows(course, FAKE)
    assert {k: v for k, v in after["peggy"].items() if k != "student"} == \
        {k: v for k, v in before["alice"].items() if k != "student"}
    assert {s: r for s, r in after.items() if s != "peggy"} == before
