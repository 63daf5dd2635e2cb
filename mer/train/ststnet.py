"""STSTNet: one shallow convolution stream per flow channel, pooled and concatenated.

Liong, Gan, See, Khor and Huang, "Shallow Triple Stream Three-dimensional CNN (STSTNet) for
Micro-expression Recognition", IEEE FG 2019 (arXiv:1902.03634). Built from the paper's
description: three streams (optical strain, horizontal and vertical flow, here in the order of
`input=uvs`: u, v, strain) at 28×28, each a single 3×3 convolution (3, 5 and 8 filters) with a ReLU
and a 3×3 max pool of stride 3; the streams are stacked along channels (the "three-dimensional"
block, 10×10×16), average-pooled to 5×5×16 and flattened: the 400-d features the head reads.
"""

from __future__ import annotations

import torch
from torch import nn

from mer.errors import MerError

#: Filters of each stream's one convolution (the paper's 3, 5, 8).
STREAM_FILTERS = (3, 5, 8)
#: The side of the pooled stack: 10×10 at the paper's 28² input, average-pooled 2×2 to 5×5. mer
#: pools adaptively to this side, so the same network takes any size a cache holds (at 28² it is
#: exactly the paper's 2×2 average pool).
POOLED_SIDE = 5


class STSTNet(nn.Module):
    """u, v, strain [B, 3, H, W] → the 400-d stacked, pooled stream features (the svm head's layer)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        if in_channels != len(STREAM_FILTERS):
            raise MerError(
                f"model=ststnet has one stream per channel of u, v and optical strain "
                f"({len(STREAM_FILTERS)} streams) but the input has {in_channels} "
                "channel(s): use input=uvs"
            )
        # padding=1 ("same"), which the paper leaves open: 28² stays 28², pooled by 3 to 10².
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(1, filters, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=3, padding=1)
            )
            for filters in STREAM_FILTERS
        )
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIDE)
        self.width = sum(STREAM_FILTERS) * POOLED_SIDE**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stacked = torch.cat([stream(x[:, i : i + 1]) for i, stream in enumerate(self.streams)], dim=1)
        return self.pool(stacked).flatten(1)
