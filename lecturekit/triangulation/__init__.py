"""Lecture 4, notebook ``04_triangulation``: 3D from several calibrated cameras.

* ``dlt``: the direct linear transform (Hartley-normalised), the median of pairs, RANSAC,
  Gauss-Newton refinement, reprojection error and the Cramer-Rao bound: ``triangulate_dlt``,
  ``triangulate_median``, ``triangulate_ransac``, ``refine_gauss_newton``, ``reprojection_error``,
  ``cramer_rao_bound``; re-exported here, so ``triangulation.triangulate_dlt`` works.
* ``bayes3d``: Model 0 (random-walk prior, Gaussian observations) and Model 1 (robust outlier
  mixture): ``fit_model0``, ``fit_model1``, ``outlier_posterior``.
* ``figures``: the notebook's figures and widget callbacks.
"""

from . import bayes3d, dlt
from .dlt import *  # noqa: F403
from .dlt import __all__ as _dlt_all

__all__ = ["bayes3d", "dlt", *_dlt_all]
