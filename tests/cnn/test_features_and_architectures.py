"""Feature learning made visible (PCA, sampling features) and the architectures the lecture names."""

import numpy as np
import pytest
import torch

from lecturekit.cnn import architectures, features


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5)) + 3.0
    scores, comps, ratio = features.pca(X, 2)
    ref = PCA(2).fit(X)
    sign = np.sign(np.sum(comps * ref.components_, 1))
    np.testing.assert_allclose(comps, ref.components_ * sign[:, None], atol=1e-10)
    np.testing.assert_allclose(scores, ref.transform(X) * sign, atol=1e-8)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-12)
    with pytest.raises(ValueError, match="n_components"):
        features.pca(X, 6)


def test_features_at_cell_centres_are_the_cells_and_midpoints_average():
    f = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    stride = 4
    centre = lambda i, j: (stride * j + 1.5, stride * i + 1.5)  # noqa: E731
    pts = np.array([centre(0, 0), centre(2, 3), centre(1, 2)])
    np.testing.assert_allclose(features.features_at_points(f, pts, stride), f[:, [0, 2, 1], [0, 3, 2]].T.numpy())
    mid = np.array([[(centre(1, 1)[0] + centre(1, 2)[0]) / 2, centre(1, 1)[1]]])
    np.testing.assert_allclose(features.features_at_points(f, mid, stride)[0], (f[:, 1, 1] + f[:, 1, 2]).numpy() / 2)


def test_first_layer_filters_map_zero_to_grey():
    w = torch.zeros(2, 3, 3, 3)
    w[1, 0, 1, 1] = -2.0
    img = features.first_layer_filters(w)
    assert img.shape == (2, 3, 3, 3)
    assert np.allclose(img[0], 0.5) and img[1, 1, 1, 0] == 0.0


def test_residual_block_keeps_shapes_and_is_the_identity_at_zero_weights():
    x = torch.relu(torch.randn(2, 6, 9, 7))
    block = architectures.ResidualBlock(6, zero_init=True)
    assert torch.equal(block(x), x)
    trained = architectures.ResidualBlock(6)
    y = trained(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # y - x = F(x) where y > 0: the block learns a correction
    F_x = trained.conv2(torch.relu(trained.conv1(x)))
    torch.testing.assert_close(torch.relu(x + F_x), y)


def test_deeplabcut_and_sleap_networks_output_shapes():
    x = torch.randn(1, 3, 64, 64)
    backbone = architectures.TinyResNet(width=4, stages=3)
    f = backbone(x)
    assert f.shape == (1, 32, 4, 4)  # stride 16
    assert architectures.DeconvHead(32, 5)(f).shape == (1, 5, 8, 8)  # one deconvolution: stride 8
    unet = architectures.TinyUNet(5, width=4, levels=2)
    assert unet(x).shape == (1, 5, 64, 64)
    shapes = architectures.trace_shapes(unet, x)
    names = [n for n, _, _ in shapes]
    assert names[0].startswith("down.0") and names[-1] == "out"
    merge = [s for n, s, _ in shapes if n == "merge.0.0"][0]
    assert merge[1] == 2 * 8  # the skip connection doubles the channels entering the decoder
