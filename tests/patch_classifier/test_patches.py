"""lecturekit.patch_classifier.patches: patch extraction, standardisation and the vectorised sliding-window score
map (checked against a brute-force loop and torch's conv2d), plus an end-to-end detection on
synthetic images with a known keypoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lecturekit.patch_classifier import optim, patches


def test_grayscale_uses_the_luma_weights():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[1, 0] = (0, 0, 255)
    rgb[1, 1] = (255, 255, 255)
    assert np.allclose(patches.to_grayscale(rgb), [[0.299, 0.587], [0.114, 1.0]])
    assert np.allclose(patches.to_grayscale(rgb / 255.0), [[0.299, 0.587], [0.114, 1.0]])
    with pytest.raises(ValueError, match=r"images: expected shape \(\.\.\., H, W, 3\)"):
        patches.to_grayscale(np.zeros((4, 4)))


def test_extract_patches_centres_and_border_padding():
    image = np.arange(6 * 7, dtype=float).reshape(6, 7)
    got = patches.extract_patches(image, [[3, 2], [0, 0]], (3, 5))
    assert got.shape == (2, 3, 5)
    assert np.array_equal(got[0], image[1:4, 1:6])  # x = column 3, y = row 2
    assert got[1][1, 2] == image[0, 0]  # centre pixel
    assert np.array_equal(got[1][0], got[1][1])  # the row above the image repeats row 0
    assert np.all(got[1][:, :2] == got[1][:, [2]])  # columns left of the image repeat column 0
    with pytest.raises(ValueError, match="patch_shape: expected two odd"):
        patches.extract_patches(image, [[1, 1]], (4, 5))
    with pytest.raises(ValueError, match=r"centres: expected shape \(M, 2\)"):
        patches.extract_patches(image, [1, 1], (3, 3))
    with pytest.raises(ValueError, match=r"image: expected a grayscale image"):
        patches.extract_patches(np.zeros((5, 5, 3)), [[1, 1]], (3, 3))


def test_standardization_design_matrix_and_pixel_filter():
    rng = np.random.default_rng(0)
    p = rng.random((50, 5, 5)) * 3 + 2
    st = patches.fit_standardization(p)
    z = patches.standardize_patches(p, st)
    assert np.allclose(z.mean(axis=0), 0, atol=1e-12)
    assert np.allclose(z.std(axis=0), 1, atol=1e-12)
    X = patches.design_matrix(p, st)
    assert X.shape == (50, 26)
    assert np.all(X[:, -1] == 1)
    assert np.allclose(X[:, :-1], z.reshape(50, -1))
    # folding the standardisation into a kernel + bias gives the same logits on raw patches
    w = rng.normal(size=26)
    kernel, bias = patches.pixel_filter(w, st)
    assert np.allclose(np.einsum("nkl,kl->n", p, kernel) + bias, X @ w)
    with pytest.raises(ValueError, match=r"w: expected shape \(26,\)"):
        patches.pixel_filter(w[:-1], st)
    with pytest.raises(ValueError, match="patches: expected patches of shape"):
        patches.design_matrix(np.zeros((3, 4, 4)), st)
    with pytest.raises(ValueError, match="at least 2 patches"):
        patches.fit_standardization(p[:1])


def test_score_map_equals_a_brute_force_loop_over_pixels():
    rng = np.random.default_rng(1)
    image = rng.random((17, 23))
    st = patches.fit_standardization(rng.random((30, 5, 7)))
    w = rng.normal(size=36)
    kernel, bias = patches.pixel_filter(w, st)
    got = patches.score_map(image, kernel, bias, (5, 7))
    H, W = image.shape
    want = np.empty((H, W))
    for i in range(H):
        for j in range(W):
            want[i, j] = patches.design_matrix(patches.extract_patches(image, [[j, i]], (5, 7)), st)[0] @ w
    assert got.shape == (H, W)
    assert np.allclose(got, want, rtol=1e-10, atol=1e-10)
    assert np.allclose(patches.probability_map(image, kernel, bias, (5, 7)), 1 / (1 + np.exp(-want)))


def test_score_map_is_torch_conv2d_on_the_padded_image():
    rng = np.random.default_rng(2)
    image = rng.random((20, 24))
    w = rng.normal(size=(3, 5))
    padded = np.pad(image, ((1, 1), (2, 2)), mode="edge")
    conv = torch.nn.functional.conv2d(torch.as_tensor(padded)[None, None], torch.as_tensor(w)[None, None],
                                      bias=torch.tensor([0.25], dtype=torch.float64)).numpy()[0, 0]
    assert np.allclose(patches.score_map(image, w, 0.25, (3, 5)), conv, atol=1e-12)


def test_score_map_validation():
    with pytest.raises(ValueError, match="w: expected 9 kernel weights"):
        patches.score_map(np.zeros((8, 8)), np.zeros(10), 0.0, (3, 3))


def test_detect_keypoint_returns_x_y():
    m = np.zeros((10, 20))
    m[3, 15] = 1.0
    assert np.array_equal(patches.detect_keypoint(m), [15, 3])


def _blob_images(T=30, H=40, W=48, seed=0):
    """Noisy frames with one bright Gaussian blob (the 'keypoint') at a known random location."""
    rng = np.random.default_rng(seed)
    kp = np.column_stack([rng.uniform(6, W - 7, T), rng.uniform(6, H - 7, T)])
    yy, xx = np.mgrid[:H, :W]
    images = 0.3 + 0.08 * rng.normal(size=(T, H, W))
    for t in range(T):
        images[t] += 0.6 * np.exp(-((xx - kp[t, 0]) ** 2 + (yy - kp[t, 1]) ** 2) / (2 * 1.5 ** 2))
    return images, kp


def test_sample_patch_dataset_labels_and_centres():
    images, kp = _blob_images(T=6)
    visible = np.array([True, True, False, True, True, True])
    ds = patches.sample_patch_dataset(images, kp, visible, (7, 7), n_negatives=10, min_distance=6, jitter=1,
                                      hard_fraction=0.5, hard_radius=12, seed=0)
    pos = ds["labels"] == 1
    assert pos.sum() == 5 * 9 and (~pos).sum() == 6 * 10
    assert 2 not in ds["frames"][pos]
    d = np.hypot(*(ds["centres"][~pos] - np.rint(kp[ds["frames"][~pos]])).T)
    assert np.all(d >= 6)
    assert np.mean(d < 12) >= 0.4  # about half are hard negatives near the keypoint
    for n in np.flatnonzero(pos)[:9]:
        t = ds["frames"][n]
        assert np.array_equal(ds["patches"][n], patches.extract_patches(images[t], ds["centres"][[n]], (7, 7))[0])
        assert np.max(np.abs(ds["centres"][n] - np.rint(kp[t]))) <= 1
    with pytest.raises(ValueError, match="hard_fraction: expected a fraction"):
        patches.sample_patch_dataset(images, kp, visible, (7, 7), hard_fraction=1.5)
    with pytest.raises(ValueError, match=r"keypoints2d: expected shape \(6, 2\)"):
        patches.sample_patch_dataset(images, kp[:5], visible[:6], (7, 7))


def test_patch_classifier_finds_a_known_keypoint():
    images, kp = _blob_images(T=40, seed=3)
    train = patches.sample_patch_dataset(images[:30], kp[:30], np.ones(30, bool), (9, 9), n_negatives=30,
                                         min_distance=4, jitter=0, seed=1)
    st = patches.fit_standardization(train["patches"])
    w = optim.fit_newton(patches.design_matrix(train["patches"], st), train["labels"], l2=1.0).w
    kernel, bias = patches.pixel_filter(w, st)
    errors = []
    for t in range(30, 40):
        prob = patches.probability_map(images[t], kernel, bias, (9, 9))
        errors.append(np.linalg.norm(patches.detect_keypoint(prob) - kp[t]))
    assert np.median(errors) < 1.0  # within a pixel of the true (sub-pixel) location
