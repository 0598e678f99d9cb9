"""Benchmark: build the course datasets from nothing, load them from the cache, size the repo's data.

Every dataset of ``datasets.names()`` is built, the end-to-end lecture's rendered six-camera
``rig_video`` and ``rig_labels`` included.

Budgets (DESIGN.md, the virtual rodent): build <= 60 s on 2 cores, load <= 2 s, data/ in git
<= 30 MB. The peer measured in the same run is the load time (cache hit) against the build
time (cache miss). Writes bench/results/datasets.json.

    .venv/bin/python bench/bench_datasets.py
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"build_s": 60.0, "load_s": 2.0, "repo_data_mb": 30.0}


def repo_data_bytes() -> int:
    """Bytes of the files git tracks under data/ (``git ls-files data | xargs du -cb``)."""
    files = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return sum((ROOT / f).stat().st_size for f in files if (ROOT / f).is_file())


def disk_data_bytes() -> int:
    """Bytes of every file under data/ on disk (tracked or not yet committed)."""
    return sum(p.stat().st_size for p in (ROOT / "data").rglob("*") if p.is_file())


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lecturekit-bench-") as cache:
        os.environ["LECTUREKIT_CACHE"] = cache
        from lecturekit import datasets

        start = time.perf_counter()
        per_dataset = {}
        for name in datasets.names():
            t0 = time.perf_counter()
            datasets.build(name, rebuild=True)
            per_dataset[name] = {"build_s": time.perf_counter() - t0,
                                 "cache_mb": datasets.cache_path(name).stat().st_size / 1e6}
        build_s = time.perf_counter() - start

        start = time.perf_counter()
        for name in datasets.names():
            t0 = time.perf_counter()
            arrays = datasets.load(name)
            per_dataset[name]["load_s"] = time.perf_counter() - t0
            per_dataset[name]["arrays"] = {k: list(v.shape) for k, v in arrays.items()}
        load_s = time.perf_counter() - start

    tracked_mb, disk_mb = repo_data_bytes() / 1e6, disk_data_bytes() / 1e6
    data_mb = max(tracked_mb, disk_mb)   # budget the larger: new files count before their commit
    print(f"data/: {tracked_mb:.4f} MB tracked by git, {disk_mb:.4f} MB on disk")
    print(f"{'dataset':11s} {'build s':>8s} {'load s':>8s} {'cache MB':>9s}")
    for name, row in per_dataset.items():
        print(f"{name:11s} {row['build_s']:8.2f} {row['load_s']:8.3f} {row['cache_mb']:9.1f}")
    rows = [("build all (cache miss)", build_s, BUDGET["build_s"], "s"),
            ("load all (cache hit)", load_s, BUDGET["load_s"], "s"),
            ("repository data/", data_mb, BUDGET["repo_data_mb"], "MB")]
    for label, value, budget, unit in rows:
        verdict = "OK" if value <= budget else "OVER BUDGET"
        print(f"{label:24s} {value:8.3f} {unit:2s} budget {budget:5.1f} {unit:2s} "
              f"({value / budget:6.1%} of budget) {verdict}")
    print(f"build / load ratio: {build_s / load_s:.0f}x")

    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
        "build_s": build_s, "load_s": load_s, "repo_data_mb": data_mb,
        "repo_data_tracked_mb": tracked_mb, "repo_data_disk_mb": disk_mb, "budget": BUDGET,
        "datasets": per_dataset,
        "within_budget": build_s <= BUDGET["build_s"] and load_s <= BUDGET["load_s"]
        and data_mb <= BUDGET["repo_data_mb"],
    }
    out = ROOT / "bench" / "results" / "datasets.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
