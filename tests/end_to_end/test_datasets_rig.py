"""Part 6's datasets: the rendered six-camera video and the labelled images, against their generator."""

import numpy as np

from lecturekit import datasets, synth
from lecturekit.end_to_end import rig_at_size


def test_rig_video_and_labels_are_what_the_rescaled_rig_sees(tmp_path, monkeypatch):
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path))
    cams = rig_at_size(synth.default_rig(), datasets.RIG_VIDEO_SIZE)
    video, labels = datasets.load("rig_video"), datasets.load("rig_labels")
    w, h = datasets.RIG_VIDEO_SIZE
    assert video["images"].shape == (6, 120, h, w, 3) and video["images"].dtype == np.uint8
    assert labels["images"].shape[:2] == (6, 30) and labels["images"].shape[0] * labels["images"].shape[1] <= 200
    for data in (video, labels):
        np.testing.assert_allclose(data["keypoints2d"], np.stack([c.project(data["positions"]) for c in cams]),
                                   atol=1e-9)
        np.testing.assert_array_equal(data["visible"], synth.keypoint_visibility(data["positions"], cams))
    counts = np.bincount(video["behaviour"], minlength=len(synth.BEHAVIOURS))
    rearing, grooming = synth.BEHAVIOURS.index("rearing"), synth.BEHAVIOURS.index("grooming")
    assert counts[rearing] >= 20 and counts[grooming] >= 20          # occlusion-rich behaviours are in the test
    assert not (1 - video["visible"].mean()) < 0.1                    # keypoints hidden by the body in some views
    # the labels are another recording: no labelled pose appears in the test video
    d = np.linalg.norm(labels["positions"][:, None] - video["positions"][None], axis=-1).mean(-1)
    assert d.min() > 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rig_labels.npz", "rig_video.npz"]
