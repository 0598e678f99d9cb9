"""Execute notebooks headlessly with the current environment's kernel (nbclient).

Used by ``lecturekit execute`` (store a solution notebook's outputs, which nbval then compares
against) and by the test suite (run a student notebook and collect its errors).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = ["CellError", "execute_notebook", "cell_errors"]


@dataclass(frozen=True)
class CellError:
    """One cell's error output: its index, exception name and message."""

    index: int
    ename: str
    evalue: str


def execute_notebook(path: Path | str, *, timeout: int = 600, allow_errors: bool = False,
                     env: dict[str, str] | None = None):
    """Run every cell of the notebook at ``path`` in its own folder; return the executed notebook.

    ``env`` adds environment variables for the kernel (e.g. ``NBGRADER_EXECUTION``).
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


def cell_errors(nb) -> list[CellError]:
    """Every error output in an executed notebook, in cell order."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                found.append(CellError(i, out.get("ename", ""), out.get("evalue", "")))
    return found
