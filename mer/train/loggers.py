"""Experiment loggers: CSV always; TensorBoard in the run dir; W&B with one run per fold, grouped by
sweep, and one line per run (W&B's own output silenced)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from omegaconf import DictConfig

from mer.run_dir import SWEEP_DIR_ENV, configuration_name, score_line
from mer.tracking import wandb_credentials

#: The file whose creation, by the first job of a sweep, lets only that job give the offline notice.
OFFLINE_NOTICE = ".wandb-offline-notice"


def sweep_dir() -> Path | None:
    """This run's sweep dir (from Hydra in a multirun, from the gpus launcher's `SWEEP_DIR_ENV` in
    a job it started as its own process), or None for a single run."""
    if os.environ.get(SWEEP_DIR_ENV):
        return Path(os.environ[SWEEP_DIR_ENV])
    if HydraConfig.initialized() and HydraConfig.get().mode.name == "MULTIRUN":
        return Path(HydraConfig.get().sweep.dir)
    return None


def sweep_group() -> str:
    """The W&B group of this run: its sweep dir's name, or "single-runs"."""
    sweep = sweep_dir()
    return sweep.name if sweep else "single-runs"


def first_in_sweep(marker: str) -> bool:
    """Whether this job is the first of its sweep to ask (it creates `marker` in the sweep dir;
    jobs in other processes then find it); always true for a single run."""
    sweep = sweep_dir()
    if sweep is None:
        return True
    try:
        sweep.mkdir(parents=True, exist_ok=True)
        (sweep / marker).open("x").close()
    except FileExistsError:
        return False
    return True


def make_loggers(cfg: DictConfig, run_dir: Path, dm) -> list[Logger]:
    """CSV logger in the run dir, plus the configured ones (W&B: group = sweep, name = fold)."""
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    for name, node in (cfg.get("logger") or {}).items():
        if name != "wandb":
            loggers.append(instantiate(node, save_dir=str(run_dir)))
            continue
        import wandb  # here, not above: a second of import for jobs that do not log to W&B

        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
        offline = node.get("offline") or not wandb_credentials()
        if offline and first_in_sweep(OFFLINE_NOTICE):  # one notice per sweep (and per process:
            # Python's warning registry repeats no identical text)
            warnings.warn(
                "W&B: no credentials (WANDB_API_KEY or ~/.netrc), logging offline into each "
                "run dir's wandb/; upload later with `wandb sync <run dir>/wandb/offline-run-*`",
                stacklevel=2,
            )
        wandb_logger = instantiate(
            # mode= reaches wandb.init itself: Lightning's own offline switch is an environment
            # variable that an earlier wandb.setup() in the same process no longer reads.
            node,
            save_dir=str(run_dir),
            offline=offline,
            mode="offline" if offline else "online",
            group=sweep_group(),
            job_type=configuration_name(overrides),
            name=f"fold{cfg.data.get('fold')}-{dm.test_subject}",
            # W&B's header, history and footer for every job drown the sweep: close_loggers prints
            # one line per run instead.
            settings=wandb.Settings(silent=True),
        )
        # Lightning hands wandb.init anonymous=None, which W&B ≥ 0.19 answers on every run with
        # "The anonymous setting has no effect"; leaving it out changes nothing else.
        wandb_logger._wandb_init.pop("anonymous", None)
        loggers.append(wandb_logger)
    return loggers


def close_loggers(loggers: list[Logger], metrics: dict) -> None:
    """Log the fold's test metrics and close every logger (a W&B run per job, even in one process)."""
    for logger in loggers:
        logger.log_metrics({f"test/{k}": v for k, v in metrics.items() if isinstance(v, (int, float))})
        logger.finalize("success")
        if isinstance(logger, WandbLogger):
            import wandb

            run = logger.experiment
            where = f"offline in {run.settings.sync_dir}" if run.settings._offline else run.url
            run.finish()
            print(f"W&B: {run.name}: {score_line(metrics)}, {where}", flush=True)
            # Finish can return before W&B's service has written the run's file (seen after an
            # earlier run had used the same process's service): shut the service down, which
            # waits for it, so the job's files are whole when it ends; the next run starts its own.
            wandb.teardown()


class ProgressBarWithoutVersion(RichProgressBar):
    """Lightning's progress bar without `v_num`, the loggers' versions (W&B's run id), which says
    nothing about the run: the run dir and W&B's own line name it."""

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The bar's metrics, as Lightning's documentation hides the version: all but `v_num`."""
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics
