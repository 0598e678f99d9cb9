"""A behaviour simulator for the virtual rodent (lecture: "Markerless pose tracking", the
motivating data: natural, unconstrained behaviour).

This is deliberately NOT GIMBAL's generative model (no pose states, no vMF draws): it is a
hand-built kinematic animation, so fitting GIMBAL to it is an honest test.

* Behaviour sequence: a semi-Markov chain over ``BEHAVIOURS``: a behaviour b lasts a
  gamma-distributed duration, then jumps to b' != b with probability P[b, b'].
* Smooth transitions: the one-hot labels are Gaussian-smoothed in time into blending weights
  w_b(t) (sum 1); every posture parameter is the w-weighted mix of the behaviours' values.
* Body path: heading psi_t and position p_t integrate a speed v_t and a turning rate omega_t;
  a look-ahead point near a wall adds a turn towards the arena centre (and slows down).
* Gait: a trot (left fore + right hind in phase, the other diagonal half a cycle later) at a
  stride frequency f = 1.5 Hz + v / 80 mm; a paw in stance sweeps back, in swing it lifts.
* Pose: forward kinematics x_k = x_par(k) + L_k u_k along the skeleton tree, every u_k a unit
  vector, so bone lengths are exact in every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .skeleton import forward_kinematics, rodent_skeleton

__all__ = ["Motion", "BEHAVIOURS", "ARENA_HALF_WIDTH", "simulate_behaviour"]

BEHAVIOURS = ("locomotion", "turning", "rearing", "grooming", "pausing")
ARENA_HALF_WIDTH = 300.0  # mm: the arena floor is [-300, 300]^2 at z = 0
LOCO, TURN, REAR, GROOM, PAUSE = range(5)

# mean duration (s) of each behaviour and the jump probabilities between them (rows sum to 1)
_MEAN_DURATION = np.array([2.0, 1.0, 1.8, 3.0, 1.2])
_TRANSITIONS = np.array([
    [0.00, 0.35, 0.20, 0.10, 0.35],
    [0.60, 0.00, 0.15, 0.05, 0.20],
    [0.30, 0.20, 0.00, 0.20, 0.30],
    [0.40, 0.20, 0.10, 0.00, 0.30],
    [0.40, 0.25, 0.20, 0.15, 0.00],
])
# posture of each behaviour: (root height mm, front pitch, rear pitch, head pitch, nose pitch) rad
_POSTURE = np.array([
    [35.0, 0.05, 0.05, -0.10, -0.35],   # locomotion
    [34.0, 0.00, 0.05, -0.05, -0.30],   # turning
    [72.0, 1.20, 0.85, 0.90, 0.35],     # rearing
    [52.0, 0.80, 0.45, -0.30, -0.90],   # grooming
    [32.0, -0.05, 0.00, 0.00, -0.30],   # pausing
])
_PAW_Z = 4.0      # mm: paw radius, the height of a paw standing on the floor
_DUTY = 0.6       # fraction of the gait cycle in stance
_GAIT_OFFSET = {"left_forepaw": 0.0, "right_hindpaw": 0.0, "right_forepaw": 0.5, "left_hindpaw": 0.5}


@dataclass(frozen=True, eq=False)
class Motion:
    """A simulated recording of the virtual rodent.

    Attributes:
        positions: (T, K, 3) mm keypoint positions (bone lengths exact in every frame).
        behaviour: (T,) int labels into ``behaviour_names``.
        behaviour_names: the behaviour names, ``BEHAVIOURS``.
        heading: (T,) rad, body heading about +z, wrapped to (-pi, pi].
        fps: frames per second.
    """

    positions: np.ndarray
    behaviour: np.ndarray
    behaviour_names: tuple[str, ...]
    heading: np.ndarray
    fps: float

    def __post_init__(self):
        for name in ("positions", "behaviour", "heading"):
            getattr(self, name).setflags(write=False)

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]


def _behaviour_sequence(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    labels = np.empty(n_frames, dtype=np.int64)
    state = int(rng.integers(len(BEHAVIOURS)))
    t = 0
    while t < n_frames:
        duration = rng.gamma(4.0, _MEAN_DURATION[state] / 4.0)
        n = max(int(round(max(duration, 0.4) * fps)), 1)
        labels[t:t + n] = state
        t += n
        state = int(rng.choice(len(BEHAVIOURS), p=_TRANSITIONS[state]))
    return labels


def _segments(labels: np.ndarray):
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    return zip(starts, ends)


def _smooth_noise(rng, n_frames: int, sigma_frames: float, scale: float) -> np.ndarray:
    noise = gaussian_filter1d(rng.standard_normal(n_frames + 1), sigma_frames, mode="wrap")[:n_frames]
    return scale * noise / (noise.std() + 1e-12)


def _rot_z(angle: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors v (T, 3) about +z by angle (T,)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], axis=-1)


def _direction(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Unit vectors (T, 3) with azimuth ``yaw`` and elevation ``pitch`` (rad)."""
    return np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], axis=-1)


def _reach(parent: np.ndarray, target: np.ndarray, length: float) -> np.ndarray:
    """Unit direction (T, 3) for a limb of ``length`` from ``parent`` towards ``target``.

    Out of reach: point at the target. Within reach: keep the target's azimuth and height
    (the limb "bends"), so a paw aimed at the floor stands on it.
    """
    delta = target - parent
    dist = np.linalg.norm(delta, axis=-1)
    dz = np.clip(delta[:, 2] / length, -1.0, 1.0)
    horiz = delta[:, :2]
    hn = np.linalg.norm(horiz, axis=-1, keepdims=True)
    horiz = np.where(hn > 1e-9, horiz / np.maximum(hn, 1e-12), np.array([1.0, 0.0]))
    within = np.concatenate([horiz * np.sqrt(1.0 - dz**2)[:, None], dz[:, None]], axis=-1)
    toward = delta / np.maximum(dist, 1e-12)[:, None]
    return np.where((dist >= length)[:, None], toward, within)


def _above_floor(parent: np.ndarray, u: np.ndarray, length: float, z_min: float) -> np.ndarray:
    """Tilt unit directions u (T, 3) up just enough that parent + length u stays above z_min."""
    low = parent[:, 2] + length * u[:, 2] < z_min
    if not np.any(low):
        return u
    uz = np.clip((z_min - parent[:, 2]) / length, -1.0, 1.0)
    horiz = u[:, :2]
    hn = np.linalg.norm(horiz, axis=-1, keepdims=True)
    horiz = np.where(hn > 1e-9, horiz / np.maximum(hn, 1e-12), np.array([1.0, 0.0]))
    fixed = np.concatenate([horiz * np.sqrt(1.0 - uz**2)[:, None], uz[:, None]], axis=-1)
    return np.where(low[:, None], fixed, u)


def _body_path(labels, fps, rng):
    """Speed, turning rate, heading and root path (T, 2) for the label sequence."""
    T = len(labels)
    speed = np.zeros(T)
    turn = np.zeros(T)
    for start, end in _segments(labels):
        b = labels[start]
        if b == LOCO:
            speed[start:end] = rng.uniform(120.0, 260.0)
            turn[start:end] = rng.normal(0.0, 0.25)
        elif b == TURN:
            speed[start:end] = rng.uniform(20.0, 60.0)
            turn[start:end] = rng.choice([-1.0, 1.0]) * rng.uniform(2.0, 3.5)
        elif b == PAUSE:
            turn[start:end] = rng.normal(0.0, 0.1)
    sigma = 0.15 * fps
    speed = gaussian_filter1d(speed, sigma, mode="nearest")
    turn = gaussian_filter1d(turn, sigma, mode="nearest")

    dt = 1.0 / fps
    heading = np.empty(T)
    path = np.empty((T, 2))
    psi = rng.uniform(-np.pi, np.pi)
    p = rng.uniform(-120.0, 120.0, size=2)
    limit = ARENA_HALF_WIDTH - 110.0   # keep the root far enough in that the snout stays inside
    omega_wall_prev = 0.0
    for t in range(T):
        direction = np.array([np.cos(psi), np.sin(psi)])
        ahead = p + direction * (60.0 + 0.5 * speed[t])
        proximity = np.clip((np.max(np.abs(ahead)) - (limit - 40.0)) / 60.0, 0.0, 1.0)
        to_centre = np.arctan2(-p[1], -p[0])
        error = np.angle(np.exp(1j * (to_centre - psi)))
        omega_wall = 0.8 * omega_wall_prev + 0.2 * 4.0 * proximity * np.sign(error) * min(abs(error), 1.0)
        omega_wall_prev = omega_wall
        v = speed[t] * (1.0 - 0.8 * proximity)
        psi = psi + (turn[t] + omega_wall) * dt
        p = p + v * dt * np.array([np.cos(psi), np.sin(psi)])
        p = np.clip(p, -limit, limit)
        heading[t] = psi
        path[t] = p
    return speed, heading, path


def simulate_behaviour(n_frames: int, seed: int = 0, fps: float = 30.0) -> Motion:
    """Simulate the virtual rodent behaving in the 600 x 600 mm arena.

    Args:
        n_frames: T, number of frames (>= 1).
        seed: seed of the numpy Generator; the same seed gives identical arrays.
        fps: frames per second (> 0); durations, speeds and gait frequencies are in real time.

    Returns:
        Motion with positions (T, K, 3) mm (K = 13, ``rodent_skeleton()`` order), behaviour (T,)
        labels, heading (T,) rad and fps.
    """
    if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"n_frames: expected a positive integer, got {n_frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an integer, got {type(seed).__name__}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps: expected a positive number, got {fps!r}")
    n_frames, fps = int(n_frames), float(fps)
    rng = np.random.default_rng(seed)
    sk = rodent_skeleton()
    T = n_frames
    time = np.arange(T) / fps

    labels = _behaviour_sequence(T, fps, rng)
    weights = gaussian_filter1d(np.eye(len(BEHAVIOURS))[labels], 0.12 * fps, axis=0, mode="nearest")
    weights /= weights.sum(axis=1, keepdims=True)
    speed, heading, path = _body_path(labels, fps, rng)

    # blended posture parameters (T,)
    root_z, pitch_front, pitch_back, head_pitch, nose_pitch = (weights @ _POSTURE).T
    w = weights.T
    breathing = 0.6 * np.sin(2 * np.pi * rng.uniform(1.5, 2.2) * time + rng.uniform(0, 2 * np.pi))
    root_z = root_z + breathing
    rear_jitter = _smooth_noise(rng, T, 0.6 * fps, 0.12)
    pitch_front = pitch_front + w[REAR] * rear_jitter
    head_pitch = head_pitch + _smooth_noise(rng, T, 0.3 * fps, 0.12) \
        + w[GROOM] * 0.12 * np.sin(2 * np.pi * 3.0 * time)
    head_yaw = _smooth_noise(rng, T, 0.35 * fps, 0.25) * (1.0 - 0.7 * w[PAUSE])
    # spine bends into the turn: omega = dpsi/dt
    omega = np.gradient(np.unwrap(heading)) * fps
    bend = np.clip(gaussian_filter1d(0.18 * omega, 0.1 * fps, mode="nearest"), -0.5, 0.5)

    # gait phase advances only while moving
    moving = w[LOCO] + w[TURN]
    stride_hz = 1.5 + speed / 80.0
    phase = np.cumsum(stride_hz * moving) / fps + rng.uniform()
    sweep = moving * np.maximum(0.3 * speed / stride_hz, 8.0)        # mm, +- fore/aft paw sweep
    lift = moving * 10.0                                             # mm, swing height

    front_yaw = heading + bend / 2
    rear_yaw = heading - bend / 2
    head_az = heading + bend + head_yaw
    L = sk.bone_lengths
    idx = sk.index
    dirs = np.zeros((T, sk.K, 3))
    pos = np.zeros((T, sk.K, 3))
    pos[:, idx("spine_mid")] = np.column_stack([path, root_z])

    def place(name, u, z_min=2.0):
        k, parent = idx(name), sk.parents[idx(name)]
        u = _above_floor(pos[:, parent], u / np.linalg.norm(u, axis=-1, keepdims=True), L[k], z_min)
        dirs[:, k] = u
        pos[:, k] = pos[:, parent] + L[k] * u

    place("neck", _direction(front_yaw, pitch_front))
    place("hips", _direction(rear_yaw + np.pi, -pitch_back))
    place("head", _direction(head_az, head_pitch))
    place("nose", _direction(head_az, nose_pitch))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        ear = np.array([-0.35, 0.8 * sign, 0.55])
        c, s = np.cos(head_pitch), np.sin(head_pitch)
        pitched = np.stack([c * ear[0] - s * ear[2], np.full(T, ear[1]), s * ear[0] + c * ear[2]], axis=-1)
        place(f"{side}_ear", _rot_z(head_az, pitched))
    tail_sway = _smooth_noise(rng, T, 0.5 * fps, 0.25) + moving * 0.15 * np.sin(2 * np.pi * phase)
    place("tail_base", _direction(rear_yaw - bend / 2 + np.pi, np.full(T, -0.35)))
    tail_target = pos[:, idx("tail_base")] - L[idx("tail_mid")] * _direction(
        rear_yaw - bend + tail_sway, np.zeros(T))
    tail_target[:, 2] = 3.0
    place("tail_mid", _reach(pos[:, idx("tail_base")], tail_target, L[idx("tail_mid")]))

    # paws: every behaviour proposes a target point; targets are blended with the weights
    head_pos = pos[:, idx("head")]
    nose_pos = pos[:, idx("nose")]
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for limb, parent_name, forward, lateral in (("forepaw", "neck", 8.0, 14.0),
                                                    ("hindpaw", "hips", 10.0, 18.0)):
            name = f"{side}_{limb}"
            parent = pos[:, idx(parent_name)]
            yaw = front_yaw if limb == "forepaw" else rear_yaw

            def floor_point(fwd, lat):
                offset = _rot_z(yaw, np.column_stack([fwd, np.full(T, lat), np.zeros(T)]))
                point = parent + offset
                point[:, 2] = _PAW_Z
                return point

            u = np.mod(phase + _GAIT_OFFSET[name], 1.0)
            stance = u < _DUTY
            swing = np.clip((u - _DUTY) / (1.0 - _DUTY), 0.0, 1.0)
            fwd = np.where(stance, sweep * (1.0 - 2.0 * u / _DUTY), -sweep * np.cos(np.pi * swing))
            gait = floor_point(forward + fwd, sign * lateral)
            gait[:, 2] += np.where(stance, 0.0, lift * np.sin(np.pi * swing))
            standing = floor_point(np.full(T, forward), sign * lateral)
            if limb == "forepaw":
                body_fwd = _direction(front_yaw, np.zeros(T))
                side_vec = _rot_z(front_yaw, np.tile([0.0, sign, 0.0], (T, 1)))
                rearing = parent + 14.0 * body_fwd + 9.0 * side_vec - np.array([0.0, 0.0, 24.0])
                scrub = 4.0 * np.stack([np.cos(2 * np.pi * 5.0 * time + (sign > 0) * np.pi),
                                        np.zeros(T), np.sin(2 * np.pi * 5.0 * time)], axis=-1)
                face = 0.5 * (head_pos + nose_pos) + 7.0 * side_vec + _rot_z(front_yaw, scrub)
                toward = face - parent
                grooming = parent + L[idx(name)] * toward / np.linalg.norm(toward, axis=-1, keepdims=True)
            else:
                rearing = floor_point(np.full(T, 12.0), sign * (lateral + 4.0))
                grooming = floor_point(np.full(T, 15.0), sign * (lateral + 6.0))
            proposals = np.stack([gait, gait, rearing, grooming, standing])   # (B, T, 3)
            target = np.einsum("tb,btd->td", weights, proposals)
            place(name, _reach(parent, target, L[idx(name)]), z_min=_PAW_Z)

    positions = forward_kinematics(pos[:, idx("spine_mid")], dirs, sk)
    return Motion(positions=positions, behaviour=labels, behaviour_names=BEHAVIOURS,
                  heading=np.angle(np.exp(1j * heading)), fps=fps)
