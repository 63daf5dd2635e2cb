"""One `mer-train` job: one LOSO fold → predictions.csv, metrics.json and the config in the run dir
(the Hydra task; `mer.train.train` checks the command line before this module imports torch)."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.accelerators import CPUAccelerator
from omegaconf import DictConfig, OmegaConf

from mer.atomic import write_atomically
from mer.config import CONFIG_DIR
from mer.errors import MerError, user_error_in, user_facing
from mer.preprocess.cache import FlowCache, load_cache
from mer.preprocess.prepare import prepare
from mer.run_dir import AU_F1, CHECKPOINT, FAILED, METRICS, PREDICTIONS, RUN_CONFIG, score_line
from mer.threads import job_threads
from mer.train.checkpoint import inference_record
from mer.train.datamodule import LosoDataModule
from mer.train.fold_run import check_task_head, fit_and_predict, fold_metrics, make_datamodule, make_model
from mer.train.loggers import close_loggers, first_in_sweep, make_loggers
from mer.train.module import MerModule

log = logging.getLogger(__name__)


class JobFailed(CompactHydraException):
    """A sweep job's failure as its `JobReturn` carries it (status FAILED), on every launcher mer
    ships: Hydra's sweepers and callbacks see that it failed, and Hydra's basic sweeper, which
    raises the first failure once the whole sweep has run, exits 1 with its one line (after
    Hydra's line naming the job's overrides), not a traceback: a compact Hydra error."""

    @classmethod
    def in_dir(cls, job_dir: Path, why: str) -> JobFailed:
        """The failure of the job in `job_dir`: its failed.txt, which holds the rest, and `why`,
        the first line there."""
        return cls(f"{job_dir / FAILED}: {why}")


def quiet_libraries() -> None:
    """Hide per-job chatter that says nothing about the run (Lightning's GPU/TPU probes and tips, a
    torch-version deprecation inside Lightning); Lightning's warnings and errors still show."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")


def fold_cache(cfg: DictConfig) -> FlowCache:
    """The cache `mer-prepare` builds for these `data`/`preprocess` settings (built if missing),
    or the one `cache=PATH` names (checked, with `preprocess.verify=true` also hashed), which must
    match `preprocess.size`."""
    if cfg.get("cache"):
        cache = load_cache(cfg.cache, verify=cfg.preprocess.verify)
        if cache.size != cfg.preprocess.size:
            raise MerError(
                f"cache {cache.path} was built at {cache.size}×{cache.size} but "
                f"preprocess.size={cfg.preprocess.size}: set preprocess.size={cache.size}, "
                "or drop cache= to build the right one"
            )
        return cache
    return prepare(cfg)


def train(cfg: DictConfig, run_dir: Path) -> dict:
    """Train on all subjects but one, predict the held-out one, write the run's files; with
    `tune=nested`, first choose the settings by nested tuning on the training subjects alone."""
    run_dir.mkdir(parents=True, exist_ok=True)
    check_task_head(cfg.task.name, cfg.head.name)
    if cfg.trainer.get("deterministic"):  # cuBLAS needs this to be deterministic on GPUs
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    cache = fold_cache(cfg)
    tuned = None
    if cfg.tune.name == "nested":
        from mer.train.nested import nested_tuning  # Optuna loads only for a tuned job

        tuned = nested_tuning(cfg, cache, run_dir)
        cfg = tuned.config
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = make_datamodule(cfg, cache)
    model = make_model(cfg, dm)
    trainer = fold_trainer(cfg, run_dir, dm)
    log.info(
        "fold %s: test subject %s (%d samples), training on %d samples of %d subjects",
        cfg.data.get("fold"),
        dm.test_subject,
        len(dm.test_index),
        len(dm.train_index),
        len(dm.subjects) - len(dm.test_subjects) - len(dm.val_subjects),
    )
    warn_if_long_on_cpu(trainer, len(dm.train_index), dm.resize.size)
    predictions, timing = fit_and_predict(trainer, model, dm)
    log.info(
        "fold %s: fit %.1f s (%d steps, %.2f ms each), predict %.1f s",
        cfg.data.get("fold"),
        timing["fit_s"],
        timing["train_steps"],
        timing["ms_per_step"],
        timing["predict_s"],
    )
    return finish_run(cfg, run_dir, cache, trainer, model, dm, predictions, timing, tuned)


def fold_trainer(cfg: DictConfig, run_dir: Path, dm: LosoDataModule) -> L.Trainer:
    """The job's Lightning Trainer (`cfg.trainer`), logging into `run_dir` (no validation loop
    without validation subjects)."""
    no_val = {} if len(dm.val_index) else {"limit_val_batches": 0}
    return instantiate(cfg.trainer, logger=make_loggers(cfg, run_dir, dm), default_root_dir=str(run_dir), **no_val)


def finish_run(
    cfg: DictConfig,
    run_dir: Path,
    cache: FlowCache,
    trainer: L.Trainer,
    model: MerModule,
    dm: LosoDataModule,
    predictions: pd.DataFrame,
    timing: dict,
    tuned: Any = None,
) -> dict:
    """A trained fold's files (the `mer.run_dir` contract): predictions.csv, metrics.json, the
    checkpoint if asked, the loggers' test metrics; its metrics."""
    metrics = fold_metrics(predictions, dm)
    metrics.update(
        task=cfg.task.name,
        test_subject=dm.test_subject,
        input=cfg.input.name,
        head=cfg.head.name,
        model=cfg.model.arch,
        n_parameters=model.n_parameters,
        cache=str(cache.path),
        timing=timing,
        **({"tuned": tuned.chosen} if tuned is not None else {}),
    )
    write_run_files(run_dir, predictions, metrics)
    if cfg.get("save_checkpoint"):
        model.inference_record = inference_record(cache, dm, cfg.input.name, model.svm)
        write_atomically(run_dir / CHECKPOINT, trainer.save_checkpoint)
    close_loggers(trainer.loggers, metrics)
    return metrics


#: Seconds a CPU spends on one training sample per epoch at 224², for the warning below: a rough
#: figure from `make bench-train` (a `mer-train` job's time over its samples × epochs, on a CPU);
#: the time scales with the crop's area.
CPU_S_PER_SAMPLE_EPOCH_224 = 0.15
#: A run estimated longer than this on a CPU says so when it starts.
LONG_CPU_RUN_S = 600
#: The sweep-dir file that lets only a sweep's first long job say so.
LONG_RUN_NOTICE = ".long-cpu-run-notice"


def warn_if_long_on_cpu(trainer: L.Trainer, n_train: int, size: int) -> None:
    """One warning line when a full run on a CPU will take more than about 10 minutes: the estimate
    and the quick alternative (in a sweep, its first job only)."""
    limited = trainer.fast_dev_run or trainer.overfit_batches or trainer.limit_train_batches != 1.0
    if not isinstance(trainer.accelerator, CPUAccelerator) or limited or not trainer.max_epochs:
        return
    estimate = n_train * trainer.max_epochs * CPU_S_PER_SAMPLE_EPOCH_224 * (size / 224) ** 2
    if estimate > LONG_CPU_RUN_S and first_in_sweep(LONG_RUN_NOTICE):
        log.warning(
            "this run trains %d samples for %d epochs at %d² on a CPU: about %d minutes (per "
            "job); for a first check use debug=smoke (under a minute), or a GPU (trainer=gpu)",
            n_train,
            trainer.max_epochs,
            size,
            round(estimate / 60),
        )


def write_run_files(run_dir: Path, predictions: pd.DataFrame, metrics: dict) -> None:
    """predictions.csv and metrics.json (the `mer.run_dir` contract), each written atomically."""
    write_atomically(run_dir / PREDICTIONS, lambda tmp: predictions.to_csv(tmp, index=False))
    write_atomically(run_dir / METRICS, lambda tmp: tmp.write_text(json.dumps(metrics, indent=2)))


def finished_with(run_dir: Path, resolved: str) -> bool:
    """Whether this run dir holds a finished job of exactly this config (a rerun then skips it)."""
    done = run_dir / RUN_CONFIG
    return (run_dir / METRICS).is_file() and done.is_file() and done.read_text() == resolved


def recorded_score(run_dir: Path) -> float:
    """The score a finished job wrote to its metrics.json, UF1 (or for action units the mean AU F1):
    what the job returns to Hydra's sweepers."""
    metrics = json.loads((run_dir / METRICS).read_text())
    return float(metrics[AU_F1] if AU_F1 in metrics else metrics["uf1"])


def record_failure(run_dir: Path, err: BaseException) -> str:
    """Leave the error in the job's dir (`failed.txt`): the report lists it, the sweep goes on.
    Returns its first line."""
    cause = user_error_in(err)
    summary = f"{type(cause or err).__name__}: {cause or err}"
    text = f"{summary}\n\n"
    text += "".join(traceback.format_exception(err))
    try:
        (run_dir / FAILED).write_text(text)
    except OSError as write_err:  # a full disk: the error itself still reaches the user
        log.warning("could not record the failure in %s (%s)", run_dir / FAILED, write_err)
    return summary.splitlines()[0]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@user_facing
def hydra_main(cfg: DictConfig) -> float:
    """Entry point of `mer-train` (`-m` for sweeps over folds, inputs, heads, seeds); returns the
    job's UF1 (mean AU F1 for `task=au`) from its metrics.json, which Hydra's sweepers (Optuna's,
    ...) can optimise.

    Resumable: a job whose dir already holds metrics.json for the same resolved config is skipped
    (and returns the score it recorded then).
    Fault-isolated: in a sweep, a failing job leaves `failed.txt`, says so in one line and ends as
    a `JobFailed` (status FAILED for Hydra); the sweep goes on.
    """
    return run_fold_job(cfg, train)


def run_fold_job(cfg: DictConfig, work: Callable[[DictConfig, Path], dict]) -> float:
    """Run a job's `work` (which trains or finishes the fold in the job's dir and returns its
    metrics) as a sweep job runs: skipped if finished with this config, its failure recorded in
    its dir (in a sweep, a `JobFailed`; the sweep goes on), its config recorded once it is done;
    its score."""
    quiet_libraries()
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    resolved = OmegaConf.to_yaml(cfg, resolve=True)
    if finished_with(run_dir, resolved):
        print(f"{run_dir}: skipped: finished earlier with this config", flush=True)
        return recorded_score(run_dir)
    (run_dir / FAILED).unlink(missing_ok=True)
    (run_dir / RUN_CONFIG).unlink(missing_ok=True)
    # Not torch's default of every core: a launcher's share, or the cores this process may use.
    torch.set_num_threads(job_threads(os.environ, hydra_cfg.launcher.get("cpus_per_task")))
    try:
        metrics = work(cfg, run_dir)
    except Exception as err:
        why = record_failure(run_dir, err)
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise
    else:
        write_atomically(run_dir / RUN_CONFIG, lambda tmp: tmp.write_text(resolved))
        print(
            f"{run_dir}: {score_line(metrics)} on {metrics['n']} samples of {metrics['test_subject']}",
            flush=True,
        )
        return recorded_score(run_dir)
    # Raised here, not in the handler: chained to a user's MerError it would be user_facing's
    # exit 2, which would end the whole sweep.
    print(f"{run_dir}: FAILED ({why}); the sweep goes on", file=sys.stderr, flush=True)
    raise JobFailed.in_dir(run_dir, why)
