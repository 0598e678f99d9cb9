"""One look for every figure of the course.

The keypoint palette is fixed course-wide so that the same body part has the same colour in
every notebook. Colours come from Paul Tol's colour-blind-safe qualitative schemes.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib as mpl

__all__ = ["TOL_COLORS", "keypoint_color", "keypoint_colors", "use_course_style", "METHOD_COLORS"]

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


def use_course_style() -> None:
    """Figure defaults for notebooks: modest size and resolution, no top/right spines."""
    mpl.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 80, "savefig.dpi": 80,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
        "axes.titlesize": 11, "axes.labelsize": 10, "legend.frameon": False,
        "image.cmap": "viridis",
    })
