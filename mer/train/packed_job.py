"""The jobs of one pack (`hydra/launcher=packed`): each fold planned in its own job dir, the pack
trained at once (`mer.train.packed`), then each fold finished in its job dir as a separate
`mer-train` job finishes (precise BN, prediction, post-hoc SVM, predictions.csv, metrics.json,
curves, checkpoint, the skip-if-finished record), so `mer-report`, reruns and fault isolation work
unchanged. The launcher runs each step under Hydra's `run_job`, in the job's own config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer.errors import MerError
from mer.preprocess.cache import FlowCache
from mer.train.fold_run import check_task_head, make_datamodule, make_model, predict_fold
from mer.train.job import finish_run, finished_with, fold_cache, fold_trainer, quiet_libraries
from mer.train.packed import PackedFold, check_packable, train_packed

log = logging.getLogger(__name__)


class PackedFoldFailed(RuntimeError):
    """A fold that stopped training inside its pack (its loss became NaN): its job fails alone."""


@dataclass
class FoldPlan:
    """A job of the pack as planned in its dir: finished earlier (`skipped`), failed before
    training (`error`), or its fold, ready to train."""

    fold: PackedFold | None = None
    cache: FlowCache | None = None
    skipped: bool = False
    error: BaseException | None = None


def plan_fold(cfg: DictConfig) -> FoldPlan:
    """The job's fold, built as `mer-train` builds it (seeded, so it starts from the weights a
    separate job starts from), unless its dir holds this config's finished run."""
    quiet_libraries()
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    if finished_with(run_dir, OmegaConf.to_yaml(cfg, resolve=True)):
        return FoldPlan(skipped=True)
    check_task_head(cfg.task.name, cfg.head.name)
    if cfg.tune.name != "none":
        raise MerError(
            f"tune={cfg.tune.name} tunes each fold on its own inner folds, which a pack cannot share: "
            "use hydra/launcher=gpus for tuned sweeps"
        )
    cache = fold_cache(cfg)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = make_datamodule(cfg, cache)
    model = make_model(cfg, dm)
    check_packable(model)
    return FoldPlan(fold=PackedFold(dm, model), cache=cache)


def finish_fold(plan: FoldPlan, pack: dict, cfg: DictConfig, run_dir: Path) -> dict:
    """A packed fold's job, once the pack has trained: what a separate job does after its fit, in
    its dir; its metrics (`mer.train.job.run_fold_job` records the rest, or the failure)."""
    if plan.error is not None:
        raise plan.error
    fold = plan.fold
    if fold.failure is not None:
        raise PackedFoldFailed(fold.failure)
    model, dm = fold.model, fold.dm
    trainer = fold_trainer(cfg, run_dir, dm)
    for row in fold.curves:  # the epochs' curves, as the job's own fit would have logged them
        for logger in trainer.loggers:
            logger.log_metrics({k: v for k, v in row.items() if k != "step"}, step=int(row["step"]))
    if model.precise_bn:  # the next epoch of the fold's own loader, as on_train_end draws it
        model.recompute_batchnorm(fold.loader, trainer.precision_plugin.forward_context())
    predictions, predict_s = predict_fold(trainer, model, dm)
    timing = {
        "fit_s": pack["fit_s"],
        "train_steps": fold.steps,
        "ms_per_step": round(1e3 * pack["fit_s"] / max(1, pack["steps"]), 3),
        "predict_s": predict_s,
        "threads": torch.get_num_threads(),
        "packed_folds": pack["packed_folds"],
    }
    log.info("fold %s: trained in a pack of %d, predict %.1f s", cfg.data.get("fold"), pack["packed_folds"], predict_s)
    return finish_run(cfg, run_dir, plan.cache, trainer, model, dm, predictions, timing)


def pack_trainer(trainer: DictConfig, **options) -> L.Trainer:
    """The Trainer a pack trains with: the jobs' own settings (`cfg.trainer`, which a pack's jobs
    share), without loggers, checkpoints or validation (each job logs its curves when it finishes)."""
    settings = {"logger": False, "enable_checkpointing": False, "limit_val_batches": 0, **options}
    return instantiate(trainer, **settings)


def train_pack(plans: list[FoldPlan], trainer: DictConfig, root: str) -> dict:
    """Train the planned folds as one pack with the jobs' Trainer settings; an error here (out of
    memory) is every fold's, each recorded in its dir when its job finishes."""
    try:
        return train_packed([plan.fold for plan in plans], pack_trainer(trainer, default_root_dir=root))
    except Exception as err:
        for plan in plans:
            plan.error = err
        return {"fit_s": 0.0, "packed_folds": len(plans), "steps": 0}
