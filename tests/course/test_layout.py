"""The package's shape: lecture code never imports the instructor machinery, importing
``lecturekit`` imports nothing else, and no module imports another module's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lecturekit"
LECTURE_FILES = sorted(p for p in PACKAGE.rglob("*.py") if "course" not in p.relative_to(PACKAGE).parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) of every import in the file, relative ones resolved."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def test_the_scan_sees_relative_and_absolute_imports():
    grading = PACKAGE / "course" / "grading.py"
    modules = {module for module, _, _ in _imports(grading)}
    assert "lecturekit.course.release" in modules  # written "from .release import ..."


@pytest.mark.parametrize("path", LECTURE_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lecture_code_never_imports_the_course_machinery(path):
    offending = [(module, line) for module, names, line in _imports(path)
                 if module.startswith("lecturekit.course")
                 or (module == "lecturekit" and "course" in names)]
    assert not offending, f"{path.relative_to(PACKAGE)} imports lecturekit.course at {offending}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_imported_from_another_module(path):
    private = [(module, name, line) for module, names, line in _imports(path) if module.startswith("lecturekit")
               for name in names if name.startswith("_") and not name.startswith("__")]
    assert not private, f"{path.relative_to(PACKAGE)} imports private names {private}; make them public and documented"


def test_importing_lecturekit_imports_nothing_else():
    code = ("import sys; before = set(sys.modules); import lecturekit; "
            "print(sorted(m for m in set(sys.modules) - before if not m.startswith('lecturekit')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing lecturekit also imported {out.strip()}"
