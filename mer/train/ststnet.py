"""STSTNet: three shallow convolution branches over u, v and optical strain, concatenated and pooled.

Liong, Gan, See, Khor and Huang, "Shallow Triple Stream Three-dimensional CNN (STSTNet) for
Micro-expression Recognition", IEEE FG 2019 (arXiv:1902.03634). Built as the authors' code builds it
(`christy1206/STSTNet`, `main.py`; MEB's `me_networks.py` has the same network), layer by layer:

- three parallel 3×3 convolutions of 3, 5 and 8 filters, **each over all three input channels**
  (u, v, strain: `input=uvs`), padding 2, so a 28² input becomes 30²;
- in each branch ReLU, then BatchNorm, then a 3×3 max pool of stride 3 and padding 1 (30² → 10²),
  then dropout 0.5;
- the branches concatenated along channels (16 × 10 × 10), a 2×2 average pool (→ 16 × 5 × 5) and
  flattened: the 400-d features that the authors' one linear layer (mer's classifier) reads.

2,485 parameters at 5 classes: 3·(27+1) + 5·(27+1) + 8·(27+1) = 448 in the convolutions, 2·16 = 32 in
BatchNorm, 400·5 + 5 = 2,005 in the linear layer. The authors' network has no dropout before its
linear layer, so `model=ststnet` sets `model.dropout: 0`.
"""

from __future__ import annotations

import torch
from torch import nn

from mer.errors import MerError
from mer.train.registry import from_scratch, register_trunk

#: Input channels of every branch: u, v and optical strain.
IN_CHANNELS = 3
#: Filters of each branch's one convolution (the authors' 3, 5, 8).
BRANCH_FILTERS = (3, 5, 8)
#: Dropout after each branch's max pool (the authors' `nn.Dropout(p=0.5)`).
BRANCH_DROPOUT = 0.5
#: The side of the concatenated branches after the average pool: 10² → 5² at the authors' 28² input.
#: mer pools adaptively to this side: at 28² it is exactly their 2×2 average pool of stride 2, and at
#: another `model.input_size` the network still gives 400 features.
POOLED_SIDE = 5


def _branch(filters: int) -> nn.Sequential:
    """One branch: [B, 3, H, W] → [B, filters, ⌈(H+2)/3⌉, ⌈(W+2)/3⌉], in the authors' layer order."""
    return nn.Sequential(
        nn.Conv2d(IN_CHANNELS, filters, 3, padding=2),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(filters),
        nn.MaxPool2d(3, stride=3, padding=1),
        nn.Dropout(BRANCH_DROPOUT),
    )


class STSTNet(nn.Module):
    """u, v, strain [B, 3, H, W] → the 400-d concatenated, pooled branch features (the svm head's layer)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        if in_channels != IN_CHANNELS:
            raise MerError(
                f"model=ststnet convolves u, v and optical strain together ({IN_CHANNELS} channels) "
                f"but the input has {in_channels} channel(s): use input=uvs"
            )
        self.branches = nn.ModuleList(_branch(filters) for filters in BRANCH_FILTERS)
        self.pool = nn.AdaptiveAvgPool2d(POOLED_SIDE)
        self.width = sum(BRANCH_FILTERS) * POOLED_SIDE**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stacked = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.pool(stacked).flatten(1)


@register_trunk("ststnet")
def ststnet_trunk(in_channels: int, pretrained: str, width_mult: float) -> tuple[nn.Module, int]:
    """`model.arch=ststnet`: trained from scratch, as its authors do."""
    from_scratch("ststnet", pretrained, width_mult)
    net = STSTNet(in_channels)
    return net, net.width
