"""Tests of the course datasets (lecturekit.datasets) and the ``lecturekit data`` verb."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lecturekit import datasets, synth
from lecturekit.course.cli import main

K = synth.rodent_skeleton().K


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder and small datasets, counting the builder calls."""
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "cache"))
    calls = []
    small = {}
    for name, spec in datasets._SPECS.items():
        def builder(seed, n_frames, _build=spec.builder, _name=name):
            calls.append(_name)
            return _build(seed, n_frames)
        small[name] = dataclasses.replace(spec, n_frames=12, builder=builder)
    monkeypatch.setattr(datasets, "_SPECS", small)
    return tmp_path / "cache", calls


def test_names_and_unknown_name():
    assert datasets.names() == ("frames", "multiview", "mocap", "rig_video", "rig_labels")
    with pytest.raises(ValueError, match="frames.*multiview.*mocap"):
        datasets.load("videos")


def test_contract_sizes():
    sizes = {name: spec.n_frames for name, spec in datasets._SPECS.items()}
    assert sizes == {"frames": 400, "multiview": 1000, "mocap": 3000, "rig_video": 120, "rig_labels": 30}
    seeds = [spec.seed for spec in datasets._SPECS.values()]
    assert len(set(seeds)) == 5      # every dataset is a different recording (held-out test, labels, mocap)


def test_rig_datasets_hold_six_rendered_views(cache):
    folder, calls = cache
    width, height = datasets.RIG_VIDEO_SIZE
    video = datasets.load("rig_video")                  # the held-out six-camera sequence
    assert video["images"].shape == (6, 12, height, width, 3) and video["images"].dtype == np.uint8
    assert video["keypoints2d"].shape == (6, 12, K, 2) and video["visible"].shape == (6, 12, K)
    assert video["positions"].shape == (12, K, 3)
    labels = datasets.load("rig_labels")                # the labelled training images
    assert labels["images"].shape == (6, 12, height, width, 3) and labels["positions"].shape == (12, K, 3)
    assert not np.array_equal(labels["positions"], video["positions"])   # another recording
    assert calls == ["rig_video", "rig_labels"]


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path))
    assert datasets.cache_dir() == tmp_path
    monkeypatch.delenv("LECTUREKIT_CACHE")
    assert datasets.cache_dir().parts[-2:] == (".cache", "lecturekit")


def test_round_trip_shapes_and_no_rebuild(cache):
    folder, calls = cache
    frames = datasets.load("frames")
    assert frames["images"].shape == (12, 128, 128, 3) and frames["images"].dtype == np.uint8
    assert frames["keypoints2d"].shape == (12, K, 2) and frames["visible"].shape == (12, K)
    assert frames["visible"].dtype == bool and frames["positions"].shape == (12, K, 3)
    multiview = datasets.load("multiview")
    assert multiview["keypoints2d"].shape == (6, 12, K, 2) and multiview["visible"].shape == (6, 12, K)
    mocap = datasets.load("mocap")
    assert set(mocap) == {"positions", "behaviour", "heading"} and mocap["heading"].shape == (12,)
    assert calls == ["frames", "multiview", "mocap"]
    assert sorted(p.name for p in folder.iterdir()) == ["frames.npz", "mocap.npz", "multiview.npz"]
    again = datasets.load("frames")                       # from the cache: no builder call
    assert calls == ["frames", "multiview", "mocap"]
    for key in frames:
        np.testing.assert_array_equal(again[key], frames[key])
    # the cached data is what the generator gives (the keypoints are the frame camera's projections)
    np.testing.assert_allclose(frames["keypoints2d"], synth.frame_camera().project(frames["positions"]))
    cams = synth.default_rig()
    np.testing.assert_allclose(multiview["keypoints2d"][2], cams[2].project(multiview["positions"]))
    np.testing.assert_array_equal(multiview["visible"],
                                  synth.keypoint_visibility(multiview["positions"], cams))


def test_key_change_rebuilds(cache, monkeypatch):
    folder, calls = cache
    first = datasets.load("mocap")
    monkeypatch.setitem(datasets._SPECS, "mocap", dataclasses.replace(datasets._SPECS["mocap"], seed=999))
    second = datasets.load("mocap")
    assert calls == ["mocap", "mocap"]
    assert not np.allclose(first["positions"], second["positions"])
    monkeypatch.setattr(datasets, "DATASET_VERSION", datasets.DATASET_VERSION + 1)
    datasets.load("mocap")
    assert calls == ["mocap", "mocap", "mocap"]
    datasets.load("mocap")
    assert calls == ["mocap", "mocap", "mocap"]


def test_corrupt_cache_is_rebuilt(cache):
    folder, calls = cache
    datasets.build("mocap")
    (folder / "mocap.npz").write_bytes(b"not a zip file")
    data = datasets.load("mocap")
    assert data["positions"].shape == (12, K, 3) and calls == ["mocap", "mocap"]


def test_interrupted_write_keeps_the_old_cache(cache, monkeypatch):
    folder, calls = cache
    datasets.load("mocap")  # the cache, written once
    before = (folder / "mocap.npz").read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        datasets.build("mocap", rebuild=True)
    assert (folder / "mocap.npz").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["mocap.npz"]   # no temp file left
    monkeypatch.undo()


def test_build_all_is_deterministic(cache):
    folder, calls = cache
    paths = datasets.build_all()
    assert set(paths) == set(datasets.names())
    first = {name: datasets.load(name) for name in datasets.names()}
    datasets.build_all(rebuild=True)
    assert len(calls) == 2 * len(datasets.names())
    for name in datasets.names():
        for key, value in datasets.load(name).items():
            np.testing.assert_array_equal(value, first[name][key])
    with pytest.raises(TypeError, match="rebuild"):
        datasets.build_all(rebuild="yes")


def test_cli_data_verb(cache, capsys):
    folder, calls = cache
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "not built" in out and "mocap" in out
    assert main(["data", "build"]) == 0
    assert calls == list(datasets.names())
    assert main(["data", "build"]) == 0 and len(calls) == len(datasets.names())       # cached: nothing rebuilt
    assert main(["data", "build", "--rebuild"]) == 0 and len(calls) == 2 * len(datasets.names())
    assert main(["data", "list"]) == 0
    assert capsys.readouterr().out.count("cached") == len(datasets.names())


def test_shipped_files_match_the_generator_and_readme(course_root):
    import hashlib
    import json
    import re

    from lecturekit.formats import read_anipose_toml

    folder = course_root / "data"
    readme = (folder / "README.md").read_text()
    for name in ("rodent_skeleton.json", "default_rig.toml"):
        row = re.search(rf"`{re.escape(name)}`\s*\|\s*(\d+)\s*\|\s*`([0-9a-f]{{64}})`", readme)
        assert row, f"data/README.md has no size/sha256 row for {name}"
        content = (folder / name).read_bytes()
        assert len(content) == int(row.group(1))
        assert hashlib.sha256(content).hexdigest() == row.group(2)
    sk = synth.rodent_skeleton()
    doc = json.loads((folder / "rodent_skeleton.json").read_text())
    assert tuple(doc["names"]) == sk.names and tuple(doc["parents"]) == sk.parents
    np.testing.assert_array_equal(doc["bone_lengths_mm"], sk.bone_lengths)
    assert [tuple(p) for p in doc["left_right"]] == list(sk.left_right)
    shipped, rig = read_anipose_toml(folder / "default_rig.toml"), synth.default_rig()
    assert [c.name for c in shipped] == [c.name for c in rig]
    for a, b in zip(shipped, rig):
        np.testing.assert_allclose(a.projection_matrix, b.projection_matrix, rtol=1e-9, atol=1e-6)
        assert a.k1 == b.k1 and a.image_size == b.image_size


def test_full_size_datasets(tmp_path, monkeypatch):
    """The real datasets (built once here, about 4 s): contract shapes and sane content."""
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path))
    frames = datasets.load("frames")
    assert frames["images"].shape == (400, 128, 128, 3)
    assert frames["keypoints2d"].shape == (400, K, 2) and frames["behaviour"].shape == (400,)
    uv = frames["keypoints2d"]
    assert np.all((uv >= 0) & (uv <= 127))
    assert 0.7 < frames["visible"].mean() < 1.0
    multiview = datasets.load("multiview")
    assert multiview["positions"].shape == (1000, K, 3) and multiview["visible"].shape == (6, 1000, K)
    assert np.all(multiview["visible"].mean(axis=(1, 2)) > 0.5)
    assert np.all((multiview["visible"].sum(axis=0) >= 2).mean(axis=0) > 0.9)   # triangulable
    mocap = datasets.load("mocap")
    assert mocap["positions"].shape == (3000, K, 3) and mocap["heading"].shape == (3000,)
    assert set(np.unique(mocap["behaviour"])) == set(range(len(synth.BEHAVIOURS)))
    assert not np.allclose(mocap["positions"][:1000], multiview["positions"])
