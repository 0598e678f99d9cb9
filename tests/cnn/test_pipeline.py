"""The top-down pipeline: crops that carry their labels, heatmaps mapped back to the frame, and a
tiny end-to-end run (shapes, coordinates, error messages)."""

import numpy as np
import pytest
import torch

from lecturekit.cnn import augment, heatmaps, pipeline, topdown

NAMES = ("nose", "left_ear", "right_ear", "tail")


def _frames(n=4, size=48, seed=0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(18, 30, (n, len(NAMES), 2))
    images = torch.as_tensor(rng.normal(size=(n, 3, size, size)), dtype=torch.float32)
    return images, kp, np.ones((n, len(NAMES)), bool)


def test_training_crops_are_copy_major_and_the_centred_copy_maps_back_exactly():
    images, kp, vis = _frames()
    cfg = pipeline.TopDownConfig(crop_frame_px=16, zoom=2, n_aug=2)
    crops = pipeline.training_crops(images, kp, vis, augment.mirror_pairs(NAMES), cfg, rng=np.random.default_rng(0))
    assert crops.images.shape == (12, 3, 32, 32)
    np.testing.assert_array_equal(crops.frame, np.tile(np.arange(4), 3))
    A = topdown.crop_affines(topdown.animal_centres(kp, vis), 32, 2)
    np.testing.assert_allclose(topdown.uncrop_keypoints(crops.keypoints[:4], A), kp, atol=1e-9)
    # the centred copy puts the animal's centre in the middle of the crop
    np.testing.assert_allclose(crops.keypoints[:4].mean(1), np.full((4, 2), 15.5), atol=1e-9)


def test_frame_heatmaps_put_a_crop_peak_on_the_frame_point_it_came_from():
    centres = np.array([[40.0, 30.0], [55.5, 70.25]])
    A = topdown.crop_affines(centres, 48, 3)
    frame_pts = centres[:, None] + np.array([[[2.0, -1.5]], [[-1.5, 2.0]]])  # (2, 1, 2) frame px, well inside
    crop_pts = augment.transform_keypoints(frame_pts, A)
    h_crop = heatmaps.heatmap_targets(crop_pts, (48, 48), stride=4, sigma=6.0)
    h_frame = pipeline.frame_heatmaps(h_crop, A, 4, (128, 128), frame_stride=2)
    assert h_frame.shape == (2, 1, 64, 64)
    # the oracle: the same Gaussian drawn directly on the frame grid (sigma in frame px = 6 / zoom)
    want = heatmaps.heatmap_targets(frame_pts, (128, 128), stride=2, sigma=2.0)
    peak = np.unravel_index(want[0, 0].argmax(), want.shape[2:])
    assert np.unravel_index(h_frame[0, 0].argmax(), (64, 64)) == peak
    near = want > 0.3
    np.testing.assert_allclose(h_frame[near], want[near], atol=0.1)  # bilinear resampling blurs the peak a little
    fine = pipeline.frame_heatmaps(h_crop, A, 4, (128, 128), frame_stride=1)
    ys, xs = np.mgrid[0:128, 0:128]  # frame px of the cell centres
    for n in range(2):  # the probability-weighted mean lands on the point
        w = fine[n, 0] / fine[n, 0].sum()
        np.testing.assert_allclose([np.sum(w * xs), np.sum(w * ys)], frame_pts[n, 0], atol=0.1)
    assert h_frame[0, 0, 0, 0] == 0.0  # outside the crop


def test_tiny_end_to_end_run_returns_frame_coordinates():
    images, kp, vis = _frames(n=3, size=32)
    cfg = pipeline.TopDownConfig(crop_frame_px=16, zoom=2, n_aug=1, head_width=4, epochs=1, centroid_epochs=1)
    model = pipeline.train_topdown(images, kp, vis, NAMES, cfg, progress=False)
    points, conf, h, A = pipeline.predict_topdown(model, images, return_heatmaps=True)
    assert points.shape == (3, 4, 2) and conf.shape == (3, 4) and h.shape == (3, 4, 8, 8)
    assert np.all((conf >= 0) & (conf <= 1))
    # every keypoint lies inside its frame's crop window
    inside = augment.transform_keypoints(points, A)
    assert np.all((inside >= -0.5) & (inside <= 31.5))
    assert model.train_cpu_s > 0 and model.epochs == 1


def test_input_validation_messages():
    images, kp, vis = _frames()
    with pytest.raises(ValueError, match="names"):
        pipeline.train_topdown(images, kp, vis, NAMES[:3])
    with pytest.raises(ValueError, match="keypoints"):
        pipeline.training_crops(images, kp[:2], vis, augment.mirror_pairs(NAMES), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="images"):
        pipeline.predict_topdown(None, np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="mirror"):
        pipeline.predict_crop_heatmaps(torch.nn.Identity(), [torch.zeros(1)], [torch.zeros(1)])
