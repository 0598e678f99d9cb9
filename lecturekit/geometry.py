"""Cameras and projective geometry (lecture: "3D Pose estimation: projective geometry").

The slide's camera model is

    f_c(x) = (u, v)^T / w,   (u, v, w)^T = A_c x + b_c,

which is OpenCV's pinhole model with ``A_c = K R`` and ``b_c = K t``: a world point ``x`` (mm)
maps to camera coordinates ``R x + t`` (mm, +z looking forward), then through the intrinsic
matrix ``K`` to pixels. Optional radial distortion ``k1`` (as in anipose/aniposelib
calibrations) scales normalised coordinates by ``1 + k1 r^2`` before ``K`` is applied.

Conventions: world units are millimetres, the world z axis points up, pixel (0, 0) is the
centre of the top-left pixel, ``image_size`` is ``(width, height)`` as in OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "Camera",
    "look_at",
    "make_camera",
    "as_camera_list",
    "project",
    "camera_depths",
    "rodrigues_to_matrix",
    "matrix_to_rodrigues",
]


def _as_array(value, name: str, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: contains NaN or infinity")
    return array


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated pinhole camera (OpenCV convention).

    Attributes:
        K: (3, 3) intrinsic matrix, pixels.
        R: (3, 3) rotation, world -> camera.
        t: (3,) translation, mm (camera coordinates of the world origin).
        k1: radial distortion coefficient (0 = ideal pinhole).
        name: label used in plots and calibration files.
        image_size: (width, height) in pixels.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    k1: float = 0.0
    name: str = "cam"
    image_size: tuple[int, int] = (640, 480)

    def __post_init__(self):
        K = _as_array(self.K, "K", (3, 3))
        R = _as_array(self.R, "R", (3, 3))
        t = _as_array(self.t, "t", (3,))
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError("R: expected a rotation matrix (orthonormal, determinant +1)")
        if abs(K[2, 2]) < 1e-12 or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError("K: expected positive focal lengths K[0,0], K[1,1] and K[2,2] != 0")
        if not np.isfinite(self.k1):
            raise ValueError("k1: expected a finite number")
        width, height = (int(v) for v in self.image_size)
        if width <= 0 or height <= 0:
            raise ValueError(f"image_size: expected (width, height) > 0, got {self.image_size}")
        for attr, value in (("K", K / K[2, 2]), ("R", R), ("t", t)):
            value.setflags(write=False)
            object.__setattr__(self, attr, value)
        object.__setattr__(self, "k1", float(self.k1))
        object.__setattr__(self, "image_size", (width, height))

    # the slide's notation -------------------------------------------------------------
    @property
    def A(self) -> np.ndarray:
        """(3, 3) matrix A_c = K R of the slide's f_c(x) = (u, v)/w, (u, v, w) = A_c x + b_c."""
        return self.K @ self.R

    @property
    def b(self) -> np.ndarray:
        """(3,) offset b_c = K t."""
        return self.K @ self.t

    @property
    def projection_matrix(self) -> np.ndarray:
        """(3, 4) matrix P = K [R | t] acting on homogeneous world points."""
        return np.hstack([self.A, self.b[:, None]])

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, mm: -R^T t."""
        return -self.R.T @ self.t

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> camera coordinates (..., 3) mm."""
        points = np.asarray(points, dtype=float)
        if points.shape[-1:] != (3,):
            raise ValueError(f"points: expected shape (..., 3), got {points.shape}")
        return points @ self.R.T + self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points (..., 3) mm to pixels (..., 2); NaN in, NaN out.

        Points behind the camera (depth <= 0) have no image and give NaN.
        """
        cam = self.to_camera(points)
        depth = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            normalised = cam[..., :2] / np.where(depth > 0, depth, np.nan)[..., None]
        if self.k1:
            r2 = np.sum(normalised**2, axis=-1, keepdims=True)
            normalised = normalised * (1.0 + self.k1 * r2)
        return normalised @ self.K[:2, :2].T + self.K[:2, 2]

    def undistort_pixels(self, pixels: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Remove radial distortion: pixels (..., 2) -> ideal pinhole pixels (..., 2)."""
        pixels = np.asarray(pixels, dtype=float)
        if pixels.shape[-1:] != (2,):
            raise ValueError(f"pixels: expected shape (..., 2), got {pixels.shape}")
        if not self.k1:
            return pixels.copy()
        Kinv = np.linalg.inv(self.K[:2, :2])
        distorted = (pixels - self.K[:2, 2]) @ Kinv.T
        undistorted = distorted.copy()
        for _ in range(iterations):  # fixed point of x_u = x_d / (1 + k1 |x_u|^2)
            r2 = np.sum(undistorted**2, axis=-1, keepdims=True)
            undistorted = distorted / (1.0 + self.k1 * r2)
        return undistorted @ self.K[:2, :2].T + self.K[:2, 2]

    def with_pose(self, R: np.ndarray, t: np.ndarray) -> "Camera":
        """A copy of this camera moved to a new pose."""
        return Camera(self.K, R, t, self.k1, self.name, self.image_size)


def look_at(position: np.ndarray, target: np.ndarray, up: Sequence[float] = (0.0, 0.0, 1.0)):
    """Rotation and translation of a camera at ``position`` (3,) mm looking at ``target`` (3,).

    Returns ``(R, t)`` in OpenCV convention (x right, y down, z forward in the image).
    """
    position = _as_array(position, "position", (3,))
    target = _as_array(target, "target", (3,))
    forward = target - position
    if np.linalg.norm(forward) < 1e-9:
        raise ValueError("target: must differ from position")
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, dtype=float)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: pick any perpendicular
        right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    return R, -R @ position


def make_camera(position, target, focal_px: float, image_size=(640, 480), *, k1: float = 0.0,
                name: str = "cam", up=(0.0, 0.0, 1.0)) -> Camera:
    """A camera at ``position`` (mm) looking at ``target``, principal point at the image centre."""
    width, height = image_size
    K = np.array([[focal_px, 0.0, (width - 1) / 2], [0.0, focal_px, (height - 1) / 2], [0.0, 0.0, 1.0]])
    R, t = look_at(position, target, up)
    return Camera(K, R, t, k1=k1, name=name, image_size=(width, height))


def as_camera_list(cameras) -> list[Camera]:
    """The one validation of a camera argument: a Camera or a non-empty sequence of them -> list."""
    if isinstance(cameras, Camera):
        cameras = [cameras]
    if isinstance(cameras, np.ndarray) or not all(isinstance(c, Camera) for c in cameras):
        raise TypeError("cameras: expected a list of lecturekit.geometry.Camera objects")
    if len(cameras) == 0:
        raise ValueError("cameras: expected at least one camera")
    return list(cameras)


def project(cameras: Sequence[Camera], points: np.ndarray) -> np.ndarray:
    """Project world points (..., 3) mm into every camera: returns (C, ..., 2) pixels."""
    cameras = as_camera_list(cameras)
    return np.stack([cam.project(points) for cam in cameras])


def camera_depths(cameras: Sequence[Camera], points: np.ndarray) -> np.ndarray:
    """Depth of world points (..., 3) in each camera: (C, ...) mm along the optical axis."""
    cameras = as_camera_list(cameras)
    return np.stack([cam.to_camera(points)[..., 2] for cam in cameras])


# rotations ------------------------------------------------------------------------------
def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) (axis * angle, radians) -> rotation matrix (3, 3)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(_as_array(rvec, "rvec", (3,))).as_matrix()


def matrix_to_rodrigues(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> rotation vector (3,)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(_as_array(R, "R", (3, 3))).as_rotvec()
