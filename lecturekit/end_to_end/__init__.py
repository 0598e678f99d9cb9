"""The whole lecture in one pipeline (notebook ``06_end_to_end``): six cameras' pixels -> the
part-3 CNN's keypoints -> triangulation (part 4) -> GIMBAL's posterior (part 5), with ground
truth at every stage.

``detect`` (the detector on the rig's images): ``rig_at_size``, ``flatten_views``,
``train_rig_detector``, ``detect_keypoints``, ``RIG_DETECTOR_CONFIG``.
``evaluate`` (errors at every stage): ``keypoint_error_table``, ``format_keypoint_error_table``,
``left_right_swaps``, ``lag1_error_correlation``, ``stage_table``, ``format_stage_table``,
``goal_ratios``, ``goal_lines``.
``figures``: ``draw_pipeline_frame`` (the widget's callback), ``plot_error_sources``,
``animate_posterior``.
"""

from . import detect, evaluate, figures
from .detect import RIG_DETECTOR_CONFIG, detect_keypoints, flatten_views, rig_at_size, train_rig_detector
from .evaluate import (
                       format_keypoint_error_table,
                       format_stage_table,
                       goal_lines,
                       goal_ratios,
                       keypoint_error_table,
                       lag1_error_correlation,
                       left_right_swaps,
                       stage_table,
)

__all__ = ["detect", "evaluate", "figures", "RIG_DETECTOR_CONFIG", "rig_at_size", "flatten_views",
           "train_rig_detector", "detect_keypoints", "keypoint_error_table", "format_keypoint_error_table",
           "left_right_swaps", "lag1_error_correlation", "stage_table", "format_stage_table", "goal_ratios",
           "goal_lines"]
