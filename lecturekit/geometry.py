"""Cameras and projective geometry (lecture: "3D Pose estimation: projective geometry").

The slide's camera model is

    f_c(x) = (u, v)^T / w,   (u, v, w)^T = A_c x + b_c,

which is OpenCV's pinhole model with ``A_c = K R`` and ``b_c = K t``: a world point ``x`` (mm)
maps to camera coordinates ``R x + t`` (mm, +z looking forward), then through the intrinsic
matrix ``K`` to pixels. Optional radial distortion ``k1`` (as in anipose/aniposelib
calibrations) scales normalised coordinates by ``1 + k1 r^2`` before ``K`` is applied.

Conventions: world units are millimetres in the course (nothing here assumes it: a rig in
metres works the same), the world z axis points up, pixel (0, 0) is the centre of the top-left
pixel, ``image_size`` is ``(width, height)`` as in OpenCV. A calibration whose world is one
camera's frame (anipose's) is moved to a z-up world by :func:`align_rig_to_floor` (or any
rotation and shift by :func:`transform_rig`).

A :class:`Rig` stacks C cameras as arrays (K (C, 3, 3), R (C, 3, 3), t (C, 3), k1 (C,)); it holds
the one projection (:meth:`Rig.project_components`, with its Jacobian) and the one undistortion
(:meth:`Rig.normalized`). ``Camera.project``, :func:`project` and :func:`projection_jacobian` are
written on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "Camera",
    "look_at",
    "make_camera",
    "check_image_size",
    "as_camera_list",
    "Rig",
    "as_rig",
    "project",
    "projection_jacobian",
    "camera_depths",
    "check_points2d",
    "MIN_DEPTH",
    "check_points3d",
    "distort_radius",
    "undistort_radius",
    "rodrigues_to_matrix",
    "matrix_to_rodrigues",
    "check_frames_keypoints",
    "scene_distance",
    "WorldAlignment",
    "transform_rig",
    "align_rig_to_floor",
]


MIN_DEPTH = 1e-6
"""mm: a point at a smaller depth (behind, or at the centre of a camera) has no image in it."""


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

    @property
    def rig(self) -> "Rig":
        """This camera as a one-camera :class:`Rig` (cached)."""
        rig = self.__dict__.get("_rig")
        if rig is None:
            rig = Rig.from_cameras([self])
            object.__setattr__(self, "_rig", rig)
        return rig

    def project(self, points: np.ndarray) -> np.ndarray:
        """Project world points (..., 3) mm to pixels (..., 2); NaN in, NaN out.

        Points behind the camera (depth <= 1e-6 mm) have no image and give NaN.
        """
        return self.rig.project(points)[0]

    def undistort_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Remove radial distortion: pixels (..., 2) -> ideal pinhole pixels (..., 2).

        NaN where the distortion model cannot be inverted (see :func:`undistort_radius`).
        """
        pixels = np.asarray(pixels, dtype=float)
        if pixels.shape[-1:] != (2,):
            raise ValueError(f"pixels: expected shape (..., 2), got {pixels.shape}")
        return self.rig.undistort(pixels[None])[0]

    def with_pose(self, R: np.ndarray, t: np.ndarray) -> "Camera":
        """A copy of this camera moved to a new pose."""
        return Camera(self.K, R, t, self.k1, self.name, self.image_size)

    def resized(self, image_size) -> "Camera":
        """The same camera seeing images of another size (width, height) px: focal lengths and
        skew scale with the size, the principal point about pixel centres, c' = (c + 1/2) s - 1/2
        (pixel u covers [u - 1/2, u + 1/2]); pose and distortion are unchanged."""
        new_w, new_h = check_image_size(image_size)
        if (new_w, new_h) == tuple(self.image_size):
            return self
        sx, sy = new_w / self.image_size[0], new_h / self.image_size[1]
        K = np.array(self.K, dtype=float)
        K[0, :2] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return Camera(K, self.R, self.t, self.k1, self.name, (new_w, new_h))


def check_image_size(image_size) -> tuple[int, int]:
    """``image_size`` as (width, height) positive integers px, or one ValueError naming it."""
    try:
        width, height = (int(v) for v in image_size)
        ok = (width, height) == tuple(image_size) and width > 0 and height > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_size: expected (width, height) positive integers, got {image_size!r}")
    return width, height


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
    """A Camera, a Rig or a non-empty sequence of Cameras -> list of Camera (see :func:`as_rig`)."""
    return as_rig(cameras).cameras


def as_rig(cameras) -> "Rig":
    """The one validation of a camera argument: a Rig, a Camera or a non-empty sequence of Cameras -> Rig."""
    if isinstance(cameras, Rig):
        return cameras
    if isinstance(cameras, Camera):
        cameras = [cameras]
    if isinstance(cameras, (np.ndarray, str)) or not hasattr(cameras, "__iter__"):
        raise TypeError("cameras: expected a list of lecturekit.geometry.Camera objects")
    cameras = list(cameras)
    if not all(isinstance(c, Camera) for c in cameras):
        raise TypeError("cameras: expected a list of lecturekit.geometry.Camera objects")
    if len(cameras) == 0:
        raise ValueError("cameras: expected at least one camera")
    rig = Rig(np.stack([c.K for c in cameras]), np.stack([c.R for c in cameras]),
              np.stack([c.t for c in cameras]), np.array([c.k1 for c in cameras], dtype=float),
              tuple(c.name for c in cameras), tuple(c.image_size for c in cameras))
    object.__setattr__(rig, "_cameras", tuple(cameras))  # rig.cameras gives back these very objects
    return rig


# radial distortion on the radius -----------------------------------------------------------
def distort_radius(r_u: np.ndarray, k1) -> np.ndarray:
    """Distorted normalised radius r_d = r_u (1 + k1 r_u^2) (unitless, broadcasting)."""
    r_u = np.asarray(r_u, dtype=float)
    return r_u * (1.0 + k1 * r_u * r_u)


def undistort_radius(r_d: np.ndarray, k1, iterations: int = 60) -> np.ndarray:
    """Invert r_d = r_u (1 + k1 r_u^2) for r_u >= 0 by Newton's method (broadcasting).

    For k1 >= 0 the model is monotone and every r_d >= 0 has one preimage. For k1 < 0 it is
    invertible only up to its turning point r_u^2 = -1 / (3 k1), i.e. for
    r_d <= (2/3) sqrt(-1 / (3 k1)); beyond it (a pixel no undistorted ray maps to) the result is
    NaN. Newton's iterates from r_u = r_d are monotone on both branches (the cubic is convex
    for k1 > 0, concave for k1 < 0 on r >= 0), so no step overshoots; a final check of the
    residual turns anything not converged into NaN.

    Args:
        r_d: distorted normalised radius (...,), >= 0 (NaN passes through).
        k1: radial coefficient, scalar or broadcastable to r_d.
        iterations: maximum Newton steps (stops early once converged).

    Returns:
        r_u (...,) undistorted normalised radius, NaN where not invertible.
    """
    r_d = np.asarray(r_d, dtype=float)
    k1 = np.asarray(k1, dtype=float)
    if k1.ndim == 0 and k1 == 0:
        return r_d.copy()
    k1 = np.broadcast_to(k1, r_d.shape) if k1.ndim else float(k1)
    with np.errstate(invalid="ignore", divide="ignore"):
        negative = np.asarray(k1) < 0
        r_turn = np.sqrt(-1.0 / (3.0 * np.where(negative, k1, -1.0)))  # turning point where k1 < 0
        r_max = np.where(negative, r_turn * (2.0 / 3.0), np.inf)
        missing = ~(r_d <= r_max * (1.0 + 1e-12))  # beyond the turning point, or NaN
    target = np.where(missing, 0.0, r_d)
    r = target.copy()
    tolerance = 1e-15 * (1.0 + float(np.max(target, initial=0.0)))
    for _ in range(iterations):
        r2 = r * r
        slope = np.maximum(1.0 + 3.0 * k1 * r2, 1e-300)  # > 0 up to the turning point, 0 exactly there
        step = (r * (1.0 + k1 * r2) - target) / slope
        r -= step
        if not np.max(np.abs(step), initial=0.0) > tolerance:
            break
    residual = np.abs(r * (1.0 + k1 * r * r) - target)
    with np.errstate(invalid="ignore"):
        bad = missing | ~(residual <= 1e-10 * (1.0 + target)) | (negative & (r > r_turn * (1.0 + 1e-6)))
    return np.where(bad, np.nan, r)


@dataclass(frozen=True, eq=False)
class Rig:
    """C calibrated cameras stacked as arrays: the one projection and undistortion.

    Attributes:
        K: (C, 3, 3) intrinsic matrices, px (K[:, 2, 2] = 1).
        R: (C, 3, 3) rotations, world -> camera.
        t: (C, 3) translations, mm.
        k1: (C,) radial distortion coefficients.
        names: C camera names.
        image_sizes: C (width, height) in px.

    Build one with :meth:`from_cameras` or :func:`as_rig`; the arrays are read-only.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    k1: np.ndarray
    names: tuple[str, ...]
    image_sizes: tuple[tuple[int, int], ...]

    def __post_init__(self):
        C = len(self.names)
        if C == 0:
            raise ValueError("cameras: expected at least one camera")
        K = _as_array(self.K, "K", (C, 3, 3))
        R = _as_array(self.R, "R", (C, 3, 3))
        t = _as_array(self.t, "t", (C, 3))
        k1 = _as_array(self.k1, "k1", (C,))
        if len(self.image_sizes) != C:
            raise ValueError(f"image_sizes: expected {C} (width, height) pairs, got {len(self.image_sizes)}")
        derived = {
            "K": K, "R": R, "t": t, "k1": k1,
            # the fast path of project_components: one (3C, 3) @ (3, N) product, components apart
            "_R_rows": np.ascontiguousarray(R.transpose(1, 0, 2).reshape(3 * C, 3)),
            "_RT": np.ascontiguousarray(R.transpose(0, 2, 1)),
            "_Kf": np.ascontiguousarray(K[:, :2, :2]),
            "_cc": np.ascontiguousarray(K[:, :2, 2]),
            "_Kinv": np.linalg.inv(K),
        }
        for name, value in derived.items():
            value = np.array(value, dtype=float)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_skew", bool(np.any(K[:, 0, 1] != 0) or np.any(K[:, 1, 0] != 0)))
        object.__setattr__(self, "_distorted", bool(np.any(k1 != 0)))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "image_sizes", tuple((int(w), int(h)) for w, h in self.image_sizes))

    @classmethod
    def from_cameras(cls, cameras) -> "Rig":
        """Stack a Camera or a non-empty sequence of Cameras (a Rig is returned as is): :func:`as_rig`."""
        return as_rig(cameras)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def cameras(self) -> list[Camera]:
        """The C cameras as :class:`Camera` objects."""
        cams = self.__dict__.get("_cameras")
        if cams is None:
            cams = tuple(Camera(self.K[c], self.R[c], self.t[c], self.k1[c], self.names[c], self.image_sizes[c])
                         for c in range(len(self)))
            object.__setattr__(self, "_cameras", cams)
        return list(cams)

    @property
    def centers(self) -> np.ndarray:
        """(C, 3) camera centres in world coordinates, mm: -R^T t."""
        return -np.einsum("cji,cj->ci", self.R, self.t)

    def subset(self, cameras) -> "Rig":
        """The rig of some cameras: ``cameras`` a sequence of indices (or a bool mask) of length C'."""
        index = np.arange(len(self))[np.asarray(cameras)]
        if index.ndim != 1 or index.size == 0:
            raise ValueError(f"cameras: expected a non-empty sequence of camera indices, got {cameras!r}")
        return Rig(self.K[index], self.R[index], self.t[index], self.k1[index],
                   tuple(self.names[i] for i in index), tuple(self.image_sizes[i] for i in index))

    def pinhole(self) -> "Rig":
        """The same rig with the distortion removed (k1 = 0)."""
        return Rig(self.K, self.R, self.t, np.zeros(len(self)), self.names, self.image_sizes)

    # projection ---------------------------------------------------------------------------
    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) mm -> camera coordinates (C, ..., 3) mm."""
        points = check_points3d(points, "points")
        return np.moveaxis(np.einsum("cij,...j->...ci", self.R, points) + self.t, -2, 0)

    def depths(self, points: np.ndarray) -> np.ndarray:
        """Depth (C, ...) mm of world points (..., 3) along each camera's optical axis."""
        points = check_points3d(points, "points")
        return np.moveaxis(points @ self.R[:, 2].T + self.t[:, 2], -1, 0)

    def project_components(self, xc: np.ndarray, jacobian: bool = False, min_depth: float = MIN_DEPTH):
        """The projection, component-major (for hot loops): x (3, ...) mm -> pixels in every camera.

        ``pixel = K[:2, :2] d + K[:2, 2]`` with ``d = n (1 + k1 |n|^2)`` and ``n = (x_c, y_c) / z_c``
        the normalised coordinates of the camera point ``R x + t``. The Jacobian is
        ``G [I, -n] R / z_c`` with ``G = K[:2, :2] ((1 + k1 |n|^2) I + 2 k1 n n^T)``.

        Args:
            xc: (3, ...) world points, mm, coordinates first.
            jacobian: also return d pixel / d x.
            min_depth: mm; points at depth <= min_depth are not ``ok``.

        Returns:
            pix (2, C, ...) px (finite but meaningless where not ``ok``), ok (C, ...) bool
            (depth > min_depth) and J (C, 3, 2, ...) with ``J[c, j, r] = d pix[r, c] / d x_j``
            (px / mm), or None when ``jacobian`` is False.
        """
        xc = np.asarray(xc, dtype=float)
        if xc.ndim < 1 or xc.shape[0] != 3:
            raise ValueError(f"xc: expected shape (3, ...) mm, got {xc.shape}")
        lead = xc.shape[1:]
        C = len(self)
        N = int(np.prod(lead))
        cam = (self._R_rows @ xc.reshape(3, N)).reshape(3, C, N)
        cam += self.t.T[:, :, None]
        cx, cy, z = cam
        ok = z > min_depth
        inv_z = 1.0 / np.where(ok, z, 1.0)
        nx, ny = cx * inv_z, cy * inv_z
        k1 = self.k1[:, None]
        distorted = self._distorted
        if distorted:
            fac = 1.0 + k1 * (nx * nx + ny * ny)
            dx, dy = nx * fac, ny * fac
        else:
            dx, dy = nx, ny
        Kf, cc = self._Kf, self._cc
        K00, K01, K10, K11 = (Kf[:, i, j, None] for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)))
        pix = np.empty((2, C, N))
        if self._skew:
            np.add(K00 * dx + K01 * dy, cc[:, 0, None], out=pix[0])
            np.add(K10 * dx + K11 * dy, cc[:, 1, None], out=pix[1])
        else:
            np.add(K00 * dx, cc[:, 0, None], out=pix[0])
            np.add(K11 * dy, cc[:, 1, None], out=pix[1])
        pix, ok = pix.reshape((2, C) + lead), ok.reshape((C,) + lead)
        if not jacobian:
            return pix, ok, None
        # row r of J is R^T (G_r0, G_r1, -(G_r0 nx + G_r1 ny)) / z: one 3x3 @ 3x2N product per camera
        coef = np.zeros((C, 3, 2, N))
        if distorted:
            two_k1 = 2.0 * k1
            d00 = fac + two_k1 * nx * nx
            d01 = two_k1 * nx * ny
            d11 = fac + two_k1 * ny * ny
            d00 *= inv_z
            d01 *= inv_z
            d11 *= inv_z
            if self._skew:
                G = ((K00 * d00 + K01 * d01, K00 * d01 + K01 * d11), (K10 * d00 + K11 * d01, K10 * d01 + K11 * d11))
            else:
                G = ((K00 * d00, K00 * d01), (K11 * d01, K11 * d11))
        elif self._skew:
            G = ((K00 * inv_z, K01 * inv_z), (K10 * inv_z, K11 * inv_z))
        else:
            G = ((K00 * inv_z, None), (None, K11 * inv_z))
        for r in range(2):
            g0, g1 = G[r]
            q = coef[:, 2, r]
            if g0 is not None:
                coef[:, 0, r] = g0
                np.multiply(g0, nx, out=q)
            if g1 is not None:
                coef[:, 1, r] = g1
                if g0 is not None:
                    q += g1 * ny
                else:
                    np.multiply(g1, ny, out=q)
            np.negative(q, out=q)
        J = np.matmul(self._RT, coef.reshape(C, 3, 2 * N))  # (C, 3, 2N)
        return pix, ok, J.reshape((C, 3, 2) + lead)

    def project(self, points: np.ndarray, jacobian: bool = False):
        """Project world points (..., 3) mm into every camera.

        Returns:
            (C, ..., 2) px, NaN behind a camera (depth <= 1e-6 mm) or where the point is NaN;
            with ``jacobian=True`` also J (C, ..., 2, 3) = d pixel / d x in px / mm (k1 included).
        """
        points = check_points3d(points, "points")
        pix, ok, J = self.project_components(np.moveaxis(points, -1, 0), jacobian)
        pix = np.where(ok, pix, np.nan)
        pix = np.moveaxis(pix, 0, -1)
        if not jacobian:
            return pix
        J = np.moveaxis(J, (1, 2), (-1, -2))
        return pix, np.where(ok[..., None, None], J, np.nan)

    # undistortion -------------------------------------------------------------------------
    def _check_pixels(self, pixels, name: str) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=float)
        if pixels.ndim < 2 or pixels.shape[0] != len(self) or pixels.shape[-1] != 2:
            raise ValueError(f"{name}: expected shape (C, ..., 2) px with C = {len(self)} cameras, got {pixels.shape}")
        return pixels

    def _per_camera(self, a: np.ndarray, extra: int) -> np.ndarray:
        """Per-camera array (C, ...) reshaped to broadcast against (C, lead..., extra dims)."""
        return a.reshape(a.shape[:1] + (1,) * extra)

    def normalized(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (C, ..., 2) -> undistorted normalised camera coordinates (C, ..., 2) (unitless).

        ``K^-1`` then the radial distortion inverted on the radius (:func:`undistort_radius`);
        NaN where a camera's distortion cannot be inverted (k1 < 0 beyond its turning point).
        """
        pixels = self._check_pixels(pixels, "pixels")
        extra = pixels.ndim - 2
        Ki = self._Kinv
        col = lambda a: self._per_camera(a, extra)  # noqa: E731
        u, v = pixels[..., 0], pixels[..., 1]
        xd = col(Ki[:, 0, 0]) * u + col(Ki[:, 0, 1]) * v + col(Ki[:, 0, 2])
        yd = col(Ki[:, 1, 0]) * u + col(Ki[:, 1, 1]) * v + col(Ki[:, 1, 2])
        for c in np.flatnonzero(self.k1):  # scale each distorted camera's points radially
            r_d = np.sqrt(xd[c] * xd[c] + yd[c] * yd[c])
            r_u = undistort_radius(r_d, self.k1[c])
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(r_d > 0, r_u / r_d, 1.0)
            xd[c] *= scale
            yd[c] *= scale
        return np.stack([xd, yd], axis=-1)

    def undistort(self, pixels: np.ndarray) -> np.ndarray:
        """Remove each camera's radial distortion: pixels (C, ..., 2) -> ideal pinhole pixels (C, ..., 2).

        Cameras with k1 = 0 are returned unchanged; NaN where the distortion is not invertible.
        """
        pixels = self._check_pixels(pixels, "pixels")
        if not self._distorted:
            return pixels.copy()
        n = self.normalized(pixels)
        extra = pixels.ndim - 2
        col = lambda a: self._per_camera(a, extra)  # noqa: E731
        K = self.K
        out = np.stack([col(K[:, 0, 0]) * n[..., 0] + col(K[:, 0, 1]) * n[..., 1] + col(K[:, 0, 2]),
                        col(K[:, 1, 1]) * n[..., 1] + col(K[:, 1, 2])], axis=-1)
        return np.where(col(self.k1 == 0)[..., None], pixels, out)

    def pixel_rays(self, camera: int) -> np.ndarray:
        """Unit world directions (H, W, 3) of every pixel centre of camera ``camera`` (distortion removed).

        NaN where the distortion is not invertible.
        """
        if not 0 <= int(camera) < len(self):
            raise ValueError(f"camera: expected an index in [0, {len(self)}), got {camera}")
        c = int(camera)
        width, height = self.image_sizes[c]
        u, v = np.meshgrid(np.arange(width, dtype=float), np.arange(height, dtype=float))
        one = self.cameras[c].rig
        n = one.normalized(np.stack([u, v], axis=-1)[None])[0]
        rays = np.concatenate([n, np.ones((height, width, 1))], axis=-1) @ self.R[c]
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


# validated arrays -------------------------------------------------------------------------
def check_points3d(points3d, name: str = "points3d") -> np.ndarray:
    """Validate world points: shape (..., 3) mm -> float array (NaN allowed: missing)."""
    points3d = np.asarray(points3d, dtype=float)
    if points3d.ndim < 1 or points3d.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (..., 3) mm, got {points3d.shape}")
    return points3d


def check_points2d(cameras, points2d, name: str = "points2d") -> tuple[Rig, np.ndarray]:
    """Validate cameras and their observations: -> (Rig, points2d (C, ..., 2) px float).

    NaN marks a missing observation; infinity is refused.
    """
    rig = as_rig(cameras)
    points2d = np.asarray(points2d, dtype=float)
    if points2d.ndim < 2 or points2d.shape[0] != len(rig) or points2d.shape[-1] != 2:
        raise ValueError(f"{name}: expected shape (C, ..., 2) with C = {len(rig)} cameras, "
                         f"got {points2d.shape}")
    if np.isinf(points2d).any():
        raise ValueError(f"{name}: contains infinity (use NaN for a missing observation)")
    return rig, points2d


def project(cameras, points: np.ndarray) -> np.ndarray:
    """Project world points (..., 3) mm into every camera: returns (C, ..., 2) pixels (NaN behind a camera)."""
    return as_rig(cameras).project(points)


def projection_jacobian(cameras, points3d: np.ndarray) -> np.ndarray:
    """Jacobian of the projection (radial distortion included) at world points.

    Args:
        cameras: C cameras (or a Rig).
        points3d: (..., 3) mm.

    Returns:
        (C, ..., 2, 3) px / mm, d f_c(x) / d x; NaN behind a camera. Without distortion this is
        the slide's (A_c[:2] - f_c(x) A_c[2]^T) / w.
    """
    return as_rig(cameras).project(check_points3d(points3d), jacobian=True)[1]


def camera_depths(cameras, points: np.ndarray) -> np.ndarray:
    """Depth of world points (..., 3) in each camera: (C, ...) mm along the optical axis."""
    return as_rig(cameras).depths(points)


# rotations ------------------------------------------------------------------------------
def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) (axis * angle, radians) -> rotation matrix (3, 3)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(_as_array(rvec, "rvec", (3,))).as_matrix()


def matrix_to_rodrigues(R: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) -> rotation vector (3,)."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(_as_array(R, "R", (3, 3))).as_rotvec()


# shapes of (C, T, K, 2) observations --------------------------------------------------------
def check_frames_keypoints(points2d: np.ndarray, *, n_keypoints: int | None = None, n_frames: int | None = None,
                           name: str = "points2d") -> None:
    """Refuse observations (C, T, K, 2) whose frame and keypoint axes look swapped.

    Args:
        points2d: (C, T, K, 2) px.
        n_keypoints: K expected from the skeleton (``len(parents)``), or None (not checked).
        n_frames: T expected (the recording's frame count), or None (not checked).
        name: the argument's name in the message.

    Raises:
        ValueError with one message naming ``name``, the shape and what was expected; when the
        two axes match the expected sizes the other way round it says they look swapped.
    """
    shape = np.shape(points2d)
    if len(shape) != 4 or shape[-1] != 2:
        raise ValueError(f"{name}: expected shape (C, T, K, 2) px, got {shape}")
    T, K = shape[1], shape[2]
    bad_k = n_keypoints is not None and K != int(n_keypoints)
    bad_t = n_frames is not None and T != int(n_frames)
    if not (bad_k or bad_t):
        return
    swapped = (n_keypoints is None or T == int(n_keypoints)) and (n_frames is None or K == int(n_frames))
    expected = f"(C, T{'' if n_frames is None else ' = ' + str(int(n_frames))}, " \
               f"K{'' if n_keypoints is None else ' = ' + str(int(n_keypoints))}, 2)"
    hint = (f"; frames and keypoints look swapped: pass {name}.transpose(0, 2, 1, 3)" if swapped else "")
    raise ValueError(f"{name}: expected shape {expected}, got {shape}{hint}")


def scene_distance(cameras, points3d: np.ndarray) -> float:
    """Median distance from the cameras' centres to the finite points (..., 3) (the scene's
    length scale, in the rig's units); NaN when no point is finite."""
    rig = as_rig(cameras)
    x = check_points3d(points3d).reshape(-1, 3)
    x = x[np.isfinite(x).all(axis=1)]
    if not len(x):
        return float("nan")
    x = x[:: max(1, len(x) // 2000)]
    return float(np.median(np.linalg.norm(x[None] - rig.centers[:, None], axis=-1)))


# the world frame ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class WorldAlignment:
    """A change of world frame x' = R x + t (a rotation and a translation, no scaling).

    Attributes:
        rig: the cameras expressed in the new world frame (the same images, the same pixels).
        R: (3, 3) rotation, old world -> new world.
        t: (3,) translation, rig units.
        floor_height: (N,) height above the fitted floor of each point used for the fit (rig
            units; NaN for points not finite), or None when the frame came from ``up`` alone.
    """

    rig: Rig
    R: np.ndarray
    t: np.ndarray
    floor_height: np.ndarray | None = None

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Old-world points (..., 3) -> new-world points (..., 3)."""
        return check_points3d(points, "points") @ self.R.T + self.t


def transform_rig(cameras, R: np.ndarray, t: np.ndarray) -> Rig:
    """The rig in a new world frame x' = R x + t: each camera's (R_c, t_c) becomes
    (R_c R^T, t_c - R_c R^T t), so every world point projects to the same pixel as before.

    Args:
        cameras: C cameras or a Rig. R: (3, 3) rotation (orthonormal, det +1). t: (3,).
    """
    rig = as_rig(cameras)
    R = _as_array(R, "R", (3, 3))
    t = _as_array(t, "t", (3,))
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-8) or np.linalg.det(R) < 0:
        raise ValueError("R: expected a rotation matrix (orthonormal, determinant +1)")
    Rc = np.einsum("cij,kj->cik", rig.R, R)  # R_c R^T
    tc = rig.t - Rc @ t
    return Rig(rig.K, Rc, tc, rig.k1, rig.names, rig.image_sizes)


def _rotation_to_z(n: np.ndarray) -> np.ndarray:
    """The smallest rotation taking the unit vector n (3,) to +z."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(n, z)
    s, c = np.linalg.norm(axis), float(np.dot(n, z))
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    return rodrigues_to_matrix(axis / s * np.arctan2(s, c))


def align_rig_to_floor(cameras, floor_points: np.ndarray | None = None, *, up=None,
                       keep_lowest: float = 1.0, iterations: int = 5) -> WorldAlignment:
    """A world frame with the floor at z = 0 and +z up (what GIMBAL's heading, a rotation about
    world z, assumes), from points on the floor or from a given up vector.

    The floor is the least-squares plane (smallest singular vector of the centred points) of
    ``floor_points``; its normal is oriented towards the cameras' mean centre (the cameras look
    down on the floor). For keypoints that touch the floor only part of the time (paws, a tail
    tip, triangulated over many frames) pass ``keep_lowest`` < 1: the plane is refitted
    ``iterations`` times to that fraction of the points lowest above the current plane. The new
    origin is the floor points' centroid dropped onto the plane; the rotation is the smallest
    one taking the normal to +z (headings are then measured from the old x axis projected onto
    the floor).

    Args:
        cameras: C cameras or a Rig.
        floor_points: (..., 3) rig units, NaN ignored; at least 3 non-collinear finite points.
        up: (3,) the up direction in the old world (used when floor_points is None; with
            floor_points it only orients the normal instead of the cameras). The origin stays.
        keep_lowest: fraction in (0, 1] of the points kept for each refit.
        iterations: refits when keep_lowest < 1.

    Returns:
        :class:`WorldAlignment` (the transformed rig, R, t, heights of the points above the floor).
    """
    rig = as_rig(cameras)
    if floor_points is None and up is None:
        raise ValueError("floor_points: give points on the floor (..., 3) or an up vector (3,)")
    if not 0 < keep_lowest <= 1:
        raise ValueError(f"keep_lowest: expected a fraction in (0, 1], got {keep_lowest}")
    if up is not None:
        up = _as_array(up, "up", (3,))
        if np.linalg.norm(up) == 0:
            raise ValueError("up: expected a non-zero vector")
        up = up / np.linalg.norm(up)
    if floor_points is None:
        R = _rotation_to_z(up)
        return WorldAlignment(transform_rig(rig, R, np.zeros(3)), R, np.zeros(3), None)
    pts = check_points3d(floor_points, "floor_points").reshape(-1, 3)
    finite = np.isfinite(pts).all(axis=1)
    x = pts[finite]
    if len(x) < 3:
        raise ValueError(f"floor_points: expected at least 3 finite points, got {len(x)}")

    def plane(sel):
        centre = sel.mean(axis=0)
        _, sv, vt = np.linalg.svd(sel - centre, full_matrices=False)
        if sv[1] <= 1e-9 * max(sv[0], 1e-300):
            raise ValueError("floor_points: the points are collinear; a plane needs points spread in two directions")
        n = vt[2]
        toward = up if up is not None else rig.centers.mean(axis=0) - centre
        return (n if np.dot(n, toward) >= 0 else -n), centre

    normal, centre = plane(x)
    if keep_lowest < 1:
        n_keep = max(3, int(np.ceil(keep_lowest * len(x))))
        for _ in range(int(iterations)):
            height = (x - centre) @ normal
            normal, centre = plane(x[np.argsort(height)[:n_keep]])
    R = _rotation_to_z(normal)
    t = -R @ centre
    height = np.full(len(pts), np.nan)
    height[finite] = (x - centre) @ normal
    return WorldAlignment(transform_rig(rig, R, t), R, t, height)
