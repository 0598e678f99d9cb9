"""The virtual rodent's skeleton (lecture: "3D Pose estimation: spatial constraints").

A pose is K = 13 keypoints x_k in R^3 (mm). The skeleton is a kinematic tree rooted at
``spine_mid``: every other keypoint k hangs off its parent par(k) at a fixed distance,

    x_k = x_par(k) + L_k u_k,     |u_k| = 1,

so a pose is the root position plus one unit direction u_k per bone, and the bone lengths L_k are
constants of the animal. This is the structure GIMBAL's distance prior (Model 2) and its
von Mises-Fisher directions are built on. Lengths are those of a small adult rat (nose to tail
base about 135 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Skeleton", "rodent_skeleton", "as_skeleton", "forward_kinematics"]


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A kinematic tree of named keypoints.

    Attributes:
        names: (K,) keypoint names.
        parents: (K,) parent index of each keypoint, -1 for the root.
        bone_lengths: (K,) mm, distance of each keypoint to its parent (0.0 for the root).
        left_right: pairs (i, j) of left/right body parts.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    bone_lengths: np.ndarray
    left_right: tuple[tuple[int, int], ...]

    def __post_init__(self):
        names = tuple(str(n) for n in self.names)
        parents = tuple(int(p) for p in self.parents)
        K = len(names)
        if len(set(names)) != K:
            raise ValueError("names: keypoint names must be unique")
        if len(parents) != K:
            raise ValueError(f"parents: expected {K} entries (one per name), got {len(parents)}")
        lengths = np.asarray(self.bone_lengths, dtype=float)
        if lengths.shape != (K,) or not np.all(np.isfinite(lengths)):
            raise ValueError(f"bone_lengths: expected a finite array of shape ({K},), got {lengths.shape}")
        roots = [k for k, p in enumerate(parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"parents: expected exactly one root (-1), got {len(roots)}")
        if any(not (-1 <= p < K) or p == k for k, p in enumerate(parents)):
            raise ValueError("parents: entries must be -1 or another keypoint's index")
        # every keypoint must reach the root (no cycles)
        for k in range(K):
            seen, j = set(), k
            while parents[j] != -1:
                if j in seen:
                    raise ValueError("parents: the tree has a cycle")
                seen.add(j)
                j = parents[j]
        if lengths[roots[0]] != 0.0 or np.any(np.delete(lengths, roots[0]) <= 0):
            raise ValueError("bone_lengths: expected 0 for the root and > 0 for every other keypoint")
        pairs = tuple((int(a), int(b)) for a, b in self.left_right)
        if any(not (0 <= a < K and 0 <= b < K) or a == b for a, b in pairs):
            raise ValueError("left_right: expected pairs of distinct keypoint indices")
        lengths = lengths.copy()
        lengths.setflags(write=False)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "bone_lengths", lengths)
        object.__setattr__(self, "left_right", pairs)

    @property
    def K(self) -> int:
        """Number of keypoints."""
        return len(self.names)

    @property
    def root(self) -> int:
        """Index of the root keypoint."""
        return self.parents.index(-1)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) index pairs, K - 1 of them."""
        return tuple((k, p) for k, p in enumerate(self.parents) if p != -1)

    def index(self, name: str) -> int:
        """Index of the keypoint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"name: unknown keypoint {name!r}; expected one of {self.names}") from None

    def topological_order(self) -> tuple[int, ...]:
        """Keypoint indices ordered so that every parent comes before its children."""
        depth = []
        for k in range(self.K):
            d, j = 0, k
            while self.parents[j] != -1:
                j, d = self.parents[j], d + 1
            depth.append(d)
        return tuple(int(k) for k in np.argsort(depth, kind="stable"))


_NAMES = ("nose", "left_ear", "right_ear", "head", "neck", "spine_mid", "hips",
          "tail_base", "tail_mid", "left_forepaw", "right_forepaw", "left_hindpaw", "right_hindpaw")
# child: (parent, length mm)
_BONES = {
    "nose": ("head", 30.0), "left_ear": ("head", 16.0), "right_ear": ("head", 16.0),
    "head": ("neck", 22.0), "neck": ("spine_mid", 38.0), "spine_mid": (None, 0.0),
    "hips": ("spine_mid", 42.0), "tail_base": ("hips", 25.0), "tail_mid": ("tail_base", 60.0),
    "left_forepaw": ("neck", 38.0), "right_forepaw": ("neck", 38.0),
    "left_hindpaw": ("hips", 44.0), "right_hindpaw": ("hips", 44.0),
}


def rodent_skeleton() -> Skeleton:
    """The course's 13-keypoint rat skeleton (root ``spine_mid``; lengths in mm)."""
    parents = tuple(-1 if _BONES[n][0] is None else _NAMES.index(_BONES[n][0]) for n in _NAMES)
    lengths = np.array([_BONES[n][1] for n in _NAMES])
    pairs = tuple((_NAMES.index("left_" + part), _NAMES.index("right_" + part))
                  for part in ("ear", "forepaw", "hindpaw"))
    return Skeleton(_NAMES, parents, lengths, pairs)


def as_skeleton(skeleton) -> Skeleton:
    """The one validation of a skeleton argument: None -> :func:`rodent_skeleton`, a Skeleton -> itself."""
    if skeleton is None:
        return rodent_skeleton()
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a lecturekit.synth.Skeleton, got {type(skeleton).__name__}")
    return skeleton


def forward_kinematics(root: np.ndarray, directions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Joint positions from the root position and one direction per bone.

    Args:
        root: (..., 3) mm, root keypoint position.
        directions: (..., K, 3) direction from each keypoint's parent to it (normalised here;
            the root's row is ignored).
        skeleton: the kinematic tree.

    Returns:
        (..., K, 3) mm positions with |x_k - x_par(k)| = L_k exactly (to rounding).
    """
    root = np.asarray(root, dtype=float)
    directions = np.asarray(directions, dtype=float)
    K = skeleton.K
    if directions.shape[-2:] != (K, 3) or root.shape != directions.shape[:-2] + (3,):
        raise ValueError(f"directions: expected shape (..., {K}, 3) with root (..., 3); "
                         f"got {directions.shape} and {root.shape}")
    norms = np.linalg.norm(directions, axis=-1, keepdims=True)
    out = np.empty(directions.shape)
    for k in skeleton.topological_order():
        p = skeleton.parents[k]
        if p == -1:
            out[..., k, :] = root
            continue
        if np.any(norms[..., k, 0] < 1e-12):
            raise ValueError(f"directions: zero direction for bone {skeleton.names[k]!r}")
        out[..., k, :] = out[..., p, :] + skeleton.bone_lengths[k] * (directions[..., k, :] / norms[..., k, :])
    return out
