"""lecturekit.geometry: projection against a hand-built homogeneous projection, round trips
(world <-> camera, distortion <-> undistortion, Rodrigues), anipose TOML round trip, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from lecturekit import formats, geometry


def _rig(k1=0.0):
    cams = []
    for i in range(4):
        angle = 2 * np.pi * i / 4 + 0.3
        cams.append(geometry.make_camera([700 * np.cos(angle), 700 * np.sin(angle), 350], [10, -20, 40], 800 + 40 * i,
                                         k1=k1 * (i % 2), name=f"cam{i}"))
    return cams


def _points(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([-150, -150, 0], [150, 150, 150], (n, 3))


def test_projection_matches_hand_built_homogeneous_projection():
    rng = np.random.default_rng(1)
    x = _points()
    for cam in _rig():
        # build P = K [R | t] by hand from the attributes and divide by the third coordinate
        P = np.zeros((3, 4))
        P[:, :3] = cam.K @ cam.R
        P[:, 3] = cam.K @ cam.t
        X = np.hstack([x, np.ones((len(x), 1))])
        uvw = X @ P.T
        expected = uvw[:, :2] / uvw[:, 2:]
        np.testing.assert_allclose(cam.project(x), expected, rtol=0, atol=1e-9)
        # the slide's A_c, b_c and the projection matrix agree with the hand-built one
        np.testing.assert_allclose(cam.projection_matrix, P, atol=1e-9)
        np.testing.assert_allclose(cam.A @ x[0] + cam.b, uvw[0], atol=1e-9)
    # batch shape (T, K, 3) -> (C, T, K, 2)
    xs = rng.uniform(-100, 100, (3, 5, 3))
    assert geometry.project(_rig(), xs).shape == (4, 3, 5, 2)


def test_camera_centre_projects_nowhere_and_looks_at_target():
    for cam in _rig():
        np.testing.assert_allclose(cam.to_camera(cam.center), 0, atol=1e-9)
        # the target projects to the principal point
        np.testing.assert_allclose(cam.project(np.array([10.0, -20.0, 40.0])), cam.K[:2, 2], atol=1e-9)
        behind = cam.center - 100 * cam.R[2]  # a point behind the camera has no image
        assert np.isnan(cam.project(behind)).all()


def test_far_objects_appear_smaller():
    cam = geometry.make_camera([0, -1000, 0], [0, 0, 0], 800)
    near = cam.project(np.array([[0, 0, 0], [10, 0, 0]]))
    far = cam.project(np.array([[0, 1000, 0], [10, 1000, 0]]))
    assert np.linalg.norm(near[1] - near[0]) == pytest.approx(2 * np.linalg.norm(far[1] - far[0]), rel=1e-9)


def test_distortion_round_trip_and_definition():
    x = _points(200)
    for cam in _rig(k1=-0.15):
        pixels = cam.project(x)
        ideal = geometry.Camera(cam.K, cam.R, cam.t).project(x)
        # undistort(distorted projection) = ideal pinhole projection
        np.testing.assert_allclose(cam.undistort_pixels(pixels), ideal, atol=1e-6)
        if cam.k1:
            # distortion by hand on normalised coordinates
            c = cam.to_camera(x)
            n = c[:, :2] / c[:, 2:]
            d = n * (1 + cam.k1 * np.sum(n**2, axis=1, keepdims=True))
            np.testing.assert_allclose(pixels, d @ cam.K[:2, :2].T + cam.K[:2, 2], atol=1e-9)
            assert np.abs(pixels - ideal).max() > 1.0  # distortion is not a no-op here


def test_rodrigues_round_trip_against_scipy():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(3)
    for _ in range(10):
        rvec = rng.normal(size=3)
        R = geometry.rodrigues_to_matrix(rvec)
        np.testing.assert_allclose(R, Rotation.from_rotvec(rvec).as_matrix(), atol=1e-12)
        np.testing.assert_allclose(geometry.rodrigues_to_matrix(geometry.matrix_to_rodrigues(R)), R, atol=1e-12)


def test_anipose_toml_round_trip(tmp_path):
    cams = _rig(k1=-0.05)
    path = tmp_path / "calibration.toml"
    formats.write_anipose_toml(cams, path)
    text = path.read_text()
    assert "[cam_0]" in text and "distortions" in text and "rotation" in text
    back = formats.read_anipose_toml(path)
    assert [c.name for c in back] == [c.name for c in cams]
    x = _points()
    for a, b in zip(cams, back):
        np.testing.assert_allclose(b.K, a.K, atol=1e-12)
        np.testing.assert_allclose(b.R, a.R, atol=1e-12)
        np.testing.assert_allclose(b.t, a.t, atol=1e-12)
        assert b.k1 == a.k1 and b.image_size == a.image_size
        np.testing.assert_allclose(b.project(x), a.project(x), atol=1e-8)


def test_read_anipose_toml_rejects_unsupported_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[metadata]\nadjusted = false\n")
    with pytest.raises(ValueError, match="cam_"):
        formats.read_anipose_toml(bad)
    k2 = tmp_path / "k2.toml"
    formats.write_anipose_toml(_rig()[:1], k2)
    k2.write_text(k2.read_text().replace("distortions = [0.0, 0.0", "distortions = [0.0, 0.1"))
    with pytest.raises(ValueError, match="only k1"):
        formats.read_anipose_toml(k2)


def test_bad_inputs_name_the_argument():
    cam = _rig()[0]
    with pytest.raises(ValueError, match=r"K: expected shape \(3, 3\)"):
        geometry.Camera(np.eye(2), np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="R: expected a rotation"):
        geometry.Camera(np.eye(3), 2 * np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="t: contains NaN"):
        geometry.Camera(np.eye(3), np.eye(3), [0, np.nan, 0])
    with pytest.raises(ValueError, match=r"points: expected shape \(\.\.\., 3\)"):
        cam.project(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"pixels: expected shape \(\.\.\., 2\)"):
        cam.undistort_pixels(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="cameras"):
        geometry.project(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="target: must differ"):
        geometry.look_at([0, 0, 0], [0, 0, 0])
