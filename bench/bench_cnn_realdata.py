"""Real-data benchmark of the heatmap CNN against DeepLabCut's published accuracy.

Data: ``../shared/data/dlc-openfield`` (116 labelled 640x480 frames, 4 body parts) and
``../shared/data/dlc-reaching`` (56 labelled 832x747 frames, 5 body parts); skipped with a
message when ``../shared/data`` is absent. Each project is split by a fixed seed into a training
half and a test half (``split_half`` below); the model is the course's
:func:`lecturekit.cnn.pretrained_pose_net` (ImageNet EfficientNet-Lite0 + deconvolution head,
stride 4): its high-resolution trunk stays frozen (ImageNet), its stride-16 blocks and the head
are fine-tuned on the CPU on cached trunk features of random crops around the animal with
rotation, scale, brightness/contrast, occlusion and, when the project has left/right body parts,
left-right mirroring (keypoints moved with the crop, left and right parts swapped); it is evaluated on the full test
frames, the heatmaps averaged over the frame resized by 0.9, 1 and 1.1 (and over their mirror
images when the project is mirrored), with argmax + quadratic subpixel decoding. The reported figure
is DeepLabCut's: RMSE in full-resolution pixels over all labelled test keypoints.

Published anchors on dlc-openfield (DeepLabCut papers/docs): human labelling variability 2.69 px,
DeepLabCut ResNet-50 (TensorFlow) 3.09 px test RMSE, DeepLabCut 3 PyTorch ResNet-50 2.01 px
(those were trained for hours on a GPU on the full data set; the example here is a subset).

Run: ``.venv/bin/python bench/bench_cnn_realdata.py`` (about 9 min on 2 CPU cores: openfield 6 min of training,
reaching 2); results go to ``bench/results/cnn_realdata.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "cnn_realdata.json"

from lecturekit import cnn, metrics  # noqa: E402
from lecturekit.cnn import augment, heatmaps, pretrained, topdown  # noqa: E402
from lecturekit.formats import deeplabcut  # noqa: E402

ANCHORS = {
    "dlc-openfield": {"human labelling variability": 2.69, "DeepLabCut ResNet-50 (TF)": 3.09,
                      "DeepLabCut 3 PyTorch ResNet-50": 2.01},
    "dlc-reaching": {},
}


@dataclass(frozen=True)
class Setting:
    """Per-project training set-up: input scale (1 = full resolution), crop size (px, at that scale),
    target width sigma (px at that scale), augmented crops per training frame, epochs over them."""

    scale: float
    crop: int
    sigma: float
    n_aug: int
    epochs: int


SETTINGS = {"dlc-openfield": Setting(scale=1.0, crop=192, sigma=4.0, n_aug=16, epochs=30),
            "dlc-reaching": Setting(scale=0.5, crop=224, sigma=3.0, n_aug=12, epochs=24)}
HEAD_WIDTH = 32
TTA_SCALES = (0.9, 1.0, 1.1)  # test-time multi-scale average (the training crops were scaled 0.8-1.25)
P_CUTOFF = 0.6  # DeepLabCut's second figure: the error over predictions with likelihood >= p-cutoff


def split_half(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The fixed train/test split: a seeded permutation, first half for training."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def crop_affines(rng, keypoints, visible, scale: float, crop: int, image_size, rotation_deg=25.0,
                 scale_range=(0.8, 1.25), jitter=0.2, background=0.25) -> np.ndarray:
    """Random training crops (B, 2, 3) around the animal (:func:`lecturekit.cnn.topdown.crop_affines`):
    centred on the mean labelled keypoint, or with probability ``background`` on a uniform point
    of the frame (so the network also sees empty arena and learns not to fire there); shifted by
    up to ``jitter`` of the crop side, rotated and scaled."""
    W, H = image_size
    centres = np.tile([(W - 1) / 2.0, (H - 1) / 2.0], (len(keypoints), 1))
    labelled = np.asarray(visible, bool).any(1)
    centres[labelled] = topdown.animal_centres(keypoints[labelled], visible[labelled])
    empty_arena = rng.random(len(centres)) < background
    centres[empty_arena] = rng.uniform([0, 0], [W - 1, H - 1], (int(empty_arena.sum()), 2))
    return topdown.crop_affines(centres, crop, zoom=scale, rng=rng, rotation_deg=rotation_deg,
                                scale_range=scale_range, jitter_px=jitter * crop / scale)


def augmented_crops(rng, images, keypoints, visible, setting: Setting, n_aug: int, mirror):
    """``n_aug`` random augmented crops per frame: images (M, 3, c, c), keypoints (M, K, 2), visible (M, K)."""
    xs, ks, vs = [], [], []
    for _ in range(n_aug):
        A = crop_affines(rng, keypoints, visible, setting.scale, setting.crop, (images.shape[3], images.shape[2]))
        x = topdown.crop_images(images, A, setting.crop)
        k, v = topdown.crop_keypoints(keypoints, visible, A, setting.crop)
        x = augment.occlude(x, rng, prob=0.25, max_frac=0.2)
        x = augment.adjust_brightness_contrast(x, rng, brightness=0.3, contrast=0.3)
        if mirror is not None:
            x, k, v = augment.random_flips(x, k, v, rng, mirror)
        xs.append(x)
        ks.append(k)
        vs.append(v)
    return torch.cat(xs), np.concatenate(ks), np.concatenate(vs)


def train(model, images, keypoints, visible, setting: Setting, mirror, seed=0, log=print):
    """Fine-tune the last backbone blocks and the head on cached trunk features of augmented crops.

    The stem and the high-resolution blocks stay frozen (ImageNet weights), so their outputs for
    every augmented crop are computed once (:func:`lecturekit.cnn.cache_trunk_features`); the
    stride-16 blocks and the deconvolution head are then trained for ``setting.epochs`` epochs.
    With ``mirror`` (from :func:`lecturekit.cnn.augment.mirror_pairs`) half the crops are mirrored
    left-right, swapping the left and right body parts; None: no mirroring. Returns the seconds spent.
    """
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    start = time.perf_counter()
    x, k, v = augmented_crops(rng, images, keypoints, visible, setting, setting.n_aug, mirror)
    cached = cnn.cache_trunk_features(model, x)
    del x
    log(f"  {len(k)} augmented crops {setting.crop}x{setting.crop}; trunk features cached in "
        f"{time.perf_counter() - start:.0f} s")
    tail = cnn.TailPoseNet(model)
    for p in tail.parameters():
        p.requires_grad_(True)
    cnn.train_head_on_features(tail, cached, k, v, (setting.crop, setting.crop), epochs=setting.epochs,
                               batch_size=16, lr=3e-3, sigma=setting.sigma, pos_weight=10.0, seed=seed,
                               desc="fine-tuning")
    return time.perf_counter() - start


@torch.no_grad()
def predict_full(model, images, scale: float, mirror, batch_size=4) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) in full-resolution px from whole frames (downscaled by ``scale``), and
    their likelihood (N, K): the heatmap value at the peak. The heatmaps are averaged over the
    frame resized by each of ``TTA_SCALES`` and, with ``mirror``, over its mirror images too
    (:func:`lecturekit.cnn.predict_heatmaps` with ``scales`` and ``mirror``)."""
    N, _, H, W = images.shape
    A = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    Ho, Wo = int(round((H - 1) * scale)) + 1, int(round((W - 1) * scale)) + 1
    preds, likelihoods = [], []
    for i in range(0, N, batch_size):
        x = images[i:i + batch_size]
        if scale != 1.0:
            x = augment.warp_images(x, A, (Ho, Wo))
        h = cnn.predict_heatmaps(model, x, mirror=mirror, scales=TTA_SCALES)
        pts, scores = heatmaps.decode_heatmaps(h, model.stride, refine="quadratic")
        preds.append(pts / scale)
        likelihoods.append(scores)
    return np.concatenate(preds), np.concatenate(likelihoods)


def run_project(name: str, setting: Setting, log=print) -> dict:
    project = deeplabcut.read_project(DATA / name)
    frames = deeplabcut.load_frames(project, pad=True)  # the reaching project mixes two frame sizes
    images = pretrained.imagenet_normalize(frames)
    kp, vis = project.keypoints, project.visible
    train_idx, test_idx = split_half(len(frames))
    log(f"\n== {name}: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]}, body parts {project.bodyparts}; "
        f"train {len(train_idx)} / test {len(test_idx)} (seed 0)")
    torch.manual_seed(0)
    model = cnn.pretrained_pose_net(len(project.bodyparts), width=HEAD_WIDTH)
    mirror = augment.mirror_pairs(project.bodyparts)
    if np.array_equal(mirror, np.arange(len(mirror))):
        mirror = None  # no left/right body parts: a mirrored frame is not a frame of this set-up
    seconds = train(model, images[train_idx], kp[train_idx], vis[train_idx], setting, mirror, log=log)
    pred, likelihood = predict_full(model, images[test_idx], setting.scale, mirror)
    some_train = train_idx[:12]  # a few training frames: is the test error over-fitting?
    pred_train = predict_full(model, images[some_train], setting.scale, mirror)[0]
    err = metrics.position_errors(pred, kp[test_idx])
    confident = likelihood >= P_CUTOFF
    rmse_confident = (round(metrics.rmse(pred, kp[test_idx], visible=confident), 3)
                      if (confident & np.isfinite(err)).any() else None)  # None: no prediction is that confident
    result = {
        "frames": int(len(frames)), "image_size": [int(frames.shape[2]), int(frames.shape[1])],
        "bodyparts": list(project.bodyparts), "train_frames": int(len(train_idx)), "test_frames": int(len(test_idx)),
        "setting": setting.__dict__, "mirrored": mirror is not None, "train_seconds": round(seconds, 1),
        "test_rmse_px": round(metrics.rmse(pred, kp[test_idx]), 3),
        "train_rmse_px_12_frames": round(metrics.rmse(pred_train, kp[some_train]), 3),
        "test_median_error_px": round(float(np.nanmedian(err)), 3),
        "test_errors_over_10px": int(np.nansum(err > 10)), "test_labelled_keypoints": int(np.isfinite(err).sum()),
        f"test_rmse_px_p_cutoff_{P_CUTOFF}": rmse_confident,
        f"test_fraction_above_p_cutoff_{P_CUTOFF}": round(float(confident[np.isfinite(err)].mean()), 3),
        "test_rmse_px_per_bodypart": {b: round(float(np.sqrt(np.nanmean(err[:, k] ** 2))), 3)
                                      for k, b in enumerate(project.bodyparts)},
        "test_pck_5px": round(metrics.pck(pred, kp[test_idx], 5.0), 3),
        "stride_floor_px_2d": round(heatmaps.quantization_floor(model.stride / setting.scale, two_d=True), 3),
        "anchors_px": ANCHORS.get(name, {}),
    }
    confident_fraction = result[f"test_fraction_above_p_cutoff_{P_CUTOFF}"]
    log(f"with p-cutoff {P_CUTOFF}: test RMSE "
        f"{'n/a' if rmse_confident is None else f'{rmse_confident:.2f}'} px on {confident_fraction:.0%} "
        f"of the keypoints; {result['test_errors_over_10px']} of {result['test_labelled_keypoints']} errors over 10 px")
    log(f"test RMSE {result['test_rmse_px']:.2f} px (train {result['train_rmse_px_12_frames']:.2f} px, "
        f"median test error {result['test_median_error_px']:.2f} px, PCK@5px {result['test_pck_5px']:.3f}); "
        f"{seconds:.0f} s of CPU training")
    log("  per body part: " + ", ".join(f"{b} {v:.2f}" for b, v in result["test_rmse_px_per_bodypart"].items()))
    for anchor, value in ANCHORS.get(name, {}).items():
        log(f"  {anchor:34s} {value:5.2f} px   ours / anchor = {result['test_rmse_px'] / value:.2f}")
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="*", default=list(SETTINGS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 crops per frame, 2 epochs (not saved)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"SKIPPED: real reference data not found at {DATA} (only on maintainers' machines)")
        return 0
    torch.set_num_threads(args.threads)
    # Late in training, subnormal floats (below 1.2e-38) made the CPU epochs up to 6x slower
    # (measured: 11 s -> 67 s per epoch); flushed to zero, every epoch stays near 11 s.
    torch.set_flush_denormal(True)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
               "torch_threads": args.threads, "projects": {}}
    t0 = time.perf_counter()
    for name in args.projects:
        if not (DATA / name).is_dir():
            print(f"SKIPPED {name}: not found under {DATA}")
            continue
        s = SETTINGS[name]
        if args.quick:
            s = Setting(s.scale, s.crop, s.sigma, n_aug=2, epochs=2)
        results["projects"][name] = run_project(name, s)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(f"\ntotal wall time {results['total_seconds']:.0f} s")
    if not args.quick and results["projects"]:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
