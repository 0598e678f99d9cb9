"""The posterior-frame widget figure of notebook 05 draws what it says, with one artist for all draws."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba_array  # noqa: E402

from lecturekit import plotting, synth  # noqa: E402
from lecturekit.gimbal import figures as gw  # noqa: E402


@pytest.fixture(scope="module")
def rodent():
    from lecturekit import datasets

    skeleton, cameras = synth.rodent_skeleton(), synth.default_rig()
    truth = datasets.load("multiview")["positions"][:5]                     # (T, K, 3) mm
    samples = truth[None] + np.random.default_rng(0).normal(0, 3, (40,) + truth.shape)   # (N, T, K, 3) mm
    observations = np.stack([cam.project(truth) for cam in cameras])       # (C, T, K, 2) px
    return skeleton, cameras, truth, samples, observations


def _draw(rodent, t, **kw):
    skeleton, cameras, truth, samples, observations = rodent
    return gw.draw_posterior_frame(t, samples=samples, cameras=cameras, observations=observations,
                                   parents=skeleton.parents, names=skeleton.names, truth=truth, **kw)


def test_posterior_frame_draws_every_shown_draw_bone_by_bone(rodent):
    """Oracle: the segments and camera dots built one draw, one bone, one keypoint at a time."""
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    skeleton, cameras, truth, samples, _ = rodent
    t, n_show = 3, 7
    fig = _draw(rodent, t, n_show=n_show)
    pick = np.linspace(0, len(samples) - 1, n_show).astype(int)
    expected = [np.stack([samples[i, t, k], samples[i, t, p]]) for i in pick
                for k, p in enumerate(skeleton.parents) if p >= 0]
    draws = [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)]
    assert len(draws) == 1
    np.testing.assert_allclose(np.asarray(draws[0]._segments3d), np.stack(expected))
    colours = to_rgba_array(plotting.keypoint_colors(skeleton.names))
    for ax, cam in zip(fig.axes[1:], cameras[:3]):
        dots = ax.collections[0]
        want = np.concatenate([cam.project(samples[pick, t])[:, k] for k in range(skeleton.K)])
        np.testing.assert_allclose(dots.get_offsets(), want)
        np.testing.assert_allclose(dots.get_facecolors()[:, :3],
                                   np.repeat(colours, n_show, axis=0)[:, :3])
    # One artist for all draws' bones: only the truth's bones are lines of their own.
    assert len(fig.axes[0].lines) == int(np.sum(np.asarray(skeleton.parents) >= 0))
    # The axis limits hold every draw (the collection is added without autoscaling).
    points = np.stack(expected).reshape(-1, 3)
    for name, column in zip("xyz", points.T):
        lo, hi = getattr(fig.axes[0], f"get_{name}lim")()
        assert lo <= column.min() and column.max() <= hi
    plt.close(fig)
