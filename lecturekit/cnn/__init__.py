"""Lecture 3, notebook ``03_cnn_heatmaps``: CNN keypoint heatmaps and transfer learning.

* ``heatmaps``: targets, the Bernoulli heatmap loss, logistic regression as a 1-layer CNN,
  decoding with subpixel refinement: ``heatmap_targets``, ``heatmap_loss``, ``decode_heatmaps``.
* ``models``: the scratch CNN, the pretrained EfficientNet-Lite0 pose net, training and prediction
  (``train_heatmap_model``, ``train_head_on_features``, ``predict_heatmaps``,
  ``predict_keypoints``); re-exported here, so ``cnn.train_heatmap_model`` works.
* ``pretrained``: offline ImageNet weights: ``load_efficientnet_lite0``, ``efficientnet_lite0_features``.
* ``augment``: keypoint-aware augmentation: ``random_affines``, ``warp_images``, ``flip_horizontal``.
* ``topdown``: find the animal, then crop: ``animal_centres``, ``crop_affines``, ``crop_images``.
* ``pipeline``: the top-down detector (SLEAP's centroid + centred instance): ``train_topdown``,
  ``predict_topdown``, and its steps (``train_centroid_model``, ``training_crops``, ``crop_features``,
  ``train_keypoint_head``, ``predict_crop_heatmaps``).
* ``pictorial``: pictorial structures, the tree MAP: ``fit_pairwise``, ``tree_map``, ``tree_map_batch``,
  ``pictorial_decode``, and its scorecard ``decoder_errors`` (RMSE, gross errors, left/right swaps).
* ``features``: what a network learned: ``first_layer_filters``, ``features_at_points``, ``pca``.
* ``architectures``: ResNet's residual block, DeepLabCut's deconvolution head, SLEAP's U-Net as tiny
  modules, and ``trace_shapes``.
* ``figures``: the heatmap viewer widget's drawing function.
"""

from . import architectures, augment, features, heatmaps, pictorial, pipeline, pretrained, topdown
from .models import *  # noqa: F403  (the training API is used as cnn.<name>)
from .models import __all__ as _models_all

__all__ = ["architectures", "augment", "features", "heatmaps", "pictorial", "pipeline", "pretrained", "topdown",
           *_models_all]
