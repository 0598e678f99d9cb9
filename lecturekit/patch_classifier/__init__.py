"""Lectures 1-2, notebooks ``01_logistic_regression`` and ``02_optimization``: the patch classifier.

Pose tracking as supervised learning on image patches, and the optimisers that fit it.

* ``logreg``: the Bernoulli model with a logistic link: ``sigmoid``, ``nll``, ``grad``,
  ``hessian``, ``predict_proba``, ``simulate_problem``.
* ``optim``: gradient descent, Newton's method / IRLS, BFGS (scipy), and the stochastic optimisers
  SGD with momentum, Adagrad, RMSProp and Adam (numpy, one step function each, checked against
  torch.optim): ``fit_gradient_descent``, ``fit_newton``, ``fit_irls``, ``fit_scipy``,
  ``fit_minibatch``, ``adam_step`` etc., and ``fit_torch``.
* ``gradcheck``: finite-difference checks: ``gradient_check``, ``hessian_check``, ``relative_error``.
* ``patches``: patches from labelled frames and the sliding-window probability map:
  ``extract_patches``, ``sample_patch_dataset``, ``probability_map``, ``detect_keypoint``.
* ``figures``: the notebooks' figures and widget callbacks (data in, figure out).
"""

from . import gradcheck, logreg, optim, patches

__all__ = ["logreg", "optim", "gradcheck", "patches"]
