"""The course figure style: figures >= 600 px wide at the course dpi, every optimiser curve
distinguishable, legends beside the data rather than on it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lecturekit import plotting  # noqa: E402
from lecturekit.patch_classifier import figures, logreg  # noqa: E402


def _width_px(fig) -> float:
    return fig.get_size_inches()[0] * plotting.FIGURE_DPI


def test_course_style_sets_dpi_layout_and_readable_fonts():
    with matplotlib.rc_context():
        plotting.use_course_style()
        fig = plt.figure()
        assert fig.dpi == plotting.FIGURE_DPI and matplotlib.rcParams["savefig.dpi"] == plotting.FIGURE_DPI
        assert fig.get_layout_engine() is not None and "Constrained" in type(fig.get_layout_engine()).__name__
        assert _width_px(fig) >= 600
        sizes = [matplotlib.rcParams[k] for k in ("font.size", "xtick.labelsize", "legend.fontsize")]
        assert min(sizes) >= plotting.MIN_FONT_PT
        plt.close(fig)


def test_every_figure_function_is_at_least_600_px_wide_at_the_course_dpi():
    X, y, _, _ = logreg.simulate_problem(60, 4, seed=0)
    rng = np.random.default_rng(0)
    figs = [
        figures.bernoulli_pmf_figure(0.3), figures.logistic_figure(1.0),
        figures.gd_learning_rate_figure(1.0, X, y, 0.1, n_iter=5),
        figures.patch_gallery_figure(rng.random((20, 5, 5)), np.arange(20) % 2, n_per_class=4),
        figures.probability_map_figure(rng.random((20, 30)), rng.random((20, 30)), (3, 4), (5, 6)),
        figures.convergence_figure({"Adam": (np.arange(4.0), np.ones(4))}),
        figures.weight_norm_figure({"a": rng.normal(size=(5, 3))}),
        figures.complexity_figure([10, 20, 40], {"Newton": np.array([1e-3, 4e-3, 1.6e-2])}),
    ]
    for fig in figs:
        assert _width_px(fig) >= 600, fig.axes[0].get_title()
        plt.close(fig)


def test_convergence_curves_differ_in_colour_style_and_marker():
    curves = {name: (np.arange(5.0), np.logspace(2, -2, 5)) for name in figures.OPTIMIZER_STYLES}
    fig = figures.convergence_figure(curves)
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in fig.axes[0].lines}
    assert len(looks) == len(curves)
    assert {line.get_color() for line in fig.axes[0].lines}.__len__() == len(curves)
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_probability_map_legend_is_outside_both_panels():
    rng = np.random.default_rng(1)
    fig = figures.probability_map_figure(rng.random((40, 40)), rng.random((40, 40)), (3, 4), (5, 6))
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    for ax in fig.axes[:2]:
        assert not box.overlaps(ax.get_window_extent())
    assert not any(ax.get_legend() for ax in fig.axes)
    plt.close(fig)


def test_weight_norm_figure_plots_the_norm_of_every_iterate_but_w0():
    path = np.random.default_rng(2).normal(size=(7, 3))
    fig = figures.weight_norm_figure({"run": path})
    x, y = fig.axes[0].lines[0].get_data()
    assert np.array_equal(x, np.arange(1, 7)) and np.allclose(y, np.linalg.norm(path[1:], axis=1))
    plt.close(fig)
