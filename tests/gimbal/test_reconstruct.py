"""The one-call path from cameras + 2D to a GIMBAL posterior (gimbal.reconstruct), the world
frame helper (geometry.align_rig_to_floor) and the units contract, on a scene NOT produced by
lecturekit.synth: 8 keypoints in a non-topological order with the root at index 3, a smooth
random walk with a turning heading, 4 cameras on a 120-degree arc with radial distortion
(k1 != 0), 10% outliers and 10% missing detections. Oracles: the known truth, DLT's error, the
same scene in metres, a known rotation."""

import glob

import numpy as np
import pytest

from lecturekit import formats
from lecturekit.geometry import align_rig_to_floor, as_rig, check_frames_keypoints, make_camera, transform_rig
from lecturekit.gimbal.reconstruct import reconstruct_3d
from lecturekit.metrics import mpe
from lecturekit.triangulation import bayes3d, triangulate_dlt

PARENTS = np.array([2, 6, 3, -1, 0, 3, 5, 5])   # children before parents; root 3
BONES_MM = np.array([22.0, 15.0, 28.0, 0.0, 18.0, 34.0, 20.0, 24.0])
REST = np.array([[1, 0, 0.3], [0.2, 1, -0.2], [1, 0, 0.1], [0, 0, 1], [0.5, 0, -1],
                 [-1, 0, 0.1], [-0.5, 0.8, -0.5], [-0.6, -0.8, -0.4]], dtype=float)


def smooth_noise(rng, shape, width):
    """Gaussian noise smoothed over time (axis 0) by a Gaussian kernel of `width` frames."""
    T = shape[0]
    raw = rng.standard_normal((T + 6 * width,) + shape[1:])
    kernel = np.exp(-0.5 * (np.arange(-3 * width, 3 * width + 1) / width) ** 2)
    kernel /= np.sqrt(np.sum(kernel**2))
    out = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 0, raw)
    return out[:T]


def make_scene(n_frames=60, seed=0, unit=1.0, outlier_rate=0.1, missing_rate=0.1, noise_px=2.0):
    """Returns (rig, points2d (C, T, K, 2) px, truth (T, K, 3) in mm * unit)."""
    rng = np.random.default_rng(seed)
    T, K = n_frames, len(PARENTS)
    heading = 0.4 + np.cumsum(0.03 * smooth_noise(rng, (T,), 5))
    root = np.zeros((T, 3))
    root[:, :2] = np.cumsum(1.5 * smooth_noise(rng, (T, 2), 4), axis=0)
    root[:, 2] = 40.0 + 3.0 * smooth_noise(rng, (T,), 6)
    wobble = 0.25 * smooth_noise(rng, (T, K, 3), 4)
    c, s = np.cos(heading), np.sin(heading)
    rest = REST / np.linalg.norm(REST, axis=1, keepdims=True)
    local = rest[None] + wobble
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    world = np.stack([c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
                      s[:, None] * local[..., 0] + c[:, None] * local[..., 1], local[..., 2]], -1)
    x = np.zeros((T, K, 3))
    x[:, 3] = root
    depth = {3: 0}
    order = [3]
    while len(order) < K:                         # parents before children
        for k in range(K):
            if k not in depth and PARENTS[k] in depth:
                depth[k] = depth[PARENTS[k]] + 1
                order.append(k)
    for k in order[1:]:
        x[:, k] = x[:, PARENTS[k]] + BONES_MM[k] * world[:, k]
    cams = []
    for i, angle in enumerate(np.radians([-60.0, -20.0, 20.0, 60.0])):
        position = np.array([700 * np.cos(angle), 700 * np.sin(angle), 350.0]) * unit
        cams.append(make_camera(position, np.array([0.0, 0.0, 40.0]) * unit, 900.0, (1280, 1024),
                                k1=(-0.12, 0.08, -0.05, 0.1)[i], name=f"arc{i}"))
    rig = as_rig(cams)
    truth = x * unit
    y = rig.project(truth)
    y = y + noise_px * rng.standard_normal(y.shape)
    out = rng.random(y.shape[:3]) < outlier_rate
    y[out] += rng.normal(0.0, 150.0, (int(out.sum()), 2))
    y[rng.random(y.shape[:3]) < missing_rate] = np.nan
    return rig, y, truth


# the one-call path --------------------------------------------------------------------------
BUDGET = dict(n_chains=4, n_sweeps=100, burn_in=50, progress=False)


@pytest.fixture(scope="module")
def scene_mm():
    rig, y, truth = make_scene(60, seed=0)
    return rig, y, truth, reconstruct_3d(rig, y, PARENTS, **BUDGET)


def test_one_call_beats_dlt_with_calibrated_intervals(scene_mm):
    rig, y, truth, result = scene_mm
    T, K = truth.shape[:2]
    assert result.mean.shape == result.lower.shape == result.upper.shape == (T, K, 3)
    assert result.samples.shape[:2] == (4, 50)
    dlt = mpe(triangulate_dlt(rig, y), truth, missing="exclude")
    gimbal = mpe(result.mean, truth)
    assert gimbal <= 0.5 * dlt, (gimbal, dlt)
    assert gimbal <= mpe(result.model1, truth) * 1.05      # GIMBAL no worse than its own start
    coverage = np.mean((truth >= result.lower) & (truth <= result.upper))
    assert 0.8 <= coverage <= 0.97, coverage
    assert result.rhat.shape == (T, K, 3) and result.rhat_max == pytest.approx(result.rhat.max())
    assert np.isfinite(result.rhat_max) and result.rhat_max < 1.3, result.rhat_max
    assert result.ess_min > 4


def test_outlier_probabilities_find_the_outliers():
    rng_seed = 3
    rig, y, truth = make_scene(40, seed=rng_seed)
    clean = rig.project(truth)
    result = reconstruct_3d(rig, y, PARENTS, **BUDGET)
    observed = np.isfinite(y).all(axis=-1)
    assert np.all(np.isnan(result.outlier_prob[~observed]))
    far = np.linalg.norm(y - clean, axis=-1) > 30.0       # the truth: detections far from the projection
    p = result.outlier_prob
    assert np.nanmean(p[far & observed]) > 0.9
    assert np.nanmean(p[~far & observed]) < 0.1


def test_same_scene_in_metres_gives_the_same_errors(scene_mm):
    _, _, truth_mm, result_mm = scene_mm
    rig_m, y_m, truth_m = make_scene(60, seed=0, unit=1e-3)
    result_m = reconstruct_3d(rig_m, y_m, PARENTS, **BUDGET)
    for mm, m in ((result_mm.mean, result_m.mean), (result_mm.model1, result_m.model1)):
        e_mm, e_m = mpe(mm, truth_mm), 1000 * mpe(m, truth_m)
        assert abs(e_m - e_mm) <= 0.05 * e_mm, (e_mm, e_m)
    # Model 1 with every default, directly
    m1_mm = mpe(bayes3d.fit_model1(as_rig(make_scene(60, seed=0)[0]), make_scene(60, seed=0)[1]).positions, truth_mm)
    m1_m = 1000 * mpe(bayes3d.fit_model1(rig_m, y_m).positions, truth_m)
    assert abs(m1_m - m1_mm) <= 0.05 * m1_mm, (m1_mm, m1_m)
    np.testing.assert_allclose(result_m.params.rho, 1e-3 * result_mm.params.rho, rtol=1e-6)


def test_fit_gimbal_defaults_follow_the_unit_and_keep_the_rodent_values():
    from lecturekit.gimbal import fit_gimbal

    _, _, truth = make_scene(80, seed=2)
    fits = [fit_gimbal(truth * unit, PARENTS, 2, np.random.default_rng(0), heading_keypoints=(0, 3))[0]
            for unit in (1.0, 1e-3)]
    bone = PARENTS >= 0                                                      # the root's sigma2 is unused
    for name, power in (("rho", 1), ("sigma2", 2), ("eta2", 2), ("init_mean", 1)):
        a, b = getattr(fits[1], name), getattr(fits[0], name)
        if name == "sigma2":
            a, b = a[bone], b[bone]
        np.testing.assert_allclose(a, 1e-3**power * b, rtol=1e-9)
    np.testing.assert_allclose(fits[1].kappa, fits[0].kappa, rtol=1e-9)
    assert fits[1].init_std == pytest.approx(1e-3 * fits[0].init_std)
    # bones of median length 38 (the virtual rodent's, mm) give the former fixed 2, 1 and 500 mm
    bones = np.array([0.0, 38.0, 38.0, 20.0, 50.0, 38.0])
    parents = np.array([-1, 0, 1, 2, 0, 4])
    x = np.zeros((30, 6, 3))
    for k in range(1, 6):
        x[:, k] = x[:, parents[k]] + bones[k] * np.array([1.0, 0.0, 0.0])
    x += np.linspace(0, 50, 30)[:, None, None]
    fit, _ = fit_gimbal(x, parents, 1, np.random.default_rng(0), heading=np.zeros(30))
    np.testing.assert_allclose(fit.sigma2[1:], 2.0**2)
    np.testing.assert_allclose(fit.eta2, (50.0 / 29) ** 2)                    # above the 1 mm^2 floor
    assert fit.init_std == pytest.approx(500.0)


def test_swapped_axes_and_bad_skeleton_are_refused():
    rig, y, _ = make_scene(20, seed=1)
    with pytest.raises(ValueError, match=r"points2d: .*frames and keypoints look swapped"):
        reconstruct_3d(rig, y.transpose(0, 2, 1, 3), PARENTS, **BUDGET)
    with pytest.raises(ValueError, match=r"points2d: expected shape \(C, T = 25, K = 8, 2\)"):
        reconstruct_3d(rig, y, PARENTS, n_frames=25, **BUDGET)
    with pytest.raises(ValueError, match="parents"):
        reconstruct_3d(rig, y, np.array([1, 0, 3, -1, 0, 3, 5, 5]), **BUDGET)   # a cycle
    with pytest.raises(ValueError, match="points2d: every observation is missing"):
        reconstruct_3d(rig, np.full_like(y, np.nan), PARENTS, **BUDGET)


def test_check_frames_keypoints_messages():
    y = np.zeros((4, 8, 100, 2))
    with pytest.raises(ValueError, match=r"frames and keypoints look swapped: pass points2d.transpose\(0, 2, 1, 3\)"):
        check_frames_keypoints(y, n_keypoints=8, n_frames=100)
    check_frames_keypoints(y, n_keypoints=100)
    with pytest.raises(ValueError, match="K = 15"):
        check_frames_keypoints(y, n_keypoints=15)


# the world frame ----------------------------------------------------------------------------
def _tilted(seed=0):
    """A z-up world (floor z = 0) and the same world seen through a known rotation + shift."""
    rng = np.random.default_rng(seed)
    rig, _, _ = make_scene(5, seed=seed)
    axis = rng.normal(size=3)
    angle = 0.7
    from lecturekit.geometry import rodrigues_to_matrix

    R = rodrigues_to_matrix(axis / np.linalg.norm(axis) * angle)
    t = np.array([120.0, -40.0, 300.0])
    return rig, transform_rig(rig, R, t), R, t, rng


def test_floor_alignment_recovers_a_known_rotation():
    rig, tilted, R, t, rng = _tilted()
    floor = np.c_[rng.uniform(-200, 200, (50, 2)), np.zeros(50)]           # the true floor, z = 0
    al = align_rig_to_floor(tilted, floor @ R.T + t)
    back = al.R @ R                                                          # true world -> aligned
    np.testing.assert_allclose(back[2], [0, 0, 1], atol=1e-9)               # z maps to z: up is up
    np.testing.assert_allclose(back[:, 2], [0, 0, 1], atol=1e-9)            # a rotation about z only
    np.testing.assert_allclose(al.rig.centers[:, 2], rig.centers[:, 2], atol=1e-6)   # camera heights
    np.testing.assert_allclose(al.apply(floor @ R.T + t)[:, 2], 0.0, atol=1e-9)
    x = rng.normal(0, 50, (10, 3))                                          # the same pixels
    np.testing.assert_allclose(al.rig.project(al.apply(x @ R.T + t)), rig.project(x), atol=1e-6)


def test_floor_from_paws_that_lift_and_from_an_up_vector():
    rig, tilted, R, t, rng = _tilted(1)
    paws = np.c_[rng.uniform(-200, 200, (400, 2)), np.zeros(400)]
    lifted = rng.random(400) < 0.4
    paws[lifted, 2] = rng.uniform(5, 40, lifted.sum())                      # 40% of frames: paw in the air
    al = align_rig_to_floor(tilted, paws @ R.T + t, keep_lowest=0.5)
    np.testing.assert_allclose((al.R @ R)[2], [0, 0, 1], atol=1e-6)
    assert np.median(np.abs(al.floor_height[~lifted])) < 1e-6
    up = align_rig_to_floor(tilted, up=R @ [0, 0, 1])
    np.testing.assert_allclose((up.R @ R)[2], [0, 0, 1], atol=1e-9)
    with pytest.raises(ValueError, match="floor_points: .*collinear"):
        align_rig_to_floor(tilted, np.c_[np.arange(5.0), np.zeros(5), np.zeros(5)])
    with pytest.raises(ValueError, match="floor_points: give points"):
        align_rig_to_floor(tilted)


# a real session (sleap-anipose's minimal one), when the shared data are present ---------------
@pytest.mark.slow
def test_sleap_anipose_session_in_five_lines(shared_data):
    import time

    import h5py

    session = shared_data / "sleap-anipose-minimal"
    if not session.is_dir():
        pytest.skip(f"{session} not found")
    start = time.time()
    with pytest.warns(UserWarning, match="identical calibrations"):
        cameras = formats.read_anipose_toml(session / "calibration.toml")
    views = [formats.read_sleap_analysis(glob.glob(str(session / c.name / "*.analysis.h5"))[0]) for c in cameras]
    points2d = np.stack([v.points for v in views])                          # (C, T, K, 2) px
    result = reconstruct_3d(cameras, points2d, views[0].parents, progress=False)
    seconds = time.time() - start
    with h5py.File(session / "points3d.h5") as f:
        reference = f["tracks"][:, 0]                                       # (T, K, 3) mm, anipose's
    distance = np.nanmedian(np.linalg.norm(result.mean - reference, axis=-1))
    reprojection = np.nanmedian(np.linalg.norm(as_rig(cameras).project(result.mean) - points2d, axis=-1),
                                axis=(1, 2))
    print(f"sleap-anipose: median distance to points3d.h5 {distance:.2f} mm; per-camera median reprojection "
          f"error {dict(zip([c.name for c in cameras], reprojection.round(2).tolist()))} px; R-hat max "
          f"{result.rhat_max:.2f}; {seconds:.1f} s")
    assert result.mean.shape == reference.shape
    assert distance < 10.0
    assert np.median(reprojection) < 15.0
