"""The trunks `model=` chooses (`model.arch`), each ending at the feature layer the heads read, and
`make_trunk`, which builds the one a name registered (`mer.train.registry`):

- `mobilenetv2` (the paper's): torchvision's MobileNetV2, global average pool → 1280-d (here);
- `resnet18`: torchvision's ResNet-18, global average pool → 512-d (here);
- `ststnet` (`mer.train.ststnet`): the concatenated, pooled branches → 400-d;
- `offapexnet` (`mer.train.offapexnet`): the second fully connected layer → 1024-d.

The torchvision trunks' first convolution takes the input's channel count; with pretrained RGB
weights it starts from the RGB kernels' mean.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2, resnet18

import mer.train.offapexnet  # noqa: F401  (registers model.arch=offapexnet)
import mer.train.ststnet  # noqa: F401  (registers model.arch=ststnet)
from mer.errors import MerError
from mer.train.pretrained import RESNET18_IMAGENET, imagenet_state_dict, read_state_dict
from mer.train.registry import no_width_multiplier, register_trunk, trunk_builder


def make_trunk(arch: str, in_channels: int, pretrained: str = "none", width_mult: float = 1.0) -> tuple[nn.Module, int]:
    """The trunk `model.arch` names, from the input to its feature layer, and that layer's width."""
    return trunk_builder(arch)(in_channels, pretrained, width_mult)


@register_trunk("mobilenetv2")
def _mobilenetv2(in_channels: int, pretrained: str, width_mult: float) -> tuple[nn.Module, int]:
    """`model.arch=mobilenetv2`."""
    return mobilenet_v2_features(in_channels, width_mult, pretrained)


@register_trunk("resnet18")
def _resnet18(in_channels: int, pretrained: str, width_mult: float) -> tuple[nn.Module, int]:
    """`model.arch=resnet18`."""
    no_width_multiplier("resnet18", width_mult)
    return resnet18_features(in_channels, pretrained)


def mobilenet_v2_features(in_channels: int, width_mult: float = 1.0, pretrained: str = "none") -> tuple[nn.Module, int]:
    """MobileNetV2's convolutional trunk + global average pooling, and its feature width (1280).

    `pretrained` is "none", "imagenet" (torchvision's weights, width 1.0 only: `mer.train.pretrained`)
    or a path to a state dict of torchvision's MobileNetV2, both loaded with `weights_only=True`.
    With pretrained RGB weights and another channel count, the first conv starts from the RGB
    kernels' mean.
    """
    net = mobilenet_v2(weights=None, width_mult=width_mult)
    if pretrained != "none":
        _load_trunk(
            net,
            _pretrained_state(pretrained, width_mult),
            pretrained,
            "classifier.",
            "a torchvision MobileNetV2 of this width_mult",
        )
    net.features[0][0] = _first_conv(net.features[0][0], in_channels, pretrained != "none")
    trunk = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return trunk, net.last_channel


def resnet18_features(in_channels: int, pretrained: str = "none") -> tuple[nn.Module, int]:
    """ResNet-18's convolutional trunk + global average pooling, and its feature width (512).

    `pretrained` as for MobileNetV2: "none", "imagenet" (torchvision's ResNet-18 file) or a path
    to a state dict of torchvision's ResNet-18, loaded with `weights_only=True`.
    """
    net = resnet18(weights=None)
    if pretrained != "none":
        state = imagenet_state_dict(RESNET18_IMAGENET) if pretrained == "imagenet" else _state_file(pretrained)
        _load_trunk(net, state, pretrained, "fc.", "a torchvision ResNet-18")
    net.conv1 = _first_conv(net.conv1, in_channels, pretrained != "none")
    trunk = nn.Sequential(*list(net.children())[:-1], nn.Flatten(1))  # all but fc; avgpool included
    return trunk, net.fc.in_features


def _load_trunk(net: nn.Module, state: dict[str, torch.Tensor], pretrained: str, head: str, what: str) -> None:
    """Load pretrained weights into a torchvision network whose classifier (keys under `head`) mer
    replaces; one line when the state dict lacks any of the trunk's keys (it is not `what`)."""
    missing, _ = net.load_state_dict(state, strict=False)
    trunk_missing = [k for k in missing if not k.startswith(head)]
    if trunk_missing:
        raise MerError(f"model.pretrained={pretrained}: the state dict lacks {trunk_missing[:3]}…; it is not {what}")


def _first_conv(first: nn.Conv2d, in_channels: int, pretrained: bool) -> nn.Conv2d:
    """The first convolution for `in_channels`; from pretrained RGB kernels, their mean (scaled
    so the response keeps its size)."""
    if in_channels == first.in_channels:
        return first
    conv = nn.Conv2d(in_channels, first.out_channels, first.kernel_size, first.stride, first.padding, bias=False)
    if pretrained:
        with torch.no_grad():
            mean = first.weight.mean(dim=1, keepdim=True)
            conv.weight.copy_(mean.repeat(1, in_channels, 1, 1) * 3.0 / in_channels)
    return conv


def _pretrained_state(pretrained: str, width_mult: float) -> dict[str, torch.Tensor]:
    """Weights for `model.pretrained`, or one clear error saying which file to put where."""
    if pretrained == "imagenet":
        if width_mult != 1.0:
            raise MerError("model.pretrained=imagenet needs model.width_mult=1.0 (torchvision ships no other width)")
        return imagenet_state_dict()
    return _state_file(pretrained)


def _state_file(pretrained: str) -> dict[str, torch.Tensor]:
    """The state dict `model.pretrained=/path.pth` names, or one line saying what to give."""
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise MerError(
            f"model.pretrained={pretrained!r}: use none, imagenet or a path to a state-dict file (no such file)"
        )
    return read_state_dict(path)
