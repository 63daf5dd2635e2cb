"""MobileNetV2 feature extractor whose first convolution takes any number of input channels."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

from mer.errors import MerError


def mobilenet_v2_features(
    in_channels: int, width_mult: float = 1.0, pretrained: str = "none"
) -> tuple[nn.Module, int]:
    """MobileNetV2's convolutional trunk + global average pooling, and its feature width (1280).

    `pretrained` is "none", "imagenet" (torchvision's weights, width 1.0 only) or a path to a
    state dict of torchvision's MobileNetV2 (loaded with `weights_only=True`). With pretrained RGB
    weights and another channel count, the first conv starts from the RGB kernels' mean.
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
        weights = MobileNet_V2_Weights.IMAGENET1K_V1
        target = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        try:
            return weights.get_state_dict(progress=False)
        except Exception as err:  # offline, proxy, partial file: one message for all of them
            raise MerError(
                f"ImageNet weights for MobileNetV2 are not in the torch cache and could not be "
                f"downloaded ({type(err).__name__}): put {weights.url} at {target}, or use "
                "model.pretrained=none or model.pretrained=/path/to/state_dict.pth"
            ) from None
    path = Path(pretrained).expanduser()
    if not path.is_file():
        raise MerError(f"model.pretrained={pretrained!r}: use none, imagenet or a path to a "
                       "state-dict file (no such file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise MerError(f"cannot load {path} as a state dict ({err.__class__.__name__}: {err})") from None
    if not isinstance(state, dict):
        raise MerError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state
