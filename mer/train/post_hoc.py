"""The post-hoc head's fit (`head=svm`): a callback hands the module the training fold before prediction."""

from __future__ import annotations

import lightning as L

from mer.errors import MerError


class PostHocFit(L.Callback):
    """Before prediction, fit a post-hoc head on the training fold's features (`MerModule.fit_post_hoc`).

    The fold is the datamodule's `train_tensors()`: every training sample once, whatever sampler the
    training loader uses. The module adds this callback itself (`configure_callbacks`), so it needs
    no datamodule API of its own.
    """

    def on_predict_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        train_tensors = getattr(trainer.datamodule, "train_tensors", None)
        if train_tensors is None:
            raise MerError(
                "head=svm fits its SVM on the training fold before predicting: predict with a datamodule "
                "that has train_tensors() (mer's LosoDataModule)"
            )
        x, y = train_tensors()
        pl_module.fit_post_hoc(x, y)
