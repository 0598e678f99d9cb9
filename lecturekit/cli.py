"""The ``lecturekit`` command: one verb per course task.

    lecturekit release  [PART ...]   annotate solutions/ and write notebooks/ (nbgrader)
    lecturekit execute  [PART ...]   run solution notebooks in place, storing their outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import release as release_mod


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

    for register in _extensions():
        register(sub)
    return parser


def _extensions():
    """Verbs defined next to the code they drive (grading, datasets)."""
    registers = []
    for module in ("lecturekit.grading_cli", "lecturekit.datasets_cli"):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
            continue
        registers.append(mod.register)
    return registers


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except release_mod.ReleaseError as error:
        print(f"lecturekit {args.verb}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
