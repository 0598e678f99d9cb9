"""The architectures the lecture names, as few-line torch modules to open up and print
(lecture: "In DeepLabCut, SLEAP, etc."). They are small and untrained: the point is the wiring.

* :class:`ResidualBlock` (ResNet, He et al. 2016): ``y = relu(x + F(x))`` with F two 3x3
  convolutions; with F's weights at zero the block is the identity on non-negative inputs, so a
  deep stack can start as a shallow network and only learns corrections.
* :class:`TinyResNet` + :class:`DeconvHead` = DeepLabCut's network (Mathis et al. 2018, after
  DeeperCut, Insafutdinov et al. 2016): a ResNet backbone downsampling 16x (DeepLabCut: ResNet-50,
  stride 16 with dilation) and a **single** transposed convolution ("deconvolution") that
  upsamples 2x to stride 8 and outputs one score map per keypoint. No skip connections.
* :class:`TinyUNet` = SLEAP's default backbone (Pereira et al. 2022): an encoder that halves the
  resolution at every level, a decoder that doubles it again, and **skip connections** that
  concatenate each encoder map to the decoder map of the same size, so fine detail survives.
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["ResidualBlock", "TinyResNet", "DeconvHead", "TinyUNet", "trace_shapes"]


class ResidualBlock(nn.Module):
    """y = relu(x + conv2(relu(conv1(x)))), 3x3 convolutions with bias, channels and size kept.

    Input and output (N, C, H, W). ``zero_init``: start F at zero weights and biases (the block is
    then the identity on inputs >= 0).
    """

    def __init__(self, channels: int, zero_init: bool = False):
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels: expected a positive integer, got {channels}")
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        if zero_init:
            for conv in (self.conv1, self.conv2):
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class TinyResNet(nn.Module):
    """A ResNet-style backbone: a stride-2 stem, then ``stages`` stages of one stride-2 convolution
    and one :class:`ResidualBlock`, doubling the channels. (N, 3, H, W) -> (N, width 2^stages,
    H / 2^(stages+1), W / 2^(stages+1)); the default downsamples 16x like DeepLabCut's ResNet."""

    def __init__(self, width: int = 8, stages: int = 3):
        super().__init__()
        layers = [nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU()]
        c = width
        for _ in range(stages):
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(), ResidualBlock(2 * c)]
            c *= 2
        self.layers = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DeconvHead(nn.Module):
    """DeepLabCut's head: one transposed convolution (kernel 4, stride 2) from backbone features
    (N, C, h, w) to K score maps (N, K, 2h, 2w)."""

    def __init__(self, in_channels: int, n_keypoints: int):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, n_keypoints, 4, stride=2, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.deconv(features)


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class TinyUNet(nn.Module):
    """A small U-Net (SLEAP): ``levels`` encoder levels (two 3x3 convolutions, then 2x max-pool),
    a bottleneck, and a decoder that upsamples 2x (transposed convolution), concatenates the
    encoder map of the same size (skip connection) and convolves. (N, 3, H, W) -> K maps
    (N, K, H, W), H and W multiples of 2^levels."""

    def __init__(self, n_keypoints: int, width: int = 8, levels: int = 2):
        super().__init__()
        self.down = nn.ModuleList()
        c, chans = 3, []
        for level in range(levels):
            self.down.append(_double_conv(c, width * 2 ** level))
            c = width * 2 ** level
            chans.append(c)
        self.bottleneck = _double_conv(c, 2 * c)
        c = 2 * c
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        for skip in reversed(chans):
            self.up.append(nn.ConvTranspose2d(c, skip, 2, stride=2))
            self.merge.append(_double_conv(2 * skip, skip))
            c = skip
        self.out = nn.Conv2d(c, n_keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips)):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.out(x)


@torch.no_grad()
def trace_shapes(model: nn.Module, x: torch.Tensor, leaf_types=(nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d,
                                                               ResidualBlock)) -> list[tuple[str, tuple, tuple]]:
    """Run ``model`` on ``x`` and record every layer of ``leaf_types`` it calls, in order:
    [(name, input shape, output shape)]. (Max-pooling done with ``nn.functional`` is not a module
    call and is not listed; its effect shows in the next layer's input.)"""
    records, hooks = [], []
    for name, module in model.named_modules():
        if isinstance(module, leaf_types) and name:
            hooks.append(module.register_forward_hook(
                lambda m, inp, out, name=name: records.append((name, tuple(inp[0].shape), tuple(out.shape)))))
    try:
        model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    return records
