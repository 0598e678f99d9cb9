"""The one pattern every widget of the course follows.

``interactive_figure(draw, a=slider, b=dropdown)`` displays

1. the figure ``draw(a=..., b=...)`` at the controls' default values, as an ordinary output, so
   nbval, nbgrader, an HTML or PDF export and a reader without a live kernel all see it; then
2. the controls above an output area; moving a control redraws ``draw(**values)`` there.

``draw`` must be a pure function of the control values returning a matplotlib Figure. It is
what the tests call; the widget is wiring only. Nothing later in a notebook may depend on a
widget having moved.
"""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt

__all__ = ["interactive_figure", "control_values"]


def control_values(controls: dict) -> dict:
    """The current value of every control, by keyword."""
    return {name: control.value for name, control in controls.items()}


def interactive_figure(draw: Callable[..., "plt.Figure"], *, show_static: bool = True, return_box: bool = False,
                       **controls):
    """Show ``draw`` at the controls' defaults, then the live widget (returned if ``return_box``).

    Args:
        draw: pure function of the controls' values (keywords) returning a Figure.
        show_static: display the default figure as a plain output first (keep True in notebooks).
        return_box: return the ipywidgets VBox (for tests); notebooks leave it False so the
            widget is not displayed twice.
        **controls: ipywidgets value widgets (sliders, dropdowns, ...) keyed by ``draw``'s
            keyword names.
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not controls:
        raise ValueError("controls: give at least one widget, e.g. alpha=FloatSlider(...)")
    for name, control in controls.items():
        if not hasattr(control, "value") or not hasattr(control, "observe"):
            raise TypeError(f"{name}: expected an ipywidgets control with a .value, got {type(control).__name__}")

    if show_static:
        static = draw(**control_values(controls))
        display(static)
        plt.close(static)

    output = widgets.Output(layout=widgets.Layout(min_height="40px"))
    output.add_class("lecturekit-widget-output")
    note = widgets.HTML("<i>Move a control to redraw the figure here.</i>")

    def redraw(_change=None):
        figure = draw(**control_values(controls))
        with output:
            output.clear_output(wait=True)
            display(figure)
        plt.close(figure)
        note.value = ""

    for control in controls.values():
        control.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox(list(controls.values())), note, output])
    box.add_class("lecturekit-widget")
    display(box)
    return box if return_box else None
