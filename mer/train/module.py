"""The LightningModule: MobileNetV2 trunk + a swappable head (softmax, hinge, post-hoc SVM)."""

from __future__ import annotations

from typing import Any, Sequence

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from mer.errors import MerError
from mer.train.backbone import mobilenet_v2_features
from mer.train.checkpoint import MER_KEY
from mer.train.cuda_graph import GraphedTraining
from mer.train.heads import fit_svm, head_loss, svm_scores

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


class MerModule(L.LightningModule):
    """MobileNetV2 on flow (or apex) images with the head the `head` config names."""

    def __init__(
        self,
        in_channels: int,
        classes: Sequence[str],
        head: dict[str, Any],
        width_mult: float = 1.0,
        dropout: float = 0.2,
        pretrained: str = "none",
        optimizer: dict[str, Any] | None = None,
        scheduler: str = "none",
        precise_bn: bool = True,
        channels_last: bool = False,
        compile: bool = False,
        cuda_graph: bool = False,
        class_weights: Sequence[float] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.classes = tuple(classes)
        self.head_cfg = dict(head)
        self.trunk, width = mobilenet_v2_features(in_channels, width_mult, pretrained)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, len(self.classes)))
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.loss = head_loss(
            self.head_cfg["name"], weights, p=self.head_cfg.get("p", 1),
            margin=self.head_cfg.get("margin", 1.0),
            label_smoothing=self.head_cfg.get("label_smoothing", 0.0),
        )
        self.optimizer_cfg = dict(optimizer or {"name": "adam", "lr": 1e-4, "weight_decay": 1e-3})
        self.scheduler = scheduler
        self.precise_bn = precise_bn
        self.channels_last, self.compile_trunk = channels_last, compile
        self.cuda_graph = cuda_graph
        self._graphs: dict[tuple[int, ...], GraphedTraining] = {}  # by batch shape
        if channels_last:  # NHWC: faster convolutions under bf16 on tensor cores
            self.to(memory_format=torch.channels_last)
        # validate_args=False: the checks read tensors back to the host, a GPU sync every step.
        self.train_acc = MulticlassAccuracy(len(self.classes), average="micro", validate_args=False)
        self.val_acc = MulticlassAccuracy(len(self.classes), average="micro", validate_args=False)
        self.svm = None  # the post-hoc SVM, fitted at the start of prediction
        #: What prediction needs beside the weights (`mer.train.checkpoint`); mer-train sets it
        #: before saving, and `on_save_checkpoint` stores it in the checkpoint.
        self.inference_record: dict[str, Any] | None = None

    def configure_model(self) -> None:
        """Optionally torch.compile the trunk, in place (state-dict keys stay as they are)."""
        if self.compile_trunk and not getattr(self, "_compiled", False):
            self.trunk.compile()
            self._compiled = True

    def on_fit_start(self) -> None:
        """Refuse `model.cuda_graph=true` with `model.compile` or off a CUDA device, in one line."""
        if self.cuda_graph and self.compile_trunk:
            raise MerError("model.compile=true and model.cuda_graph=true: choose one "
                           "(cuda_graph replays the eager network; compile traces it)")
        if self.cuda_graph and self.device.type != "cuda":
            raise MerError(f"model.cuda_graph=true needs a CUDA GPU, but training runs on "
                           f"{self.device.type}: add trainer=gpu, or set model.cuda_graph=false")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits or hinge scores) of a batch [B, C, H, W]."""
        return self.classifier(self.features(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 1280-d penultimate features the post-hoc SVM is fitted on."""
        return self.trunk(self._layout(x))

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """The input in the network's memory format (NHWC with `channels_last`)."""
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
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        """Inner validation on training-fold subjects (never the test subject)."""
        x, y, _ = batch
        scores = self(x)
        self.val_acc(scores, y)
        self.log("val/loss", self.loss(scores, y), batch_size=len(y))
        self.log("val/acc", self.val_acc, batch_size=len(y))

    def on_train_end(self) -> None:
        """Precise BN (Wu & Johnson 2021): recompute BatchNorm statistics over the training fold.

        On MER's tiny training folds the running averages lag behind the weights, and eval-mode
        predictions suffer; an exact average over the training batches fixes that, using no test data.
        """
        if not self.precise_bn:
            return
        norms = [m for m in self.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the batches below
        self.train()
        # Under the training precision (bf16 autocast on a GPU): the statistics of the activations
        # the network trained and predicts with, and no second set of float32 kernels to set up.
        with torch.no_grad(), self.trainer.precision_plugin.forward_context():
            for x, _, _ in self.trainer.datamodule.train_dataloader():
                self.features(x.to(self.device))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the inference record, so the checkpoint alone can predict (`mer-predict`)."""
        if self.inference_record is not None:
            checkpoint[MER_KEY] = self.inference_record

    def on_predict_start(self) -> None:
        """For the svm head, fit scikit-learn's SVM on the training fold's features first."""
        if self.head_cfg["name"] != "svm":
            return
        x, y = self.trainer.datamodule.train_tensors()
        feats = self._features_of(x)
        self.svm = fit_svm(feats, y.cpu().numpy(), kernel=self.head_cfg.get("kernel", "linear"),
                           C=self.head_cfg.get("C", 1.0),
                           class_weight=self.head_cfg.get("class_weight"),
                           seed=self.hparams.seed)

    def predict_step(self, batch, batch_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores [B, n_classes] and sample indices of a test batch."""
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
            out = [self.features(x[i:i + batch].to(self.device)).float().cpu()
                   for i in range(0, len(x), batch)]
        self.train(was_training)
        return torch.cat(out).numpy()

    def configure_optimizers(self):
        """The configured optimiser; for the hinge head the classifier's weight decay is the SVM's 1/C."""
        cfg = dict(self.optimizer_cfg)
        name = cfg.pop("name", "adam")
        if name not in OPTIMIZERS:
            raise MerError(f"model.optimizer.name={name!r}: choose one of {sorted(OPTIMIZERS)}")
        groups = [{"params": self.trunk.parameters()}]
        head_decay = self.head_cfg.get("weight_decay")
        if self.head_cfg["name"] == "hinge" and head_decay is not None:
            groups.append({"params": self.classifier.parameters(), "weight_decay": head_decay})
        else:
            groups[0]["params"] = list(self.trunk.parameters()) + list(self.classifier.parameters())
        if name != "sgd" and self.device.type == "cuda":
            cfg.setdefault("fused", True)  # the whole update in a few kernels, not several per tensor
        optimizer = OPTIMIZERS[name](groups, **cfg)
        if self.scheduler == "none":
            return optimizer
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        if self.scheduler == "cosine":
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
        elif self.scheduler == "onecycle":
            schedule = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=steps)
        else:
            raise MerError(f"model.scheduler={self.scheduler!r}: use none, cosine or onecycle")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
