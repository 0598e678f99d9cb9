"""Synthetic benchmark: heatmap CNNs on the virtual rodent, pretrained vs from scratch, whole frame
vs top-down.

Data: ``datasets.load("frames")`` (400 frames 128x128, 13 keypoints, a rodent about 29 px long).
The first ``N_LABELLED`` (<= 100) frames are labelled for training; frames 300-399 (a later stretch
of behaviour) are the test set. Every model gets the same budget of process CPU time for training
(<= 60 s, ``CPU_BUDGET_S``, feature caching and stage 1 included):

* **top-down, pretrained** (:mod:`lecturekit.cnn.topdown`): stage 1 finds the animal: one centroid
  heatmap from the frozen ImageNet EfficientNet-Lite0 features of the whole frame (head only);
  stage 2 crops a ``CROP_FRAME_PX`` window around that centre, zoomed x``ZOOM``, and a head on
  the frozen features of the crop predicts the 13 heatmaps. Training crops are centred on the
  labelled centre with random rotation, scale, shift (stage 1 is never exact), occlusion,
  brightness and left-right mirroring (left and right labels swap); each labelled frame gives
  1 + ``N_AUG`` crops. At test time the heatmaps of each crop are averaged with those of its
  mirror image (flip test-time augmentation). Occluded keypoints are labelled too
  (``LABEL_OCCLUDED``); a second run on the same crops with visible labels only shows what that adds.
* **top-down, scratch**: the same stage 1 and the same crops, with stage 2 a
  :class:`lecturekit.cnn.ScratchCNN` trained end to end.
* **whole frame, pretrained**: the previous single-stage model (frozen features of the 2x
  upsampled frame, head only, visible labels, no mirroring), for comparison.

Loss: positive-weighted Bernoulli (pos_weight 10), Gaussian targets. Metrics on visible test
keypoints, after argmax + quadratic subpixel decoding: RMSE (px), PCK at 5% and 10% of the body
length (nose to tail base, per frame) and at 3 px, overall and per keypoint. Goal: PCK@5% >= 0.95.

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

from lecturekit import cnn, datasets, metrics, synth  # noqa: E402
from lecturekit.cnn import augment, pretrained, topdown  # noqa: E402

N_LABELLED = 100
MAIN = "top-down, pretrained EfficientNet-Lite0 (frozen)"
CPU_BUDGET_S = 60.0
POS_WEIGHT = 10.0  # weight of the positive (keypoint) term of the Bernoulli loss
CROP_FRAME_PX = 64  # side of the stage-2 window, frame px (the rodent spans about 40 px)
ZOOM = 3  # crop px per frame px: 192-px crops, stride-4 heatmap cells of 1.33 frame px
N_AUG = 2  # augmented crops per labelled frame, besides the centred one
SIGMA_CROP = 3.0  # target width, crop px (1 frame px)
FLIP_PROB = 0.5  # augmented crops mirrored left-right, labels swapping sides (augment.random_flips)
LABEL_OCCLUDED = True  # train on occluded keypoints too (the simulator knows where they are, as an
# annotator who can infer a hidden paw would label it); the test metrics use visible keypoints only


def training_crops(images, keypoints, visible, rng, mirror):
    """1 + N_AUG crops per labelled frame around its labelled centre: (M, 3, S, S), (M, K, 2), (M, K).
    The augmented ones are rotated, scaled, shifted, occluded, brightened and, with probability
    FLIP_PROB, mirrored (``mirror`` from :func:`lecturekit.cnn.augment.mirror_pairs`)."""
    centres = topdown.animal_centres(keypoints, visible)
    size = CROP_FRAME_PX * ZOOM
    xs, ks, vs = [], [], []
    for copy in range(1 + N_AUG):
        aug = dict(rng=rng, rotation_deg=45.0, scale_range=(0.9, 1.1), jitter_px=3.0) if copy else {}
        A = topdown.crop_affines(centres, size, ZOOM, **aug)
        x = topdown.crop_images(images, A, size)
        k, v = topdown.crop_keypoints(keypoints, visible, A, size)
        if copy:
            x = augment.adjust_brightness_contrast(augment.occlude(x, rng, prob=0.3, max_frac=0.2), rng)
            x, k, v = augment.random_flips(x, k, v, rng, mirror, prob=FLIP_PROB)
        xs.append(x)
        ks.append(k)
        vs.append(v)
    return torch.cat(xs), np.concatenate(ks), np.concatenate(vs)


def train_centroid_model(images, keypoints, visible):
    """Stage 1: a one-channel centroid head on frozen whole-frame features. Returns (model, CPU s)."""
    cpu0 = time.process_time()
    torch.manual_seed(0)
    model = cnn.pretrained_pose_net(1, width=16)
    centres = topdown.animal_centres(keypoints, visible)[:, None]
    feats = cnn.cache_features(model.backbone, images)
    cnn.train_head_on_features(model.head, feats, centres, np.ones((len(centres), 1), bool), images.shape[-2:],
                               epochs=30, lr=1e-2, sigma=4.0, pos_weight=POS_WEIGHT, desc="stage 1 (centroid)")
    return model, time.process_time() - cpu0


def evaluate(pred, truth, visible, body_length, names) -> dict:
    err = metrics.position_errors(pred, truth)
    thr = 0.05 * body_length
    return {"rmse_px": round(metrics.rmse(pred, truth, visible=visible), 3),
            "pck_5pct_body": round(metrics.pck(pred, truth, thr, visible=visible), 4),
            "pck_10pct_body": round(metrics.pck(pred, truth, 2 * thr, visible=visible), 4),
            "pck_3px": round(metrics.pck(pred, truth, 3.0, visible=visible), 4),
            "pck_5pct_body_per_keypoint": {n: round(float(np.mean(err[visible[:, k], k] <= thr[visible[:, k]])), 3)
                                           for k, n in enumerate(names)}}


def main() -> int:
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # subnormal floats slow CPU training down (see bench_cnn_realdata.py)
    ds = datasets.load("frames")
    sk = synth.rodent_skeleton()
    kp, vis = ds["keypoints2d"], ds["visible"]
    train, test = np.arange(N_LABELLED), np.arange(300, 400)
    body = np.linalg.norm(kp[:, sk.index("nose")] - kp[:, sk.index("tail_base")], axis=-1)
    images = pretrained.imagenet_normalize(ds["images"])
    print(f"{N_LABELLED} labelled frames, {len(test)} test frames; mean body length {body[test].mean():.1f} px, "
          f"so 5% = {0.05 * body[test].mean():.2f} px")
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.node()} {platform.machine()}", "torch_threads": threads,
               "n_labelled": N_LABELLED, "cpu_budget_s": CPU_BUDGET_S, "crop_frame_px": CROP_FRAME_PX,
               "zoom": ZOOM, "n_aug": N_AUG, "models": {}}

    def record(name, pred, epochs, cpu, wall):
        r = evaluate(pred, kp[test], vis[test], body[test], sk.names)
        r.update(epochs=epochs, train_cpu_s=round(cpu, 1), train_wall_s=round(wall, 1))
        results["models"][name] = r

    # stage 1, shared by both top-down models (its CPU time counts in each budget)
    wall0 = time.perf_counter()
    centroid_model, stage1_cpu = train_centroid_model(images[train], kp[train], vis[train])
    stage1_wall = time.perf_counter() - wall0
    test_features = cnn.cache_features(centroid_model.backbone, images[test])
    centre_pred = cnn.predict_keypoints(centroid_model.head, test_features)[0][:, 0]
    centre_err = np.linalg.norm(centre_pred - topdown.animal_centres(kp[test]), axis=-1)
    results["stage1"] = {"train_cpu_s": round(stage1_cpu, 1),
                         "centre_error_median_px": round(float(np.median(centre_err)), 2),
                         "centre_error_max_px": round(float(centre_err.max()), 2)}
    print(f"stage 1: centre error median {np.median(centre_err):.2f} px, max {centre_err.max():.2f} px; "
          f"{stage1_cpu:.0f} s CPU")
    size = CROP_FRAME_PX * ZOOM
    rng = np.random.default_rng(0)
    mirror = augment.mirror_pairs(sk.names)
    labels_visible = np.ones_like(vis[train]) if LABEL_OCCLUDED else vis[train]
    x_train, k_train, v_train = training_crops(images[train], kp[train], labels_visible, rng, mirror)
    A_test = topdown.crop_affines(centre_pred, size, ZOOM)
    x_test = topdown.crop_images(images[test], A_test, size)

    def top_down_pretrained(name, visible_in_crops):
        """Frozen features of the crops, head trained, flip-averaged heatmaps at test time."""
        torch.manual_seed(0)
        model = cnn.pretrained_pose_net(sk.K, width=32)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        cached = cnn.cache_features(model.backbone, x_train)
        left = CPU_BUDGET_S - stage1_cpu - (time.process_time() - cpu0)
        losses = cnn.train_head_on_features(model.head, cached, k_train, visible_in_crops, (size, size), epochs=60,
                                            lr=1e-2, sigma=SIGMA_CROP, pos_weight=POS_WEIGHT, desc=name,
                                            max_cpu_seconds=left)
        cpu, wall = stage1_cpu + time.process_time() - cpu0, stage1_wall + time.perf_counter() - wall0
        pred = cnn.predict_keypoints(model, x_test, mirror=mirror)[0]
        record(name, topdown.uncrop_keypoints(pred, A_test), len(losses), cpu, wall)

    top_down_pretrained(MAIN, v_train)
    # the same crops (same random stream) with only the visible keypoints labelled
    _, _, v_visible = training_crops(images[train], kp[train], vis[train], np.random.default_rng(0), mirror)
    top_down_pretrained("top-down, pretrained, visible labels only", v_visible)

    # top-down, scratch: the same crops, the same budget
    torch.manual_seed(0)
    scratch = cnn.ScratchCNN(sk.K, width=16)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    losses = cnn.train_heatmap_model(scratch, x_train, k_train, v_train, epochs=40, batch_size=8, lr=1e-2,
                                     sigma=SIGMA_CROP, pos_weight=POS_WEIGHT, desc="top-down scratch",
                                     max_cpu_seconds=CPU_BUDGET_S - stage1_cpu)
    cpu, wall = stage1_cpu + time.process_time() - cpu0, stage1_wall + time.perf_counter() - wall0
    pred = cnn.predict_keypoints(scratch, x_test, mirror=mirror)[0]
    record("top-down, scratch CNN", topdown.uncrop_keypoints(pred, A_test), len(losses), cpu, wall)

    # whole frame, pretrained (single stage): frames upsampled x2, frozen features, head trained
    up = 2
    big = cnn.upsample_images(images, up)
    config = augment.AugmentConfig(rotation_deg=30, scale_range=(0.85, 1.15), translate_frac=0.1,
                                   occlusion_prob=0.3, occlusion_frac=0.2)
    kp_big = cnn.to_upsampled(kp[train], up)
    x_aug, k_aug, v_aug = augment.augment_batch(big[train], kp_big, vis[train], rng, config)
    x_whole = torch.cat([big[train], x_aug])
    k_whole = np.concatenate([kp_big, k_aug])
    v_whole = np.concatenate([vis[train], v_aug])
    torch.manual_seed(0)
    model = cnn.pretrained_pose_net(sk.K, width=32)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    cached = cnn.cache_features(model.backbone, x_whole)
    losses = cnn.train_head_on_features(model.head, cached, k_whole, v_whole, big.shape[-2:], epochs=60, lr=1e-2,
                                        sigma=3.0, pos_weight=POS_WEIGHT, desc="whole frame pretrained",
                                        max_cpu_seconds=CPU_BUDGET_S - (time.process_time() - cpu0))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred = cnn.predict_keypoints(model.head, cnn.cache_features(model.backbone, big[test]))[0]
    record("whole frame x2, pretrained EfficientNet-Lite0 (frozen)", cnn.from_upsampled(pred, up), len(losses),
           cpu, wall)

    print(f"\n{'model':55s} {'RMSE px':>8s} {'PCK@5%':>7s} {'PCK@10%':>8s} {'PCK@3px':>8s} "
          f"{'epochs':>6s} {'CPU s':>6s}")
    for name, r in results["models"].items():
        print(f"{name:55s} {r['rmse_px']:8.2f} {r['pck_5pct_body']:7.3f} {r['pck_10pct_body']:8.3f} "
              f"{r['pck_3px']:8.3f} {r['epochs']:6d} {r['train_cpu_s']:6.0f}")
    best = results["models"][MAIN]
    print("PCK@5% per keypoint, top-down pretrained: "
          + ", ".join(f"{n} {v:.2f}" for n, v in best["pck_5pct_body_per_keypoint"].items()))
    rmse = {n: r["rmse_px"] for n, r in results["models"].items()}
    print(f"RMSE ratios (same labels, same CPU budget): scratch / pretrained = "
          f"{rmse['top-down, scratch CNN'] / rmse[MAIN]:.2f}, whole frame / top-down = "
          f"{rmse['whole frame x2, pretrained EfficientNet-Lite0 (frozen)'] / rmse[MAIN]:.2f}; goal PCK@5% >= 0.95")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
