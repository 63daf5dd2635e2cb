"""The end of a sweep on Hydra's own launcher (`hydra/launcher=basic`), as mer's launchers end
theirs: `8 jobs: 2 ran, 6 skipped, 0 failed`, the sweep dir, and the `mer-report` command to run
next."""

import time
from itertools import accumulate
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from hydra_plugins.mer_launcher._progress import FAILED_JOB, job_outcome, sweep_end, sweep_summary

BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class BasicSweepSummary(Callback):
    """A Hydra callback (conf/hydra/default.yaml) counting how each job of a basic-launcher sweep
    ended; the basic launcher runs them in the sweep's own process, one Callback for them all.

    Hydra's basic sweeper raises a failed job's error as soon as the batch of jobs it ran in has
    ended, and never calls `on_multirun_end` then: under it, the count is said as each batch's
    last job ends (one batch, the whole sweep, unless `hydra.sweeper.max_batch_size` is set), and
    the sweep's end after the last batch or the first with a failed job."""

    def __init__(self) -> None:
        self.started = 0.0
        self.outcomes: list[str] = []
        self.batch_ends: list[int] = []  # under the basic sweeper: the job count at each batch's end
        self.sweep_dir = Path()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Note the sweep's dir (from the directory the sweep runs in) and, under Hydra's basic
        sweeper and launcher, after which jobs its batches end."""
        self.sweep_dir = Path(config.hydra.sweep.dir).resolve()
        if _is_basic_sweep(config) and config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
            self.batch_ends = basic_batch_ends(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Note when the job starts (a skipped job's metrics.json is older)."""
        self.started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Count how the job ended, if it is one of a basic-launcher sweep; when the basic
        sweeper's batch ends with it, the count so far, or the sweep's end where no batch follows
        (the last, or one with a failed job, whose error the sweeper raises)."""
        if _is_basic_sweep(config):
            code = 0 if job_return.status == JobStatus.COMPLETED else 1
            self.outcomes.append(job_outcome(code, Path(config.hydra.runtime.output_dir), self.started))
            if len(self.outcomes) in self.batch_ends:
                last = len(self.outcomes) == self.batch_ends[-1] or FAILED_JOB in self.outcomes
                print(sweep_end(self.outcomes, self.sweep_dir) if last else sweep_summary(self.outcomes), flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """The sweep's end under another sweeper (nothing under mer's launchers, which say it
        themselves)."""
        if self.outcomes and not self.batch_ends:
            print(sweep_end(self.outcomes, self.sweep_dir), flush=True)


def _is_basic_sweep(config: DictConfig) -> bool:
    """Whether this is a sweep on Hydra's basic launcher."""
    return config.hydra.launcher.get("_target_") == BASIC_LAUNCHER and config.hydra.mode == RunMode.MULTIRUN


def basic_batch_ends(config: DictConfig) -> list[int]:
    """How many of the sweep's jobs have ended as each batch of Hydra's basic sweeper ends: its jobs
    are the command line's sweeps (and `hydra.sweeper.params`) expanded as it expands them."""
    sweeper = config.hydra.sweeper
    params = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    overrides = parser.parse_overrides([*params, *config.hydra.overrides.task])
    return list(accumulate(len(batch) for batch in BasicSweeper.split_arguments(overrides, sweeper.max_batch_size)))
