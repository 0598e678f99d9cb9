"""The virtual rodent: the course's default data, generated offline from a seed.

DESIGN.md "The virtual rodent": a 13-keypoint rat skeleton (``skeleton``), a behaviour simulator
that is not GIMBAL's generative model (``behaviour``), a calibrated six-camera rig (``rig``), a
ray-casting renderer with per-view occlusion (``render``) and a detector-error model
(``detector``). Units: mm, radians, pixels; world z is up, the arena floor is z = 0.
"""

from .behaviour import ARENA_HALF_WIDTH, BEHAVIOURS, Motion, simulate_behaviour
from .detector import Detections, corrupt_detections
from .render import Rendered, keypoint_visibility, render_frames
from .rig import default_rig, frame_camera
from .skeleton import Skeleton, forward_kinematics, rodent_skeleton

__all__ = [
    "Skeleton", "rodent_skeleton", "forward_kinematics",
    "Motion", "BEHAVIOURS", "ARENA_HALF_WIDTH", "simulate_behaviour",
    "default_rig", "frame_camera",
    "Rendered", "render_frames", "keypoint_visibility",
    "Detections", "corrupt_detections",
]
