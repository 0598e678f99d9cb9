"""The virtual rodent's calibrated camera rig (lecture: "3D Pose estimation: projective geometry").

Six OpenCV pinhole cameras watch the 600 x 600 mm arena: five in a ring about 1 m from its centre
at 300-450 mm height, all looking at the arena centre, and one "top" camera 1.2 m above it. Two
ring cameras carry a mild radial distortion k1 (as real calibrations do), so that methods which
ignore it pay a small price. ``frame_camera`` gives the single oblique-top camera of the 2D
lectures (patch classifier, CNN): the whole arena floor just fits in its image.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Camera, check_image_size, make_camera
from .behaviour import ARENA_HALF_WIDTH

__all__ = ["default_rig", "frame_camera"]

_RING_RADIUS = 1050.0                                 # mm
_RING_HEIGHTS = (350.0, 420.0, 310.0, 450.0, 380.0)   # mm
_RING_K1 = (0.0, -0.03, 0.0, 0.02, 0.0)
_FOCAL = 860.0                                        # px, for 640 x 480 images
_TARGET = np.array([0.0, 0.0, 30.0])                  # mm: the arena centre, at body height
# frame_camera frames the floor the rodent can reach (its keypoints stay within about +-235 mm;
# the walls at +-300 mm are cut off), so that the animal is as large as possible at 128 x 128
_FRAMED_HALF_WIDTH = ARENA_HALF_WIDTH - 40.0


def default_rig() -> list[Camera]:
    """The course's six calibrated cameras: "cam0".."cam4" in a ring, then "top".

    Returns:
        list of 6 ``Camera`` (640 x 480 px, focal 860 px; k1 = -0.03 on cam1, +0.02 on cam3).
    """
    cameras = []
    for i, (height, k1) in enumerate(zip(_RING_HEIGHTS, _RING_K1)):
        angle = -np.pi / 2 + 2 * np.pi * i / 5          # cam0 on the -y side, then counter-clockwise
        position = np.array([_RING_RADIUS * np.cos(angle), _RING_RADIUS * np.sin(angle), height])
        cameras.append(make_camera(position, _TARGET, _FOCAL, (640, 480), k1=k1, name=f"cam{i}"))
    cameras.append(make_camera([0.0, 0.0, 1200.0], [0.0, 0.0, 0.0], _FOCAL, (640, 480),
                               name="top", up=(0.0, 1.0, 0.0)))
    return cameras


def frame_camera(image_size=(128, 128)) -> Camera:
    """The oblique-top camera of the 2D lectures, framing the floor the rodent can reach.

    Args:
        image_size: (width, height) px.

    Returns:
        ``Camera`` 1.1 m above the floor, 0.45 m behind the arena's -y edge (elevation ~60 deg),
        with the focal length chosen so that the floor square [-260, 260]^2 mm just fits in the
        image (2 px margin); the rodent's keypoints always stay inside it. The rodent (~190 mm
        nose to mid-tail) is then about 35 px long in a 128 x 128 image.
    """
    width, height = check_image_size(image_size)
    position = np.array([0.0, -640.0, 1100.0])
    target = np.array([0.0, 0.0, 0.0])
    unit = make_camera(position, target, 1.0, (width, height), name="frame")
    h = _FRAMED_HALF_WIDTH
    corners = np.array([[x, y, 0.0] for x in (-h, h) for y in (-h, h)])
    normalised = unit.to_camera(corners)
    normalised = normalised[:, :2] / normalised[:, 2:]
    half = (np.array([width, height]) - 1) / 2 - 2.0
    focal = float(np.min(half / np.abs(normalised).max(axis=0)))
    return make_camera(position, target, focal, (width, height), name="frame")
