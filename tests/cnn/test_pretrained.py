"""Offline ImageNet EfficientNet-Lite0: the load by position and the ImageNet sanity check."""

import numpy as np
import pytest
import torch

from lecturekit.cnn import pretrained


@pytest.fixture(scope="module")
def classifier():
    return pretrained.load_efficientnet_lite0()


def test_weights_file_is_in_the_wheel_and_matches_timm_by_position(classifier):
    path = pretrained.weights_path()
    assert path.is_file() and "site-packages" in str(path)
    source = pretrained.load_state_dict()
    target = classifier.state_dict()
    assert len(source) == len(target) == 296
    for (name, t), s in zip(target.items(), source.values()):
        assert t.shape == s.shape, name
        assert torch.equal(t, s), name  # the loaded tensors are the file's, position by position


def test_imagenet_sanity_check_on_the_temple_photo(classifier):
    from sklearn.datasets import load_sample_images

    images = load_sample_images()
    china = images.images[[n.endswith("china.jpg") for n in images.filenames].index(True)]
    top5 = pretrained.imagenet_top5(china, classifier)
    names = " ".join(name for name, _ in top5)
    buildings = ("church", "palace", "bell cote", "monastery", "dome", "boathouse", "stupa", "pagoda")
    assert any(b in names for b in buildings), top5
    assert top5[0][1] > 0.1 and all(a[1] >= b[1] for a, b in zip(top5, top5[1:]))
    # an untrained network of the same architecture does not find a building class
    import timm

    torch.manual_seed(0)
    random_net = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    random_names = " ".join(n for n, _ in pretrained.imagenet_top5(china, random_net))
    assert top5[0][1] > max(p for _, p in pretrained.imagenet_top5(china, random_net))
    assert random_names != names


def test_features_only_backbone_gives_strides_4_8_16_with_the_same_weights(classifier):
    features = pretrained.efficientnet_lite0_features((1, 2, 3)).eval()
    assert features.feature_info.reduction() == [4, 8, 16]
    assert features.feature_info.channels() == [24, 40, 112]
    torch.testing.assert_close(features.conv_stem.weight, classifier.conv_stem.weight)
    x = pretrained.imagenet_normalize(np.zeros((2, 64, 96, 3), np.uint8))
    with torch.no_grad():
        maps = features(x)
    assert [tuple(m.shape) for m in maps] == [(2, 24, 16, 24), (2, 40, 8, 12), (2, 112, 4, 6)]


def test_imagenet_normalize_checks_shapes():
    x = pretrained.imagenet_normalize(np.full((4, 5, 3), 255, np.uint8))
    assert x.shape == (1, 3, 4, 5)
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), (1 - np.array(pretrained.IMAGENET_MEAN)) /
                               np.array(pretrained.IMAGENET_STD), rtol=1e-6)
    with pytest.raises(ValueError, match="images"):
        pretrained.imagenet_normalize(np.zeros((4, 5)))
