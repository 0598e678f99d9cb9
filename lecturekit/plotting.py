"""One look for every figure of the course.

The keypoint palette is fixed course-wide so that the same body part has the same colour in
every notebook. Colours come from Paul Tol's colour-blind-safe qualitative schemes.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib as mpl

__all__ = ["TOL_COLORS", "keypoint_color", "keypoint_colors", "use_course_style", "METHOD_COLORS", "FIGURE_DPI",
           "MIN_WIDTH_IN", "MIN_FONT_PT"]

# Paul Tol "muted" (9) + "bright" extras: distinguishable under the common colour-vision deficiencies.
TOL_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
              "#882255", "#AA4499", "#EE6677", "#4477AA", "#228833", "#CCBB44", "#66CCEE", "#BBBBBB")

# Fixed colours for body parts by name; any other name gets a stable colour from its hash.
_NAMED = {
    "nose": "#CC6677", "snout": "#CC6677", "head": "#882255", "left_ear": "#AA4499", "leftear": "#AA4499",
    "right_ear": "#DDCC77", "rightear": "#DDCC77", "neck": "#332288", "spine_mid": "#4477AA",
    "hips": "#88CCEE", "tail_base": "#44AA99", "tailbase": "#44AA99", "tail_mid": "#117733",
    "tail_tip": "#228833", "left_forepaw": "#999933", "right_forepaw": "#EE6677",
    "left_hindpaw": "#CCBB44", "right_hindpaw": "#66CCEE",
}

METHOD_COLORS = {"ground truth": "#000000", "DLT": "#BBBBBB", "median": "#999933", "RANSAC": "#DDCC77",
                 "Model 0": "#88CCEE", "Model 1": "#4477AA", "Model 2": "#44AA99", "GIMBAL": "#CC6677"}


def keypoint_color(name: str) -> str:
    """The course colour of one body part (hex string)."""
    if name in _NAMED:
        return _NAMED[name]
    return TOL_COLORS[sum(map(ord, name)) % len(TOL_COLORS)]


def keypoint_colors(names: Sequence[str]) -> list[str]:
    """Course colours for a list of body-part names."""
    return [keypoint_color(n) for n in names]


# Stored PNGs are figsize x FIGURE_DPI pixels; every course figure is at least MIN_WIDTH_IN inches wide,
# so at least 5.0 x 130 = 650 px.  Text of 8 pt at 130 dpi is 14.4 px, i.e. 10.8 pt on a 96-dpi screen.
FIGURE_DPI = 130
MIN_WIDTH_IN = 5.0
MIN_FONT_PT = 8


def use_course_style() -> None:
    """The course figure style: readable at 100 % zoom, constrained layout, stored PNGs >= 600 px wide.

    Sets matplotlib's defaults (figure size 7.0 x 3.8 in at 130 dpi for screen and savefig, fonts
    of 10-12 pt, constrained layout, no top/right spines, the keypoint palette as the colour
    cycle) and, inside IPython, stores inline figures at their full size (no tight-bbox crop),
    so that a figure's stored width is its width in inches x 130 dpi.
    """
    mpl.rcParams.update({
        "figure.figsize": (7.0, 3.8), "figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI,
        "figure.constrained_layout.use": True,
        "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
        "ytick.labelsize": 9, "legend.fontsize": 9, "figure.titlesize": 12,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
        "legend.frameon": False, "image.cmap": "viridis",
        "axes.prop_cycle": mpl.cycler(color=list(TOL_COLORS[:11])),
    })
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import InlineBackend
    except ImportError:  # plain Python: nothing to configure
        return
    if get_ipython() is not None:
        InlineBackend.instance().print_figure_kwargs = {"bbox_inches": None}
