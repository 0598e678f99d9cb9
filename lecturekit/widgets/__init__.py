"""Interactive figures for the notebooks: one module per lecture part, all built on
:func:`interactive_figure`. Callbacks are pure drawing functions (data in, figure out), tested
without a browser; the notebooks only wire controls to them."""

from .core import interactive_figure

__all__ = ["interactive_figure"]
