"""Part 6 figures (the widget's callback, the error figure, the animation) and its two self-checks."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lecturekit import checks, synth  # noqa: E402
from lecturekit.end_to_end import figures, stage_table  # noqa: E402
from lecturekit.triangulation import bayes3d  # noqa: E402


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    positions = synth.simulate_behaviour(3, seed=2).positions
    r = synth.render_frames(positions, synth.default_rig(), image_size=(160, 120), seed=2)
    sk = synth.rodent_skeleton()
    draws = positions[None] + rng.normal(0, 2, (4,) + positions.shape)
    return dict(images=r.images, points=r.keypoints2d + rng.normal(0, 1, r.keypoints2d.shape),
                confidence=rng.uniform(0, 1, r.visible.shape), visible=r.visible, draws=draws,
                mean=draws.mean(0), truth=positions, parents=sk.parents, names=sk.names,
                camera_names=[c.name for c in synth.default_rig()])


def _pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_pipeline_frame_has_its_size_and_changes_with_the_frame(scene):
    a, b = figures.draw_pipeline_frame(0, **scene), figures.draw_pipeline_frame(2, **scene)
    assert tuple(a.get_size_inches()) == (10.0, 4.6) and len(a.axes) == 7
    assert a.axes[0].get_title().startswith("cam0")
    pa, pb = _pixels(a), _pixels(b)
    assert pa.shape == pb.shape and np.mean(pa != pb) > 0.01
    plt.close("all")
    with pytest.raises(ValueError, match="t: expected a frame"):
        figures.draw_pipeline_frame(3, **scene)


def test_pipeline_frame_states_the_credible_interval_half_width(scene):
    # a box of +-1 mm on every axis around each keypoint, +-3 mm on x for the nose at frame 1:
    # half-diagonals sqrt(3) mm for all but the nose, sqrt(9 + 1 + 1) mm for it
    lower, upper = scene["mean"] - 1.0, scene["mean"] + 1.0
    nose = scene["names"].index("nose")
    lower[1, nose, 0], upper[1, nose, 0] = lower[1, nose, 0] - 2.0, upper[1, nose, 0] + 2.0
    ax = figures.draw_pipeline_frame(1, **scene, lower=lower, upper=upper).axes[-1]
    text = " ".join(t.get_text() for t in ax.texts)
    assert f"median {np.sqrt(3):.1f} mm" in text and f"widest {np.sqrt(11):.1f} mm (nose)" in text, text
    assert not any("interval" in t.get_text() for t in figures.draw_pipeline_frame(1, **scene).axes[-1].texts)
    plt.close("all")


def test_error_sources_figure(scene):
    err = np.linalg.norm(scene["points"] - synth.default_rig()[0].project(scene["truth"])[None], axis=-1)
    fig = figures.plot_error_sources({"CNN": err, "model": err / 2}, scene["visible"],
                                     {"DLT": np.array([3.0, 4.0, 5.0])}, np.array([2, 3, 0]), synth.BEHAVIOURS)
    assert fig.get_size_inches()[0] >= 4.7 and len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) == 4            # two sources x visible / occluded
    plt.close(fig)


def test_animation_has_one_frame_per_index(scene):
    anim = figures.animate_posterior(scene["draws"], scene["mean"], scene["truth"], scene["parents"], scene["names"],
                                     frames=[0, 2])
    html = figures.animation_html(anim)
    assert html.count("data:image/jpeg;base64,") == 2                  # one JPEG per frame
    assert "http" not in html and 'class="fa' not in html               # nothing to fetch, even fonts
    assert "&gt;|" in html and "||" in html
    with pytest.raises(ValueError, match="frames"):
        figures.animate_posterior(scene["draws"], scene["mean"], scene["truth"], scene["parents"], scene["names"],
                                  frames=[5])


@pytest.fixture
def student_mode(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


def test_self_checks_pass_the_references_and_catch_mistakes(capsys, student_mode):
    checks.check_exercise("confidence_outlier_prior", bayes3d.confidence_outlier_prior)
    checks.check_exercise("stage_table", stage_table)
    assert capsys.readouterr().out.count("PASSED") == 2
    no_clip = lambda s, beta, shape: 2 * beta * (1 - np.nan_to_num(np.asarray(s, float), nan=0.5))  # noqa: E731
    checks.check_exercise("confidence_outlier_prior", no_clip)
    raw_only = lambda est, truth: {k: (np.nanmean(np.linalg.norm(x - truth, axis=-1)),) * 2  # noqa: E731
                                   for k, x in est.items()}
    checks.check_exercise("stage_table", raw_only)
    out = capsys.readouterr().out
    assert out.count("NOT YET") == 2
