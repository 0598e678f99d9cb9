"""Benchmark: lecturekit.triangulation / lecturekit.triangulation.bayes3d side by side with aniposelib 0.8.

What it measures (one run, same data, same machine):

1. DLT throughput on 100,000 points seen by 6 and by 4 cameras of the course rig (two with k1
   distortion): our vectorised, Hartley-normalised DLT vs aniposelib's ``CameraGroup.triangulate``
   (jax-vmapped SVD, unnormalised world coordinates). Results are compared on noise-free data
   (both exact) and on 2 px noise (the two algebraic errors weight cameras differently, so they
   differ slightly; solving aniposelib's own unnormalised system with our code reproduces its
   output to rounding, the last column); time ratio = aniposelib (warm, compiled) / ours, best of 7 interleaved calls.
2. Accuracy on the virtual rodent (``datasets.load("multiview")``, detector-error model with
   0 %, 10 % and 20 % outliers): MPE raw and after rigid Procrustes of our DLT, median of pairs,
   RANSAC, RANSAC + robust Gauss-Newton, Model 0 and Model 1 vs aniposelib's ``triangulate``,
   ``triangulate_ransac`` and ``triangulate_optim`` (with the skeleton's bones as length
   constraints). aniposelib's RANSAC and optimiser run per point in Python, so this part uses
   the first ``--frames`` frames (default 60).
3. Our DLT's error on clean data (Gaussian jitter only) against the Cramér-Rao bound
   ``sigma^2 tr (J^T J)^{-1}`` of the rig, all 1000 frames.

Set-up of the aniposelib environment (benchmark only; it pulls opencv-contrib-python, jax, numba):

    python3 -m venv bench/.venv-anipose
    bench/.venv-anipose/bin/pip install aniposelib==0.8.0 h5py

Run (from the repository root; lecturekit is imported from the checkout by sys.path):

    bench/.venv-anipose/bin/python bench/bench_triangulation.py          # full comparison
    .venv/bin/python bench/bench_triangulation.py                        # ours only (aniposelib skipped)

Results: printed tables, and bench/results/triangulation.json + triangulation.txt (date, machine).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from lecturekit import datasets, geometry, metrics, synth, triangulation  # noqa: E402
from lecturekit.triangulation import bayes3d

try:
    import aniposelib
    from aniposelib.cameras import Camera as AniposeCamera
    from aniposelib.cameras import CameraGroup

    ANIPOSE = f"aniposelib {aniposelib.__version__}" if hasattr(aniposelib, "__version__") else "aniposelib"
except ImportError as error:  # pragma: no cover - depends on the environment
    ANIPOSE = None
    ANIPOSE_ERROR = str(error)

SIGMA_PX = 2.0


def anipose_group(cameras):
    """aniposelib CameraGroup with the same K, k1, R (Rodrigues), t as our cameras."""
    return CameraGroup([AniposeCamera(matrix=cam.K, dist=np.array([cam.k1, 0, 0, 0, 0]), size=cam.image_size,
                                      rvec=geometry.matrix_to_rodrigues(cam.R), tvec=cam.t, name=cam.name)
                        for cam in cameras])


def best_of(fns, repeat=7):
    """Best wall time of each function, calls interleaved so both see the same machine load."""
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - start)
    return [min(t) for t in times], outs


def throughput(n_points: int, lines: list[str], record: dict) -> None:
    rng = np.random.default_rng(0)
    rig = synth.default_rig()
    x = rng.uniform([-250, -250, 0], [250, 250, 150], (n_points, 3))
    lines.append(f"## DLT throughput, {n_points:,} points")
    lines.append(f"{'cameras':>8} {'ours s':>8} {'aniposelib s':>13} {'(cold)':>8} {'ratio':>7} "
                 f"{'max |diff| exact':>17} {'max |diff| 2px':>15} {'median 2px':>11} {'same system 2px':>16}")
    for C in (6, 4):
        cams = rig[:C]
        exact = geometry.project(cams, x)
        noisy = exact + rng.normal(0, SIGMA_PX, exact.shape)
        triangulation.triangulate_dlt(cams, noisy[:, :1000])  # warm caches
        ours_fn = lambda: triangulation.triangulate_dlt(cams, noisy)  # noqa: E731
        ours_exact = triangulation.triangulate_dlt(cams, exact)
        row = {"cameras": C, "ours_exact_max_err_mm": float(np.abs(ours_exact - x).max())}
        if ANIPOSE:
            group = anipose_group(cams)
            start = time.perf_counter()
            group.triangulate(noisy)  # first call compiles the jax function
            t_cold = time.perf_counter() - start
            (t_ours, t_ani), (ours, theirs) = best_of([ours_fn, lambda: group.triangulate(noisy)])
            row["ours_s"] = t_ours
            theirs_exact = group.triangulate(exact)
            diff_exact = float(np.abs(theirs_exact - ours_exact).max())
            diff = np.linalg.norm(theirs - ours, axis=-1)
            # aniposelib's own system (K^-1 pixels, world in mm, no normalisation) solved by our code:
            # equal up to rounding, so the 2 px differences above come from the normalisation alone
            ideal = [geometry.Camera(np.eye(3), cam.R, cam.t) for cam in cams]
            undistorted = triangulation.undistort(cams, noisy)
            normalised = np.stack([(p - cam.K[:2, 2]) / cam.K[0, 0] for cam, p in zip(cams, undistorted)])
            same = triangulation.triangulate_dlt(ideal, normalised, normalize=False, solver="svd")
            diff_same = float(np.abs(same - theirs).max())
            row.update(aniposelib_s=t_ani, aniposelib_cold_s=t_cold, ratio=t_ani / t_ours, max_diff_exact_mm=diff_exact,
                       max_diff_noisy_mm=float(diff.max()), median_diff_noisy_mm=float(np.median(diff)),
                       max_diff_same_system_noisy_mm=diff_same)
            lines.append(f"{C:>8} {t_ours:8.3f} {t_ani:13.3f} {t_cold:8.2f} {t_ani / t_ours:6.1f}x "
                         f"{diff_exact:17.1e} {diff.max():15.3f} {np.median(diff):11.4f} {diff_same:16.1e}")
        else:
            (t_ours,), (ours,) = best_of([ours_fn])
            row["ours_s"] = t_ours
            lines.append(f"{C:>8} {t_ours:8.3f} {'-':>13} {'-':>8} {'-':>7} (exact max err {row['ours_exact_max_err_mm']:.1e})")
        record.setdefault("throughput", []).append(row)


def detections(rate: float, seed: int = 1):
    ds = datasets.load("multiview")
    d = synth.corrupt_detections(ds["keypoints2d"], ds["visible"], skeleton=synth.rodent_skeleton(), seed=seed,
                                 jitter_px=SIGMA_PX, outlier_rate=rate, swap_rate=0.02 if rate else 0.0,
                                 occlusion_miss_rate=1.0)
    return ds["positions"], d


def cramer_rao(lines: list[str], record: dict) -> None:
    cams = synth.default_rig()
    x, d = detections(0.0)
    observed = np.isfinite(d.points2d[..., 0])
    bound = triangulation.cramer_rao_bound(cams, x, SIGMA_PX, observed=observed)
    ok = np.isfinite(bound[..., 0, 0])
    est = triangulation.triangulate_dlt(cams, d.points2d)
    gn = triangulation.refine_gauss_newton(cams, d.points2d, est)
    rmse = float(np.sqrt(np.mean(np.sum((est - x) ** 2, axis=-1)[ok])))
    rmse_gn = float(np.sqrt(np.mean(np.sum((gn - x) ** 2, axis=-1)[ok])))
    crb = float(np.sqrt(np.mean(np.trace(bound[ok], axis1=-2, axis2=-1))))
    lines.append("## Clean data (2 px jitter, occluded = missing) vs the Cramér-Rao bound, 1000 frames x 13 keypoints")
    lines.append(f"RMSE DLT {rmse:.3f} mm, Gauss-Newton {rmse_gn:.3f} mm, CRB sqrt(mean tr) {crb:.3f} mm; "
                 f"DLT / CRB = {rmse / crb:.3f} (goal <= 1.10)")
    record["cramer_rao"] = {"rmse_dlt_mm": rmse, "rmse_gauss_newton_mm": rmse_gn, "crb_mm": crb, "ratio": rmse / crb}


def accuracy(n_frames: int, lines: list[str], record: dict) -> None:
    cams = synth.default_rig()
    sk = synth.rodent_skeleton()
    constraints = [[int(a), int(b)] for a, b in sk.edges]
    lines.append(f"## Accuracy on the virtual rodent, first {n_frames} frames x {sk.K} keypoints, 6 cameras")
    lines.append("MPE in mm, raw / after rigid Procrustes (RPA); time in s")
    header = f"{'method':<28}" + "".join(f"{f'{int(r * 100)}% raw':>10}{'RPA':>7}{'s':>7}" for r in (0.0, 0.1, 0.2))
    table: dict[str, list] = {}
    realised = []
    for rate in (0.0, 0.1, 0.2):
        x_all, d = detections(rate)
        x, y = x_all[:n_frames], d.points2d[:, :n_frames]
        obs = np.isfinite(y[..., 0])
        realised.append(float((d.is_outlier | d.is_swapped)[:, :n_frames][obs].mean()))
        ours = {
            "ours DLT": lambda: triangulation.triangulate_dlt(cams, y),
            "ours median of pairs": lambda: triangulation.triangulate_median(cams, y),
            "ours RANSAC": lambda: triangulation.triangulate_ransac(cams, y, threshold=10.0),
            "ours RANSAC + robust GN": lambda: triangulation.refine_gauss_newton(
                cams, y, triangulation.triangulate_ransac(cams, y, threshold=10.0), loss="cauchy", scale=5.0),
            "ours Model 0": lambda: bayes3d.fit_model0(cams, y, bayes3d.Model0Params(eta=4.0, omega=SIGMA_PX)),
            "ours Model 1": lambda: bayes3d.fit_model1(cams, y, bayes3d.Model1Params(eta=4.0, omega=SIGMA_PX)).positions,
        }
        if ANIPOSE:
            group = anipose_group(cams)
            flat = y.reshape(len(cams), -1, 2)
            ours.update({
                "aniposelib triangulate": lambda: group.triangulate(flat).reshape(x.shape),
                "aniposelib triangulate_ransac": lambda: group.triangulate_ransac(flat)[0].reshape(x.shape),
                "aniposelib triangulate_optim": lambda: group.triangulate_optim(y, constraints=constraints),
                "aniposelib optim, init_ransac": lambda: group.triangulate_optim(y, constraints=constraints,
                                                                                 init_ransac=True),
            })
        for name, fn in ours.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                est = fn()
                seconds = time.perf_counter() - start
            table.setdefault(name, []).append((metrics.mpe(est, x, missing="exclude"),
                                               metrics.mpe(est, x, procrustes=True, missing="exclude"), seconds,
                                               1.0 - metrics.coverage(est, x)))
    lines.append("realised outlier + swap fraction of observed detections: "
                 + ", ".join(f"{r:.3f}" for r in realised))
    lines.append(header)
    for name, rows in table.items():
        lines.append(f"{name:<28}" + "".join(f"{raw:10.2f}{rpa:7.2f}{sec:7.1f}" for raw, rpa, sec, _ in rows)
                     + ("  (NaN: " + ", ".join(f"{nan:.1%}" for *_, nan in rows) + ")" if any(r[3] for r in rows) else ""))
    record["accuracy"] = {"frames": n_frames, "realised_outlier_fraction": realised,
                          "mpe": {name: [{"raw": r[0], "rpa": r[1], "seconds": r[2], "nan_fraction": r[3]} for r in rows]
                                  for name, rows in table.items()}}
    if ANIPOSE:
        best = min((rows[2][0], name) for name, rows in table.items() if name.startswith("ours") and "DLT" not in name)
        optim = min((table[name][2][0], name) for name in table if "optim" in name)
        lines.append(f"20% outliers: best of ours ({best[1]}) {best[0]:.2f} mm vs best aniposelib optimiser "
                     f"({optim[1]}) {optim[0]:.2f} mm (goal: ours <= aniposelib)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points for the throughput test")
    parser.add_argument("--frames", type=int, default=60, help="frames for the accuracy table")
    parser.add_argument("--only", choices=("throughput", "cramer_rao", "accuracy"), action="append",
                        help="run only these parts (repeatable; default all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "triangulation"))
    args = parser.parse_args(argv)

    record = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} "
                         f"{os.cpu_count()} CPUs, {platform.platform()}".strip(),
              "python": platform.python_version(), "numpy": np.__version__, "peer": ANIPOSE}
    lines = [f"# Triangulation benchmark {record['date']}", f"machine: {record['machine']}",
             f"numpy {np.__version__}; peer: {ANIPOSE or 'aniposelib NOT importable'}"]
    if not ANIPOSE:
        lines.append(f"aniposelib comparisons skipped ({ANIPOSE_ERROR}); create bench/.venv-anipose as described "
                     "in this script's docstring and run it with that interpreter.")
    parts = {"throughput": lambda: throughput(args.points, lines, record),
             "cramer_rao": lambda: cramer_rao(lines, record),
             "accuracy": lambda: accuracy(args.frames, lines, record)}
    for name, part in parts.items():
        if args.only and name not in args.only:
            continue
        start = len(lines)
        part()
        print("\n".join(lines[start:]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2))
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print(f"\nwritten {out.with_suffix('.json')} and {out.with_suffix('.txt')}")


if __name__ == "__main__":
    main()
