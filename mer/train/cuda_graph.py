"""CUDA-graph replay of the network's training forward and backward (`model.cuda_graph=true`).

At batch 32 MobileNetV2 is launch-bound on a GPU: its ~1,500 small kernels per step cost more CPU
time to launch than GPU time to run. Captured once per batch shape, a step's forward and backward
become two graph launches; the samples, batches and epochs are exactly those of the eager path.
"""

from __future__ import annotations

import torch
from torch import nn


class GraphedTraining:
    """`net`'s train-mode forward (and its backward) replayed as CUDA graphs for one input shape."""

    def __init__(self, net: nn.Module, sample: torch.Tensor) -> None:
        if sample.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA tensor, got one on {sample.device}")
        self.shape = tuple(sample.shape)
        # Capture must not see autocast's weight cache; mirror the caller's autocast otherwise.
        autocast = torch.autocast(
            "cuda",
            dtype=torch.get_autocast_dtype("cuda"),
            enabled=torch.is_autocast_enabled("cuda"),
            cache_enabled=False,
        )
        # make_graphed_callables runs warm-up passes: keep BatchNorm statistics as they were.
        buffers = [(b, b.clone()) for b in net.buffers()]
        with autocast:
            self.graphed = torch.cuda.make_graphed_callables(net, (sample,))
        # The captured autograd nodes belong to the capture's side stream by construction, so every
        # step's gradient accumulation syncs with it (cheap: bench-step times the graphed step
        # with it); torch's per-job warning about that mismatch says nothing the user can act on.
        quiet = getattr(torch.autograd.graph, "set_warn_on_accumulate_grad_stream_mismatch", None)
        if quiet is not None:
            quiet(False)
        with torch.no_grad():
            for live, saved in buffers:
                live.copy_(saved)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The scores of `x` (of the captured shape), differentiable as the eager network's."""
        if tuple(x.shape) != self.shape:
            raise ValueError(f"this graph replays batches of shape {self.shape}, not {tuple(x.shape)}")
        return self.graphed(x)
