"""Packed folds: several LOSO folds of one configuration trained in one process as one batched
network (`hydra/launcher=packed`), each fold as it would train alone.

The folds' weights are stacked along a new first axis, and one `torch.func.vmap` of
`functional_call` runs every fold's batch through its own weights in each kernel (vmap turns a
convolution over stacked weights into one grouped convolution). Each fold keeps its own:
- weights and BatchNorm statistics: its module's parameters and buffers become views of its row of
  the stacked tensors, so the stacked update is its update and, after training, its module holds
  its trained network (copied out of the stack, `unpack`);
- optimiser and schedule: one per fold over those views, stepped only on the steps the fold has;
- data order and augmentation: its own loader and datamodule generators, seeded as a separate job
  seeds them;
- loss, with its class weights, and head.
A fold with fewer batches per epoch is left out of the steps it does not have (no batch, no
optimiser step, no BatchNorm update); folds whose batch shapes differ (a last, smaller batch) run
in separate vmapped calls. So each fold sees exactly the epochs and batches a separate job would.
What differs: dropout draws its masks for all folds from one generator (equal in distribution, not
bitwise, to a separate run's), and a fold whose loss becomes NaN or infinite fails alone.
"""

from __future__ import annotations

import copy
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch import nn
from torch.func import functional_call, vmap
from torch.utils.data import DataLoader

from mer.errors import MerError
from mer.train.datamodule import LosoDataModule
from mer.train.module import MerModule

log = logging.getLogger(__name__)


@dataclass
class PackedFold:
    """One fold of a pack: its datamodule and model, and what packed training leaves for its job."""

    dm: LosoDataModule
    model: MerModule
    loader: DataLoader | None = None  # its training loader: precise BN draws its next epoch from it
    steps: int = 0  # optimiser steps taken
    curves: list[dict[str, float]] = field(default_factory=list)  # per epoch: what the job's CSV logs
    failure: str | None = None  # why it stopped training (a non-finite loss)


class _Batches:
    """An epoch of a loader's batches, never asked for one more: a shuffling sampler asked past its
    end draws the next permutation's random numbers, and the fold's next epoch would then differ
    from a separate job's (Lightning stops at a lone loader's length; a pack's longer folds go on)."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        # A generator: the loader's iterator (which draws a seed) starts at the first batch, not
        # when Lightning checks that this is iterable.
        yield from itertools.islice(self.loader, len(self.loader))


def check_packable(model: MerModule) -> None:
    """Refuse, in one line, a model setting that packing cannot honour."""
    if model.cuda_graph or model.compile_trunk:
        key = "model.cuda_graph" if model.cuda_graph else "model.compile"
        raise MerError(
            f"hydra/launcher=packed runs the folds as one vmapped network, which {key}=true cannot "
            f"capture: set {key}=false, or use hydra/launcher=gpus"
        )


def _set_tensor(module: nn.Module, name: str, tensor: torch.Tensor, parameter: bool) -> None:
    """Point `module`'s parameter or buffer `name` (dotted) at `tensor`."""
    owner, _, leaf = name.rpartition(".")
    target = module.get_submodule(owner) if owner else module
    if parameter:
        target._parameters[leaf] = nn.Parameter(tensor, requires_grad=target._parameters[leaf].requires_grad)
    else:
        target._buffers[leaf] = tensor


class PackedFolds(L.LightningModule):
    """Trains `folds` (same architecture and head) at once, each on its own loader; manual
    optimisation, one optimiser per fold."""

    def __init__(self, folds: Sequence[PackedFold], max_epochs: int) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.packed = list(folds)  # not submodules: their tensors become views of the stack below
        self.max_epochs = max_epochs
        self.template = self.packed[0].model  # the module functional_call runs with each fold's tensors
        self.param_names = [n for n, _ in self.template.named_parameters()]
        self.buffer_names = [n for n, _ in self.template.named_buffers()]
        self.weights: dict[str, torch.Tensor] = {}  # stacked [folds, ...] leaves, made on the device
        self.stacked_buffers: dict[str, torch.Tensor] = {}
        self.fold_params: list[list[nn.Parameter]] = []  # per fold, its views of `weights`, in order
        # per fold, this epoch: loss × samples, samples, and steps whose loss or scores were not finite
        self._sums: list[torch.Tensor] = []

    def setup(self, stage: str) -> None:
        """Load each fold (on the training device) and make its training loader, which sets its
        step count before the optimisers are made."""
        for fold in self.packed:
            fold.dm.setup(stage)
            fold.loader = fold.dm.train_dataloader()

    def train_dataloader(self) -> CombinedLoader:
        """Each fold's own training loader; a fold that has run out yields None until the epoch ends."""
        return CombinedLoader([_Batches(fold.loader) for fold in self.packed], mode="max_size")

    def configure_optimizers(self):
        """Stack the folds' tensors on the training device, make each fold's parameters views of
        its row, and give each fold its optimiser (and schedule) over its own steps."""
        for fold in self.packed:
            fold.model.to(device=self.device, dtype=self.dtype)
        models = [fold.model for fold in self.packed]
        for name in self.param_names:
            stacked = torch.stack([m.get_parameter(name).detach() for m in models]).requires_grad_()
            self.weights[name] = stacked
            for f, m in enumerate(models):
                _set_tensor(m, name, stacked.data[f], parameter=True)
        self.fold_params = [[m.get_parameter(name) for name in self.param_names] for m in models]
        for name in self.buffer_names:
            stacked = torch.stack([m.get_buffer(name) for m in models])
            self.stacked_buffers[name] = stacked
            for f, m in enumerate(models):
                _set_tensor(m, name, stacked[f], parameter=False)
        optimizers, schedules = [], []
        for fold in self.packed:
            steps = max(1, self.max_epochs * len(fold.loader))
            optimizer, schedule = fold.model.make_optimizer(steps)
            optimizers.append(optimizer)
            schedules.append(schedule)
        if all(s is None for s in schedules):
            return optimizers
        return optimizers, [{"scheduler": s, "interval": "step"} for s in schedules if s is not None]

    def on_train_epoch_start(self) -> None:
        """Zero the epoch's loss sums; the network trains (BatchNorm on batch statistics, dropout)."""
        self.template.train()
        self._sums = [torch.zeros(3, device=self.device, dtype=torch.float64) for _ in self.packed]

    def training_step(self, batches: list, batch_idx: int) -> None:
        """One step of every fold that has a batch: their scores from one vmapped call per batch
        shape, the sum of their losses backpropagated (each fold's gradient is its own loss's), then
        each such fold's optimiser and schedule stepped."""
        optimizers = self.optimizers()
        optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
        schedules = self.lr_schedulers()
        schedules = schedules if isinstance(schedules, list) else [schedules] if schedules else []
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        inputs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for f, (fold, batch) in enumerate(zip(self.packed, batches)):
            if batch is None or fold.failure is not None:
                continue
            x, y, _ = batch
            if fold.dm.augment:
                x = fold.dm.augmented(x)
            inputs[f] = (x, y)
            by_shape[tuple(x.shape)].append(f)
        if not inputs:
            return
        total = 0.0
        for folds in by_shape.values():
            scores = self._scores(folds, torch.stack([inputs[f][0] for f in folds]))
            for j, f in enumerate(folds):
                model, y = self.packed[f].model, inputs[f][1]
                loss = model.loss(scores[j], y)
                model.train_acc(scores[j].detach(), y)
                finite = torch.isfinite(loss.detach()) & torch.isfinite(scores[j].detach()).all()
                self._sums[f] += torch.stack(
                    [
                        loss.detach().double() * len(y),
                        loss.new_full((), len(y), dtype=torch.float64),
                        (~finite).double(),
                    ]
                )
                total = total + loss
        self.manual_backward(total)
        rows = [w.grad.unbind(0) for w in self.weights.values()]  # each fold's gradient, a view of its row
        for f in inputs:
            for param, row in zip(self.fold_params[f], rows):
                param.grad = row[f]
            optimizers[f].step()
            if schedules:
                schedules[f].step()
            self.packed[f].steps += 1
        for w in self.weights.values():
            w.grad = None
        for f in inputs:
            for param in self.fold_params[f]:
                param.grad = None

    def _scores(self, folds: list[int], x: torch.Tensor) -> torch.Tensor:
        """Scores [len(folds), B, classes] of each fold's batch `x[j]` through its own weights; the
        folds' BatchNorm statistics are updated in their rows."""
        everyone = len(folds) == len(self.packed)
        rows = None if everyone else torch.as_tensor(folds, device=x.device)
        weights = {n: w if everyone else w[rows] for n, w in self.weights.items()}
        buffers = {n: b if everyone else b[rows] for n, b in self.stacked_buffers.items()}

        def one_fold(w: dict, b: dict, xf: torch.Tensor) -> torch.Tensor:
            return functional_call(self.template, (w, b), (xf,))

        scores = vmap(one_fold, randomness="different")(weights, buffers, x)
        if not everyone:  # the rows were copies: put their updated statistics back
            for n, b in buffers.items():
                self.stacked_buffers[n].index_copy_(0, rows, b)
        return scores

    def on_train_epoch_end(self) -> None:
        """Each fold's epoch curves (loss, training metric); a fold whose loss or scores are no
        longer finite (a hinge loss of NaN scores reads 0) fails alone and trains no further
        (checked once an epoch: one synchronisation)."""
        sums = torch.stack(self._sums).cpu()
        for f, fold in enumerate(self.packed):
            if fold.failure is not None or sums[f, 1] == 0:
                continue
            loss = float(sums[f, 0] / sums[f, 1])
            metric = float(fold.model.train_acc.compute())
            fold.model.train_acc.reset()
            fold.curves.append(
                {
                    "epoch": self.current_epoch,
                    "step": fold.steps - 1,
                    "train/loss": loss,
                    f"train/{fold.model.metric_name}": metric,
                }
            )
            if sums[f, 2] > 0:
                fold.failure = (
                    f"training diverged in epoch {self.current_epoch}: the loss or the scores became NaN or "
                    f"infinite in {int(sums[f, 2])} of its steps (epoch loss {loss}); the "
                    f"{len(self.packed) - 1} folds packed with it went on"
                )
                log.warning("fold %s: %s", fold.dm.test_subject, fold.failure)

    def on_train_end(self) -> None:
        """Give each fold its own copy of its trained tensors, out of the stack."""
        for fold in self.packed:
            unpack(fold.model)


def unpack(model: nn.Module) -> None:
    """Replace `model`'s parameters and buffers (views of a stack) by their own copies, so the
    module, its checkpoint and its state dict hold this fold alone."""
    for name, p in list(model.named_parameters()):
        _set_tensor(model, name, p.detach().clone(), parameter=True)
    for name, b in list(model.named_buffers()):
        _set_tensor(model, name, b.clone(), parameter=False)


def train_packed(folds: Sequence[PackedFold], trainer: L.Trainer) -> dict[str, Any]:
    """Train `folds` as one pack with `trainer` (its max_epochs): the pack's fit seconds, fold
    count and steps (its longest fold's)."""
    for fold in folds:
        check_packable(fold.model)
        fold.dm.trainer = trainer  # setup then loads the fold onto the training device
    started = time.perf_counter()
    trainer.fit(PackedFolds(folds, trainer.max_epochs))
    fit_s = round(time.perf_counter() - started, 3)
    return {"fit_s": fit_s, "packed_folds": len(folds), "steps": max(fold.steps for fold in folds)}


def folds_that_fit(folds: Sequence[PackedFold], make_trainer: Callable[..., L.Trainer]) -> int:
    """How many of `folds` to train in one pack: all of them on a CPU; on a GPU, what a measured
    memory model gives. One training step of a pack of one fold and of two (copies, on the
    Trainer's GPU) give the peak memory as fixed + per_fold × folds; a pack takes what fits in 90 %
    of the GPU's free memory."""
    probe = make_trainer(max_epochs=1, limit_train_batches=1, enable_progress_bar=False, enable_model_summary=False)
    if probe.strategy.root_device.type != "cuda" or len(folds) == 1:
        return len(folds)
    peaks = []
    for count in (1, 2):
        copies = [PackedFold(copy.deepcopy(f.dm), copy.deepcopy(f.model)) for f in folds[:count]]
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        train_packed(copies, make_trainer(max_epochs=1, limit_train_batches=1, enable_progress_bar=False))
        peaks.append(torch.cuda.max_memory_allocated() - base)
        del copies
    per_fold = max(1, peaks[1] - peaks[0])
    fixed = max(0, peaks[0] - per_fold)
    free, _ = torch.cuda.mem_get_info()
    fits = int((0.9 * free - fixed) // per_fold)
    log.info(
        "memory model: %.0f MiB + %.0f MiB per fold; %.0f MiB free: %d folds per pack",
        fixed / 2**20,
        per_fold / 2**20,
        free / 2**20,
        fits,
    )
    return max(1, min(len(folds), fits))
