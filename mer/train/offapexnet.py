"""OFF-ApexNet: one convolution stream per flow component, then two fully connected layers.

Gan, Liong, Yau, Huang and Tan, "OFF-ApexNet on micro-expression recognition system", Signal
Processing: Image Communication 74 (2019). Built from the paper's description: the onset→apex
horizontal (u) and vertical (v) flow at 28×28, each through its own stream of two 5×5
convolutions (6, then 16 filters) with ReLU and 2×2 max pooling; the two streams' features are
concatenated and pass two fully connected layers of 1024 units. The second one's output is the
1024-d feature layer the head (and the post-hoc svm head) reads.
"""

from __future__ import annotations

import torch
from torch import nn

from mer.errors import MerError

STREAMS = 2  # u and v
CONV_FILTERS = (6, 16)
FC_UNITS = 1024
#: 28² → 14² → 7² with "same" padding (which the paper leaves open: mer's choice). mer pools
#: adaptively to 7² so the network takes any size a cache holds (a no-op at the paper's 28²).
POOLED_SIDE = 7


def _stream() -> nn.Sequential:
    """One flow component [B, 1, H, W] → [B, 16·7·7]."""
    first, second = CONV_FILTERS
    return nn.Sequential(
        nn.Conv2d(1, first, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.AdaptiveMaxPool2d(POOLED_SIDE),
        nn.Flatten(1),
    )


class OffApexNet(nn.Module):
    """u, v [B, 2, H, W] → the 1024-d output of the second fully connected layer (the svm head's layer)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        if in_channels != STREAMS:
            raise MerError(
                f"model=offapexnet has one stream for u and one for v but the input has "
                f"{in_channels} channel(s): use input=uv"
            )
        self.streams = nn.ModuleList(_stream() for _ in range(STREAMS))
        self.fc = nn.Sequential(
            nn.Linear(STREAMS * CONV_FILTERS[-1] * POOLED_SIDE**2, FC_UNITS),
            nn.ReLU(inplace=True),
            nn.Linear(FC_UNITS, FC_UNITS),
            nn.ReLU(inplace=True),
        )
        self.width = FC_UNITS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([stream(x[:, i : i + 1]) for i, stream in enumerate(self.streams)], dim=1))
