"""Keypoint-aware augmentation: a transformed keypoint lands on the transformed pixel."""

import numpy as np
import pytest
import torch

from lecturekit.cnn import augment, heatmaps


def _blob_images(points, shape, sigma=1.5):
    """Images (N, 1, H, W) with one Gaussian blob per image at points (N, 2) px."""
    t = heatmaps.heatmap_targets(np.asarray(points, float)[:, None], shape, stride=1, sigma=sigma)
    return torch.as_tensor(t)


def _peak(images):
    pts, _ = heatmaps.decode_heatmaps(images.numpy().clip(1e-6, None), 1, refine="quadratic")
    return pts[:, 0]


def test_affine_matrix_matches_rotation_about_centre():
    A = augment.affine_matrix(90.0, 2.0, (1.0, -1.0), (10.0, 5.0))
    p = np.array([11.0, 5.0, 1.0])  # one px right of the centre -> 2 px "down" (+y), then translated
    np.testing.assert_allclose(A @ p, [10.0 + 1.0, 5.0 + 2.0 - 1.0], atol=1e-12)


def test_transformed_keypoint_lands_on_transformed_pixel():
    rng = np.random.default_rng(0)
    H, W = 48, 64
    pts = np.column_stack([rng.uniform(20, 44, 6), rng.uniform(16, 32, 6)])
    images = _blob_images(pts, (H, W))
    A = augment.random_affines(rng, 6, (H, W), rotation_deg=40, scale_range=(0.8, 1.25), translate_frac=0.05)
    warped = augment.warp_images(images, A)
    moved = augment.transform_keypoints(pts[:, None], A)[:, 0]
    np.testing.assert_allclose(_peak(warped), moved, atol=0.25)


def test_crop_with_output_shape_and_identity():
    rng = np.random.default_rng(1)
    images = torch.as_tensor(rng.normal(size=(2, 3, 20, 30)), dtype=torch.float32)
    same = augment.warp_images(images, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)
    crop = augment.warp_images(images, np.array([[1.0, 0, -5.0], [0, 1.0, -3.0]]), out_shape=(10, 12))
    torch.testing.assert_close(crop, images[:, :, 3:13, 5:17], atol=1e-5, rtol=0)


def test_augment_batch_keeps_labels_on_blobs_and_marks_outside_invisible():
    rng = np.random.default_rng(2)
    H, W = 40, 40
    pts = np.array([[20.0, 20.0], [18.0, 22.0], [21.0, 19.0]])
    images = _blob_images(pts, (H, W)).repeat(1, 3, 1, 1)
    config = augment.AugmentConfig(occlusion_prob=0.0, brightness=0.0, contrast=0.0)
    out, kp, vis = augment.augment_batch(images, pts[:, None], np.ones((3, 1), bool), rng, config)
    assert out.shape == images.shape and vis.all()
    np.testing.assert_allclose(_peak(out[:, :1]), kp[:, 0], atol=0.25)
    far = augment.AugmentConfig(rotation_deg=0, scale_range=(1, 1), translate_frac=0.0, occlusion_prob=0,
                                brightness=0, contrast=0)
    _, _, vis2 = augment.augment_batch(images, np.array([[[45.0, 5.0]]] * 3), np.ones((3, 1), bool), rng, far)
    assert not vis2.any()


def test_photometric_augmentations_change_pixels_not_shape():
    rng = np.random.default_rng(3)
    x = torch.ones((4, 3, 16, 16))
    occ = augment.occlude(x + torch.arange(16.0), rng, prob=1.0)
    assert occ.shape == x.shape and not torch.equal(occ, x + torch.arange(16.0))
    bc = augment.adjust_brightness_contrast(x, rng, brightness=0.5, contrast=0.0)
    assert bc.shape == x.shape and not torch.allclose(bc, x)


def test_input_validation_messages():
    with pytest.raises(ValueError, match="scale"):
        augment.affine_matrix(0.0, -1.0)
    with pytest.raises(ValueError, match="keypoints"):
        augment.transform_keypoints(np.zeros((3, 2)), np.eye(2, 3))
    with pytest.raises(ValueError, match="A: expected"):
        augment.transform_keypoints(np.zeros((2, 1, 2)), np.zeros((3, 3)))


def test_invert_affines_undoes_each_map():
    rng = np.random.default_rng(3)
    A = augment.random_affines(rng, 4, (40, 60), rotation_deg=90, scale_range=(0.5, 2.0), translate_frac=0.2)
    pts = rng.uniform(0, 60, (4, 5, 2))
    back = augment.transform_keypoints(augment.transform_keypoints(pts, A), augment.invert_affines(A))
    np.testing.assert_allclose(back, pts, atol=1e-9)


def test_mirror_pairs_by_name_and_flip_moves_labels_with_the_pixels():
    assert augment.mirror_pairs(["nose", "left_ear", "right_ear", "tail"]).tolist() == [0, 2, 1, 3]
    assert augment.mirror_pairs(["snout", "leftear", "rightear", "tailbase"]).tolist() == [0, 2, 1, 3]
    pts = np.array([[[10.0, 5.0], [20.0, 7.0], [3.0, 9.0]]])  # nose, left, right
    images = _blob_images(pts[0], (16, 32))[None, :, 0]      # (1, 3, 16, 32): one blob per keypoint channel
    mirror = augment.mirror_pairs(["nose", "left_paw", "right_paw"])
    flipped, kp, vis = augment.flip_horizontal(images, pts, np.array([[True, True, False]]), mirror)
    np.testing.assert_allclose(kp[0], [[21.0, 5.0], [28.0, 9.0], [11.0, 7.0]])
    assert vis.tolist() == [[True, False, True]]
    # channel k of the flipped image (the blob of keypoint mirror[k]) peaks on the flipped label k
    peaks = heatmaps.decode_heatmaps(flipped[:, mirror].numpy().clip(1e-6), 1)[0][0]
    np.testing.assert_allclose(peaks, kp[0], atol=0.25)
    with pytest.raises(ValueError, match="mirror"):
        augment.flip_horizontal(images, pts, np.ones((1, 3), bool), np.array([1, 2, 0]))


def test_random_flips_flip_exactly_the_chosen_images_and_leave_the_inputs_alone():
    rng = np.random.default_rng(4)
    images = torch.as_tensor(rng.normal(size=(6, 2, 5, 7)), dtype=torch.float32)
    kp = rng.uniform(0, 6, (6, 2, 2))
    vis = np.array([[True, False]] * 6)
    mirror = np.array([1, 0])
    before = images.clone()
    out, k, v = augment.random_flips(images, kp, vis, np.random.default_rng(9), mirror, prob=0.5)
    chosen = np.random.default_rng(9).random(6) < 0.5
    assert 0 < chosen.sum() < 6
    fx, fk, fv = augment.flip_horizontal(images, kp, vis, mirror)
    for n in range(6):
        torch.testing.assert_close(out[n], fx[n] if chosen[n] else images[n])
        np.testing.assert_allclose(k[n], fk[n] if chosen[n] else kp[n])
        assert v[n].tolist() == (fv[n] if chosen[n] else vis[n]).tolist()
    torch.testing.assert_close(images, before)
