"""anipose / aniposelib calibration files (``calibration.toml``) <-> :class:`lecturekit.geometry.Camera`.

anipose stores one ``[cam_i]`` table per camera with ``name``, ``size`` (width, height),
``matrix`` (K), ``distortions`` (k1, k2, p1, p2, k3), ``rotation`` (Rodrigues vector) and
``translation``; units are whatever the calibration board used (usually mm).
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..geometry import Camera, as_camera_list, matrix_to_rodrigues, rodrigues_to_matrix

__all__ = ["read_anipose_toml", "write_anipose_toml"]


def read_anipose_toml(path: Path | str) -> list[Camera]:
    """Read an anipose ``calibration.toml`` into cameras (OpenCV model; k1 kept, k2..k3 must be 0).

    anipose stores one ``[cam_i]`` table per camera with ``name``, ``size`` (width, height),
    ``matrix`` (K), ``distortions`` (k1, k2, p1, p2, k3), ``rotation`` (Rodrigues vector) and
    ``translation``; units are whatever the calibration board used (usually mm).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    tables = [(key, value) for key, value in data.items() if key.startswith("cam_")]
    if not tables:
        raise ValueError(f"path: {path} has no [cam_*] tables; is it an anipose calibration.toml?")
    tables.sort(key=lambda kv: int(kv[0].split("_")[1]) if kv[0].split("_")[1].isdigit() else kv[0])
    cameras = []
    for key, table in tables:
        name = str(table.get("name", key))
        where = f"{path}: camera [{key}] ({name!r})"
        values = {}
        for field in ("matrix", "rotation", "translation"):
            if field not in table:
                raise ValueError(f"{where}: missing key {field!r}")
            try:
                values[field] = np.array(table[field], dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: key {field!r} is not an array of numbers") from None
            if not np.all(np.isfinite(values[field])):
                raise ValueError(f"{where}: key {field!r} contains NaN or infinity")
        dist = list(table.get("distortions", [0.0])) + [0.0] * 5
        if not np.all(np.isfinite(np.asarray(dist[:5], dtype=float))):
            raise ValueError(f"{where}: key 'distortions' contains NaN or infinity")
        if any(abs(d) > 1e-12 for d in dist[1:5]):
            raise ValueError(f"{key}.distortions: only k1 is supported, got {dist[:5]}")
        try:
            cameras.append(Camera(K=values["matrix"], R=rodrigues_to_matrix(values["rotation"]),
                                  t=values["translation"], k1=float(dist[0]), name=name,
                                  image_size=tuple(int(v) for v in table.get("size", (640, 480)))))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    for i, j in itertools.combinations(range(len(cameras)), 2):
        a, b = cameras[i], cameras[j]
        if np.allclose(a.R, b.R, atol=1e-9) and np.allclose(a.t, b.t, atol=1e-9):
            warnings.warn(f"{path}: cameras {a.name!r} and {b.name!r} have identical calibrations (same pose); "
                          f"one of them is probably a copy: triangulation cannot use both as calibrated",
                          UserWarning, stacklevel=2)
    return cameras


def write_anipose_toml(cameras: Sequence[Camera], path: Path | str) -> None:
    """Write cameras as an anipose ``calibration.toml`` (readable by aniposelib's CameraGroup.load)."""
    cameras = as_camera_list(cameras)

    def fmt(values) -> str:
        return "[" + ", ".join(repr(float(v)) for v in values) + "]"

    lines = []
    for i, cam in enumerate(cameras):
        lines += [f"[cam_{i}]", f'name = "{cam.name}"', f"size = [{cam.image_size[0]}, {cam.image_size[1]}]",
                  "matrix = [" + ", ".join(fmt(row) for row in cam.K) + "]",
                  f"distortions = {fmt([cam.k1, 0, 0, 0, 0])}",
                  f"rotation = {fmt(matrix_to_rodrigues(cam.R))}",
                  f"translation = {fmt(cam.t)}", ""]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    Path(path).write_text("\n".join(lines))
