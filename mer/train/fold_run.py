"""One fold trained and predicted, in memory: the datamodule and the model a config describes, the
fit, the predictions table and its metrics. A `mer-train` job (`mer.train.job`) runs one and writes
its files; nested tuning (`mer.train.nested`) runs one per trial and inner fold, back to back in the
outer job's process, on the cache it loaded once."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer.errors import MerError
from mer.evaluate.au_metrics import PRED_SUFFIX, SCORE_SUFFIX, pooled_au_metrics
from mer.evaluate.metrics import pooled_metrics
from mer.preprocess.cache import FlowCache
from mer.run_dir import SCORE_PREFIX
from mer.train.datamodule import LosoDataModule
from mer.train.module import MerModule


def make_datamodule(cfg: DictConfig, cache: FlowCache, **fold: Any) -> LosoDataModule:
    """The config's datamodule on `cache` (its fold keys replaced by `fold`, e.g. an inner fold's
    `holdout` and `exclude`)."""
    # Partial first, then the call: instantiate would turn the FlowCache dataclass into a config.
    return instantiate(cfg.datamodule, _partial_=True)(cache=cache, channels=list(cfg.input.channels), **fold)


def make_model(cfg: DictConfig, dm: LosoDataModule) -> MerModule:
    """The config's model for `dm`'s channels and classes (AUs for `task=au`), with its class weights."""
    # _convert_="all": plain lists and dicts, so the checkpoint's hyperparameters hold no OmegaConf
    # object and it opens with a weights-only load (mer.train.checkpoint).
    return instantiate(
        cfg.model,
        in_channels=len(dm.channels),
        classes=list(dm.classes),
        head=OmegaConf.to_container(cfg.head, resolve=True),
        class_weights=dm.class_weights,
        seed=cfg.seed,
        _convert_="all",
    )


def fold_metrics(predictions: pd.DataFrame, dm: LosoDataModule) -> dict[str, Any]:
    """A fold's scores: accuracy, UF1 and UAR, or for action units the mean and per-AU F1."""
    if dm.multilabel:
        return pooled_au_metrics(predictions, dm.classes)
    return pooled_metrics(predictions["label"], predictions["pred"], dm.classes)


def predictions_table(dm: LosoDataModule, scores: torch.Tensor, index: torch.Tensor) -> pd.DataFrame:
    """One row per test sample: ids, true and predicted class names, one score column per class
    (or, for action units, `au_predictions_table`'s columns)."""
    if dm.multilabel:
        return au_predictions_table(dm, scores, index)
    rows = dm.samples.iloc[index.cpu().numpy()]
    pred = scores.argmax(dim=1).cpu().numpy()
    table = pd.DataFrame(
        {
            "sample_id": rows["sample_id"].to_numpy(),
            "subject": rows["subject"].to_numpy(),
            "label": rows["label"].to_numpy(),
            "pred": np.asarray(dm.classes)[pred],
        }
    )
    for c, name in enumerate(dm.classes):
        table[f"{SCORE_PREFIX}{name}"] = scores[:, c].cpu().numpy()
    return table


def au_predictions_table(dm: LosoDataModule, scores: torch.Tensor, index: torch.Tensor) -> pd.DataFrame:
    """One row per test sample: sample_id, subject, then per AU `AU<n>` (truth 0/1), `AU<n>_pred`
    (0/1: its logit above 0) and `AU<n>_score` (the logit)."""
    rows = index.cpu().numpy()
    logits = scores.cpu().numpy()
    table = pd.DataFrame(
        {
            "sample_id": dm.samples["sample_id"].to_numpy()[rows],
            "subject": dm.samples["subject"].to_numpy()[rows],
        }
    )
    for j, name in enumerate(dm.classes):
        table[name] = dm.targets[rows, j].astype(int)
        table[f"{name}{PRED_SUFFIX}"] = (logits[:, j] > 0).astype(int)
        table[f"{name}{SCORE_SUFFIX}"] = logits[:, j]
    return table


def check_task_head(task: str, head: str) -> None:
    """Refuse a head that does not score the task's targets, in one line naming both keys."""
    multilabel = head == "multilabel"
    if task == "au" and not multilabel:
        raise MerError(f"task=au predicts several action units per clip: use head=multilabel, not head={head}")
    if task != "au" and multilabel:
        raise MerError(f"head=multilabel scores action units: add task=au, or choose another head for task={task}")


def fit_and_predict(trainer: L.Trainer, model: L.LightningModule, dm: LosoDataModule) -> tuple[pd.DataFrame, dict]:
    """Fit on the training fold, predict the test subject: its predictions table and the timing
    that goes into metrics.json (fit and predict seconds, steps, ms per step, CPU threads)."""
    started = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    fit_s = time.perf_counter() - started
    predictions, predict_s = predict_fold(trainer, model, dm)
    timing = {
        "fit_s": round(fit_s, 3),
        "train_steps": trainer.global_step,
        "ms_per_step": round(1e3 * fit_s / max(1, trainer.global_step), 3),
        "predict_s": predict_s,
        "threads": torch.get_num_threads(),
    }
    return predictions, timing


def predict_fold(trainer: L.Trainer, model: L.LightningModule, dm: LosoDataModule) -> tuple[pd.DataFrame, float]:
    """The test subject's predictions table from the trained `model`, and the seconds it took."""
    started = time.perf_counter()
    batches = trainer.predict(model, datamodule=dm)
    scores = torch.cat([s for s, _ in batches])
    index = torch.cat([i for _, i in batches])
    return predictions_table(dm, scores, index), round(time.perf_counter() - started, 3)
