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
