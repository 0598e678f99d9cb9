"""Tests of the virtual rodent (lecturekit.synth): skeleton, behaviour, rig, renderer, detector."""

from __future__ import annotations

import numpy as np
import pytest

from lecturekit import synth
from lecturekit.geometry import Camera, make_camera

SK = synth.rodent_skeleton()


@pytest.fixture(scope="module")
def long_motion():
    return synth.simulate_behaviour(3000, seed=7)


def _standing_pose(heading: float = 0.0) -> np.ndarray:
    """A hand-built standing rodent facing +x (left = +y) rotated by ``heading``, (K, 3) mm."""
    u = {
        "neck": (1, 0, 0), "hips": (-1, 0, 0), "head": (1, 0, 0.1), "nose": (1, 0, -0.3),
        "left_ear": (-0.3, 0.8, 0.5), "right_ear": (-0.3, -0.8, 0.5), "tail_base": (-1, 0, -0.35),
        "tail_mid": (-1, 0, -0.25),
        "left_forepaw": (0.1, 0.45, -0.85), "right_forepaw": (0.1, -0.45, -0.85),
        "left_hindpaw": (0.2, 0.5, -0.6), "right_hindpaw": (0.2, -0.5, -0.6),
    }
    dirs = np.zeros((SK.K, 3))
    for name, d in u.items():
        dirs[SK.index(name)] = d
    X = synth.forward_kinematics(np.array([0.0, 0.0, 36.0]), dirs, SK)
    c, s = np.cos(heading), np.sin(heading)
    return X @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T


# skeleton ---------------------------------------------------------------------------------
def test_skeleton_structure():
    assert SK.K == 13
    assert SK.names == ("nose", "left_ear", "right_ear", "head", "neck", "spine_mid", "hips",
                        "tail_base", "tail_mid", "left_forepaw", "right_forepaw",
                        "left_hindpaw", "right_hindpaw")
    assert SK.parents[SK.index("spine_mid")] == -1 and SK.parents.count(-1) == 1
    assert len(SK.edges) == SK.K - 1
    assert all(SK.parents[c] == p for c, p in SK.edges)
    assert SK.bone_lengths[SK.index("spine_mid")] == 0.0 and np.all(np.delete(SK.bone_lengths, 5) > 0)
    for i, j in SK.left_right:
        assert SK.names[i].replace("left_", "") == SK.names[j].replace("right_", "")
        assert SK.bone_lengths[i] == SK.bone_lengths[j]
    # nose -> tail base along the tree: a rat's 100-150 mm
    chain = [SK.index(n) for n in ("nose", "head", "neck", "hips", "tail_base")]
    assert 100 <= SK.bone_lengths[chain].sum() <= 160
    with pytest.raises(ValueError, match="unknown keypoint"):
        SK.index("tail_tip")


def test_forward_kinematics_against_direct_sum():
    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((5, SK.K, 3))
    root = rng.normal(size=(5, 3))
    X = synth.forward_kinematics(root, dirs, SK)
    unit = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    for k in range(SK.K):   # oracle: sum the bone vectors along the path to the root
        expected, j = root.copy(), k
        while SK.parents[j] != -1:
            expected += SK.bone_lengths[j] * unit[:, j]
            j = SK.parents[j]
        np.testing.assert_allclose(X[:, k], expected, atol=1e-9)


def test_bad_skeleton_is_rejected():
    with pytest.raises(ValueError, match="cycle"):
        synth.Skeleton(("a", "b", "c"), (-1, 2, 1), np.array([0.0, 1.0, 1.0]), ())
    with pytest.raises(ValueError, match="bone_lengths"):
        synth.Skeleton(("a", "b"), (-1, 0), np.array([0.0, -1.0]), ())


# behaviour --------------------------------------------------------------------------------
def test_bone_lengths_exact_along_motion(long_motion):
    X = long_motion.positions
    assert X.shape == (3000, SK.K, 3) and X.dtype == np.float64
    for child, parent in SK.edges:
        lengths = np.linalg.norm(X[:, child] - X[:, parent], axis=-1)
        assert np.max(np.abs(lengths - SK.bone_lengths[child])) < 1e-9, SK.names[child]


def test_all_behaviours_occur_and_stay_in_arena(long_motion):
    m = long_motion
    assert m.behaviour_names == ("locomotion", "turning", "rearing", "grooming", "pausing")
    counts = np.bincount(m.behaviour, minlength=5)
    assert np.all(counts > 0.05 * len(m.behaviour)), counts
    X = m.positions
    assert np.all(np.abs(X[..., :2]) < synth.ARENA_HALF_WIDTH), "left the arena"
    assert np.all(X[..., 2] > 0), "below the floor"
    assert np.all(np.abs(m.heading) <= np.pi) and m.fps == 30.0
    # the root really travels around (not stuck in the middle)
    assert np.ptp(X[:, SK.index("spine_mid"), 0]) > 200 and np.ptp(X[:, SK.index("spine_mid"), 1]) > 200


def test_behaviours_look_like_their_names(long_motion):
    m, X = long_motion, long_motion.positions
    z = {b: X[m.behaviour == i][..., 2] for i, b in enumerate(m.behaviour_names)}
    nose, fore = SK.index("nose"), SK.index("left_forepaw")
    assert z["rearing"][:, nose].mean() > 2 * z["locomotion"][:, nose].mean()        # head up
    assert z["rearing"][:, fore].mean() > 40 and z["grooming"][:, fore].mean() > 30   # paws up
    assert z["pausing"][:, fore].mean() < 6                                          # on the floor
    speed = np.linalg.norm(np.diff(X[:, SK.index("spine_mid"), :2], axis=0), axis=-1) * m.fps
    labels = m.behaviour[1:]
    assert np.median(speed[labels == 0]) > 3 * np.median(speed[labels == 4])
    turn = np.abs(np.angle(np.exp(1j * np.diff(m.heading)))) * m.fps
    # turning turns fastest (locomotion also turns, steering away from the walls)
    assert np.median(turn[labels == 1]) > 1.5 * np.median(turn[labels == 0])
    assert np.median(turn[labels == 1]) > 10 * np.median(turn[labels == 4])


def test_gait_alternates_diagonal_pairs(long_motion):
    m, X = long_motion, long_motion.positions
    swing = X[m.behaviour == 0][:, [SK.index(n) for n in ("left_forepaw", "right_forepaw",
                                                           "left_hindpaw", "right_hindpaw")], 2] > 9.0
    lf, rf, lh, rh = swing.T
    assert 0.15 < lf.mean() < 0.5 and 0.15 < rh.mean() < 0.5          # paws really lift
    assert np.mean(lf & rf) < 0.25 * lf.mean() and np.mean(lh & rh) < 0.25 * lh.mean()  # alternate
    assert np.mean(lf & rh) > 0.6 * lf.mean() and np.mean(rf & lh) > 0.6 * rf.mean()    # a trot


def test_motion_is_smooth(long_motion):
    """No teleporting: per-frame steps (30 fps) stay within what a running rat does."""
    step = np.linalg.norm(np.diff(long_motion.positions, axis=0), axis=-1)
    body = [SK.index(n) for n in ("nose", "left_ear", "right_ear", "head", "neck", "spine_mid",
                                  "hips", "tail_base")]
    assert step[:, body].max() < 20.0        # 600 mm/s
    assert step.max() < 45.0                 # a paw in swing, or the tail tip
    accel = np.linalg.norm(np.diff(long_motion.positions[:, SK.index("spine_mid")], 2, axis=0), axis=-1)
    assert accel.max() < 3.0                 # behaviour transitions are blended, not switched


def test_simulation_deterministic_from_seed():
    a, b = synth.simulate_behaviour(200, seed=3), synth.simulate_behaviour(200, seed=3)
    c = synth.simulate_behaviour(200, seed=4)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.behaviour, b.behaviour)
    np.testing.assert_array_equal(a.heading, b.heading)
    assert not np.allclose(a.positions, c.positions)


def test_simulation_bad_inputs():
    with pytest.raises(ValueError, match="n_frames"):
        synth.simulate_behaviour(0)
    with pytest.raises(ValueError, match="fps"):
        synth.simulate_behaviour(10, fps=-1.0)
    with pytest.raises(TypeError, match="seed"):
        synth.simulate_behaviour(10, seed="a")


# rig --------------------------------------------------------------------------------------
def test_default_rig(long_motion):
    cams = synth.default_rig()
    assert [c.name for c in cams] == ["cam0", "cam1", "cam2", "cam3", "cam4", "top"]
    assert all(isinstance(c, Camera) and c.image_size == (640, 480) for c in cams)
    assert sum(c.k1 != 0 for c in cams) >= 2 and all(abs(c.k1) <= 0.05 for c in cams)
    for c in cams[:5]:
        assert 900 <= np.linalg.norm(c.center[:2]) <= 1200 and 300 <= c.center[2] <= 450
        assert 800 <= c.K[0, 0] <= 900
    assert np.allclose(cams[5].center, [0, 0, 1200])
    for c in cams:   # every camera looks at the arena centre and sees the animal
        assert np.linalg.norm(c.project(np.zeros(3)) - (np.array(c.image_size) - 1) / 2) < 40
        uv = c.project(long_motion.positions)
        assert np.all((uv >= 0) & (uv <= np.array(c.image_size) - 1))


def test_frame_camera_frames_the_animal(long_motion):
    cam = synth.frame_camera()
    assert cam.image_size == (128, 128)
    uv = cam.project(long_motion.positions)
    assert np.all((uv >= 0) & (uv <= 127))
    length = np.linalg.norm(uv[:, SK.index("nose")] - uv[:, SK.index("tail_base")], axis=-1)
    assert 20 <= np.median(length) <= 40
    assert synth.frame_camera((64, 48)).image_size == (64, 48)
    with pytest.raises(ValueError, match="image_size"):
        synth.frame_camera((0, 128))


# renderer ---------------------------------------------------------------------------------
def test_render_projection_matches_homogeneous_oracle():
    X = synth.simulate_behaviour(60, seed=1).positions[::30]
    cams = [c for c in synth.default_rig() if c.k1 == 0][::2]
    r = synth.render_frames(X, cams, seed=0)
    C, T = len(cams), len(X)
    assert r.images.shape == (C, T, 480, 640, 3) and r.images.dtype == np.uint8
    assert r.keypoints2d.shape == (C, T, SK.K, 2) and r.visible.shape == (C, T, SK.K)
    for c, cam in enumerate(cams):
        P = cam.K @ np.hstack([cam.R, cam.t[:, None]])                      # K [R | t]
        xh = np.concatenate([X, np.ones(X.shape[:-1] + (1,))], axis=-1)     # [x, 1]
        w = xh @ P.T
        np.testing.assert_allclose(r.keypoints2d[c], w[..., :2] / w[..., 2:], atol=1e-9)
    # rendering at another size rescales the intrinsics: pixel centres (u + 1/2) scale by 1/2
    half = synth.render_frames(X[:1], cams[:1], image_size=(320, 240), noise=0.0)
    assert half.images.shape == (1, 1, 240, 320, 3)
    np.testing.assert_allclose(half.keypoints2d, (r.keypoints2d[:1, :1] + 0.5) / 2 - 0.5, atol=1e-9)


@pytest.mark.parametrize("k1", ["rig", -0.2, 0.5])
def test_pixel_rays_of_a_distorted_camera_reproject_to_their_pixels(k1):
    """The renderer's rays are the Rig's: every pixel centre's ray projects back onto it."""
    cam = next(c for c in synth.default_rig() if c.k1 != 0)
    k1 = cam.k1 if k1 == "rig" else k1
    # focal 100 px on 160 x 120: normalised radius up to 1.0 in the corners (the old fixed point diverged)
    small = make_camera(cam.center, [0.0, 0.0, 30.0], 100.0, (160, 120), k1=k1)
    rays = small.rig.pixel_rays(0)                             # (H, W, 3)
    assert rays.shape == (120, 160, 3)
    u, v = np.meshgrid(np.arange(160.0), np.arange(120.0))
    r_d = np.hypot(u - 79.5, v - 59.5) / 100.0
    # beyond the turning point of r_u (1 + k1 r_u^2) (k1 < 0) no ray reaches the pixel: NaN
    seen = r_d <= (2 / 3) * np.sqrt(-1 / (3 * k1)) if k1 < 0 else np.ones_like(r_d, bool)
    assert (~seen).any() == (k1 == -0.2)        # the corners of the k1 = -0.2 camera have no ray
    np.testing.assert_array_equal(np.isnan(rays).any(axis=-1), ~seen)
    np.testing.assert_allclose(np.linalg.norm(rays[seen], axis=-1), 1.0, atol=1e-12)
    uv = small.project(small.center + 700.0 * rays[seen])    # Camera.project applies k1
    np.testing.assert_allclose(uv, np.stack([u[seen], v[seen]], axis=-1), atol=1e-6)


def test_keypoints_land_on_the_rendered_body():
    X = _standing_pose()[None]
    cam = make_camera([0.0, -700.0, 500.0], [0.0, 0.0, 30.0], 860.0, (320, 240))
    with_body = synth.render_frames(X, [cam], noise=0.0)
    empty = synth.render_frames(X + np.array([5000.0, 0.0, 0.0]), [cam], noise=0.0)   # far away
    image, background = with_body.images[0, 0].astype(int), empty.images[0, 0].astype(int)
    changed = np.abs(image - background).sum(-1) > 10
    for k in np.flatnonzero(with_body.visible[0, 0]):
        u, v = np.round(with_body.keypoints2d[0, 0, k]).astype(int)
        assert changed[v - 1:v + 2, u - 1:u + 2].any(), SK.names[k]
    # the body covers a plausible area: a rat ~ 190 x 50 mm at ~0.9 m with f = 860 px
    assert 400 < changed.sum() < 20000


@pytest.mark.parametrize("side", [+1.0, -1.0])
def test_far_side_paws_are_hidden(side):
    """A camera on the animal's left (+y) cannot see the right paws behind the body."""
    X = _standing_pose()[None]
    cam = make_camera([0.0, side * 600.0, 500.0], [0.0, 0.0, 30.0], 860.0, (320, 240))
    r = synth.render_frames(X, [cam], noise=0.0)
    vis = dict(zip(SK.names, r.visible[0, 0]))
    near, far = ("left", "right") if side > 0 else ("right", "left")
    for part in ("forepaw", "hindpaw"):
        assert vis[f"{near}_{part}"] and not vis[f"{far}_{part}"], vis
    assert vis["spine_mid"] and vis["nose"]
    # the image agrees: at the hidden paw's pixel we see brown fur (blue/red 0.60), at the
    # visible one pink skin (0.73); shading scales all channels alike
    img = r.images[0, 0].astype(float)
    for name, ratio in ((f"{far}_forepaw", 0.60), (f"{near}_forepaw", 0.733), (f"{near}_hindpaw", 0.733)):
        u, v = np.round(r.keypoints2d[0, 0, SK.index(name)]).astype(int)
        assert abs(img[v, u, 2] / img[v, u, 0] - ratio) < 0.03, name
    # the same visibility without rendering
    np.testing.assert_array_equal(synth.keypoint_visibility(X, [cam]), r.visible)


def test_visibility_against_brute_force_ray_marching():
    """Oracle: march along each camera-keypoint segment and test every spheroid's inequality."""
    from lecturekit.synth.render import _inside, body_primitives

    X = synth.simulate_behaviour(40, seed=9).positions[::13]
    cams = synth.default_rig()
    vis = synth.keypoint_visibility(X, cams)
    prims = body_primitives(X, SK)
    own = _inside(X, prims.centre, prims.axis, prims.a, prims.b) | prims.owners     # (T, K, P)
    steps = np.linspace(0.0, 1.0, 3000)
    checked = ambiguous = 0
    for c, cam in enumerate(cams):
        for t in range(len(X)):
            for k in range(SK.K):
                seg = cam.center + steps[:, None] * (X[t, k] - cam.center)
                depth = steps * np.linalg.norm(X[t, k] - cam.center)
                q = seg[:, None, :] - prims.centre[t]
                qu = np.sum(q * prims.axis[t], axis=-1)
                f = (np.sum(q * q, -1) - qu**2) / prims.b[t] ** 2 + qu**2 / prims.a[t] ** 2
                blocked = np.any((f < 1.0) & ~own[t, k], axis=1)              # (steps,)
                # hidden if blocked more than the 2 mm tolerance before the keypoint; decide
                # only when 1 mm and 3 mm tolerances agree (an entry point between is ambiguous)
                strict, loose = (np.any(blocked & (depth < depth[-1] - tol)) for tol in (1.0, 3.0))
                if strict != loose:
                    ambiguous += 1
                    continue
                checked += 1
                assert vis[c, t, k] == (not strict), (cam.name, t, SK.names[k])
    assert ambiguous < 0.02 * checked and (~vis).sum() > 20


def test_visibility_outside_image_and_top_view():
    X = _standing_pose()[None]
    away = make_camera([0.0, -600.0, 300.0], [0.0, -1200.0, 300.0], 800.0, (64, 48))
    top = make_camera([0.0, 0.0, 1000.0], [0.0, 0.0, 0.0], 800.0, (128, 128), up=(0, 1, 0))
    vis = synth.keypoint_visibility(X, [away, top])
    assert not vis[0].any()
    assert vis[1, 0, SK.index("spine_mid")] and vis[1, 0, SK.index("left_ear")]


def test_render_deterministic_and_fast_path():
    X = synth.simulate_behaviour(4, seed=2).positions
    cam = [synth.frame_camera()]
    a = synth.render_frames(X, cam, seed=5)
    b = synth.render_frames(X, cam, seed=5)
    c = synth.render_frames(X, cam, seed=6)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    np.testing.assert_array_equal(a.visible, c.visible)
    # the floor is textured: not a flat colour a threshold could segment
    assert a.images[0, 0, :40].std() > 8


def test_render_bad_inputs():
    X = synth.simulate_behaviour(2, seed=0).positions
    cams = synth.default_rig()
    with pytest.raises(TypeError, match="cameras"):
        synth.render_frames(X, cams[0].projection_matrix)
    with pytest.raises(ValueError, match="positions"):
        synth.render_frames(X[:, :5], cams)
    bad = X.copy()
    bad[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="positions.*NaN"):
        synth.render_frames(bad, cams)
    with pytest.raises(ValueError, match="image_size"):
        synth.render_frames(X, cams + [synth.frame_camera()])
    with pytest.raises(TypeError, match="skeleton"):
        synth.render_frames(X, cams, skeleton="rat")
    with pytest.raises(ValueError, match="keypoint_visibility"):     # would need 11 GB of images
        synth.render_frames(np.repeat(X, 3000, axis=0), cams)


# detector ---------------------------------------------------------------------------------
def test_detector_rates_match_requested():
    rng = np.random.default_rng(0)
    shape = (4, 3000, SK.K)
    y = rng.uniform(50, 400, shape + (2,))
    visible = rng.random(shape) < 0.7
    d = synth.corrupt_detections(y, visible, seed=1, jitter_px=2.0, outlier_rate=0.1, swap_rate=0.05,
                                 occlusion_miss_rate=0.3)
    assert d.points2d.shape == y.shape and d.is_outlier.shape == shape
    pair = np.zeros(SK.K, bool)
    pair[[i for p in SK.left_right for i in p]] = True
    both = np.ones(shape, bool)
    for i, j in SK.left_right:
        both[..., i] = both[..., j] = visible[..., i] & visible[..., j]
    assert abs(d.is_swapped[both & pair].mean() - 0.05) < 0.01
    assert not d.is_swapped[..., ~pair].any() and not d.is_swapped[~visible].any()
    clean = visible & ~d.is_swapped
    assert abs(d.is_outlier[clean].mean() - 0.1) < 0.01
    assert abs(d.is_missing[~visible].mean() - 0.3) < 0.01
    assert abs(d.is_outlier[~visible].mean() - 0.7) < 0.01
    # flags are exclusive and NaN exactly where missing
    assert not (d.is_missing & d.is_outlier).any() and not (d.is_swapped & d.is_outlier).any()
    np.testing.assert_array_equal(np.isnan(d.points2d).any(-1), d.is_missing)
    # jitter: the clean detections scatter with the requested standard deviation
    good = visible & ~d.is_swapped & ~d.is_outlier
    err = d.points2d[good] - y[good]
    assert abs(err.std() - 2.0) < 0.05 and abs(err.mean()) < 0.05
    # swaps exchange the pair's locations
    i, j = SK.left_right[0]
    s = d.is_swapped[..., i]
    assert np.all(np.linalg.norm(d.points2d[..., i, :][s] - y[..., j, :][s], axis=-1) < 15)
    # outliers land inside the image
    out = d.points2d[d.is_outlier]
    assert np.all((out >= -10) & (out <= np.array([650, 490])))


def test_detector_deterministic_and_validates():
    r = np.random.default_rng(1)
    y = r.uniform(0, 100, (2, 5, SK.K, 2))
    vis = r.random((2, 5, SK.K)) < 0.5
    a = synth.corrupt_detections(y, vis, seed=3)
    b = synth.corrupt_detections(y, vis, seed=3)
    np.testing.assert_array_equal(a.points2d, b.points2d)
    with pytest.raises(ValueError, match="outlier_rate"):
        synth.corrupt_detections(y, vis, outlier_rate=1.5)
    with pytest.raises(ValueError, match="occlusion_miss_rate"):
        synth.corrupt_detections(y, vis, occlusion_miss_rate=-0.1)
    with pytest.raises(ValueError, match="keypoints2d"):
        synth.corrupt_detections(y[..., :3, :], vis)
    with pytest.raises(ValueError, match="visible"):
        synth.corrupt_detections(y, vis[0])
    zero = synth.corrupt_detections(y, np.ones_like(vis), jitter_px=0.0, outlier_rate=0.0, swap_rate=0.0)
    np.testing.assert_array_equal(zero.points2d, y)
