"""Heatmap targets, the Bernoulli loss, conv2d = sliding patch classifier, decoding, models
(the metrics are tested in tests/core/test_metrics.py)."""

import numpy as np
import pytest
import torch

from lecturekit import cnn
from lecturekit.cnn import heatmaps as hm


def test_gaussian_targets_peak_at_keypoint_and_follow_the_formula():
    kp = np.array([[[10.0, 6.0], [3.0, np.nan]]])
    t = hm.heatmap_targets(kp, (12, 16), stride=1, sigma=2.0)
    assert t.shape == (1, 2, 12, 16) and t.dtype == np.float32
    assert t[0, 0, 6, 10] == pytest.approx(1.0)
    assert t[0, 0, 6, 13] == pytest.approx(np.exp(-9 / 8), rel=1e-6)
    assert not t[0, 1].any()  # a missing keypoint has an empty channel


def test_strided_targets_use_cell_centres_and_disk_targets():
    assert np.allclose(hm.cell_centers(3, 4), [1.5, 5.5, 9.5])
    kp = np.array([[[5.5, 9.5]]])
    t = hm.heatmap_targets(kp, (16, 16), stride=4, sigma=1.0)
    assert t.shape == (1, 1, 4, 4) and np.unravel_index(t[0, 0].argmax(), (4, 4)) == (2, 1)
    d = hm.heatmap_targets(np.array([[[8.0, 8.0]]]), (17, 17), kind="disk", radius=3.0)
    ii, jj = np.mgrid[:17, :17]
    np.testing.assert_array_equal(d[0, 0], ((ii - 8) ** 2 + (jj - 8) ** 2 <= 9).astype(np.float32))
    vis = np.array([[False]])
    assert not hm.heatmap_targets(kp, (16, 16), stride=4, visible=vis).any()


def test_loss_is_the_bernoulli_negative_log_likelihood():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    y = torch.rand(2, 3, 5, 4, generator=g, dtype=torch.float64)
    p = torch.sigmoid(a)
    manual = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(hm.heatmap_loss(a, y), manual)
    mask = torch.tensor([[1, 0, 1], [0, 0, 1]])
    per = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(dim=(2, 3))
    torch.testing.assert_close(hm.heatmap_loss(a, y, mask), (per * mask).sum() / 3)
    with pytest.raises(ValueError, match="logits/targets"):
        hm.heatmap_loss(a, y[:, :2])


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "edge"])
def test_conv2d_equals_the_patch_loop(standardize, padding):
    rng = np.random.default_rng(0)
    image, w = rng.uniform(size=(14, 17)), rng.normal(size=(5, 7))
    got = hm.score_map_conv2d(image, w, 0.3, standardize=standardize, padding=padding)
    want = hm.score_map_patch_loop(image, w, 0.3, standardize=standardize, padding=padding)
    np.testing.assert_allclose(got, want, atol=1e-10)
    np.testing.assert_allclose(hm.probability_map_conv2d(image, w, 0.3, standardize=standardize, padding=padding),
                               1 / (1 + np.exp(-want)), atol=1e-12)


def test_conv2d_reproduces_lecture_1_probability_map():
    patches = pytest.importorskip("lecturekit.patch_classifier.patches")
    rng = np.random.default_rng(1)
    image, w = rng.uniform(size=(20, 23)), rng.normal(size=(7, 5))
    want = patches.probability_map(image, w.ravel(), -0.4, (7, 5))  # lecture 1: linear in raw pixels
    got = hm.probability_map_conv2d(image, w, -0.4, padding="edge")
    np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("stride", [1, 4])
@pytest.mark.parametrize("refine", ["quadratic", "integral"])
def test_subpixel_peak_is_recovered_within_a_tenth_of_a_pixel(stride, refine):
    rng = np.random.default_rng(stride)
    true = np.column_stack([rng.uniform(12, 50, 20), rng.uniform(12, 36, 20)])[:, None]  # (20, 1, 2)
    # the windowed mean is unbiased only if the window covers the peak: +-3 cells for sigma = 1 cell
    sigma = (1.5 if refine == "quadratic" else 1.0) * stride
    h = hm.heatmap_targets(true, (48, 64), stride=stride, sigma=sigma)
    pts, scores = hm.decode_heatmaps(h, stride, refine=refine, window=3)
    assert np.max(np.abs(pts - true)) < 0.1
    raw, _ = hm.decode_heatmaps(h, stride, refine="none")
    assert np.max(np.abs(raw - true)) <= stride / 2 + 1e-9  # the argmax alone is off by up to half a cell
    assert scores.shape == (20, 1) and np.all(scores > 0.5)


def test_argmax_decoding_and_logits_flag():
    h = np.zeros((1, 2, 5, 6))
    h[0, 0, 3, 4] = 1.0
    h[0, 1, 0, 0] = 1.0
    pts, _ = hm.decode_argmax(h, stride=2)
    np.testing.assert_allclose(pts[0], [[4 * 2 + 0.5, 3 * 2 + 0.5], [0.5, 0.5]])
    logits = np.where(h > 0, 5.0, -5.0)
    np.testing.assert_allclose(hm.decode_heatmaps(logits, 2, refine="none", logits=True)[0], pts)


def test_quantisation_floor_matches_simulation():
    rng = np.random.default_rng(0)
    s = 4
    x = rng.uniform(0, 400, (200000, 2))
    rounded = (np.floor(x / s) + 0.5) * s
    per_coord = np.sqrt(np.mean((rounded - x) ** 2))
    dist = np.sqrt(np.mean(np.sum((rounded - x) ** 2, -1)))
    assert per_coord == pytest.approx(hm.quantization_floor(s), rel=0.01)
    assert dist == pytest.approx(hm.quantization_floor(s, two_d=True), rel=0.01)


def test_input_validation_messages():
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, K, 2\)"):
        hm.heatmap_targets(np.zeros((3, 2)), (8, 8))
    with pytest.raises(ValueError, match="kind"):
        hm.heatmap_targets(np.zeros((1, 1, 2)), (8, 8), kind="box")
    with pytest.raises(ValueError, match="refine"):
        hm.decode_heatmaps(np.zeros((1, 1, 4, 4)), refine="soft")
    with pytest.raises(ValueError, match="weights"):
        hm.score_map_conv2d(np.zeros((5, 5)), np.zeros((4, 3)), 0.0)


def test_models_output_stride_4_logits_and_training_fits_a_toy_problem():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    N, H, W = 24, 32, 32
    kp = rng.uniform(6, 26, (N, 1, 2))
    blobs = hm.heatmap_targets(kp, (H, W), sigma=1.5)  # the keypoint is a bright blob
    images = torch.as_tensor(np.repeat(blobs, 3, axis=1) * 2 - 0.5 + 0.1 * rng.normal(size=(N, 3, H, W)),
                             dtype=torch.float32)
    model = cnn.ScratchCNN(1, width=8)
    assert model(images[:2]).shape == (2, 1, 8, 8)
    losses = cnn.train_heatmap_model(model, images, kp, np.ones((N, 1), bool), epochs=25, batch_size=8, lr=3e-3,
                                     sigma=3.0, progress=False)
    assert losses[-1] < 0.5 * losses[0]
    pts, _, heat = cnn.predict_keypoints(model, images)
    assert heat.shape == (N, 1, 8, 8)
    assert np.median(np.linalg.norm(pts - kp, axis=-1)) < 3.0  # well inside one 4-px cell
    head = cnn.UpsamplingHead((4, 6, 8), n_keypoints=3, width=8)
    feats = [torch.zeros(2, 4, 16, 16), torch.zeros(2, 6, 8, 8), torch.zeros(2, 8, 4, 4)]
    assert head(feats).shape == (2, 3, 16, 16)


def test_heatmap_viewer_draws_a_figure_and_checks_its_arguments():
    import matplotlib

    matplotlib.use("Agg")
    from lecturekit.cnn.figures import draw_heatmap_viewer, heatmap_viewer

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    truth = rng.uniform(2, 14, (3, 2, 2))
    h = hm.heatmap_targets(truth, (16, 16), stride=4, sigma=3.0)
    pred, _ = hm.decode_heatmaps(h, 4)
    fig = heatmap_viewer(images, h, pred, truth, ("nose", "tail_base"))(frame=2, keypoint="tail_base")
    assert len(fig.axes) == 3 and "frame 2: tail_base" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="keypoint"):
        draw_heatmap_viewer(images, h, pred, truth, ("nose", "tail_base"), keypoint="paw")
    with pytest.raises(ValueError, match="frame"):
        draw_heatmap_viewer(images, h, pred, truth, ("nose", "tail_base"), frame=5)
    # under the course style (constrained layout by default) the colour bar must not break the layout
    from lecturekit import plotting

    with matplotlib.rc_context():
        plotting.use_course_style()
        fig = draw_heatmap_viewer(images, h, pred, truth, ("nose", "tail_base"), frame=1)
        fig.canvas.draw()
        assert fig.get_layout_engine() is not None and len(fig.axes) == 3


def test_upsampling_keeps_keypoints_on_their_pixels():
    """2x upsampling for small animals: a blob at p must peak at to_upsampled(p) (pixel-centre
    convention p' = 2 p + 1/2), and from_upsampled must invert it; a half-pixel slip here would
    bias every decoded keypoint."""
    pts = np.array([[[20.3, 41.7], [50.0, 12.25]]])
    blob = torch.as_tensor(hm.heatmap_targets(pts, (64, 64), sigma=3.0))
    big = cnn.upsample_images(blob, 2).numpy()
    peak, _ = hm.decode_heatmaps(big.clip(1e-9), 1, refine="quadratic")
    assert np.allclose(peak, cnn.to_upsampled(pts, 2), atol=0.1)
    assert np.allclose(cnn.from_upsampled(cnn.to_upsampled(pts, 3), 3), pts)
    with pytest.raises(ValueError, match="factor"):
        cnn.upsample_images(blob, 1.5)


def test_flip_averaged_heatmaps_put_the_peaks_back_on_the_keypoints():
    from lecturekit.cnn import augment
    rng = np.random.default_rng(8)
    pts = rng.uniform(4, 27, (2, 3, 2))
    mirror = augment.mirror_pairs(["nose", "left_paw", "right_paw"])
    h = hm.heatmap_targets(pts, (24, 32), stride=4, sigma=3.0)
    _, flipped_pts, _ = augment.flip_horizontal(torch.zeros(2, 1, 24, 32), pts, np.ones((2, 3), bool), mirror)
    h_flipped = hm.heatmap_targets(flipped_pts, (24, 32), stride=4, sigma=3.0)  # a perfect model on the mirror images
    avg = hm.average_with_mirrored(h, h_flipped, mirror, 32, stride=4)
    np.testing.assert_allclose(avg, h, atol=1e-6)
    with pytest.raises(ValueError, match="image_width"):
        hm.average_with_mirrored(h, h_flipped, mirror, 30, stride=4)


def test_predict_heatmaps_with_mirror_averages_with_the_flipped_prediction():
    from lecturekit.cnn import augment

    class Pool(torch.nn.Module):  # "heatmap logits" = 4x4 average of the image channels
        stride = 4

        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, 4)

    x = torch.as_tensor(np.random.default_rng(2).normal(size=(2, 3, 8, 12)), dtype=torch.float32)
    mirror = augment.mirror_pairs(["nose", "left_ear", "right_ear"])
    plain = cnn.predict_heatmaps(Pool(), x)
    flipped = cnn.predict_heatmaps(Pool(), torch.flip(x, dims=(-1,)))
    np.testing.assert_allclose(cnn.predict_heatmaps(Pool(), x, mirror=mirror),
                               hm.average_with_mirrored(plain, flipped, mirror, 12, 4), atol=1e-6)
    assert not np.allclose(cnn.predict_heatmaps(Pool(), x, mirror=mirror), plain)
    with pytest.raises(ValueError, match="cached features"):
        cnn.predict_heatmaps(Pool(), [x], mirror=mirror)


def test_grid_affine_resamples_heatmaps_as_the_map_moves_the_image():
    from lecturekit.cnn import augment

    stride, (Hs, Ws) = 4, (9, 11)
    # oracle: a "heatmap" whose two channels hold each cell centre's own image px (x, y); bilinear
    # resampling reproduces a linear function exactly, so output cell c must read A^-1 (centre of c)
    xs, ys = hm.cell_centers(Ws, stride), hm.cell_centers(Hs, stride)
    ramp = np.stack(np.meshgrid(xs, ys))[None].astype(np.float64)
    A = augment.affine_matrix(20.0, 1.3, translation=(3.0, -2.0), center=(20.0, 17.0))
    out = augment.warp_images(torch.as_tensor(ramp), hm.grid_affine(A, stride), (Hs, Ws)).numpy()[0]
    centres = np.stack(np.meshgrid(xs, ys), -1)  # (Hs, Ws, 2) px
    A_inv = np.linalg.inv(np.vstack([A, [0, 0, 1]]))
    expected = centres @ A_inv[:2, :2].T + A_inv[:2, 2]
    inside = ((expected >= [xs[0], ys[0]]) & (expected <= [xs[-1], ys[-1]])).all(-1)
    assert inside.sum() > 20
    np.testing.assert_allclose(np.moveaxis(out, 0, -1)[inside], expected[inside], atol=1e-9)
    with pytest.raises(ValueError, match="A: expected"):
        hm.grid_affine(np.eye(3), stride)


class _PoolNet(torch.nn.Module):
    """A stand-in "network": heatmap logits = the 4x4 average of the first image channel, so a
    bright blob at p gives a heatmap peak at p at any scale."""

    stride = 4

    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x[:, :1], 4)


def _blob_image(centre, shape=(50, 67), sigma=5.0):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    blob = 6.0 * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2)) - 3.0
    return torch.as_tensor(np.broadcast_to(blob, (1, 3) + shape).copy(), dtype=torch.float32)


class _RampNet(torch.nn.Module):
    """Heatmap probability = (4x4 average of image channel 0) / 1000: on an image whose channel 0
    holds each pixel's own x, every cell reads the x (px of the original image) of its centre / 1000."""

    stride = 4

    def forward(self, x):
        return torch.logit(torch.nn.functional.avg_pool2d(x[:, :1], 4) / 1000.0)


@pytest.mark.parametrize("f", [0.5, 0.8, 1.0, 1.25, 2.0])
def test_multiscale_heatmaps_are_resampled_onto_the_cells_of_the_image(f):
    H, W = 50, 67  # neither side a multiple of the stride
    x = torch.zeros(1, 3, H, W, dtype=torch.float64)
    x[0, 0] = torch.arange(W, dtype=torch.float64)
    h = cnn.predict_heatmaps(_RampNet().double(), x, scales=[f])
    assert h.shape == (1, 1, 13, 17)
    # a linear function survives pooling and bilinear resampling exactly, so away from the padded
    # border cell j of the result must read its own centre (cell_centers): a slip of the cell
    # convention when resampling back would be (stride - 1) / 2 |1 / f - 1| >= 0.3 px here
    centres = hm.cell_centers(17, 4)
    np.testing.assert_allclose(h[0, 0, 1:-2, 1:-2] * 1000, np.broadcast_to(centres[1:-2], (10, 14)), atol=1e-3)


@pytest.mark.parametrize("scales", [(1.0,), (0.8, 1.0, 1.25)])
def test_multiscale_prediction_returns_to_the_grid_of_the_image(scales):
    from lecturekit.cnn import augment

    centre = np.array([41.3, 27.6])
    x = _blob_image(centre)  # 50 x 67: neither side a multiple of the stride
    h = cnn.predict_heatmaps(_PoolNet(), x, scales=scales)
    assert h.shape == (1, 1, 13, 17) and h.dtype == np.float32
    pts, _ = hm.decode_heatmaps(h, 4, refine="quadratic")
    assert np.linalg.norm(pts[0, 0] - centre) < 0.5  # the blob's peak, found through every scale
    mirror = augment.mirror_pairs(["nose"])
    both = cnn.predict_heatmaps(_PoolNet(), x, scales=scales, mirror=mirror)  # canvases are padded for the flip
    assert np.linalg.norm(hm.decode_heatmaps(both, 4, refine="quadratic")[0][0, 0] - centre) < 0.5


def test_multiscale_at_scale_one_is_the_plain_prediction_and_bad_scales_are_refused():
    x = _blob_image((30.0, 20.0), shape=(48, 64))
    np.testing.assert_allclose(cnn.predict_heatmaps(_PoolNet(), x, scales=[1.0]), cnn.predict_heatmaps(_PoolNet(), x),
                               atol=1e-6)
    for bad in ([], [0.0, 1.0], [-1.0]):
        with pytest.raises(ValueError, match="scales"):
            cnn.predict_heatmaps(_PoolNet(), x, scales=bad)
    with pytest.raises(ValueError, match="cached features"):
        cnn.predict_heatmaps(_PoolNet(), [x], scales=[1.0])
