"""The widget pattern: controls, then one figure at the defaults, updated in place on every change."""

import IPython
import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
from IPython.testing.globalipapp import start_ipython

from lecturekit.interactive import interactive_figure


def test_static_figure_then_redraw_on_change():
    calls = []

    def draw(alpha, name):
        calls.append((alpha, name))
        fig, ax = plt.subplots()
        ax.set_title(f"{alpha} {name}")
        return fig

    slider = widgets.FloatSlider(value=0.5, min=0, max=1)
    menu = widgets.Dropdown(options=["a", "b"], value="a")
    box = interactive_figure(draw, alpha=slider, name=menu, return_box=True)
    assert calls == [(0.5, "a")]
    slider.value = 0.75
    menu.value = "b"
    assert calls == [(0.5, "a"), (0.75, "a"), (0.75, "b")]
    assert "lecturekit-widget" in box._dom_classes
    assert plt.get_fignums() == []          # every drawn figure is closed (no leak, no extra display)
    assert slider.continuous_update is False  # one redraw per release of the slider, not per pixel dragged


def test_one_figure_output_updated_in_place_in_ipython():
    """In a kernel: one widget output, one figure output with a display id; a change updates that id."""
    shell = start_ipython() or IPython.get_ipython()
    from IPython.core.interactiveshell import InteractiveShell
    published = []
    pub = shell.display_pub
    original = pub.publish

    def record(data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        published.append((sorted(data), (transient or {}).get("display_id"), update))
    pub.publish = record
    try:
        slider = widgets.FloatSlider(value=1.0, min=0, max=2)

        def draw(a):
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, a])
            return fig
        box = interactive_figure(draw, a=slider, return_box=True)
        slider.value = 1.5
    finally:
        pub.publish = original
    assert isinstance(shell, InteractiveShell)
    figures = [p for p in published if p[1] is not None]     # the figure outputs carry a display id
    assert len(published) == 3 and published[0][1] is None   # the controls first, without an id
    assert len(figures) == 2 and figures[0][1] is not None
    assert figures[0][1] == figures[1][1] and figures[0][2] is False and figures[1][2] is True
    assert box.live_figure.n_draws == 2


def test_bad_controls_are_named():
    with pytest.raises(ValueError, match="controls"):
        interactive_figure(lambda: None)
    with pytest.raises(TypeError, match="alpha: expected an ipywidgets control"):
        interactive_figure(lambda alpha: None, alpha=0.5)
