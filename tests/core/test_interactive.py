"""The widget pattern: a static figure at the defaults, then a redraw on every change."""

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

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


def test_bad_controls_are_named():
    with pytest.raises(ValueError, match="controls"):
        interactive_figure(lambda: None)
    with pytest.raises(TypeError, match="alpha: expected an ipywidgets control"):
        interactive_figure(lambda alpha: None, alpha=0.5)
