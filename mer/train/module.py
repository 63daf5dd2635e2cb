"""The LightningModule: a trunk (`model.arch`: MobileNetV2, STSTNet, OFF-ApexNet, ResNet-18) + a
swappable head (softmax, hinge, post-hoc SVM)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import RichProgressBar
from torch import nn
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MultilabelF1Score

from mer.errors import MerError
from mer.train.backbone import make_trunk
from mer.train.checkpoint import MER_KEY
from mer.train.cuda_graph import GraphedTraining
from mer.train.heads import make_head, svm_scores
from mer.train.loggers import ProgressBarWithoutVersion
from mer.train.post_hoc import PostHocFit

#: `model.optimizer`: the optimiser without its parameters (a Hydra partial, conf/model/optimizer/).
OptimizerFactory = Callable[..., torch.optim.Optimizer]
#: `model.scheduler`: a schedule given the optimiser and the run's step count (`mer.train.schedules`).
SchedulerFactory = Callable[[torch.optim.Optimizer, int], torch.optim.lr_scheduler.LRScheduler]


class MerModule(L.LightningModule):
    """The `model.arch` trunk on flow (or apex) images, the head the `head` config names, the
    configured steps."""

    def __init__(
        self,
        in_channels: int,
        classes: Sequence[str],
        head: dict[str, Any],
        arch: str = "mobilenetv2",
        input_size: int | None = None,
        width_mult: float = 1.0,
        dropout: float = 0.2,
        pretrained: str = "none",
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        precise_bn: bool = True,
        channels_last: bool = False,
        compile: bool = False,
        cuda_graph: bool = False,
        class_weights: Sequence[float] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        # The optimiser and schedule only train: a checkpoint's hyperparameters stay plain data.
        # input_size (the side the datamodule resizes the cached maps to; None: the cache's own) is
        # not used here: it is kept in the hyperparameters, so a checkpoint's user resizes alike.
        self.save_hyperparameters(ignore=["optimizer", "scheduler"])
        self.classes = tuple(classes)
        self.head = make_head(head)
        self.trunk, width = make_trunk(arch, in_channels, pretrained, width_mult)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, len(self.classes)))
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.loss = self.head.loss(weights)
        self.optimizer, self.scheduler = optimizer, scheduler
        self.precise_bn = precise_bn
        self.channels_last, self.compile_trunk = channels_last, compile
        self.cuda_graph = cuda_graph
        self._graphs: dict[tuple[int, ...], GraphedTraining] = {}  # by batch shape
        if channels_last:  # NHWC: faster convolutions under bf16 on tensor cores
            self.to(memory_format=torch.channels_last)
        self.train_acc, self.val_acc = self._training_metric(), self._training_metric()
        self.svm = None  # the post-hoc SVM, fitted at the start of prediction
        #: What prediction needs beside the weights (`mer.train.checkpoint`); mer-train sets it
        #: before saving, and `on_save_checkpoint` stores it in the checkpoint.
        self.inference_record: dict[str, Any] | None = None

    def _training_metric(self) -> Metric:
        """What the progress bar and curves show: accuracy of one class per clip, or the mean F1
        over AUs of a multi-label head (validate_args=False: the checks would sync a GPU each step)."""
        if self.head.multilabel:
            return MultilabelF1Score(len(self.classes), average="macro", validate_args=False)
        return MulticlassAccuracy(len(self.classes), average="micro", validate_args=False)

    @property
    def metric_name(self) -> str:
        """How the curves name `_training_metric`: `acc`, or `au_f1` for action units."""
        return "au_f1" if self.head.multilabel else "acc"

    @property
    def n_parameters(self) -> int:
        """The network's parameter count: trunk and classifier (the methods table reports it)."""
        return sum(p.numel() for p in (*self.trunk.parameters(), *self.classifier.parameters()))

    def configure_model(self) -> None:
        """Optionally torch.compile the trunk, in place (state-dict keys stay as they are)."""
        if self.compile_trunk and not getattr(self, "_compiled", False):
            self.trunk.compile()
            self._compiled = True

    def on_fit_start(self) -> None:
        """Refuse `model.cuda_graph=true` with `model.compile` or off a CUDA device, in one line."""
        if self.cuda_graph and self.compile_trunk:
            raise MerError(
                "model.compile=true and model.cuda_graph=true: choose one "
                "(cuda_graph replays the eager network; compile traces it)"
            )
        if self.cuda_graph and self.device.type != "cuda":
            raise MerError(
                f"model.cuda_graph=true needs a CUDA GPU, but training runs on "
                f"{self.device.type}: add trainer=gpu, or set model.cuda_graph=false"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits or hinge scores) of a batch [B, C, H, W]."""
        return self.classifier(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk's feature layer (MobileNetV2's 1280-d pool, `mer.train.backbone` names each
        model's), which the classifier and the post-hoc SVM read."""
        return self.trunk(self._layout(x))

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """The input in the network's dtype (float64 under `trainer.precision=64-true`, whose plugin
        leaves the batches precise BN and the SVM read as they are) and memory format (NHWC with
        `channels_last`)."""
        x = x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _training_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of a training batch: eager, or replayed from CUDA graphs (`cuda_graph`).

        A graph is captured for each batch shape the first time it comes, at most two: a fold's
        full batches and its last, smaller one.
        """
        if not self.cuda_graph:
            return self(x)
        x = self._layout(x)
        shape = tuple(x.shape)
        if shape not in self._graphs and len(self._graphs) < 2:
            self._graphs[shape] = GraphedTraining(nn.Sequential(self.trunk, self.classifier), x)
        return self._graphs[shape](x) if shape in self._graphs else self(x)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y, _ = batch
        scores = self._training_scores(x)
        loss = self.loss(scores, y)
        self.train_acc(scores, y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log(f"train/{self.metric_name}", self.train_acc, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        """Inner validation on training-fold subjects (never the test subject)."""
        x, y, _ = batch
        scores = self(x)
        self.val_acc(scores, y)
        self.log("val/loss", self.loss(scores, y), batch_size=len(y))
        self.log(f"val/{self.metric_name}", self.val_acc, batch_size=len(y))

    def on_train_end(self) -> None:
        """Precise BN (Wu & Johnson 2021): recompute BatchNorm statistics over the training fold.

        On MER's tiny training folds the running averages lag behind the weights, and eval-mode
        predictions suffer; an exact average over the training batches fixes that, using no test data.
        """
        if self.precise_bn:
            self.recompute_batchnorm(self.trainer.train_dataloader, self.trainer.precision_plugin.forward_context())

    def recompute_batchnorm(self, batches: Iterable, precision: AbstractContextManager) -> None:
        """Reset every BatchNorm's statistics to their exact average over `batches` (x, y, index)
        of the training fold, under the training `precision` (a packed fold does this alone too)."""
        norms = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        self.train()
        # Under the training precision (bf16 autocast on a GPU): the statistics of the activations
        # the network trained and predicts with, and no second set of float32 kernels to set up.
        with torch.no_grad(), precision:
            for x, _, _ in batches:
                self.features(x.to(self.device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the inference record, so the checkpoint alone can predict (`mer-predict`)."""
        if self.inference_record is not None:
            checkpoint[MER_KEY] = self.inference_record

    def configure_callbacks(self) -> list[L.Callback]:
        """A post-hoc head (svm) is fitted on the training fold before prediction (`PostHocFit`);
        a plain `RichProgressBar`, the bar Lightning gives `trainer.enable_progress_bar`, becomes
        one without `v_num` (`ProgressBarWithoutVersion`)."""
        callbacks: list[L.Callback] = [PostHocFit()] if self.head.post_hoc else []
        if type(self.trainer.progress_bar_callback) is RichProgressBar:
            callbacks.append(ProgressBarWithoutVersion())
        return callbacks

    def fit_post_hoc(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fit the post-hoc head's classifier on the training fold's features (eval mode)."""
        self.svm = self.head.fit(self._features_of(x), y.cpu().numpy(), seed=self.hparams.seed)

    def predict_step(self, batch, batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores [B, n_classes] (logits per AU for a multi-label head) and sample indices of a test batch."""
        x, _, index = batch
        if self.svm is not None:
            scores = svm_scores(self.svm, self.features(x).float().cpu().numpy(), len(self.classes))
            return torch.from_numpy(scores), index
        return self(x).float(), index

    @torch.no_grad()
    def _features_of(self, x: torch.Tensor, batch: int = 256) -> np.ndarray:
        """Features of a whole tensor, in eval mode, batch by batch, at the precision the test
        features get in `predict_step` (so the SVM is fitted on features like those it scores)."""
        was_training = self.training
        self.eval()
        with self.trainer.precision_plugin.forward_context():
            out = [self.features(x[i : i + batch].to(self.device)).float().cpu() for i in range(0, len(x), batch)]
        self.train(was_training)
        return torch.cat(out).numpy()

    def configure_optimizers(self):
        """The configured optimiser and schedule over the run's steps (`make_optimizer`)."""
        optimizer, schedule = self.make_optimizer(max(1, int(self.trainer.estimated_stepping_batches)))
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def make_optimizer(
        self, total_steps: int
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
        """The configured optimiser over the head's parameter groups (the hinge head's classifier
        decays by its own weight decay, the SVM's 1/C), and the schedule over `total_steps`
        optimiser steps, stepped per batch (None for a constant lr)."""
        if self.optimizer is None:
            raise MerError("this MerModule has no optimiser: pass optimizer= (model/optimizer=adam)")
        fused = {}
        kind = getattr(self.optimizer, "func", self.optimizer)  # the class behind the partial
        if self.device.type == "cuda" and "fused" in inspect.signature(kind).parameters:
            fused = {"fused": True}  # the whole update in a few kernels, not several per tensor
        optimizer = self.optimizer(self.head.param_groups(self.trunk, self.classifier), **fused)
        return optimizer, None if self.scheduler is None else self.scheduler(optimizer, total_steps)
