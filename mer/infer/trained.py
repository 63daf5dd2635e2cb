"""A trained model loaded from its checkpoint, with everything needed to score a new clip."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from sklearn.svm import SVC, LinearSVC

from mer.errors import MerError
from mer.preprocess.cache import CACHE_DTYPE
from mer.preprocess.clip import FlowFn
from mer.train.checkpoint import MER_KEY, read_checkpoint
from mer.train.heads import svm_scores
from mer.train.module import MerModule
from mer.train.normalization import InputNormalization
from mer.train.resize import InputResize
from mer.train.svm_record import svm_from_record

#: Module arguments that change only how training ran, reset for inference on any machine (an
#: older checkpoint's hyperparameters still name its optimiser and schedule: they never run here).
INFERENCE_OVERRIDES = {
    "pretrained": "none",
    "compile": False,
    "channels_last": False,
    "optimizer": None,
    "scheduler": None,
}


@dataclass(frozen=True)
class TrainedModel:
    """The network in eval mode, the resize to its input size and its input normalisation, the svm
    head's fitted SVM (else None), and the checkpoint's mer record."""

    path: Path
    module: MerModule
    resize: InputResize
    normalization: InputNormalization
    record: dict[str, Any]
    svm: LinearSVC | SVC | None

    @property
    def classes(self) -> list[str]:
        """Class names in score order."""
        return list(self.record["classes"])

    @property
    def channels(self) -> list[str]:
        """The input's channels, in the order the network takes them (e.g. ["u", "v"])."""
        return list(self.record["input"]["channels"])

    @property
    def preprocess(self) -> dict[str, Any]:
        """The preprocessing parameters of the training cache."""
        return self.record["preprocess"]

    @property
    def head(self) -> str:
        """The head's name: softmax, hinge, svm, or multilabel (action units)."""
        return self.module.head.name

    @property
    def multilabel(self) -> bool:
        """Whether the model scores action units, each apart (`task=au`), rather than one class."""
        return self.module.head.multilabel

    @cached_property
    def flow_fn(self) -> FlowFn:
        """The flow function (and its settings) the training cache was built with."""
        flow = self.preprocess["flow"]
        try:
            return instantiate(flow)
        except Exception as err:
            raise MerError(
                f"{self.path}: its flow function {flow.get('_target_')!r} cannot be built "
                f"by this mer ({type(err).__name__}); use mer "
                f"{self.record.get('mer_version')} with this checkpoint"
            ) from None

    def inputs(self, channels: dict[str, np.ndarray]) -> torch.Tensor:
        """One clip's channels as the network's raw input [1, C, H, W], rounded to the cache's
        half precision so a clip scores exactly as it would from the cache."""
        stacked = np.stack([channels[name] for name in self.channels]).astype(CACHE_DTYPE)
        return torch.from_numpy(stacked.astype(np.float32))[None]

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> np.ndarray:
        """Class scores [B, n_classes] of raw inputs at the cache's size, as `mer-train` writes them to
        predictions.csv (logits for softmax and for each AU, hinge scores, or the SVM's decision values)."""
        x = self.normalization(self.resize(x))
        if self.svm is not None:
            return svm_scores(self.svm, self.module.features(x).numpy(), len(self.classes))
        return self.module(x).numpy()


def load_trained(path: str | Path, trust: bool = False) -> TrainedModel:
    """Load a `mer-train` checkpoint on the CPU, or one clear error saying what is wrong with it;
    `trust=True` also opens one that only an unsafe load can (`read_checkpoint`)."""
    path = Path(path)
    checkpoint = read_checkpoint(path, trust)
    record = checkpoint[MER_KEY]
    module = MerModule(**{**checkpoint["hyper_parameters"], **INFERENCE_OVERRIDES})
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise MerError(
            f"{path}: its weights do not fit this mer's network ({first}); it was "
            f"written by mer {record.get('mer_version')}: use that version with it"
        ) from None
    module.eval()
    normalization = record["normalization"]
    svm = svm_from_record(record["svm"], str(path)) if record.get("svm") is not None else None
    # Checkpoints from before model.input_size ran at the cache's size: no resize.
    resize = InputResize(
        record["input"]["channels"], int(record["preprocess"]["size"]), module.hparams.get("input_size")
    )
    return TrainedModel(
        path=path,
        module=module,
        resize=resize.eval(),
        record=record,
        svm=svm,
        normalization=InputNormalization(**normalization).eval(),
    )
