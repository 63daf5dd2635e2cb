"""The cached maps at the network's input size (`model.input_size`): resized, displacements rescaled.

Flow is computed where the motion is resolvable, at the working size (`preprocess.size`, 224² by
default), and a network that takes smaller images (STSTNet and OFF-ApexNet: 28²) gets the maps resized,
as their authors and MEB resize the flow images. A displacement of d pixels of the crop is s·d pixels
of its copy resized by a factor s, so u, v and the magnitude are multiplied by s; optical strain (a
ratio of displacements to distances) and grey frames keep their values. Training
(`LosoDataModule`), `mer-predict` and the exported networks all resize through `InputResize`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer.train.input_size import check_input_size

#: Channels whose values are displacements in pixels of the crop (`mer.preprocess.clip.CHANNELS`).
DISPLACEMENTS = ("u", "v", "magnitude")


class InputResize(nn.Module):
    """[B, C, flow_size, flow_size] maps → [B, C, size, size], antialiased bilinear, with the
    displacement channels scaled by size / flow_size (the identity when the sizes agree)."""

    def __init__(self, channels: Sequence[str], flow_size: int, size: int | None) -> None:
        super().__init__()
        self.size = check_input_size(size, flow_size)
        ratio = self.size / flow_size
        scale = [ratio if name in DISPLACEMENTS else 1.0 for name in channels]
        self.register_buffer("scale", torch.tensor(scale).view(1, -1, 1, 1), persistent=False)
        self.resizes = self.size != flow_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.resizes:
            return x
        resized = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return resized * self.scale
