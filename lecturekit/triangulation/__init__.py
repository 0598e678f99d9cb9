"""Lecture 4, notebook ``04_triangulation``: 3D from several calibrated cameras.

* ``dlt``: the direct linear transform (Hartley-normalised), reprojection error and the
  Cramer-Rao bound: ``triangulate_dlt``, ``reprojection_error``, ``cramer_rao_bound``, ``undistort``.
* ``robust``: the median of pairs, RANSAC and Gauss-Newton refinement: ``triangulate_median``,
  ``triangulate_ransac``, ``refine_gauss_newton``.
* ``gaps``: ``interpolate_missing`` and ``initial_positions`` (the one way to fill gaps and to
  start Models 0/1 and the Gibbs sampler).
* ``bayes3d``: Model 0 (random-walk prior, Gaussian observations) and Model 1 (robust outlier
  mixture): ``fit_model0``, ``fit_model1``, ``outlier_posterior``.
* ``figures``: the notebook's figures and widget callbacks.

All names are re-exported here (``triangulation.triangulate_dlt`` works); ``projection_jacobian``
lives in :mod:`lecturekit.geometry` and is re-exported for the notebooks.
"""

from ..geometry import projection_jacobian
from . import bayes3d, dlt, gaps, robust
from .dlt import *  # noqa: F403
from .dlt import __all__ as _dlt_all
from .gaps import *  # noqa: F403
from .gaps import __all__ as _gaps_all
from .robust import *  # noqa: F403
from .robust import __all__ as _robust_all

__all__ = ["bayes3d", "dlt", "gaps", "robust", "projection_jacobian", *_dlt_all, *_robust_all, *_gaps_all]
