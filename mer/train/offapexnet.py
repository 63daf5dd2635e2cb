"""OFF-ApexNet: one convolution stream per flow component, merged into two fully connected layers.

Gan, Liong, Yau, Huang and Tan, "OFF-ApexNet on micro-expression recognition system", Signal
Processing: Image Communication 74 (2019), arXiv:1805.08699. **Not verified against the paper's
text**, which mer's developers could not read (only its abstract was reachable); each choice names
what it rests on instead:

- two streams, u and v, of the flow between the onset (the reference frame) and the apex frame:
  the abstract says the flow is taken between those two frames, and summaries of the paper (e.g.
  emergentmind.com/papers/1805.08699) describe a two-path network over the horizontal and vertical
  flow; MEB's `OffApexNet` instead stacks u and v as the two channels of one stream;
- each stream two 5×5 convolutions (6, then 16 filters), each with ReLU and a 2×2 max pool, at a
  28×28 input: as mer built it before, and as the two-stream public re-implementation
  (PRICAI2021-Off-TANet) does; MEB uses 3×3 kernels;
- the streams merge before the fully connected layers, which are two of 1024 units with ReLU; the
  second one's output is the 1024-d feature layer the head (and the post-hoc svm head) reads: as
  Off-TANet; MEB has one;
- dropout 0.5 before the output layer (`model=offapexnet` sets `model.dropout: 0.5`): both public
  implementations put a dropout of 0.5 there.

Padding keeps each convolution's size ("same"; 28² → 14² → 7²); mer pools adaptively to 7² so the
network takes any `model.input_size` (a no-op at 28²).
"""

from __future__ import annotations

import torch
from torch import nn

from mer.errors import MerError
from mer.train.registry import from_scratch, register_trunk

STREAMS = 2  # u and v
CONV_FILTERS = (6, 16)
FC_UNITS = 1024
#: 28² → 14² → 7² with "same" padding; pooled adaptively to 7² at any other input size.
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


@register_trunk("offapexnet")
def offapexnet_trunk(in_channels: int, pretrained: str, width_mult: float) -> tuple[nn.Module, int]:
    """`model.arch=offapexnet`: trained from scratch, as its paper does."""
    from_scratch("offapexnet", pretrained, width_mult)
    net = OffApexNet(in_channels)
    return net, net.width
