"""GIMBAL (lecture: "GIMBAL: capturing correlations in direction vectors with pose states").

``vmf`` (von Mises-Fisher on S^2), ``hmm`` (FFBS over pose states), ``model`` (parameters,
generative sampling, fitting the prior), ``sampler`` (the Gibbs sampler with an explicit state
and submodel switches), ``diagnostics`` (ArviZ R-hat and ESS, interval coverage),
``spatial_priors`` (Model 2's distance priors), ``comparison`` (the Table 1/2 comparison),
``reconstruct`` (``reconstruct_3d``: cameras + 2D + skeleton -> a posterior, in one call),
``figures`` (the notebook's figures).
"""

from . import comparison, diagnostics, hmm, model, reconstruct, sampler, vmf
from .model import GimbalParams, fit_gimbal, fit_observation_model, sample_gimbal, uniform_direction_params
from .reconstruct import Reconstruction3D, reconstruct_3d
from .sampler import GibbsState, GimbalSampler, dispersed_starts, run_chains

__all__ = ["vmf", "hmm", "model", "sampler", "diagnostics", "GimbalParams", "fit_gimbal", "fit_observation_model",
           "sample_gimbal", "uniform_direction_params", "GibbsState", "GimbalSampler", "dispersed_starts", "run_chains",
           "comparison", "reconstruct", "Reconstruction3D", "reconstruct_3d"]
