"""Top-down crops: a keypoint mapped into a crop lands on the cropped pixel, and maps back exactly."""

import numpy as np
import pytest
import torch

from lecturekit.cnn import topdown


def test_centre_is_the_mean_of_labelled_keypoints():
    kp = np.array([[[0.0, 0.0], [2.0, 4.0], [np.nan, np.nan]], [[1.0, 1.0], [3.0, 3.0], [5.0, 8.0]]])
    vis = np.array([[True, True, True], [True, True, False]])
    np.testing.assert_allclose(topdown.animal_centres(kp, vis), [[1.0, 2.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match="frame 1 has no labelled keypoint"):
        topdown.animal_centres(kp, np.array([[True, False, False], [False, False, False]]))


def test_unaugmented_crop_puts_the_centre_in_the_middle_and_zooms():
    A = topdown.crop_affines(np.array([[40.0, 30.0]]), 64, zoom=2.0)
    k = topdown.uncrop_keypoints(np.array([[[31.5, 31.5], [33.5, 31.5]]]), A)
    np.testing.assert_allclose(k[0], [[40.0, 30.0], [41.0, 30.0]], atol=1e-12)


def test_every_crop_pixel_shows_the_frame_point_it_maps_back_to():
    # A frame whose two channels hold each pixel's own (x, y): bilinear resampling reproduces a
    # linear function exactly, so crop pixel (i, j) must read the frame point uncrop((j, i)).
    rng = np.random.default_rng(0)
    H, W, S = 60, 80, 24
    ys, xs = np.mgrid[0:H, 0:W].astype(float)
    frame = torch.as_tensor(np.stack([xs, ys])[None]).repeat(3, 1, 1, 1)
    centres = np.array([[30.0, 25.0], [50.5, 31.2], [40.0, 30.0]])
    A = topdown.crop_affines(centres, S, zoom=2.0, rng=rng, rotation_deg=45, scale_range=(0.8, 1.2), jitter_px=3.0)
    crops = topdown.crop_images(frame, A, S).numpy()
    ci, cj = np.mgrid[0:S, 0:S]
    grid = np.stack([cj.ravel(), ci.ravel()], -1).astype(float)
    back = topdown.uncrop_keypoints(np.repeat(grid[None], 3, 0), A)  # (3, S*S, 2) frame px
    read = crops.reshape(3, 2, -1).transpose(0, 2, 1)
    np.testing.assert_allclose(read, back, atol=1e-3)


def test_cropped_keypoints_map_back_exactly():
    rng = np.random.default_rng(1)
    pts = rng.uniform(20, 50, (4, 6, 2))
    A = topdown.crop_affines(pts.mean(1), 64, zoom=3.0, rng=rng, rotation_deg=90, jitter_px=2.0)
    k, v = topdown.crop_keypoints(pts, np.ones((4, 6), bool), A, 64)
    np.testing.assert_allclose(topdown.uncrop_keypoints(k, A), pts, atol=1e-9)


def test_keypoints_outside_the_crop_become_invisible():
    A = topdown.crop_affines(np.array([[10.0, 10.0]]), 8)
    _, v = topdown.crop_keypoints(np.array([[[10.0, 10.0], [30.0, 10.0]]]), np.ones((1, 2), bool), A, 8)
    assert v.tolist() == [[True, False]]


def test_input_validation_messages():
    with pytest.raises(ValueError, match="centres"):
        topdown.crop_affines(np.zeros((3, 3)), 32)
    with pytest.raises(ValueError, match="crop_size"):
        topdown.crop_affines(np.zeros((1, 2)), 1)
    with pytest.raises(ValueError, match="rng"):
        topdown.crop_affines(np.zeros((1, 2)), 32, rotation_deg=10)
    with pytest.raises(ValueError, match="A: expected"):
        topdown.uncrop_keypoints(np.zeros((1, 1, 2)), np.zeros((2, 3, 3)))
