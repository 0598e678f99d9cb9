"""Benchmark of lecture part 6: the whole pipeline on the virtual rodent, the issue's goals.

Data: ``datasets.load("rig_video")`` (120 held-out frames, rearing, grooming, locomotion, pausing,
rendered by the six cameras of the rig at 160 x 120 px) and ``datasets.load("rig_labels")`` (180
labelled images of another seed). Steps, as the notebook ``06_end_to_end`` runs them:

1. the part-3 top-down detector (``end_to_end.train_rig_detector``, seed 0, part 3's training settings
   in ``end_to_end.RIG_DETECTOR_CONFIG``: two augmented copies per labelled image, 60 head and 30
   centroid epochs; one torch thread as in the notebook) run on every camera and frame with part
   3's flip averaging (``end_to_end.detect_keypoints``);
2. DLT, RANSAC, Model 1 and GIMBAL (``gimbal.reconstruct_3d``: prior fitted on the course's
   motion-capture set, ``N_CHAINS`` chains of ``N_SWEEPS`` sweeps, confidences as outlier priors) on
   the CNN's detections, and the same methods on the detector-error-model detections of the same
   frames (part 5's model at its defaults, its 2 px jitter at 640 x 480 expressed in the video's
   pixels: 0.5 px);
3. the stage table (MPE raw / Procrustes) and the goals: GIMBAL on CNN detections <= 0.5 x DLT on
   the same detections, and <= 2 x GIMBAL on the error model's detections.

Nothing is tuned on these frames' ground truth: the detector's settings are part 3's, the RANSAC
threshold is the course default (20 px at 640 px) scaled to the video's width, and the chains'
length was set from R-hat (no ground truth) and the notebook's time budget: with 4 chains, the
largest R-hat hardly fell beyond 200 sweeps in a 300-sweep trial run.
Run: ``.venv/bin/python bench/bench_end_to_end.py``; writes ``bench/results/end_to_end.json``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
N_CHAINS, N_SWEEPS, BURN_IN = 4, 200, 100   # as the notebook (not its grading mode)


def main() -> int:
    from lecturekit import datasets, end_to_end, synth, triangulation
    from lecturekit.gimbal import reconstruct_3d

    torch.set_num_threads(1)     # as the notebook: two threads wait on each other on a shared 2-core machine
    timings = {}
    t0 = time.perf_counter()
    video, labels, mocap = datasets.load("rig_video"), datasets.load("rig_labels"), datasets.load("mocap")
    skeleton = synth.rodent_skeleton()
    cameras = end_to_end.rig_at_size(synth.default_rig(), datasets.RIG_VIDEO_SIZE)
    scale = datasets.RIG_VIDEO_SIZE[0] / 640
    timings["load_s"] = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    model = end_to_end.train_rig_detector(labels["images"], labels["keypoints2d"], labels["visible"], skeleton.names,
                                          seed=SEED, max_cpu_seconds=None, progress=False)
    timings["train_s"], timings["train_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    points, confidence = end_to_end.detect_keypoints(model, video["images"], progress=False)
    timings["detect_s"], timings["detect_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0

    truth, truth2d, visible = video["positions"], video["keypoints2d"], video["visible"]
    table2d = end_to_end.keypoint_error_table(points, truth2d, visible, threshold_px=2.0)
    det = synth.corrupt_detections(truth2d, visible, skeleton=skeleton, seed=SEED, jitter_px=2.0 * scale,
                                   image_size=datasets.RIG_VIDEO_SIZE)
    columns, recs = {}, {}
    for name, y, conf in (("CNN detections", points, confidence), ("error model", det.points2d, None)):
        t0 = time.perf_counter()
        rec = reconstruct_3d(cameras, y, skeleton.parents, confidences=conf, training_positions=mocap["positions"],
                             n_chains=N_CHAINS, n_sweeps=N_SWEEPS, burn_in=BURN_IN, seed=SEED,
                             ransac_threshold=20.0 * scale, progress=False)
        timings[f"3d_{name}_s"] = time.perf_counter() - t0
        recs[name] = rec
        columns[name] = end_to_end.stage_table({"DLT": triangulation.triangulate_dlt(cameras, y),
                                                "RANSAC": rec.ransac, "Model 1": rec.model1, "GIMBAL": rec.mean},
                                               truth)
    print(end_to_end.format_keypoint_error_table(table2d, [c.name for c in cameras], 2.0))
    print(end_to_end.format_stage_table(columns))
    cnn, em = columns["CNN detections"], columns["error model"]
    lines = end_to_end.goal_lines(cnn["GIMBAL"][0], cnn["DLT"][0], em["GIMBAL"][0])
    print("\n".join(lines))
    swaps = end_to_end.left_right_swaps(points, truth2d, model.mirror, min_error_px=2.0)
    swaps_model = end_to_end.left_right_swaps(det.points2d, truth2d, model.mirror, min_error_px=2.0)
    paired = model.mirror != np.arange(len(model.mirror))
    lag1 = {"CNN": end_to_end.lag1_error_correlation(points, truth2d),
            "error model": end_to_end.lag1_error_correlation(det.points2d, truth2d)}
    print(f"left/right swaps (paired keypoints, > 2 px off): CNN {swaps[..., paired].mean():.1%}, "
          f"error model {swaps_model[..., paired].mean():.1%}; "
          f"lag-1 error correlation: CNN {lag1['CNN']:.2f}, error model {lag1['error model']:.2f}")
    print("R-hat: " + "; ".join(f"{k} max {r.rhat_max:.2f}, {np.mean(r.rhat > 1.1):.1%} above 1.1" for k, r in recs.items()))
    print("timings:", ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    r_dlt, r_model = end_to_end.goal_ratios(cnn["GIMBAL"][0], cnn["DLT"][0], em["GIMBAL"][0])
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "load_average": os.getloadavg()},
        "settings": {"seed": SEED, "torch_threads": 1, "n_chains": N_CHAINS, "n_sweeps": N_SWEEPS,
                     "burn_in": BURN_IN, "detector_epochs": model.epochs},
        "keypoints_2d": {k: np.asarray(v).tolist() for k, v in table2d.items()},
        "stage_table_mm": {col: {m: list(v) for m, v in rows.items()} for col, rows in columns.items()},
        "goals": {"gimbal_over_dlt": r_dlt, "gimbal_over_dlt_goal": end_to_end.evaluate.GOAL_VS_DLT,
                  "gimbal_cnn_over_error_model": r_model,
                  "gimbal_cnn_over_error_model_goal": end_to_end.evaluate.GOAL_VS_ERROR_MODEL, "lines": lines},
        "swap_fraction_paired": {"CNN": float(swaps[..., paired].mean()),
                                 "error model": float(swaps_model[..., paired].mean())}, "lag1_error_correlation": lag1,
        "rhat_max": {k: r.rhat_max for k, r in recs.items()},
        "rhat_fraction_above_1_1": {k: float(np.mean(r.rhat > 1.1)) for k, r in recs.items()},
        "timings_s": timings,
    }
    out = ROOT / "bench" / "results" / "end_to_end.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
