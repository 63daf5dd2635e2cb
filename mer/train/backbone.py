"""MobileNetV2 feature extractor whose first convolution takes any number of input channels."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2

from mer.errors import MerError
from mer.train.pretrained import imagenet_state_dict, read_state_dict


def mobilenet_v2_features(
    in_channels: int, width_mult: float = 1.0, pretrained: str = "none"
) -> tuple[nn.Module, int]:
    """MobileNetV2's convolutional trunk + global average pooling, and its feature width (1280).

    `pretrained` is "none", "imagenet" (torchvision's weights, width 1.0 only: `mer.train.pretrained`)
    or a path to a state dict of torchvision's MobileNetV2, both loaded with `weights_only=True`.
    With pretrained RGB weights and another channel count, the first conv starts from the RGB
    kernels' mean.
    """
    net = mobilenet_v2(weights=None, width_mult=width_mult)
    if pretrained != "none":
        state = _pretrained_state(pretrained, width_mult)
        missing, _ = net.load_state_dict(state, strict=False)
        trunk_missing = [k for k in missing if not k.startswith("classifier.")]
        if trunk_missing:
            raise MerError(f"model.pretrained={pretrained}: the state dict lacks {trunk_missing[:3]}"
                           "…; it is not a torchvision MobileNetV2 of this width_mult")
    first: nn.Conv2d = net.features[0][0]
    if in_channels != first.in_channels:
        conv = nn.Conv2d(in_channels, first.out_channels, first.kernel_size, first.stride,
                         first.padding, bias=False)
        if pretrained != "none":
            with torch.no_grad():
                mean = first.weight.mean(dim=1, keepdim=True)
                conv.weight.copy_(mean.repeat(1, in_channels, 1, 1) * 3.0 / in_channels)
        net.features[0][0] = conv
    trunk = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return trunk, net.last_channel


def _pretrained_state(pretrained: str, width_mult: float) -> dict[str, torch.Tensor]:
    """Weights for `model.pretrained`, or one clear error saying which file to put where."""
    if pretrained == "imagenet":
        if width_mult != 1.0:
            raise MerError("model.pretrained=imagenet needs model.width_mult=1.0 "
                           "(torchvision ships no other width)")
        return imagenet_state_dict()
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise MerError(f"model.pretrained={pretrained!r}: use none, imagenet or a path to a "
                       "state-dict file (no such file)")
    return read_state_dict(path)
