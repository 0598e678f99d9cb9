"""SLEAP analysis HDF5 reader and the edge list -> parent array conversion: a file written here in
SLEAP's layout (known truth), and the real sleap-anipose minimal session when present (its 2D
points must agree with the reprojection of the 3D points sleap-anipose triangulated from them)."""

from __future__ import annotations

import numpy as np
import pytest

from lecturekit import geometry
from lecturekit.formats import read_anipose_toml, read_sleap_analysis
from lecturekit.formats.sleap import parents_from_edges

h5py = pytest.importorskip("h5py")

NAMES = ["head", "neck", "tail", "ear"]
EDGES = [("neck", "head"), ("neck", "tail"), ("head", "ear")]  # SLEAP: (source, destination)


def _write_sleap_file(path, points, scores, *, transpose=True, with_edge_inds=True):
    """points (I, T, K, 2), scores (I, T, K) -> a SLEAP analysis file (``transpose`` as SLEAP's writer)."""
    n_instances, T, K, _ = points.shape
    with h5py.File(path, "w") as h5:
        if transpose:  # SLEAP's default: (I, 2, K, T) as h5py reads it
            h5["tracks"] = points.transpose(0, 3, 2, 1)
            h5["point_scores"] = scores.transpose(0, 2, 1)
            h5["instance_scores"] = scores.mean(-1)
            h5["track_occupancy"] = np.isfinite(points[..., 0]).any(-1).T.astype(np.uint8)
        else:  # (T, K, 2, I)
            h5["tracks"] = points.transpose(1, 2, 3, 0)
            h5["point_scores"] = scores.transpose(1, 2, 0)
            h5["instance_scores"] = scores.mean(-1).T
        h5["node_names"] = np.array([n.encode() for n in NAMES])
        h5["edge_names"] = np.array([[a.encode(), b.encode()] for a, b in EDGES])
        if with_edge_inds:
            h5["edge_inds"] = np.array([[NAMES.index(a), NAMES.index(b)] for a, b in EDGES], dtype=np.int32)
        h5["track_names"] = np.array([f"track_{i}".encode() for i in range(n_instances)])
        h5["video_path"] = b"videos/session1.mp4"


@pytest.mark.parametrize("transpose", [True, False])
@pytest.mark.parametrize("with_edge_inds", [True, False])
def test_reads_a_file_written_in_sleaps_layout(tmp_path, transpose, with_edge_inds):
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 640, (2, 7, len(NAMES), 2))
    points[0, 3, 2] = np.nan
    scores = rng.uniform(0, 1, (2, 7, len(NAMES)))
    path = tmp_path / "session.analysis.h5"
    _write_sleap_file(path, points, scores, transpose=transpose, with_edge_inds=with_edge_inds)
    for i in range(2):
        a = read_sleap_analysis(path, instance=i)
        np.testing.assert_array_equal(a.points, points[i])  # (T, K, 2), NaN kept
        np.testing.assert_allclose(a.point_scores, scores[i])
        np.testing.assert_allclose(a.instance_scores, scores[i].mean(-1))
        assert a.node_names == tuple(NAMES) and a.n_instances == 2 and a.instance == i
        assert a.track_name == f"track_{i}" and a.video_path == "videos/session1.mp4"
        np.testing.assert_array_equal(a.edges, [[1, 0], [1, 2], [0, 3]])
        np.testing.assert_array_equal(a.parents, [1, -1, 1, 0])


def test_bad_files_and_arguments_get_one_clear_error(tmp_path):
    points = np.zeros((1, 3, len(NAMES), 2))
    path = tmp_path / "a.analysis.h5"
    _write_sleap_file(path, points, np.ones((1, 3, len(NAMES))))
    with pytest.raises(ValueError, match=r"instance: expected 0 \.\. 0"):
        read_sleap_analysis(path, instance=1)
    with pytest.raises(FileNotFoundError, match="path: no SLEAP analysis file"):
        read_sleap_analysis(tmp_path / "missing.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["node_names"] = np.array([b"a"])
    with pytest.raises(ValueError, match="no 'tracks' dataset"):
        read_sleap_analysis(other)


def test_parents_from_edges_orients_the_tree_from_the_root():
    # SLEAP's direction: the root is the node that is never a destination
    np.testing.assert_array_equal(parents_from_edges(NAMES, EDGES), [1, -1, 1, 0])
    # DeepLabCut lists undirected pairs: the root is chosen, direction does not matter
    flipped = [(b, a) for a, b in EDGES]
    np.testing.assert_array_equal(parents_from_edges(NAMES, flipped, root="neck"), [1, -1, 1, 0])
    np.testing.assert_array_equal(parents_from_edges(NAMES, flipped, root="head"), [-1, 0, 1, 0])
    np.testing.assert_array_equal(parents_from_edges(NAMES, [(1, 0), (1, 2), (0, 3)], root=1), [1, -1, 1, 0])
    # bytes names, as in SLEAP files
    np.testing.assert_array_equal(parents_from_edges([n.encode() for n in NAMES], [(b"neck", b"head"),
                                  (b"neck", b"tail"), (b"head", b"ear")]), [1, -1, 1, 0])


def test_parents_from_edges_checks_by_brute_force_that_every_parent_is_an_edge():
    rng = np.random.default_rng(3)
    K = 12
    parents = np.array([-1] + [int(rng.integers(0, k)) for k in range(1, K)])
    names = [f"n{k}" for k in range(K)]
    edges = [(names[k], names[p]) if rng.random() < 0.5 else (names[p], names[k])
             for k, p in enumerate(parents) if p >= 0]
    rng.shuffle(edges)
    found = parents_from_edges(names, edges, root="n0")
    np.testing.assert_array_equal(found, parents)


def test_parents_from_edges_names_the_edge_that_breaks_the_tree():
    with pytest.raises(ValueError, match=r"edge \('ear', 'neck'\) closes a cycle"):
        parents_from_edges(NAMES, EDGES + [("ear", "neck")])
    with pytest.raises(ValueError, match=r"edge \('neck', 'paw'\) names an unknown node 'paw'"):
        parents_from_edges(NAMES, [("neck", "paw")])
    with pytest.raises(ValueError, match=r"nodes \['ear'\] are not connected"):
        parents_from_edges(NAMES, EDGES[:2])
    with pytest.raises(ValueError, match="joins a node to itself"):
        parents_from_edges(NAMES, [("head", "head")])
    with pytest.raises(ValueError, match="root: expected one of the node names"):
        parents_from_edges(NAMES, EDGES, root="paw")


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore:.*identical calibrations")  # the data's known copy, see its README
def test_real_sleap_anipose_session_agrees_with_its_triangulation(shared_data):
    session = shared_data / "sleap-anipose-minimal"
    if not session.is_dir():
        pytest.skip(f"{session} not found")
    cameras = read_anipose_toml(session / "calibration.toml")
    with h5py.File(session / "points3d.h5", "r") as h5:
        points3d = np.asarray(h5["tracks"][()], dtype=float)[:, 0]  # (T, 1, K, 3) -> (T, K, 3)
    projected = geometry.project(cameras, points3d)  # (C, T, K, 2)
    for c, cam in enumerate(cameras):
        (path,) = sorted((session / cam.name).glob("*.analysis.h5"))
        a = read_sleap_analysis(path)
        assert a.points.shape == (120, 15, 2) and a.point_scores.shape == (120, 15)
        assert a.node_names[:3] == ("Nose", "Ear_R", "Ear_L")
        parents = a.parents
        assert parents[a.node_names.index("TTI")] == -1 and (parents >= 0).sum() == 14
        # edge_names and edge_inds name the same edges
        with h5py.File(path, "r") as h5:
            pairs = h5["edge_names"][()]
        by_name = [(a.node_names.index(s.decode()), a.node_names.index(d.decode())) for s, d in pairs]
        np.testing.assert_array_equal(a.edges, by_name)
        if cam.name == "side":
            continue  # the data's README: 'side' carries 'top''s calibration, so it cannot reproject
        err = np.linalg.norm(projected[c] - a.points, axis=-1)
        # a swapped x/y or a wrong transpose would be hundreds of px off
        assert np.nanmedian(err) < 15.0, (cam.name, np.nanmedian(err))
