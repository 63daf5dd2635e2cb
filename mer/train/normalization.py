"""Input normalisation: one torch module shared by training, `mer-predict` and the exported models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mer.errors import MerError

NORMALIZATIONS = ("sample_minmax", "train_standardize", "none")


def check_normalization(method: str) -> str:
    """Validate `datamodule.normalization`."""
    if method not in NORMALIZATIONS:
        raise MerError(f"datamodule.normalization={method!r}: choose one of {list(NORMALIZATIONS)}")
    return method


def normalization_stats(x: np.ndarray, method: str, train_index: np.ndarray) -> dict[str, list[float]]:
    """What a method needs beyond the sample itself: per-channel mean and std of the training fold
    for `train_standardize` (never the test subject), nothing for the others."""
    if check_normalization(method) != "train_standardize":
        return {}
    train = x[train_index]
    return {"mean": train.mean(axis=(0, 2, 3)).tolist(), "std": train.std(axis=(0, 2, 3)).tolist()}


class InputNormalization(nn.Module):
    """Scale [B, C, H, W] inputs: per-sample min–max to [0, 1] per channel (the common choice for
    flow), per-channel standardisation with the training fold's `mean`/`std`, or nothing."""

    def __init__(self, method: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        self.method = check_normalization(method)
        if method == "train_standardize":
            if mean is None or std is None:
                raise ValueError("train_standardize needs the training fold's mean and std")
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "sample_minmax":
            low = x.amin(dim=(2, 3), keepdim=True)
            high = x.amax(dim=(2, 3), keepdim=True)
            return (x - low) / torch.clamp(high - low, min=1e-6)
        if self.method == "train_standardize":
            return (x - self.mean) / torch.clamp(self.std, min=1e-6)
        return x
