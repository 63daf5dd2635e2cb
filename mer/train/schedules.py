"""Learning-rate schedules over a run's optimiser steps, as Hydra partials (`model/scheduler=...`).

Each takes the optimiser and the run's number of optimiser steps, which only the Trainer knows
(`estimated_stepping_batches`), so a config names the schedule and `MerModule` completes it.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR


def cosine(optimizer: Optimizer, total_steps: int) -> LRScheduler:
    """Cosine annealing from each group's lr to 0 over the run."""
    return CosineAnnealingLR(optimizer, total_steps)


def onecycle(optimizer: Optimizer, total_steps: int) -> LRScheduler:
    """One-cycle (Smith 2018) peaking at each group's configured lr."""
    return OneCycleLR(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total_steps)
