"""Synthetic benchmark: heatmap CNNs on the virtual rodent, pretrained vs from scratch.

Data: ``datasets.load("frames")`` (400 frames 128x128, 13 keypoints). The first ``N_LABELLED``
(<= 100) frames are labelled for training; frames 300-399 (a later stretch of behaviour) are the
test set. Both models get the same budget of process CPU time for training (<= 60 s each,
``CPU_BUDGET_S``) and the same keypoint-aware augmentation (rotation, scale, shift, occlusion,
brightness; each labelled frame contributes ``N_AUG`` augmented copies):

* **pretrained**: ImageNet EfficientNet-Lite0 backbone frozen, its features (strides 4/8/16) cached once
  (caching counts in the CPU budget), only the deconvolution head trained (lr 1e-2, positive-weighted
  Bernoulli loss, pos_weight 10, Gaussian targets sigma 3 px of the upsampled frame);
* **scratch**: :class:`lecturekit.cnn.ScratchCNN` trained end to end.

Input frames are upsampled x2 (256 px) so the stride-4 heatmaps have 2-px cells in the original
frame. Metrics on visible test keypoints: RMSE (px), PCK at 5% and 10% of the body length
(nose to tail base, per frame), after argmax + quadratic subpixel decoding. Goal: PCK@5% >= 0.95.

Run: ``.venv/bin/python bench/bench_cnn_synthetic.py``; results -> ``bench/results/cnn_synthetic.json``.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "cnn_synthetic.json"

from lecturekit import augment, cnn, datasets, heatmaps, pretrained, synth  # noqa: E402

N_LABELLED = 100
N_AUG = 1
UPSAMPLE = 2
CPU_BUDGET_S = 60.0
SIGMA = 3.0  # target width, px of the upsampled input
POS_WEIGHT = 10.0  # weight of the positive (keypoint) term of the Bernoulli loss


def upsample(images: torch.Tensor) -> torch.Tensor:
    """Bilinear x UPSAMPLE with pixel centres kept consistent (p' = UPSAMPLE p + (UPSAMPLE - 1) / 2)."""
    return torch.nn.functional.interpolate(images, scale_factor=UPSAMPLE, mode="bilinear", align_corners=False)


def to_upsampled(points):
    return points * UPSAMPLE + (UPSAMPLE - 1) / 2.0


def from_upsampled(points):
    return (points - (UPSAMPLE - 1) / 2.0) / UPSAMPLE


def augmented_set(images, keypoints, visible, rng):
    """The labelled frames plus N_AUG augmented copies each."""
    xs, ks, vs = [images], [keypoints], [visible]
    config = augment.AugmentConfig(rotation_deg=30, scale_range=(0.85, 1.15), translate_frac=0.1,
                                   occlusion_prob=0.3, occlusion_frac=0.2)
    for _ in range(N_AUG):
        x, k, v = augment.augment_batch(images, keypoints, visible, rng, config)
        xs.append(x)
        ks.append(k)
        vs.append(v)
    return torch.cat(xs), np.concatenate(ks), np.concatenate(vs)


def evaluate(pred, truth, visible, body_length) -> dict:
    return {"rmse_px": round(heatmaps.rmse_px(pred, truth, visible), 3),
            "pck_5pct_body": round(heatmaps.pck(pred, truth, 0.05 * body_length, visible), 4),
            "pck_10pct_body": round(heatmaps.pck(pred, truth, 0.10 * body_length, visible), 4),
            "pck_3px": round(heatmaps.pck(pred, truth, 3.0, visible), 4)}


def main() -> int:
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    torch.set_num_threads(threads)
    ds = datasets.load("frames")
    sk = synth.rodent_skeleton()
    kp, vis = ds["keypoints2d"], ds["visible"]
    train, test = np.arange(N_LABELLED), np.arange(300, 400)
    body = np.linalg.norm(kp[:, sk.index("nose")] - kp[:, sk.index("tail_base")], axis=-1)
    images = upsample(pretrained.imagenet_normalize(ds["images"]))
    size = images.shape[-2:]
    rng = np.random.default_rng(0)
    x_train, k_train, v_train = augmented_set(images[train], to_upsampled(kp[train]), vis[train], rng)
    print(f"{N_LABELLED} labelled frames (+{N_AUG} augmented copies each), {len(test)} test frames; "
          f"mean body length {body[test].mean():.1f} px, so 5% = {0.05 * body[test].mean():.2f} px")
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.node()} {platform.machine()}", "torch_threads": threads,
               "n_labelled": N_LABELLED, "n_aug": N_AUG, "upsample": UPSAMPLE, "cpu_budget_s": CPU_BUDGET_S,
               "models": {}}

    # pretrained: cache the frozen backbone's features once, then train the head
    torch.manual_seed(0)
    model = cnn.pretrained_pose_net(sk.K, width=32)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    cached = cnn.cache_features(model.backbone, x_train)
    left = CPU_BUDGET_S - (time.process_time() - cpu0)
    losses = cnn.train_head_on_features(model.head, cached, k_train, v_train, size, epochs=60, lr=1e-2, sigma=SIGMA,
                                        pos_weight=POS_WEIGHT, desc="pretrained", max_cpu_seconds=left)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred, _, _ = cnn.predict_keypoints(model.head, cnn.cache_features(model.backbone, images[test]))
    r = evaluate(from_upsampled(pred), kp[test], vis[test], body[test])
    r.update(epochs=len(losses), train_cpu_s=round(cpu, 1), train_wall_s=round(wall, 1))
    results["models"]["pretrained EfficientNet-Lite0 (frozen, cached features)"] = r

    # scratch: same augmented frames, same CPU budget
    torch.manual_seed(0)
    scratch = cnn.ScratchCNN(sk.K, width=16)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    losses = cnn.train_heatmap_model(scratch, x_train, k_train, v_train, epochs=40, batch_size=8, lr=1e-2,
                                     sigma=SIGMA, pos_weight=POS_WEIGHT, desc="scratch", max_cpu_seconds=CPU_BUDGET_S)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred, _, _ = cnn.predict_keypoints(scratch, images[test])
    r = evaluate(from_upsampled(pred), kp[test], vis[test], body[test])
    r.update(epochs=len(losses), train_cpu_s=round(cpu, 1), train_wall_s=round(wall, 1))
    results["models"]["scratch CNN"] = r

    print(f"\n{'model':55s} {'RMSE px':>8s} {'PCK@5%':>7s} {'PCK@10%':>8s} {'PCK@3px':>8s} {'epochs':>6s} {'CPU s':>6s}")
    for name, r in results["models"].items():
        print(f"{name:55s} {r['rmse_px']:8.2f} {r['pck_5pct_body']:7.3f} {r['pck_10pct_body']:8.3f} "
              f"{r['pck_3px']:8.3f} {r['epochs']:6d} {r['train_cpu_s']:6.0f}")
    a, b = (results["models"][n]["rmse_px"] for n in results["models"])
    print(f"RMSE ratio scratch / pretrained = {b / a:.2f} (same labels, same CPU budget); goal PCK@5% >= 0.95")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
