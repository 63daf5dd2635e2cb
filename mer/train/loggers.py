"""Experiment loggers: CSV always; W&B with one run per fold, grouped by sweep."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig

from mer.runs import configuration_name
from mer.tracking import wandb_credentials

log = logging.getLogger(__name__)
_said_offline = False


def make_loggers(cfg: DictConfig, run_dir: Path, dm) -> list[Logger]:
    """CSV logger in the run dir, plus the configured ones (W&B: group = sweep, name = fold)."""
    global _said_offline
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    for name, node in (cfg.get("logger") or {}).items():
        if name != "wandb":
            loggers.append(instantiate(node, save_dir=str(run_dir)))
            continue
        overrides, group = [], "single-runs"
        if HydraConfig.initialized():
            hydra_cfg = HydraConfig.get()
            overrides = list(hydra_cfg.overrides.task)
            if hydra_cfg.mode.name == "MULTIRUN":
                group = Path(hydra_cfg.sweep.dir).name
        if os.environ.get("MER_SWEEP_DIR"):  # a job the gpus launcher started as its own process
            group = Path(os.environ["MER_SWEEP_DIR"]).name
        offline = node.get("offline") or not wandb_credentials()
        if offline and not _said_offline:
            log.warning("W&B: no credentials (WANDB_API_KEY or ~/.netrc), logging offline under "
                        "%s/wandb; upload later with `wandb sync <run dir>/wandb/offline-run-*`",
                        run_dir)
            _said_offline = True
        loggers.append(instantiate(
            # mode= reaches wandb.init itself: Lightning's own offline switch is an environment
            # variable that an earlier wandb.setup() in the same process no longer reads.
            node, save_dir=str(run_dir), offline=offline, mode="offline" if offline else "online",
            group=group,
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
