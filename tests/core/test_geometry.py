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


# the Rig: one projection, one Jacobian, one undistortion -------------------------------------------
def test_rig_stacks_cameras_and_projects_like_the_hand_built_homogeneous_projection():
    cams = _rig(k1=0.0)
    rig = geometry.as_rig(cams)
    assert len(rig) == 4 and rig.K.shape == (4, 3, 3) and rig.t.shape == (4, 3) and rig.k1.shape == (4,)
    assert geometry.as_rig(rig) is rig and geometry.as_rig(cams[0]).names == ("cam0",)
    np.testing.assert_allclose(rig.centers, [c.center for c in cams], atol=1e-9)
    x = np.random.default_rng(1).uniform(-150, 150, (6, 5, 3))
    ref = np.stack([(np.c_[x.reshape(-1, 3), np.ones(30)] @ c.projection_matrix.T) for c in cams])
    ref = (ref[..., :2] / ref[..., 2:]).reshape(4, 6, 5, 2)
    np.testing.assert_allclose(rig.project(x), ref, atol=1e-9)
    np.testing.assert_allclose(rig.depths(x), rig.to_camera(x)[..., 2], atol=1e-12)
    np.testing.assert_allclose(rig.to_camera(x)[2], cams[2].to_camera(x), atol=1e-9)
    assert [c.name for c in rig.cameras] == [c.name for c in cams]
    # the component-major entry is the same projection
    pix, ok, J = rig.project_components(np.moveaxis(x, -1, 0), jacobian=True)
    assert pix.shape == (2, 4, 6, 5) and ok.shape == (4, 6, 5) and J.shape == (4, 3, 2, 6, 5) and ok.all()
    np.testing.assert_allclose(np.moveaxis(pix, 0, -1), ref, atol=1e-9)
    assert rig.project_components(x.reshape(-1, 3).T)[2] is None


@pytest.mark.parametrize("k1", [0.0, -0.3, 0.4])
def test_rig_jacobian_matches_finite_differences_with_distortion(k1):
    rig = geometry.as_rig(_rig(k1=k1))
    x = np.random.default_rng(2).uniform(-150, 150, (7, 3))
    pix, J = rig.project(x, jacobian=True)
    assert J.shape == (4, 7, 2, 3)
    h = 1e-4
    fd = np.stack([(rig.project(x + h * e) - rig.project(x - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(geometry.projection_jacobian(rig, x), J)
    # component-major layout J[c, j, r] = d pix_r / d x_j
    Jc = rig.project_components(x.T, jacobian=True)[2]
    np.testing.assert_allclose(np.moveaxis(Jc, (1, 2), (-1, -2)), J, atol=1e-12)


def test_points_behind_a_camera_project_to_nan_and_are_not_ok():
    cam = geometry.make_camera([0, -500, 0], [0, 0, 0], 800.0)
    behind = np.array([[0.0, -900.0, 0.0], [np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]])
    pix = cam.project(behind)
    assert np.isnan(pix[:2]).all() and np.isfinite(pix[2]).all()
    assert cam.rig.project_components(behind.T)[1].tolist() == [[False, False, True]]


@pytest.mark.parametrize("k1", [-0.5, -0.2, 0.1, 0.3, 0.5])
def test_undistortion_inverts_distortion_over_the_whole_image(k1):
    """A grid over the whole 640 x 480 image (normalised radius up to 1.0 at focal 400 px):
    distort(undistort(p)) == p to 1e-6 px wherever the model is invertible, NaN exactly where
    k1 < 0 folds the image back (r_d beyond the turning point r_u^2 = -1 / (3 k1))."""
    cam = geometry.make_camera([0, -500, 300], [0, 0, 0], 400.0, (640, 480), k1=k1)
    u, v = np.meshgrid(np.linspace(0, 639, 81), np.linspace(0, 479, 61))
    p = np.stack([u, v], axis=-1)
    ideal = cam.undistort_pixels(p)
    r_d = np.hypot(u - cam.K[0, 2], v - cam.K[1, 2]) / 400.0
    invertible = r_d <= (2 / 3) * np.sqrt(-1 / (3 * k1)) - 1e-9 if k1 < 0 else np.ones_like(r_d, bool)
    np.testing.assert_array_equal(np.isfinite(ideal).all(axis=-1), invertible)
    n = (ideal[invertible] - cam.K[:2, 2]) / 400.0
    back = n * (1 + k1 * np.sum(n**2, axis=-1, keepdims=True)) * 400.0 + cam.K[:2, 2]
    np.testing.assert_allclose(back, p[invertible], atol=1e-6)
    # the undistorted point is the one on the monotone branch: an independent root finder agrees
    from scipy.optimize import brentq
    for rd in r_d[invertible][::97]:
        hi = np.sqrt(-1 / (3 * k1)) if k1 < 0 else rd
        ru = brentq(lambda r: r * (1 + k1 * r * r) - rd, 0.0, hi + 1e-12) if rd > 0 else 0.0
        np.testing.assert_allclose(geometry.undistort_radius(rd, k1), ru, atol=1e-12)


def test_undistortion_of_the_real_back_camera_beyond_the_old_fixed_point_limit():
    """The sleap-anipose ``back`` camera (k1 = -0.285, f = 770 px): the old fixed point
    x_u = x_d / (1 + k1 |x_u|^2) diverged for a normalised radius above ~0.72; Newton on the
    radius recovers the point up to the turning point (r_d = 0.72055) and returns NaN beyond."""
    k1, f = -0.2853406116327607, 769.8864926727645
    cam = geometry.Camera([[f, 0, 639.5], [0, f, 511.5], [0, 0, 1]], np.eye(3), [0, 0, 500.0], k1=k1,
                          image_size=(1280, 1024))
    r_turn = np.sqrt(-1 / (3 * k1))
    r_d = np.array([0.5, 0.7, 0.72, 0.7205, r_turn * (1 + k1 * r_turn**2) * (1 - 1e-9)])
    p = np.stack([639.5 + f * r_d, 511.5 + 0 * r_d], axis=-1)
    ideal = cam.undistort_pixels(p)
    ru = (ideal[:, 0] - 639.5) / f
    np.testing.assert_allclose(ru * (1 + k1 * ru**2) * f + 639.5, p[:, 0], atol=1e-6)
    # the old algorithm fails there (oracle for "this was broken")
    xu = r_d.copy()
    for _ in range(20):
        xu = r_d / (1 + k1 * xu**2)
    assert np.abs(xu * (1 + k1 * xu**2) - r_d)[2:].min() * f > 0.5   # over half a pixel off after 20 steps
    # beyond the turning point: no preimage, NaN (not a wrong point)
    assert np.isnan(cam.undistort_pixels([639.5 + f * 0.75, 511.5])).all()


def test_as_rig_is_the_one_validation_of_a_camera_argument():
    cams = _rig()
    with pytest.raises(TypeError, match="cameras: expected a list of lecturekit.geometry.Camera objects"):
        geometry.as_rig([np.eye(3)])
    with pytest.raises(TypeError, match="cameras: expected a list"):
        geometry.as_rig(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="cameras: expected at least one camera"):
        geometry.as_rig([])
    assert geometry.as_camera_list(geometry.as_rig(cams))[1] is cams[1]
    rig = geometry.as_rig(cams)
    with pytest.raises(ValueError, match=r"pixels: expected shape \(C, \.\.\., 2\) px with C = 4"):
        rig.undistort(np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match=r"xc: expected shape \(3, \.\.\.\)"):
        rig.project_components(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"camera: expected an index in \[0, 4\)"):
        rig.pixel_rays(4)
    sub = rig.subset([3, 1])
    assert sub.names == ("cam3", "cam1")
    np.testing.assert_array_equal(sub.K, rig.K[[3, 1]])


def test_resized_camera_sees_the_same_points_at_scaled_pixel_centres():
    # A pixel u of the full image covers [u - 1/2, u + 1/2]; at scale s it covers
    # [(u - 1/2) s, (u + 1/2) s] - 1/2 in the new image's pixel coordinates: same point, same ray.
    full = geometry.make_camera([900.0, -300.0, 400.0], [0.0, 0.0, 30.0], 860.0, (640, 480), k1=-0.03)
    points = np.random.default_rng(3).uniform(-150, 150, size=(50, 3))
    small = full.resized((160, 120))
    assert small.image_size == (160, 120) and small.k1 == full.k1
    np.testing.assert_allclose(small.project(points), (full.project(points) + 0.5) * 0.25 - 0.5, atol=1e-9)
    assert full.resized((640, 480)) is full
    with pytest.raises(ValueError, match="image_size"):
        full.resized((160.5, 120))
