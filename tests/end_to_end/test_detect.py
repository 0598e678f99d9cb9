"""Part 6, stage 1 glue: the rescaled rig, the labelled-image layout, and exact 2D -> 3D."""

import dataclasses

import numpy as np
import pytest
import torch

from lecturekit import synth, triangulation
from lecturekit.cnn import pipeline, pretrained
from lecturekit.end_to_end import RIG_DETECTOR_CONFIG, detect_keypoints, flatten_views, rig_at_size, train_rig_detector


@pytest.fixture(scope="module")
def tiny_render():
    positions = synth.simulate_behaviour(3, seed=4).positions
    return positions, synth.render_frames(positions, synth.default_rig(), image_size=(160, 120), seed=4)


def test_rescaled_cameras_project_where_the_renderer_drew_the_keypoints(tiny_render):
    positions, rendered = tiny_render
    cams = rig_at_size(synth.default_rig(), (160, 120))
    assert all(c.image_size == (160, 120) for c in cams)
    np.testing.assert_allclose(np.stack([c.project(positions) for c in cams]), rendered.keypoints2d, atol=1e-9)


def test_rescaling_scales_pixel_centres_for_a_pinhole_camera():
    full = synth.default_rig()[0]                      # cam0 has no distortion
    assert full.k1 == 0
    x = np.array([[10.0, -20.0, 40.0], [100.0, 50.0, 5.0]])
    small = rig_at_size([full], (320, 240))[0]
    np.testing.assert_allclose(small.project(x) + 0.5, (full.project(x) + 0.5) * 0.5, atol=1e-9)


def test_dlt_on_exact_detections_recovers_the_truth(tiny_render):
    positions, rendered = tiny_render
    cams = rig_at_size(synth.default_rig(), (160, 120))
    x = triangulation.triangulate_dlt(cams, rendered.keypoints2d)
    assert np.max(np.abs(x - positions)) < 1e-6


def test_flatten_views_is_camera_major(tiny_render):
    _, r = tiny_render
    images, kp, vis = flatten_views(r.images, r.keypoints2d, r.visible)
    assert images.shape == (18, 120, 160, 3) and kp.shape == (18, 13, 2) and vis.shape == (18, 13)
    np.testing.assert_array_equal(images[3 * 2 + 1], r.images[2, 1])     # camera 2, frame 1
    np.testing.assert_array_equal(kp[3 * 5 + 2], r.keypoints2d[5, 2])


def test_rig_detector_uses_part_3s_training_settings():
    defaults = pipeline.TopDownConfig()
    for name in ("n_aug", "epochs", "centroid_epochs", "sigma_crop", "pos_weight", "flip_prob", "lr", "head_width"):
        assert getattr(RIG_DETECTOR_CONFIG, name) == getattr(defaults, name), name
    assert RIG_DETECTOR_CONFIG.crop_frame_px * RIG_DETECTOR_CONFIG.zoom == 128     # 160 x 120 views: zoom 2


def test_detect_keypoints_is_part_3s_flip_averaged_prediction_batch_by_batch(tiny_render):
    _, r = tiny_render
    names = synth.rodent_skeleton().names
    tiny = dataclasses.replace(RIG_DETECTOR_CONFIG, n_aug=0, head_width=4, epochs=1, centroid_epochs=1)
    model = train_rig_detector(r.images, r.keypoints2d, r.visible, names, tiny, progress=False)
    points, conf = detect_keypoints(model, r.images, batch_size=4, progress=False)      # 18 images: 5 batches
    x, _, _ = flatten_views(r.images, r.keypoints2d, r.visible)
    with torch.no_grad():
        want_pts, want_conf = pipeline.predict_topdown(model, pretrained.imagenet_normalize(x))
    C, T, K = r.visible.shape
    assert points.shape == (C, T, K, 2) and conf.shape == (C, T, K)
    np.testing.assert_allclose(points.reshape(C * T, K, 2), want_pts, atol=1e-4)
    np.testing.assert_allclose(conf.reshape(C * T, K), want_conf, atol=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda: rig_at_size(synth.default_rig(), (160.5, 120)), "image_size"),
    (lambda: rig_at_size(synth.default_rig(), (0, 120)), "image_size"),
    (lambda: flatten_views(np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 1, 2)), np.zeros((2, 3, 1), bool)), "images"),
    (lambda: flatten_views(np.zeros((2, 3, 4, 4, 3)), np.zeros((2, 4, 1, 2)), np.zeros((2, 3, 1), bool)),
     "keypoints2d"),
    (lambda: flatten_views(np.zeros((2, 3, 4, 4, 3)), np.zeros((2, 3, 1, 2)), np.zeros((2, 3, 2), bool)), "visible"),
    (lambda: detect_keypoints(None, np.zeros((4, 8, 8, 3), np.uint8)), "images"),
    (lambda: detect_keypoints(None, np.zeros((1, 4, 8, 8, 3), np.uint8), batch_size=0), "batch_size"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
