"""GIMBAL (lecture: "GIMBAL: capturing correlations in direction vectors with pose states").

``vmf`` (von Mises-Fisher on S^2), ``hmm`` (FFBS over pose states), ``model`` (parameters,
generative sampling, fitting the prior), ``sampler`` (the Gibbs sampler with an explicit state
and submodel switches), ``diagnostics`` (R-hat, ESS, interval coverage).
"""

from . import diagnostics, hmm, model, sampler, vmf
from .model import GimbalParams, fit_gimbal, fit_observation_model, sample_gimbal, uniform_direction_params
from .sampler import GibbsState, GimbalSampler, initial_positions, run_chains
from . import comparison

__all__ = ["vmf", "hmm", "model", "sampler", "diagnostics", "GimbalParams", "fit_gimbal", "fit_observation_model",
           "sample_gimbal", "uniform_direction_params", "GibbsState", "GimbalSampler", "initial_positions", "run_chains",
           "comparison"]
