"""Grading on a Dask cluster: an executor whose workers run each student's grading, for large classes.

:func:`lecturekit.course.grading.grade` submits one call per student to an executor and merges the
results in its own process, one student at a time. Locally that executor is a thread pool; with
``scheduler=`` it is the :class:`dask_cluster` below, a ``concurrent.futures`` executor over a
``dask.distributed`` client. The call a Dask worker runs is the very one the local pool runs (the
per-student process, the bwrap sandbox, the resident-memory cap), so only where it runs changes.

Requirements on the cluster, checked before anything is graded (:func:`check_workers`):

* every worker sees the course folder at the same path (a shared filesystem): the per-student
  folders are made under ``<course>/grading/<part>/`` and read back by the ``grade`` process;
* the workers run the course's Python environment (``lecturekit``, nbgrader, the kernel);
* their processes are not daemonic (Dask's ``distributed.worker.daemon: False``): a daemonic
  process may not start the per-student grading process.
"""

from __future__ import annotations

import multiprocessing
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["LOCAL", "DAEMON_FIX", "WorkerFacts", "dask_cluster", "check_workers", "worker_facts"]

#: ``scheduler=LOCAL`` starts a LocalCluster on this machine instead of joining one.
LOCAL = "local"
#: How to make Dask workers able to start processes (the error message names it).
DAEMON_FIX = ("start the workers with DASK_DISTRIBUTED__WORKER__DAEMON=False in their environment "
              "(dask-jobqueue: job_script_prologue=['export DASK_DISTRIBUTED__WORKER__DAEMON=False'])")


@dataclass(frozen=True)
class WorkerFacts:
    """What grading needs to know about one Dask worker (asked on the worker itself)."""

    address: str
    threads: int  # tasks it runs at once: students graded at once on it
    memory_bytes: int  # its machine's RAM
    daemonic: bool  # True: it cannot start the per-student process
    sandbox: bool  # bwrap works there
    why_no_sandbox: str


def _facts_here() -> tuple[int, bool, bool, str]:
    import psutil

    from .sandbox import sandbox_available

    isolated, why = sandbox_available()
    return psutil.virtual_memory().total, bool(multiprocessing.current_process().daemon), isolated, why


def worker_facts(client) -> list[WorkerFacts]:
    """One :class:`WorkerFacts` per worker of ``client``'s cluster, sorted by address."""
    threads = client.nthreads()
    found = client.run(_facts_here)
    return [WorkerFacts(address, threads[address], *found[address]) for address in sorted(found)]


def check_workers(facts: list[WorkerFacts], scheduler: str) -> None:
    """Raise ``ValueError`` naming ``scheduler`` when its cluster cannot grade (no worker, daemonic workers)."""
    if not facts:
        raise ValueError(f"scheduler: the Dask cluster at {scheduler!r} has no worker")
    daemonic = [f.address for f in facts if f.daemonic]
    if daemonic:
        raise ValueError(f"scheduler: the Dask workers {daemonic} run as daemonic processes, which cannot start "
                         f"the per-student grading process; {DAEMON_FIX}")


@contextmanager
def dask_cluster(scheduler: str, workers: int):
    """Yield ``(executor, facts)``: a ``concurrent.futures`` executor over the Dask cluster at ``scheduler``.

    Args:
        scheduler: a scheduler address (``tcp://host:8786``) or :data:`LOCAL` to start a
            LocalCluster of ``workers`` single-threaded worker processes here (closed on exit).
        workers: worker processes of the LocalCluster (ignored for an address: the cluster decides).
    ``facts`` is :func:`worker_facts`, checked with :func:`check_workers`.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        from .grading import GradingError

        raise GradingError("scheduler: grading on Dask needs dask.distributed: "
                           "pip install 'lecturekit[grading]' (or pip install 'dask[distributed]')") from None
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(f"scheduler: expected a Dask scheduler address or {LOCAL!r}, got {scheduler!r}")
    with dask.config.set({"distributed.worker.daemon": False}):  # read by LocalCluster's nannies
        cluster = None
        if scheduler == LOCAL:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, memory_limit=0)  # grading caps each kernel itself
        try:
            try:
                client = Client(cluster if cluster is not None else scheduler, set_as_default=False, timeout="30s")
            except OSError as error:
                raise ValueError(f"scheduler: cannot reach a Dask scheduler at {scheduler!r} ({error})") from None
            try:
                if cluster is None:
                    try:
                        client.wait_for_workers(1, timeout=60)
                    except TimeoutError:
                        raise ValueError(f"scheduler: the Dask cluster at {scheduler!r} has no worker "
                                         "(none joined within 60 s)") from None
                facts = worker_facts(client)
                check_workers(facts, scheduler)
                # pure=False: each call is a new grading run, never a cached result
                executor = client.get_executor(pure=False)
                yield executor, facts
            finally:
                client.close()
        finally:
            if cluster is not None:
                cluster.close()
