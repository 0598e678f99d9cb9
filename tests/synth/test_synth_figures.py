"""The welcome notebook's figures are pure functions of the data they show."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lecturekit import synth  # noqa: E402
from lecturekit.synth.figures import draw_skeleton, draw_view  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    skeleton = synth.rodent_skeleton()
    motion = synth.simulate_behaviour(20, seed=1)
    rendered = synth.render_frames(motion.positions[:3], synth.default_rig(), skeleton=skeleton,
                                   image_size=(160, 120), seed=1)
    return skeleton, motion, rendered


def _pixels(fig) -> np.ndarray:
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()
    plt.close(fig)
    return pixels


def test_view_changes_with_frame_and_camera(scene):
    skeleton, _, rendered = scene
    base = _pixels(draw_view(rendered, skeleton, frame=0, camera=0))
    assert not np.array_equal(base, _pixels(draw_view(rendered, skeleton, frame=2, camera=0)))
    assert not np.array_equal(base, _pixels(draw_view(rendered, skeleton, frame=0, camera=5)))
    assert np.array_equal(base, _pixels(draw_view(rendered, skeleton, frame=0, camera=0)))  # pure


def test_view_title_counts_visible_keypoints(scene):
    skeleton, _, rendered = scene
    fig = draw_view(rendered, skeleton, frame=1, camera=2, camera_name="cam2")
    assert f"{int(rendered.visible[2, 1].sum())}/{skeleton.K} keypoints visible" in fig.axes[0].get_title()
    plt.close(fig)


def test_bad_indices_and_shapes_are_named(scene):
    skeleton, motion, rendered = scene
    with pytest.raises(ValueError, match="frame, camera"):
        draw_view(rendered, skeleton, frame=99, camera=0)
    with pytest.raises(ValueError, match="positions: expected shape"):
        draw_skeleton(skeleton, motion.positions[:2])
    plt.close(draw_skeleton(skeleton, motion.positions[0]))


def test_skeleton_names_every_keypoint_once_in_a_legend_off_the_axes(scene):
    skeleton, motion, _ = scene
    fig = draw_skeleton(skeleton, motion.positions[0])
    fig.canvas.draw()
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(skeleton.names)
    ax_box, leg_box = fig.axes[0].get_window_extent(), legend.get_window_extent()
    assert leg_box.x0 >= ax_box.x1 - 1  # beside the 3D axes, not on the skeleton
    assert fig.get_size_inches()[0] * fig.dpi >= 600 or fig.get_size_inches()[0] >= 5.0
    plt.close(fig)
