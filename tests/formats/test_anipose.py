"""lecturekit.formats.anipose: a bad calibration.toml is refused with one message naming the
camera and the key; identical calibrations are flagged."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from lecturekit import formats, geometry


def _cams():
    return [geometry.make_camera([600 * np.cos(a), 600 * np.sin(a), 300], [0, 0, 0], 700.0 + 10 * i, k1=-0.02 * i,
                                 name=f"cam{i}") for i, a in enumerate([0.0, 2.0, 4.0])]


def _written(tmp_path, cams=None):
    path = tmp_path / "calibration.toml"
    formats.write_anipose_toml(cams or _cams(), path)
    return path


def test_round_trip_is_silent_and_exact(tmp_path):
    cams = _cams()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = formats.read_anipose_toml(_written(tmp_path, cams))
    for a, b in zip(cams, back):
        np.testing.assert_allclose(b.K, a.K)
        np.testing.assert_allclose(b.R, a.R, atol=1e-12)
        np.testing.assert_allclose(b.t, a.t)
        assert (b.k1, b.name) == (a.k1, a.name)


@pytest.mark.parametrize("field", ["matrix", "rotation", "translation"])
def test_a_missing_key_names_the_camera_and_the_key(tmp_path, field):
    path = _written(tmp_path)
    lines = path.read_text().splitlines()
    # drop the field of the second camera ([cam_1])
    start = lines.index("[cam_1]")
    index = next(i for i in range(start, len(lines)) if lines[i].startswith(field + " ="))
    path.write_text("\n".join(lines[:index] + lines[index + 1:]))
    with pytest.raises(ValueError, match=rf"camera \[cam_1\] \('cam1'\): missing key '{field}'"):
        formats.read_anipose_toml(path)


@pytest.mark.parametrize("field", ["matrix", "rotation", "translation", "distortions"])
def test_nan_in_a_calibration_names_the_camera_and_the_key(tmp_path, field):
    path = _written(tmp_path)
    lines = path.read_text().splitlines()
    start = lines.index("[cam_2]")
    index = next(i for i in range(start, len(lines)) if lines[i].startswith(field + " ="))
    name, values = lines[index].split(" = ", 1)
    lines[index] = f"{name} = " + re.sub(r"-?\d+\.\d*(e[-+]?\d+)?", "nan", values, count=1)  # shape kept
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=rf"camera \[cam_2\] \('cam2'\): key '{field}' contains NaN"):
        formats.read_anipose_toml(path)


def test_an_invalid_camera_names_it(tmp_path):
    cams = _cams()
    path = _written(tmp_path, cams)
    text = path.read_text().replace('name = "cam0"\nsize = [640, 480]\nmatrix = [[700.0',
                                    'name = "cam0"\nsize = [640, 480]\nmatrix = [[-700.0')
    path.write_text(text)
    with pytest.raises(ValueError, match=r"camera \[cam_0\] \('cam0'\): K: expected positive focal lengths"):
        formats.read_anipose_toml(path)


def test_identical_calibrations_are_flagged(tmp_path):
    cams = _cams()
    copy = geometry.Camera(cams[0].K, cams[0].R, cams[0].t, cams[0].k1, "copy", cams[0].image_size)
    with pytest.warns(UserWarning, match="cameras 'cam0' and 'copy' have identical calibrations"):
        formats.read_anipose_toml(_written(tmp_path, cams + [copy]))
