"""The course datasets: built from the virtual rodent by one seeded function each, cached on disk.

DESIGN.md "The virtual rodent": no data can be downloaded, so every dataset the notebooks use is
generated deterministically (``lecturekit.synth``) and cached as an uncompressed ``.npz`` in
``$LECTUREKIT_CACHE`` (default ``~/.cache/lecturekit``). Each file stores a key made of the
dataset version, its seed and size and a hash of the generator's source code: when any of these
changes the file is rebuilt instead of loaded stale. Writes go to a temporary file that is then
renamed, so an interrupted build never leaves a corrupt cache.

* ``frames``: T = 400 rendered 128 x 128 frames from ``synth.frame_camera()`` with 2D keypoints
  and visibility (the patch classifier and the CNN lectures).
* ``multiview``: T = 1000 frames seen by ``synth.default_rig()``: 3D positions, 2D projections
  and visibility (triangulation, Models 0-2).
* ``mocap``: T = 3000 frames of 3D "motion capture" with another seed (GIMBAL's training data).
* ``rig_video``: the held-out sequence of the end-to-end lecture: T = 120 frames (rearing,
  grooming, locomotion, pausing) rendered by the six cameras of ``synth.default_rig()`` at
  ``RIG_VIDEO_SIZE`` = 160 x 120 px, with 3D truth, 2D keypoints and visibility.
* ``rig_labels``: the end-to-end lecture's labelled training images: 30 frames of another seed
  (one every 10 frames, all five behaviours) in the same six cameras and size: 180 images.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import synth

__all__ = ["names", "describe", "cache_state", "load", "build", "build_all", "cache_dir", "cache_path",
           "DATASET_VERSION", "RIG_VIDEO_SIZE", "RIG_LABEL_STRIDE"]

DATASET_VERSION = 1
RIG_VIDEO_SIZE = (160, 120)   # (width, height) px of the end-to-end lecture's six rendered views
RIG_LABEL_STRIDE = 10         # rig_labels: one labelled frame every RIG_LABEL_STRIDE simulated frames
_KEY_FIELD = "_cache_key"


@dataclass(frozen=True)
class _Spec:
    seed: int
    n_frames: int
    builder: Callable[[int, int], dict]
    description: str


def _build_frames(seed: int, n_frames: int) -> dict:
    motion = synth.simulate_behaviour(n_frames, seed=seed)
    rendered = synth.render_frames(motion.positions, [synth.frame_camera()], seed=seed)
    return {"images": rendered.images[0], "keypoints2d": rendered.keypoints2d[0],
            "visible": rendered.visible[0], "positions": motion.positions, "behaviour": motion.behaviour}


def _build_multiview(seed: int, n_frames: int) -> dict:
    motion = synth.simulate_behaviour(n_frames, seed=seed)
    cameras = synth.default_rig()
    return {"positions": motion.positions,
            "keypoints2d": np.stack([cam.project(motion.positions) for cam in cameras]),
            "visible": synth.keypoint_visibility(motion.positions, cameras),
            "behaviour": motion.behaviour}


def _build_mocap(seed: int, n_frames: int) -> dict:
    motion = synth.simulate_behaviour(n_frames, seed=seed)
    return {"positions": motion.positions, "behaviour": motion.behaviour, "heading": motion.heading}


def _build_rig_video(seed: int, n_frames: int) -> dict:
    motion = synth.simulate_behaviour(n_frames, seed=seed)
    rendered = synth.render_frames(motion.positions, synth.default_rig(), image_size=RIG_VIDEO_SIZE, seed=seed)
    return {"images": rendered.images, "keypoints2d": rendered.keypoints2d, "visible": rendered.visible,
            "positions": motion.positions, "behaviour": motion.behaviour}


def _build_rig_labels(seed: int, n_frames: int) -> dict:
    motion = synth.simulate_behaviour(n_frames * RIG_LABEL_STRIDE, seed=seed)
    positions = motion.positions[::RIG_LABEL_STRIDE]
    rendered = synth.render_frames(positions, synth.default_rig(), image_size=RIG_VIDEO_SIZE, seed=seed)
    return {"images": rendered.images, "keypoints2d": rendered.keypoints2d, "visible": rendered.visible,
            "positions": positions, "behaviour": motion.behaviour[::RIG_LABEL_STRIDE]}


_SPECS: dict[str, _Spec] = {
    "frames": _Spec(101, 400, _build_frames, "400 rendered 128x128 frames + 2D keypoints (2D lectures)"),
    "multiview": _Spec(202, 1000, _build_multiview, "1000 frames, 6 cameras: 3D + 2D + visibility"),
    "mocap": _Spec(303, 3000, _build_mocap, "3000 frames of 3D motion capture (GIMBAL training)"),
    "rig_video": _Spec(658, 120, _build_rig_video, "120 frames rendered by 6 cameras at 160x120 (end-to-end test)"),
    "rig_labels": _Spec(723, 30, _build_rig_labels, "30 frames x 6 cameras = 180 labelled 160x120 images"),
}


def names() -> tuple[str, ...]:
    """Names of the course datasets: ("frames", "multiview", "mocap", "rig_video", "rig_labels")."""
    return tuple(_SPECS)


def describe(name: str) -> str:
    """One line saying what dataset ``name`` holds."""
    return _spec(name).description


def cache_state(name: str) -> str:
    """"not built", "stale (will rebuild)" or "cached, <size> MB" for dataset ``name``."""
    path = cache_path(name)
    if not path.exists():
        return "not built"
    if _read(path, _cache_key(name)) is None:
        return "stale (will rebuild)"
    return f"cached, {path.stat().st_size / 1e6:.1f} MB"


def cache_dir() -> Path:
    """The cache folder: ``$LECTUREKIT_CACHE`` or ``~/.cache/lecturekit``."""
    env = os.environ.get("LECTUREKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lecturekit"


def _spec(name) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"name: unknown dataset {name!r}; expected one of {names()}")
    return _SPECS[name]


def cache_path(name: str) -> Path:
    """Path of a dataset's cache file."""
    _spec(name)
    return cache_dir() / f"{name}.npz"


def _generator_hash() -> str:
    digest = hashlib.sha256()
    sources = sorted(Path(synth.__file__).parent.glob("*.py")) + [Path(__file__)]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_key(name: str) -> str:
    spec = _spec(name)
    return f"v{DATASET_VERSION}:{name}:seed={spec.seed}:T={spec.n_frames}:src={_generator_hash()}"


def _read(path: Path, key: str) -> dict | None:
    """The cached arrays if ``path`` holds a readable file with the right key, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if _KEY_FIELD not in data.files or str(data[_KEY_FIELD]) != key:
                return None
            return {k: data[k] for k in data.files if k != _KEY_FIELD}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def _write_atomic(path: Path, arrays: dict, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz.tmp",
                                         delete=False)
    try:
        with handle:
            np.savez(handle, **arrays, **{_KEY_FIELD: np.array(key)})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def build(name: str, rebuild: bool = False) -> Path:
    """Build one dataset into the cache (skipped when a valid cached copy exists).

    Args:
        name: one of ``names()``.
        rebuild: build even when the cache is valid.

    Returns:
        The cache file's path.
    """
    spec = _spec(name)
    path, key = cache_path(name), _cache_key(name)
    if rebuild or _read(path, key) is None:
        arrays = spec.builder(spec.seed, spec.n_frames)
        _write_atomic(path, arrays, key)
    return path


def build_all(rebuild: bool = False) -> dict[str, Path]:
    """Build every course dataset (a few seconds on 2 cores, timed by bench/bench_datasets.py); returns
    {name: cache path}."""
    if not isinstance(rebuild, bool):
        raise TypeError(f"rebuild: expected True or False, got {rebuild!r}")
    return {name: build(name, rebuild=rebuild) for name in names()}


def load(name: str) -> dict[str, np.ndarray]:
    """Load a course dataset, building (and caching) it first when needed.

    Args:
        name: one of ``names()``.

    Returns:
        dict of arrays. frames: images (T, 128, 128, 3) uint8, keypoints2d (T, K, 2) px,
        visible (T, K) bool, positions (T, K, 3) mm, behaviour (T,) (T = 400).
        multiview: positions (T, K, 3) mm, keypoints2d (C, T, K, 2) px, visible (C, T, K),
        behaviour (T,) (T = 1000, C = 6 cameras of ``synth.default_rig()``).
        mocap: positions (T, K, 3) mm, behaviour (T,), heading (T,) rad (T = 3000).
        rig_video: images (C, T, 120, 160, 3) uint8, keypoints2d (C, T, K, 2) px in those images,
        visible (C, T, K), positions (T, K, 3) mm, behaviour (T,) (C = 6, T = 120).
        rig_labels: the same arrays for N = 30 labelled frames (C x N = 180 images).
        Behaviour labels index ``synth.BEHAVIOURS``.
    """
    spec = _spec(name)
    path, key = cache_path(name), _cache_key(name)
    arrays = _read(path, key)
    if arrays is None:
        arrays = spec.builder(spec.seed, spec.n_frames)
        try:
            _write_atomic(path, arrays, key)
        except OSError:   # a read-only cache still gives the data
            pass
    return dict(arrays)
