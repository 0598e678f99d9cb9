"""Benchmark: GIMBAL's Gibbs sampler on the virtual rodent (lecture: "Structured priors improve
3D pose estimates").

On datasets.load("multiview") (1000 frames, 6 cameras, 13 keypoints) through the detector-error
model at 0%, 10% and 20% outliers (2% left/right swaps when outliers are on, occluded parts missing
half of the time), with GIMBAL's prior fitted on datasets.load("mocap"):

* MPE (mm) raw / after rigid Procrustes (RPA) of GIMBAL's posterior mean vs our DLT, our robust
  methods (median of pairs, RANSAC, Model 1) and aniposelib's ``triangulate_optim``;
* 90% credible-interval coverage of the true positions;
* Gibbs sweeps per second at 1000 frames.

aniposelib lives in a separate venv (bench/.venv-anipose, see bench/bench_triangulation.py); it
runs per point in Python (about 10 s per 60 frames here), so its column is computed on the first
--anipose-frames frames, and every method is also reported on that subset. Without the venv the
column is skipped with a message.

    .venv/bin/python bench/bench_gimbal.py [--frames 1000] [--sweeps 150] [--burn-in 50] [--anipose-frames 60]
    .venv/bin/python bench/bench_gimbal.py --sweeps-only [--frames 1000] [--sweeps 30] [--repeats 5]

Results: bench/results/gimbal.json and gimbal.txt (date, machine, load average); --sweeps-only
measures only Gibbs sweeps per second (20% outliers, median of --repeats runs, wall-clock and per
CPU-second of this process) and writes bench/results/gimbal_sweeps.json and gimbal_sweeps.txt.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from lecturekit import datasets, metrics, synth, triangulation  # noqa: E402
from lecturekit.gimbal import GimbalSampler, diagnostics, fit_gimbal, fit_observation_model  # noqa: E402
from lecturekit.triangulation import bayes3d  # noqa: E402

ANIPOSE_PYTHON = ROOT / "bench" / ".venv-anipose" / "bin" / "python"
_ANIPOSE_SCRIPT = r"""
import sys, warnings
import numpy as np
sys.path.insert(0, sys.argv[1])
from aniposelib.cameras import Camera as AniposeCamera, CameraGroup
from lecturekit import geometry, synth
cams = synth.default_rig()
group = CameraGroup([AniposeCamera(matrix=c.K, dist=np.array([c.k1, 0, 0, 0, 0]), size=c.image_size,
                                   rvec=geometry.matrix_to_rodrigues(c.R), tvec=c.t, name=c.name) for c in cams])
constraints = [[int(a), int(b)] for a, b in synth.rodent_skeleton().edges]
data = np.load(sys.argv[2])
out = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for key in data.files:
        out[key] = group.triangulate_optim(data[key], constraints=constraints)
np.savez(sys.argv[3], **out)
"""


def detections(multiview, n_frames, rate, skeleton):
    return synth.corrupt_detections(multiview["keypoints2d"][:, :n_frames], multiview["visible"][:, :n_frames],
                                    skeleton=skeleton, seed=0, jitter_px=2.0, outlier_rate=rate,
                                    swap_rate=0.02 if rate else 0.0, occlusion_miss_rate=0.5)


def fit_prior(mocap, cameras, skeleton, rate, n_states=4, seed=0):
    """GIMBAL's prior from the training motion; noise and outlier rate from training detections."""
    train = mocap["positions"][:600]
    clean = np.stack([cam.project(train) for cam in cameras])
    visible = synth.keypoint_visibility(train, cameras, skeleton)
    det = synth.corrupt_detections(clean, visible, skeleton=skeleton, seed=11, jitter_px=2.0, outlier_rate=rate,
                                   swap_rate=0.02 if rate else 0.0, occlusion_miss_rate=0.5)
    obs_std, outlier_std, beta = fit_observation_model(det.points2d - clean)
    params, _ = fit_gimbal(mocap["positions"], skeleton.parents, n_states, np.random.default_rng(seed),
                           heading=mocap["heading"], obs_std=obs_std, outlier_std=outlier_std,
                           outlier_prob=np.clip(beta, 0.01, 0.5))
    return params


def run_anipose(subsets: dict) -> tuple[dict | None, str]:
    if not ANIPOSE_PYTHON.exists():
        return None, f"aniposelib column skipped: {ANIPOSE_PYTHON} not found (see bench/bench_triangulation.py)"
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **subsets)
        start = time.perf_counter()
        proc = subprocess.run([str(ANIPOSE_PYTHON), "-c", _ANIPOSE_SCRIPT, str(ROOT), str(src), str(dst)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            return None, f"aniposelib column skipped: it failed ({proc.stderr.strip().splitlines()[-1:]})"
        with np.load(dst) as data:
            seconds = time.perf_counter() - start
            return {k: data[k] for k in data.files}, f"aniposelib triangulate_optim: {seconds:.0f} s"


def sweeps_only(args) -> None:
    """Sweeps per second at args.frames frames (20% outliers), median of args.repeats runs."""
    cameras, skeleton = synth.default_rig(), synth.rodent_skeleton()
    mocap, multiview = datasets.load("mocap"), datasets.load("multiview")
    y = detections(multiview, args.frames, 0.2, skeleton).points2d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start_positions = triangulation.triangulate_ransac(cameras, y, threshold=15.0)
    sampler = GimbalSampler(fit_prior(mocap, cameras, skeleton, 0.2), cameras, y)
    rng = np.random.default_rng(0)
    state = sampler.initial_state(start_positions, rng)
    state, _ = sampler.run(state, 3, rng, progress=False)                # warm-up
    wall, cpu = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        state, _ = sampler.run(state, args.sweeps, rng, progress=False, keep=())
        wall.append(args.sweeps / (time.perf_counter() - start))
        cpu.append(args.sweeps / (time.process_time() - cpu_start))
    lines = [f"# GIMBAL sweeps/s {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
             f"machine: {platform.node() or 'vm'} {platform.machine()} {os.cpu_count()} CPUs; load average at the end "
             f"{os.getloadavg()[0]:.1f} (shared machine)",
             f"data: multiview, {args.frames} frames x {skeleton.K} keypoints x {len(cameras)} cameras, 20% outliers; "
             f"{args.repeats} runs of {args.sweeps} sweeps",
             f"sweeps per second: median {np.median(wall):.1f} wall-clock "
             f"(runs {', '.join(f'{v:.1f}' for v in wall)}); "
             f"median {np.median(cpu):.1f} per CPU-second (runs {', '.join(f'{v:.1f}' for v in cpu)}); goal >= 20"]
    text = "\n".join(lines)
    print(text)
    if not args.no_save:
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "gimbal_sweeps.txt").write_text(text + "\n")
        (out_dir / "gimbal_sweeps.json").write_text(json.dumps(
            {"date": lines[0].split()[-1], "machine": lines[1], "args": vars(args), "sweeps_per_s": wall,
             "sweeps_per_cpu_s": cpu, "median_sweeps_per_s": float(np.median(wall)),
             "median_sweeps_per_cpu_s": float(np.median(cpu))}, indent=1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--sweeps", type=int, default=None, help="default 150 (30 per run with --sweeps-only)")
    ap.add_argument("--burn-in", type=int, default=50)
    ap.add_argument("--anipose-frames", type=int, default=60)
    ap.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.1, 0.2])
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--sweeps-only", action="store_true", help="only time Gibbs sweeps (no accuracy table)")
    ap.add_argument("--repeats", type=int, default=5, help="timing runs for --sweeps-only (median reported)")
    args = ap.parse_args(argv)
    if args.sweeps is None:
        args.sweeps = 30 if args.sweeps_only else 150
    if args.sweeps_only:
        return sweeps_only(args)

    cameras, skeleton = synth.default_rig(), synth.rodent_skeleton()
    mocap, multiview = datasets.load("mocap"), datasets.load("multiview")
    T, Ta = args.frames, min(args.anipose_frames, args.frames)
    truth = multiview["positions"][:T]
    results, subsets, speed, cpu_speed = {}, {}, [], []
    for rate in args.rates:
        d = detections(multiview, T, rate, skeleton)
        y = d.points2d
        subsets[f"rate{int(rate * 100)}"] = y[:, :Ta]
        row = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimates = {
                "DLT": triangulation.triangulate_dlt(cameras, y),
                "median of pairs": triangulation.triangulate_median(cameras, y),
                "RANSAC": triangulation.triangulate_ransac(cameras, y, threshold=15.0),
                "Model 1": bayes3d.fit_model1(cameras, y).positions,
            }
        params = fit_prior(mocap, cameras, skeleton, rate)
        sampler = GimbalSampler(params, cameras, y)
        rng = np.random.default_rng(0)
        state = sampler.initial_state(estimates["RANSAC"], rng)
        start, cpu_start = time.perf_counter(), time.process_time()
        state, out = sampler.run(state, args.sweeps, rng, burn_in=args.burn_in, progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        speed.append(args.sweeps / seconds)
        cpu_speed.append(args.sweeps / cpu_seconds)
        samples = out["positions"].astype(float)
        estimates["GIMBAL"] = samples.mean(0)
        for name, x in estimates.items():
            row[name] = {"raw": metrics.mpe(x, truth), "rpa": metrics.mpe(x, truth, procrustes=True),
                         "raw_subset": metrics.mpe(x[:Ta], truth[:Ta]),
                         "rpa_subset": metrics.mpe(x[:Ta], truth[:Ta], procrustes=True)}
        row["GIMBAL"]["coverage90"] = diagnostics.interval_coverage(samples, truth, 0.9)
        row["GIMBAL"]["accept_rate"] = float(out["accept_rate"].mean())
        row["GIMBAL"]["sweeps_per_s"] = args.sweeps / seconds
        row["GIMBAL"]["sweeps_per_cpu_s"] = args.sweeps / cpu_seconds
        obs = np.isfinite(y[..., 0])
        row["realised_outlier_fraction"] = float((d.is_outlier | d.is_swapped)[obs].mean())
        results[f"{int(rate * 100)}%"] = row
        print(f"  {int(rate * 100)}% outliers done: GIMBAL {row['GIMBAL']['raw']:.2f} mm, "
              f"{args.sweeps / seconds:.1f} sweeps/s", flush=True)

    anipose, note = run_anipose(subsets)
    if anipose is not None:
        for rate in args.rates:
            key = f"{int(rate * 100)}%"
            x = anipose[f"rate{int(rate * 100)}"]
            results[key]["aniposelib triangulate_optim"] = {
                "raw_subset": metrics.mpe(x, truth[:Ta]), "rpa_subset": metrics.mpe(x, truth[:Ta], procrustes=True)}

    keys = [f"{int(r * 100)}%" for r in args.rates]
    lines = [f"# GIMBAL benchmark {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
             f"machine: {platform.node() or 'vm'} {platform.machine()} {os.cpu_count()} CPUs, {platform.platform()}; "
             f"load average at the end {os.getloadavg()[0]:.1f} (shared machine)",
             f"data: multiview, {T} frames x {skeleton.K} keypoints x {len(cameras)} cameras; "
             f"GIMBAL {args.sweeps} sweeps "
             f"({args.burn_in} burn-in), S = 4 states, 1 chain",
             "realised outlier + swap fraction: "
             + ", ".join(f"{results[k]['realised_outlier_fraction']:.3f}" for k in keys),
             f"## MPE (mm) raw / RPA, all {T} frames",
             f"{'method':<30}" + "".join(f"{k + ' raw':>10}{'RPA':>7}" for k in keys)]
    methods = ["DLT", "median of pairs", "RANSAC", "Model 1", "GIMBAL"]
    for m in methods:
        lines.append(f"{m:<30}" + "".join(f"{results[k][m]['raw']:>10.2f}{results[k][m]['rpa']:>7.2f}" for k in keys))
    lines.append(f"## MPE (mm) raw / RPA, first {Ta} frames (the subset aniposelib ran on)")
    for m in methods + (["aniposelib triangulate_optim"] if anipose is not None else []):
        lines.append(f"{m:<30}" + "".join(f"{results[k][m]['raw_subset']:>10.2f}{results[k][m]['rpa_subset']:>7.2f}"
                                          for k in keys))
    lines.append(note)
    lines.append("GIMBAL 90% interval coverage: "
                 + ", ".join(f"{k} {results[k]['GIMBAL']['coverage90']:.3f}" for k in keys))
    lines.append("GIMBAL position-move acceptance: "
                 + ", ".join(f"{k} {results[k]['GIMBAL']['accept_rate']:.2f}" for k in keys))
    lines.append(f"Gibbs sweeps per second at {T} frames: " + ", ".join(f"{s:.1f}" for s in speed)
                 + f" wall-clock; {', '.join(f'{s:.1f}' for s in cpu_speed)} per CPU-second of this process "
                 f"(goal >= 20 on an idle 2-core machine)")
    k20 = "20%" if "20%" in results else keys[-1]
    g = results[k20]["GIMBAL"]["raw"]
    others = {m: results[k20][m]["raw"] for m in methods if m != "GIMBAL"}
    lines.append(f"{k20} outliers: GIMBAL {g:.2f} mm = {g / others['DLT']:.2f} x DLT (goal <= 0.5); best other "
                 f"{min(others, key=others.get)} {min(others.values()):.2f} mm (goal: GIMBAL below every other method: "
                 f"{'yes' if g < min(others.values()) else 'NO'})")
    text = "\n".join(lines)
    print(text)
    if not args.no_save:
        out_dir = ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "gimbal.txt").write_text(text + "\n")
        (out_dir / "gimbal.json").write_text(json.dumps({"date": lines[0][19:], "machine": lines[1], "args": vars(args),
                                                         "results": results, "sweeps_per_s": speed,
                                                         "sweeps_per_cpu_s": cpu_speed}, indent=1))


if __name__ == "__main__":
    main()
