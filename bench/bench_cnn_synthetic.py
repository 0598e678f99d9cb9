"""Synthetic benchmark: heatmap CNNs on the virtual rodent, pretrained vs from scratch, whole frame
vs top-down, and the learning curve of the notebook.

Data: ``datasets.load("frames")`` (400 frames 128x128, 13 keypoints, a rodent about 29 px long).
The first ``N_LABELLED`` (<= 100) frames are labelled for training; frames 300-399 (a later stretch
of behaviour) are the test set. Every model gets the same budget of process CPU time for training
(<= 60 s, ``CPU_BUDGET_S``, feature caching and stage 1 included):

* **top-down, pretrained** (:mod:`lecturekit.cnn.pipeline`, ``train_topdown`` / ``predict_topdown``,
  the steps the notebook ``03_cnn_heatmaps`` runs): stage 1 finds the animal: one centroid heatmap
  from the frozen ImageNet EfficientNet-Lite0 features of the whole frame (head only); stage 2 crops a
  64-px window around that centre, zoomed x3, and a head on the frozen features of the crop predicts
  the 13 heatmaps. Training crops are centred on the labelled centre with random rotation, scale,
  shift (stage 1 is never exact), occlusion, brightness and left-right mirroring (left and right
  labels swap); each labelled frame gives 1 + 2 crops. At test time the heatmaps of each crop are
  averaged with those of its mirror image (flip test-time augmentation). Occluded keypoints are
  labelled too; a second run on the same crops with visible labels only shows what that adds.
* **top-down, scratch**: the same stage 1 and the same crops, with stage 2 a
  :class:`lecturekit.cnn.ScratchCNN` trained end to end.
* **whole frame, pretrained**: the previous single-stage model (frozen features of the 2x
  upsampled frame, head only, visible labels, no mirroring), for comparison.

The **learning curve** (``learning_curve`` in the JSON) repeats the notebook's: stage 2 trained on the
crops of the first n labelled frames (n = 10, 25, 50, 100), resized to 96 px (64 frame px, as the
notebook's, which resizes its 160-px crops), 3 seeds each, test RMSE and PCK@5% mean and sd over seeds:
pretrained = a width-16 head on the cached frozen crop features, 20 epochs (at least 100 steps of 16
crops); scratch = a ScratchCNN (width 8) on the same crops, 40 steps of 8 crops.

Loss: positive-weighted Bernoulli (pos_weight 10), Gaussian targets. Metrics on visible test
keypoints, after argmax + quadratic subpixel decoding: RMSE (px), PCK at 5% and 10% of the body
length (nose to tail base, per frame) and at 3 px, overall and per keypoint. Goal: PCK@5% >= 0.95.

Run: ``.venv/bin/python bench/bench_cnn_synthetic.py``; results -> ``bench/results/cnn_synthetic.json``.
"""

from __future__ import annotations

import dataclasses
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
from lecturekit.cnn import augment, pipeline, pretrained, topdown  # noqa: E402

N_LABELLED = 100
MAIN = "top-down, pretrained EfficientNet-Lite0 (frozen)"
CPU_BUDGET_S = 60.0
CONFIG = pipeline.TopDownConfig(crop_frame_px=64, zoom=3, n_aug=2, sigma_crop=3.0, pos_weight=10.0, flip_prob=0.5,
                                head_width=32, epochs=60, lr=1e-2, centroid_epochs=30, label_occluded=True)
LC_LABELS, LC_SEEDS = (10, 25, 50, 100), (0, 1, 2)


def evaluate(pred, truth, visible, body_length, names) -> dict:
    err = metrics.position_errors(pred, truth)
    thr = 0.05 * body_length
    return {"rmse_px": round(metrics.rmse(pred, truth, visible=visible), 3),
            "pck_5pct_body": round(metrics.pck(pred, truth, thr, visible=visible), 4),
            "pck_10pct_body": round(metrics.pck(pred, truth, 2 * thr, visible=visible), 4),
            "pck_3px": round(metrics.pck(pred, truth, 3.0, visible=visible), 4),
            "pck_5pct_body_per_keypoint": {n: round(float(np.mean(err[visible[:, k], k] <= thr[visible[:, k]])), 3)
                                           for k, n in enumerate(names)}}


def learning_curve(crops, backbone, x_test, A_test, truth, visible, body_length, mirror) -> list[dict]:
    """Stage 2 on the crops of the first n labelled frames resized to 96 px, pretrained (cached frozen
    features, a width-16 head, 20 epochs and at least 100 steps of 16) vs scratch (ScratchCNN width 8,
    40 steps of 8): test RMSE and PCK@5% per seed, as the notebook does."""
    S = crops.images.shape[-1]

    def shrink(x):  # S -> 96 px; crop px p -> (p + 1/2) 96 / S - 1/2
        return torch.nn.functional.interpolate(x, size=(96, 96), mode="bilinear", antialias=True)

    crops96 = pipeline.TrainingCrops(shrink(crops.images), (crops.keypoints + 0.5) * 96 / S - 0.5, crops.visible,
                                     crops.frame)
    x_test96 = shrink(x_test)
    cfg = dataclasses.replace(CONFIG, head_width=16, zoom=CONFIG.zoom * 96 / S, sigma_crop=1.5, epochs=20)
    feats = pipeline.crop_features(backbone, crops96.images)
    f_test = pipeline.crop_features(backbone, x_test96)
    f_test_m = pipeline.crop_features(backbone, x_test96, mirrored=True)
    thr = 0.05 * body_length

    def score(p96):
        p = topdown.uncrop_keypoints((p96 + 0.5) * S / 96 - 0.5, A_test)
        return metrics.rmse(p, truth, visible=visible), metrics.pck(p, truth, thr, visible=visible)

    points = []
    for n in LC_LABELS:
        rows = np.flatnonzero(crops.frame < n)
        pre, scr = [], []
        for seed in LC_SEEDS:
            epochs = max(cfg.epochs, int(np.ceil(100 / np.ceil(len(rows) / 16))))
            head, _ = pipeline.train_keypoint_head(feats, crops96, cfg, frames=range(n), seed=seed, epochs=epochs,
                                                   progress=False)
            h = pipeline.predict_crop_heatmaps(head, f_test, f_test_m, mirror)
            pre.append(score(cnn.heatmaps.decode_heatmaps(h, head.stride)[0]))
            torch.manual_seed(seed)
            net = cnn.ScratchCNN(len(mirror), width=8)
            cnn.train_heatmap_model(net, crops96.images[rows], crops96.keypoints[rows], crops96.visible[rows],
                                    seed=seed, batch_size=8, epochs=max(1, round(40 / np.ceil(len(rows) / 8))),
                                    lr=1e-2, sigma=cfg.sigma_crop, pos_weight=CONFIG.pos_weight, progress=False)
            scr.append(score(cnn.predict_keypoints(net, x_test96, mirror=mirror)[0]))
        pre, scr = np.array(pre), np.array(scr)
        points.append({"n_labelled": n, "seeds": list(LC_SEEDS),
                       "pretrained_rmse_mean": round(float(pre[:, 0].mean()), 3),
                       "pretrained_rmse_sd": round(float(pre[:, 0].std()), 3),
                       "scratch_rmse_mean": round(float(scr[:, 0].mean()), 3),
                       "scratch_rmse_sd": round(float(scr[:, 0].std()), 3),
                       "pretrained_pck_5pct_mean": round(float(pre[:, 1].mean()), 4),
                       "pretrained_pck_5pct_sd": round(float(pre[:, 1].std()), 4),
                       "scratch_pck_5pct_mean": round(float(scr[:, 1].mean()), 4),
                       "scratch_pck_5pct_sd": round(float(scr[:, 1].std()), 4),
                       "pretrained_rmse_per_seed": [round(float(v), 3) for v in pre[:, 0]],
                       "scratch_rmse_per_seed": [round(float(v), 3) for v in scr[:, 0]]})
        print(f"learning curve n={n}: RMSE pretrained {pre[:, 0].mean():.2f} ± {pre[:, 0].std():.2f} px, "
              f"scratch {scr[:, 0].mean():.2f} ± {scr[:, 0].std():.2f} px", flush=True)
    return points


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
               "n_labelled": N_LABELLED, "cpu_budget_s": CPU_BUDGET_S, "config": dataclasses.asdict(CONFIG),
               "models": {}}

    def record(name, pred, epochs, cpu, wall):
        r = evaluate(pred, kp[test], vis[test], body[test], sk.names)
        r.update(epochs=epochs, train_cpu_s=round(cpu, 1), train_wall_s=round(wall, 1))
        results["models"][name] = r
        print(f"{name}: RMSE {r['rmse_px']:.2f} px, PCK@5% {r['pck_5pct_body']:.3f}", flush=True)

    # the main row: the library's top-down pipeline, everything inside the CPU budget
    wall0 = time.perf_counter()
    model = pipeline.train_topdown(images[train], kp[train], vis[train], sk.names, CONFIG,
                                   max_cpu_seconds=CPU_BUDGET_S, progress=False)
    record(MAIN, pipeline.predict_topdown(model, images[test])[0], model.epochs, model.train_cpu_s,
           time.perf_counter() - wall0)

    # stage 1 alone, shared by the variants below (its CPU time counts in each budget)
    cpu0 = time.process_time()
    centroid = pipeline.train_centroid_model(images[train], kp[train], vis[train], CONFIG, progress=False)
    stage1_cpu = time.process_time() - cpu0
    centre_pred = pipeline.predict_centres(centroid, images[test])
    centre_err = np.linalg.norm(centre_pred - topdown.animal_centres(kp[test]), axis=-1)
    results["stage1"] = {"train_cpu_s": round(stage1_cpu, 1),
                         "centre_error_median_px": round(float(np.median(centre_err)), 2),
                         "centre_error_max_px": round(float(centre_err.max()), 2)}
    print(f"stage 1: centre error median {np.median(centre_err):.2f} px, max {centre_err.max():.2f} px; "
          f"{stage1_cpu:.0f} s CPU")
    mirror = augment.mirror_pairs(sk.names)
    crops = pipeline.training_crops(images[train], kp[train], vis[train], mirror, CONFIG, rng=np.random.default_rng(0))
    A_test = topdown.crop_affines(centre_pred, CONFIG.crop_size, CONFIG.zoom)
    x_test = topdown.crop_images(images[test], A_test, CONFIG.crop_size)
    backbone = pretrained.efficientnet_lite0_features((1, 2, 3))

    # the same crops (same random stream) with only the visible keypoints labelled
    visible_only = dataclasses.replace(CONFIG, label_occluded=False)
    crops_visible = pipeline.training_crops(images[train], kp[train], vis[train], mirror, visible_only,
                                            rng=np.random.default_rng(0))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    feats = pipeline.crop_features(backbone, crops_visible.images)
    left = CPU_BUDGET_S - stage1_cpu - (time.process_time() - cpu0)
    head, losses = pipeline.train_keypoint_head(feats, crops_visible, visible_only, max_cpu_seconds=left,
                                                progress=False)
    cpu, wall = stage1_cpu + time.process_time() - cpu0, time.perf_counter() - wall0
    heat = pipeline.predict_crop_heatmaps(head, pipeline.crop_features(backbone, x_test),
                                          pipeline.crop_features(backbone, x_test, mirrored=True), mirror)
    record("top-down, pretrained, visible labels only",
           topdown.uncrop_keypoints(cnn.heatmaps.decode_heatmaps(heat, head.stride)[0], A_test), len(losses), cpu, wall)

    # top-down, scratch: the same crops, the same budget
    torch.manual_seed(0)
    scratch = cnn.ScratchCNN(sk.K, width=16)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    losses = cnn.train_heatmap_model(scratch, crops.images, crops.keypoints, crops.visible, epochs=40, batch_size=8,
                                     lr=1e-2, sigma=CONFIG.sigma_crop, pos_weight=CONFIG.pos_weight,
                                     progress=False, max_cpu_seconds=CPU_BUDGET_S - stage1_cpu)
    cpu, wall = stage1_cpu + time.process_time() - cpu0, time.perf_counter() - wall0
    pred = cnn.predict_keypoints(scratch, x_test, mirror=mirror)[0]
    record("top-down, scratch CNN", topdown.uncrop_keypoints(pred, A_test), len(losses), cpu, wall)

    # whole frame, pretrained (single stage): frames upsampled x2, frozen features, head trained
    up = 2
    big = cnn.upsample_images(images, up)
    config = augment.AugmentConfig(rotation_deg=30, scale_range=(0.85, 1.15), translate_frac=0.1,
                                   occlusion_prob=0.3, occlusion_frac=0.2)
    kp_big = cnn.to_upsampled(kp[train], up)
    x_aug, k_aug, v_aug = augment.augment_batch(big[train], kp_big, vis[train], np.random.default_rng(0), config)
    x_whole = torch.cat([big[train], x_aug])
    k_whole = np.concatenate([kp_big, k_aug])
    v_whole = np.concatenate([vis[train], v_aug])
    torch.manual_seed(0)
    whole = cnn.pretrained_pose_net(sk.K, width=32)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    cached = cnn.cache_features(whole.backbone, x_whole)
    losses = cnn.train_head_on_features(whole.head, cached, k_whole, v_whole, big.shape[-2:], epochs=60, lr=1e-2,
                                        sigma=3.0, pos_weight=CONFIG.pos_weight, progress=False,
                                        max_cpu_seconds=CPU_BUDGET_S - (time.process_time() - cpu0))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    pred = cnn.predict_keypoints(whole.head, cnn.cache_features(whole.backbone, big[test]))[0]
    record("whole frame x2, pretrained EfficientNet-Lite0 (frozen)", cnn.from_upsampled(pred, up), len(losses),
           cpu, wall)

    results["learning_curve"] = learning_curve(crops, backbone, x_test, A_test, kp[test], vis[test], body[test],
                                               mirror)

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
    print(f"{'labelled frames':>15s} {'pretrained RMSE px':>20s} {'scratch RMSE px':>20s} {'pretrained PCK':>16s} "
          f"{'scratch PCK':>16s}  (mean ± sd over seeds)")
    for p in results["learning_curve"]:
        print(f"{p['n_labelled']:15d} {p['pretrained_rmse_mean']:12.2f} ± {p['pretrained_rmse_sd']:5.2f} "
              f"{p['scratch_rmse_mean']:12.2f} ± {p['scratch_rmse_sd']:5.2f} "
              f"{p['pretrained_pck_5pct_mean']:8.3f} ± {p['pretrained_pck_5pct_sd']:5.3f} "
              f"{p['scratch_pck_5pct_mean']:8.3f} ± {p['scratch_pck_5pct_sd']:5.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
