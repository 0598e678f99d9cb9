"""Reading DeepLabCut projects: three header rows, empty cells = missing keypoints."""

import numpy as np
import pytest

from lecturekit.formats import deeplabcut as dlc

CSV = """scorer,Ann,Ann,Ann,Ann,Ann,Ann
bodyparts,snout,snout,tail,tail,paw,paw
coords,x,y,x,y,x,y
labeled-data/v1/img000.png,10.5,20.25,30,40,,
labeled-data/v1/img001.png,11,21,,,5,6
"""

CSV_SPLIT_INDEX = """scorer,,,Ann,Ann,Ann,Ann
bodyparts,,,snout,snout,tail,tail
coords,,,x,y,x,y
labeled-data,v1,img000.png,1,2,3,4
labeled-data,v1,img001.png,,,7,8
"""


def test_read_collected_data_with_missing_values(tmp_path):
    path = tmp_path / "CollectedData_Ann.csv"
    path.write_text(CSV)
    scorer, bodyparts, images, kp = dlc.read_collected_data(path)
    assert scorer == "Ann" and bodyparts == ("snout", "tail", "paw")
    assert images == ("labeled-data/v1/img000.png", "labeled-data/v1/img001.png")
    assert kp.shape == (2, 3, 2)
    np.testing.assert_array_equal(kp[0, :2], [[10.5, 20.25], [30, 40]])
    assert np.isnan(kp[0, 2]).all() and np.isnan(kp[1, 1]).all()
    np.testing.assert_array_equal(kp[1, 2], [5, 6])


def test_read_collected_data_with_three_index_columns(tmp_path):
    path = tmp_path / "CollectedData_Ann.csv"
    path.write_text(CSV_SPLIT_INDEX)
    _, bodyparts, images, kp = dlc.read_collected_data(path)
    assert bodyparts == ("snout", "tail") and images[1] == "labeled-data/v1/img001.png"
    assert np.isnan(kp[1, 0]).all() and kp[1, 1].tolist() == [7, 8]


def test_write_then_read_project_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 12, 16, 3), dtype=np.uint8)
    kp = rng.uniform(0, 12, (3, 2, 2))
    kp[1, 0] = np.nan
    root = dlc.write_project(tmp_path / "proj", images, kp, ("nose", "tail"), scorer="me")
    project = dlc.read_project(root)
    assert project.bodyparts == ("nose", "tail") and project.scorer == "me"
    np.testing.assert_allclose(project.keypoints, kp, equal_nan=True)
    np.testing.assert_array_equal(project.visible, np.all(np.isfinite(kp), -1))
    np.testing.assert_array_equal(dlc.load_frames(project), images)


def test_bad_files_give_clear_messages(tmp_path):
    bad = tmp_path / "CollectedData_x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="three header rows"):
        dlc.read_collected_data(bad)
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        dlc.read_project(tmp_path)
    with pytest.raises(ValueError, match="keypoints"):
        dlc.write_project(tmp_path / "p", np.zeros((1, 4, 4, 3), np.uint8), np.zeros((1, 3, 2)), ("a", "b"))


def test_real_openfield_project(shared_data):
    project = dlc.read_project(shared_data / "dlc-openfield")
    assert project.bodyparts == ("snout", "leftear", "rightear", "tailbase")
    assert project.keypoints.shape == (116, 4, 2) and project.scorer == "Pranav"
    np.testing.assert_allclose(project.keypoints[0, 0], [21.521, 265.428])
    frames = dlc.load_frames(project, [0, 1])
    assert frames.shape == (2, 480, 640, 3) and frames.dtype == np.uint8
    reaching = dlc.read_project(shared_data / "dlc-reaching")
    assert 0 < np.mean(reaching.visible[:, reaching.bodyparts.index("Tongue")]) < 1  # missing tongues are NaN


def test_frames_of_different_sizes_need_padding_which_keeps_pixels_in_place(tmp_path):
    from PIL import Image

    project_dir = dlc.write_project(tmp_path / "p", np.zeros((2, 4, 6, 3), np.uint8),
                                    np.full((2, 1, 2), 1.0), ("nose",))
    project = dlc.read_project(project_dir)
    small = (np.arange(3 * 3 * 3, dtype=np.uint8) + 1).reshape(3, 3, 3)
    Image.fromarray(small).save(project.image_paths[1])  # a second video with 3x3 frames
    with pytest.raises(ValueError, match="different sizes.*pad=True"):
        dlc.load_frames(project)
    frames = dlc.load_frames(project, pad=True)
    assert frames.shape == (2, 4, 6, 3)
    np.testing.assert_array_equal(frames[1, :small.shape[0], :small.shape[1]], small)
    assert not frames[1, small.shape[0]:].any() and not frames[1, :, small.shape[1]:].any()
