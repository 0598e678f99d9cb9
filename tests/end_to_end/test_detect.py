"""Part 6, stage 1 glue: the rescaled rig, the labelled-image layout, and exact 2D -> 3D."""

import numpy as np
import pytest

from lecturekit import synth, triangulation
from lecturekit.end_to_end import detect_keypoints, flatten_views, rig_at_size


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
