"""The ``lecturekit data`` verb: build and list the course datasets (``lecturekit.datasets``).

    lecturekit data build [--rebuild]   build every dataset into the cache
    lecturekit data list                names, cache state, size and location
"""

from __future__ import annotations

import time


def _cmd_data(args) -> int:
    from . import datasets

    if args.action == "build":
        start = time.perf_counter()
        paths = datasets.build_all(rebuild=args.rebuild)
        for name, path in paths.items():
            print(f"{name:10s} {path.stat().st_size / 1e6:7.1f} MB  {path}")
        print(f"built in {time.perf_counter() - start:.1f} s (cache: {datasets.cache_dir()})")
        return 0
    print(f"cache: {datasets.cache_dir()}")
    for name in datasets.names():
        path = datasets.cache_path(name)
        key = datasets._cache_key(name)
        if not path.exists():
            state = "not built"
        elif datasets._read(path, key) is None:
            state = "stale (will rebuild)"
        else:
            state = f"cached, {path.stat().st_size / 1e6:.1f} MB"
        print(f"{name:10s} {state:24s} {datasets._SPECS[name].description}")
    return 0


def register(subparsers) -> None:
    """Add the ``data`` verb to the ``lecturekit`` command."""
    p = subparsers.add_parser("data", help="build or list the course datasets (the virtual rodent)")
    actions = p.add_subparsers(dest="action", required=True)
    b = actions.add_parser("build", help="build every dataset into the cache")
    b.add_argument("--rebuild", action="store_true", help="rebuild even when the cache is valid")
    actions.add_parser("list", help="list the datasets and their cache state")
    p.set_defaults(func=_cmd_data)
