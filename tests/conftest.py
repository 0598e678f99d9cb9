"""Shared test set-up: the network guard, the course root, and notebook helpers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from lecturekit.course import netguard

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config):
    # Every test, and every notebook kernel started from a test (nbval, nbclient, nbgrader,
    # JupyterLab), runs with the network refused: the course must work offline.
    netguard.guard_child_processes(Path(tempfile.mkdtemp(prefix="lecturekit-netguard-")))
    os.environ.setdefault("MPLBACKEND", "Agg")
    # With several test processes (pytest-xdist) each kernel gets one math thread: two kernels of
    # two OpenMP threads each on a 2-core machine spin against each other and run several times
    # slower than one thread each. Kernels inherit this (numpy's BLAS follows it; the notebooks
    # set torch to one thread themselves).
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    netguard.install()


@pytest.fixture(scope="session")
def course_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real reference data); skips the test with a reason when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (only on maintainers' machines)")
    return SHARED_DATA
