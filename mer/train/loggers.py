"""Experiment loggers: CSV always; W&B with one run per fold, grouped by sweep."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig

from mer.runs import SWEEP_DIR_ENV, configuration_name
from mer.tracking import wandb_credentials


def sweep_group() -> str:
    """The W&B group of this run: its sweep dir's name (from Hydra in a multirun, from the gpus
    launcher's `SWEEP_DIR_ENV` in a job it started as its own process), or "single-runs"."""
    if os.environ.get(SWEEP_DIR_ENV):
        return Path(os.environ[SWEEP_DIR_ENV]).name
    if HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN":
        return Path(HydraConfig.get().sweep.dir).name
    return "single-runs"


def make_loggers(cfg: DictConfig, run_dir: Path, dm) -> list[Logger]:
    """CSV logger in the run dir, plus the configured ones (W&B: group = sweep, name = fold)."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    for name, node in (cfg.get("logger") or {}).items():
        if name != "wandb":
            loggers.append(instantiate(node, save_dir=str(run_dir)))
            continue
        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
        offline = node.get("offline") or not wandb_credentials()
        if offline:  # one warning per process: Python's warning registry repeats no identical text
            warnings.warn("W&B: no credentials (WANDB_API_KEY or ~/.netrc), logging offline into each "
                          "run dir's wandb/; upload later with `wandb sync <run dir>/wandb/offline-run-*`",
                          stacklevel=2)
        loggers.append(instantiate(
            # mode= reaches wandb.init itself: Lightning's own offline switch is an environment
            # variable that an earlier wandb.setup() in the same process no longer reads.
            node, save_dir=str(run_dir), offline=offline, mode="offline" if offline else "online",
            group=sweep_group(),
            job_type=configuration_name(overrides),
            name=f"fold{cfg.data.get('fold')}-{dm.test_subject}",
        ))
    return loggers


def close_loggers(loggers: list[Logger], metrics: dict) -> None:
    """Log the fold's test metrics and close every logger (a W&B run per job, even in one process)."""
    for logger in loggers:
        logger.log_metrics({f"test/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})
        logger.finalize("success")
        if isinstance(logger, WandbLogger):
            import wandb

            logger.experiment.finish()
            # Finish can return before W&B's service has written the run's file (seen after an
            # earlier run had used the same process's service): shut the service down, which
            # waits for it, so the job's files are whole when it ends; the next run starts its own.
            wandb.teardown()
