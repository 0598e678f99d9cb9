"""Rendering the virtual rodent: images, 2D keypoints and per-view visibility.

Lecture: "Pose tracking as supervised learning" (labelled frames) and "3D Pose estimation"
(occlusion: a keypoint seen by only some cameras).

The body is a union of spheroids along the bones (an ellipsoid with semi-axis a along the bone
direction u and b across it). A pixel's ray x(s) = o + s d, |d| = 1, meets a spheroid with
centre c where

    |w_perp + s d_perp|^2 / b^2 + (w_u + s d_u)^2 / a^2 = 1,   w = o - c,

a quadratic in s solved for all pixels and spheroids at once. The nearest hit is shaded with
Lambert's law, I = albedo (ambient + (1 - ambient) max(0, n . l)), over a textured floor with
shadows (a second ray from the floor towards the light). A keypoint is visible in a view when it
projects inside the image and the segment from the camera to it crosses no spheroid that does
not contain the keypoint (its own body part) more than ``_DEPTH_TOLERANCE`` mm before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import Camera, as_camera_list
from .behaviour import ARENA_HALF_WIDTH
from .skeleton import Skeleton, as_skeleton, rodent_skeleton

__all__ = ["Rendered", "render_frames", "keypoint_visibility", "body_primitives"]

_DEPTH_TOLERANCE = 2.0   # mm
_LIGHT = np.array([0.35, -0.45, 1.0]) / np.linalg.norm([0.35, -0.45, 1.0])
_AMBIENT = 0.4
_WALL_HEIGHT = 60.0      # mm
_FUR = (0.55, 0.43, 0.33)    # agouti brown: blue / red = 0.6
_SKIN = (0.90, 0.64, 0.66)   # pink paws, ears, tail: blue / red = 0.73
_DARK = (0.08, 0.06, 0.06)
_MAX_IMAGE_BYTES = 2 * 1024**3


@dataclass(frozen=True, eq=False)
class Rendered:
    """Rendered views of a motion.

    Attributes:
        images: (C, T, H, W, 3) uint8.
        keypoints2d: (C, T, K, 2) float64 px, exact projections (also when hidden).
        visible: (C, T, K) bool, False when occluded by the body or outside the image.
    """

    images: np.ndarray
    keypoints2d: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True, eq=False)
class _Primitives:
    centre: np.ndarray   # (T, P, 3) mm
    axis: np.ndarray     # (T, P, 3) unit
    a: np.ndarray        # (P,) mm semi-axis along axis
    b: np.ndarray        # (P,) mm semi-axis across
    albedo: np.ndarray   # (P, 3) in [0, 1]
    owners: np.ndarray   # (K, P) bool: the primitive is part of keypoint k's own body part


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def body_primitives(positions: np.ndarray, skeleton: Skeleton) -> _Primitives:
    """Spheroids of the body for positions (T, K, 3) mm.

    For the course rodent: torso, neck, head and snout, ears, eyes, legs, paws and a tail that
    continues past ``tail_mid``. For any other skeleton: a thin spheroid per bone and a small
    sphere per keypoint.
    """
    T = positions.shape[0]
    prims = []   # (centre, axis, a, b, albedo, owner keypoint names)
    X = positions
    if set(skeleton.names) >= set(rodent_skeleton().names):
        P = {n: X[:, skeleton.index(n)] for n in skeleton.names}

        def along(p, q, a_extra, b, albedo, shift=0.0):
            axis = _unit(P[q] - P[p])
            half = 0.5 * np.linalg.norm(P[q] - P[p], axis=-1)
            centre = 0.5 * (P[p] + P[q]) + shift * axis
            prims.append((centre, axis, half + a_extra, np.full(T, b), albedo, (p, q)))

        def sphere(c, r, albedo, owners, axis=None, a=None):
            axis = np.tile([0.0, 0.0, 1.0], (T, 1)) if axis is None else axis
            prims.append((c, axis, np.full(T, r if a is None else a), np.full(T, r), albedo, owners))

        along("spine_mid", "neck", 14.0, 22.0, _FUR)
        along("hips", "spine_mid", 18.0, 27.0, _FUR)
        along("tail_base", "hips", 4.0, 20.0, _FUR, shift=6.0)
        along("neck", "head", 6.0, 16.0, _FUR)
        sphere(P["head"], 14.0, _FUR, ("head",))
        along("head", "nose", 3.0, 11.5, _FUR, shift=-2.0)
        sphere(P["nose"], 3.0, _SKIN, ("nose",))
        head_fwd = _unit(P["nose"] - P["head"])
        mid_ears = 0.5 * (P["left_ear"] + P["right_ear"])
        left = _unit(P["left_ear"] - P["right_ear"])
        for side, sign in (("left", 1.0), ("right", -1.0)):
            sphere(P[f"{side}_ear"], 8.0, _SKIN, (f"{side}_ear",), axis=head_fwd, a=2.5)
            eye = P["head"] + 12.0 * head_fwd + sign * 8.5 * left + 0.35 * (mid_ears - P["head"])
            sphere(eye, 2.6, _DARK, ("head",))
        for paw, parent, b, r in (("forepaw", "neck", 5.0, 4.5), ("hindpaw", "hips", 7.0, 5.5)):
            for side in ("left", "right"):
                along(parent, f"{side}_{paw}", -r, b, _FUR, shift=-r)
                sphere(P[f"{side}_{paw}"], r, _SKIN, (f"{side}_{paw}",))
        along("tail_base", "tail_mid", 0.0, 5.5, _SKIN)
        P["tail_tip"] = P["tail_mid"] + 0.9 * (P["tail_mid"] - P["tail_base"])
        P["tail_tip"][:, 2] = np.maximum(P["tail_tip"][:, 2], 3.0)
        along("tail_mid", "tail_tip", 0.0, 3.5, _SKIN)
    else:
        for child, parent in skeleton.edges:
            p, q = X[:, parent], X[:, child]
            prims.append((0.5 * (p + q), _unit(q - p), 0.5 * np.linalg.norm(q - p, axis=-1),
                          np.full(T, 6.0), _FUR, (skeleton.names[parent], skeleton.names[child])))
        for k in range(skeleton.K):
            prims.append((X[:, k], np.tile([0.0, 0.0, 1.0], (T, 1)), np.full(T, 5.0), np.full(T, 5.0), _SKIN,
                          (skeleton.names[k],)))
    centre = np.stack([p[0] for p in prims], axis=1)
    axis = np.stack([p[1] for p in prims], axis=1)
    a = np.stack([p[2] for p in prims], axis=1)
    b = np.stack([p[3] for p in prims], axis=1)
    albedo = np.array([p[4] for p in prims], dtype=float)
    owners = np.array([[name in p[5] for p in prims] for name in skeleton.names])
    return _Primitives(centre, axis, np.maximum(a, 0.5), b, albedo, owners)


def _ray_hits(origin, directions, centre, axis, a, b):
    """Entry distance s of rays o + s d into spheroids (inf where missed).

    origin: (..., 3) or (3,); directions: (..., N, 3) unit; centre/axis: (..., P, 3); a, b: (..., P).
    Returns (..., N, P) mm, in the dtype of ``directions``. With du = d.u, dw = d.w, wu = w.u:
    A = 1/b^2 + du^2 (1/a^2 - 1/b^2), B/2 = dw/b^2 + du wu (1/a^2 - 1/b^2),
    C = (|w|^2 - wu^2)/b^2 + wu^2/a^2 - 1, s = (-B/2 - sqrt((B/2)^2 - A C)) / A.
    """
    dtype = directions.dtype
    w = origin[..., None, :] - centre                          # (..., P, 3)
    wu = np.sum(w * axis, axis=-1)                              # (..., P)
    ww = np.sum(w * w, axis=-1)
    ia, ib = 1.0 / a**2, 1.0 / b**2
    diff = ia - ib
    C = ((ww - wu**2) * ib + wu**2 * ia - 1.0)[..., None, :].astype(dtype)
    du = directions @ np.swapaxes(axis, -1, -2).astype(dtype)  # (..., N, P)
    dw = directions @ np.swapaxes(w, -1, -2).astype(dtype)     # (..., N, P)
    A = du * du
    A *= diff[..., None, :].astype(dtype)
    A += ib[..., None, :].astype(dtype)
    half_b = dw
    half_b *= ib[..., None, :].astype(dtype)
    du *= (wu * diff)[..., None, :].astype(dtype)
    half_b += du
    disc = half_b * half_b
    disc -= A * C
    hit = disc >= 0
    np.sqrt(np.maximum(disc, 0, out=disc), out=disc)
    disc += half_b
    np.negative(disc, out=disc)
    disc /= A                                                   # the entry distance s
    hit &= disc > 0
    disc[~hit] = np.inf
    return disc


def _inside(points, centre, axis, a, b):
    """(..., K, P) bool: keypoints (..., K, 3) inside spheroids (..., P, ...)."""
    q = points[..., :, None, :] - centre[..., None, :, :]
    qu = np.sum(q * axis[..., None, :, :], axis=-1)
    qq = np.sum(q * q, axis=-1)
    return (qq - qu**2) / b[..., None, :] ** 2 + qu**2 / a[..., None, :] ** 2 < 1.0


def _check_positions(positions, skeleton) -> np.ndarray:
    positions = np.asarray(positions, dtype=float)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.K, 3):
        raise ValueError(f"positions: expected shape (T, {skeleton.K}, 3) mm, got {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise ValueError("positions: contains NaN or infinity (every keypoint must be known to render)")
    return positions


def _prepare_cameras(cameras, image_size) -> list[Camera]:
    cameras = as_camera_list(cameras)
    if image_size is not None:
        cameras = [c.resized(image_size) for c in cameras]
    return cameras


def _visibility(positions, cameras, prims, uv) -> np.ndarray:
    """(C, T, K) bool: inside the image and not hidden by another body part."""
    T, K, _ = positions.shape
    own = _inside(positions, prims.centre, prims.axis, prims.a, prims.b) | prims.owners  # (T, K, P)
    visible = []
    for c, cam in enumerate(cameras):
        origin = cam.center
        delta = positions - origin                                              # (T, K, 3)
        depth = np.linalg.norm(delta, axis=-1)
        s = _ray_hits(np.broadcast_to(origin, (T, 3)), delta / depth[..., None],
                      prims.centre, prims.axis, prims.a, prims.b)               # (T, K, P)
        occluded = np.any((s < depth[..., None] - _DEPTH_TOLERANCE) & ~own, axis=-1)
        width, height = cam.image_size
        u, v = uv[c, ..., 0], uv[c, ..., 1]
        with np.errstate(invalid="ignore"):
            inside = (u >= -0.5) & (u <= width - 0.5) & (v >= -0.5) & (v <= height - 0.5)
        in_front = cam.to_camera(positions)[..., 2] > 0
        visible.append(inside & in_front & ~occluded)
    return np.stack(visible)


def keypoint_visibility(positions: np.ndarray, cameras, skeleton: Skeleton | None = None,
                        image_size=None) -> np.ndarray:
    """Per-view visibility of keypoints without rendering images (the renderer's rule).

    Args:
        positions: (T, K, 3) mm.
        cameras: list of C ``Camera``.
        skeleton: defaults to ``rodent_skeleton()``.
        image_size: None (each camera's own size) or (width, height) px.

    Returns:
        (C, T, K) bool.
    """
    skeleton = as_skeleton(skeleton)
    positions = _check_positions(positions, skeleton)
    cameras = _prepare_cameras(cameras, image_size)
    uv = np.stack([cam.project(positions) for cam in cameras])
    return _visibility(positions, cameras, body_primitives(positions, skeleton), uv)


# the arena -----------------------------------------------------------------------------
def _value_noise(x, y, cell, seed):
    """Smooth deterministic noise in [0, 1] at floor points (mm), bilinear on a random grid."""
    rng = np.random.default_rng(seed)
    n = int(np.ceil(2 * (ARENA_HALF_WIDTH + 200) / cell)) + 2
    grid = rng.random((n, n))
    gx = (x + ARENA_HALF_WIDTH + 200) / cell
    gy = (y + ARENA_HALF_WIDTH + 200) / cell
    gx, gy = np.clip(gx, 0, n - 1.001), np.clip(gy, 0, n - 1.001)
    ix, iy = gx.astype(int), gy.astype(int)
    fx, fy = gx - ix, gy - iy
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    g = grid
    return ((g[ix, iy] * (1 - fx) + g[ix + 1, iy] * fx) * (1 - fy)
            + (g[ix, iy + 1] * (1 - fx) + g[ix + 1, iy + 1] * fx) * fy)


def _floor_colour(x, y):
    """Albedo (N, 3) of the arena floor: a grey-blue checkerboard of 50 mm tiles with mottling."""
    checker = ((np.floor(x / 50.0) + np.floor(y / 50.0)) % 2)[:, None]
    base = np.where(checker > 0, np.array([0.62, 0.64, 0.66]), np.array([0.50, 0.53, 0.57]))
    mottle = 0.7 * _value_noise(x, y, 37.0, 1) + 0.3 * _value_noise(x, y, 9.0, 2)
    return base * (0.8 + 0.4 * mottle[:, None])


def _background(cam: Camera, rays):
    """Shaded background (N, 3) in [0, 1], depth (N,) mm and floor points (N, 3) (NaN off-floor)."""
    o = cam.center
    N = len(rays)
    colour = np.tile([0.16, 0.16, 0.18], (N, 1))
    depth = np.full(N, np.inf)
    floor_points = np.full((N, 3), np.nan)
    h = ARENA_HALF_WIDTH
    with np.errstate(divide="ignore", invalid="ignore"):
        s_floor = -o[2] / rays[:, 2]
    floor = s_floor > 0
    hit = o + np.where(floor, s_floor, 0.0)[:, None] * rays
    in_arena = floor & (np.abs(hit[:, 0]) <= h) & (np.abs(hit[:, 1]) <= h)
    table = floor & ~in_arena
    colour[table] = np.array([0.45, 0.38, 0.3]) * (_AMBIENT + (1 - _AMBIENT) * _LIGHT[2])
    colour[in_arena] = _floor_colour(hit[in_arena, 0], hit[in_arena, 1]) * (
        _AMBIENT + (1 - _AMBIENT) * _LIGHT[2])
    depth[floor] = s_floor[floor]
    floor_points[in_arena] = hit[in_arena]
    # inner faces of the four walls (seen from inside: the ray leaves through them)
    for axis_i, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        normal_out = np.zeros(3)
        normal_out[axis_i] = sign
        going_out = rays @ normal_out > 1e-9
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (sign * h - o[axis_i]) / rays[:, axis_i]
        p = o + np.where(going_out, s, 0.0)[:, None] * rays
        other = 1 - axis_i
        wall = going_out & (s > 0) & (np.abs(p[:, other]) <= h) & (p[:, 2] >= 0) & (p[:, 2] <= _WALL_HEIGHT)
        wall &= s < np.where(in_arena, depth, np.inf)   # the box is convex: one exit face per ray
        shade = _AMBIENT + (1 - _AMBIENT) * max(0.0, float(-normal_out @ _LIGHT))
        stripe = 0.85 + 0.15 * (p[wall, 2] > _WALL_HEIGHT - 6)
        colour[wall] = np.array([0.30, 0.30, 0.34]) * shade * stripe[:, None]
        depth[wall] = s[wall]
        floor_points[wall] = np.nan
    return colour, depth, floor_points


def _shadowed(points, prims) -> np.ndarray:
    """(N,) bool: does the ray from floor points (N, 3) towards the light cross the body?"""
    d = _LIGHT
    shadowed = np.zeros(len(points), dtype=bool)
    # only floor points inside the footprint of the body's shadow can be shadowed
    foot = prims.centre[:, :2] - prims.centre[:, 2:3] * d[:2] / d[2]
    reach = (np.maximum(prims.a, prims.b) / d[2])[:, None]
    lo, hi = np.min(foot - reach, axis=0), np.max(foot + reach, axis=0)
    near = np.all((points[:, :2] >= lo) & (points[:, :2] <= hi), axis=1)
    if not np.any(near):
        return shadowed
    ref = prims.centre.mean(axis=0)                                      # centre for float32
    o = (points[near] - ref).astype(np.float32)
    c = (prims.centre - ref).astype(np.float32)
    u = prims.axis.astype(np.float32)
    cu = np.sum(c * u, axis=1)
    wu = o @ u.T - cu                                                   # (N, P): (o - c) . u
    ww = np.sum(o * o, axis=1)[:, None] - 2.0 * (o @ c.T) + np.sum(c * c, axis=1)
    du = (u @ d).astype(np.float32)                                     # (P,)
    dw = (o @ d.astype(np.float32))[:, None] - c @ d.astype(np.float32)
    ia, ib = (1.0 / prims.a**2).astype(np.float32), (1.0 / prims.b**2).astype(np.float32)
    A = (1.0 - du**2) * ib + du**2 * ia                                 # (P,)
    half_b = (dw - wu * du) * ib + wu * du * ia
    C = (ww - wu**2) * ib + wu**2 * ia - 1.0
    disc = half_b**2 - A * C
    with np.errstate(invalid="ignore"):
        far = (-half_b + np.sqrt(disc)) / A
    shadowed[near] = np.any((disc >= 0) & (far > 0), axis=1)
    return shadowed


_VIEW_CACHE: dict = {}


def _camera_view(cam: Camera):
    """Per-camera pixel rays and shaded background, cached (the arena does not move)."""
    key = (cam.K.tobytes(), cam.R.tobytes(), cam.t.tobytes(), cam.k1, cam.image_size)
    if key not in _VIEW_CACHE:
        if len(_VIEW_CACHE) > 16:
            _VIEW_CACHE.clear()
        width, height = cam.image_size
        rays = cam.rig.pixel_rays(0).reshape(-1, 3)  # distortion removed by the Rig's undistortion
        background, depth, floor_points = _background(cam, rays)
        _VIEW_CACHE[key] = (rays.reshape(height, width, 3), background.reshape(height, width, 3),
                            depth.reshape(height, width), floor_points.reshape(height, width, 3))
    return _VIEW_CACHE[key]


def _bbox(cam, prims_t, size):
    """Pixel box (u0, u1, v0, v1) around a frame's body and its shadow."""
    width, height = size
    radius = np.maximum(prims_t.a, prims_t.b) + 1.0
    shadow = prims_t.centre - prims_t.centre[:, 2:3] * _LIGHT / _LIGHT[2]
    pts = np.concatenate([prims_t.centre, shadow])
    radius = np.concatenate([radius, radius / _LIGHT[2]])
    proj = cam.project(pts)
    depth = cam.to_camera(pts)[:, 2]
    if not np.all(np.isfinite(proj)) or np.any(depth <= 10.0):
        return 0, width, 0, height
    r_px = cam.K[0, 0] * radius / depth * (1.0 + 2.0 * abs(cam.k1)) + 2.0
    u0 = int(np.clip(np.floor(np.min(proj[:, 0] - r_px)), 0, width))
    u1 = int(np.clip(np.ceil(np.max(proj[:, 0] + r_px)) + 1, 0, width))
    v0 = int(np.clip(np.floor(np.min(proj[:, 1] - r_px)), 0, height))
    v1 = int(np.clip(np.ceil(np.max(proj[:, 1] + r_px)) + 1, 0, height))
    return u0, u1, v0, v1


def render_frames(positions: np.ndarray, cameras, skeleton: Skeleton | None = None,
                  image_size=None, seed: int = 0, noise: float = 2.0) -> Rendered:
    """Render the body in every camera and frame, with exact 2D keypoints and visibility.

    Args:
        positions: (T, K, 3) mm keypoint positions (finite).
        cameras: list of C ``lecturekit.geometry.Camera`` (a single Camera is accepted).
        skeleton: the skeleton of ``positions`` (default ``rodent_skeleton()``); the rodent's
            names give a rodent-shaped body, any other skeleton a stick figure of spheroids.
        image_size: None to use each camera's own (width, height) (they must agree), or
            (width, height) px to rescale every camera's intrinsics to that size.
        seed: seed of the per-pixel noise.
        noise: standard deviation of the Gaussian pixel noise, in grey levels (0 for none).

    Returns:
        Rendered with images (C, T, H, W, 3) uint8, keypoints2d (C, T, K, 2) px and
        visible (C, T, K) bool.
    """
    skeleton = as_skeleton(skeleton)
    positions = _check_positions(positions, skeleton)
    cameras = _prepare_cameras(cameras, image_size)
    sizes = {cam.image_size for cam in cameras}
    if len(sizes) != 1:
        raise ValueError(f"image_size: the cameras have different image sizes {sorted(sizes)}; "
                         "pass image_size=(width, height) to render them at one size")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise: expected a non-negative number, got {noise!r}")
    width, height = sizes.pop()
    T = positions.shape[0]
    n_bytes = len(cameras) * T * width * height * 3
    if n_bytes > _MAX_IMAGE_BYTES:
        raise ValueError(f"positions: {len(cameras)} cameras x {T} frames of {width}x{height} images need "
                         f"{n_bytes / 1e9:.1f} GB; render fewer frames or a smaller image_size, or use "
                         "keypoint_visibility() when only keypoints and visibility are needed")
    prims = body_primitives(positions, skeleton)
    uv = np.stack([cam.project(positions) for cam in cameras])
    visible = _visibility(positions, cameras, prims, uv)
    rng = np.random.default_rng(seed)
    images = np.empty((len(cameras), T, height, width, 3), dtype=np.uint8)
    for c, cam in enumerate(cameras):
        rays_img, bg_img, depth_img, floor_img = _camera_view(cam)
        origin = cam.center
        for t in range(T):
            frame = bg_img.copy()
            pt = _Primitives(prims.centre[t], prims.axis[t], prims.a[t], prims.b[t], prims.albedo, prims.owners)
            u0, u1, v0, v1 = _bbox(cam, pt, (width, height))
            if u1 > u0 and v1 > v0:
                d = rays_img[v0:v1, u0:u1].reshape(-1, 3)
                s = _ray_hits(origin, d.astype(np.float32), pt.centre, pt.axis, pt.a, pt.b)   # (N, P)
                nearest = np.argmin(s, axis=1)
                s_min = s[np.arange(len(d)), nearest].astype(float)
                hit = s_min < depth_img[v0:v1, u0:u1].ravel()
                patch = frame[v0:v1, u0:u1].reshape(-1, 3)
                # shadows on the floor: does the way to the light cross the body?
                fp = floor_img[v0:v1, u0:u1].reshape(-1, 3)
                on_floor = ~hit & np.isfinite(fp[:, 0])
                if np.any(on_floor):
                    shadowed = _shadowed(fp[on_floor], pt)
                    idx = np.flatnonzero(on_floor)[shadowed]
                    patch[idx] *= _AMBIENT / (_AMBIENT + (1 - _AMBIENT) * _LIGHT[2])
                if np.any(hit):
                    k = nearest[hit]
                    x = origin + s_min[hit, None] * d[hit]
                    q = x - pt.centre[k]
                    qu = np.sum(q * pt.axis[k], axis=1, keepdims=True)
                    normal = (q - qu * pt.axis[k]) / pt.b[k, None] ** 2 + qu * pt.axis[k] / pt.a[k, None] ** 2
                    normal = _unit(normal)
                    lambert = np.clip(normal @ _LIGHT, 0.0, None)
                    patch[hit] = pt.albedo[k] * (_AMBIENT + (1 - _AMBIENT) * lambert)[:, None]
                frame[v0:v1, u0:u1] = patch.reshape(v1 - v0, u1 - u0, 3)
            pixels = frame.astype(np.float32) * np.float32(255.0)
            if noise > 0:
                pixels += np.float32(noise) * rng.standard_normal(pixels.shape, dtype=np.float32)
            images[c, t] = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return Rendered(images=images, keypoints2d=uv, visible=visible)
