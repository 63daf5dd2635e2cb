"""The last line of a sweep on Hydra's own launcher (`hydra/launcher=basic`), as mer's launchers
end theirs: `8 jobs: 2 ran, 6 skipped, 0 failed`."""

import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from hydra_plugins.mer_launcher._progress import job_outcome, sweep_summary

BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


class BasicSweepSummary(Callback):
    """A Hydra callback (conf/hydra/default.yaml) counting how each job of a basic-launcher sweep
    ended; the basic launcher runs them in the sweep's own process, one Callback for them all."""

    def __init__(self) -> None:
        self.started = 0.0
        self.outcomes: list[str] = []

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Note when the job starts (a skipped job's metrics.json is older)."""
        self.started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Count how the job ended, if it is one of a basic-launcher sweep."""
        if config.hydra.launcher.get("_target_") == BASIC_LAUNCHER and config.hydra.mode == RunMode.MULTIRUN:
            code = 0 if job_return.status == JobStatus.COMPLETED else 1
            self.outcomes.append(job_outcome(code, Path(config.hydra.runtime.output_dir), self.started))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """The sweep's last line (nothing under mer's launchers, which say it themselves)."""
        if self.outcomes:
            print(sweep_summary(self.outcomes), flush=True)
