"""`hydra/launcher=packed`: the sweep's jobs that differ only in their fold (`data.fold`,
`data.test_subject`) or `seed` train together, in this process, as one batched network
(`mer.train.packed`), `folds_per_pack` at a time.

Each job still gets its own dir, written as a separate `mer-train` job writes it (`.hydra/`,
predictions.csv, metrics.json, run_config.yaml, failed.txt), under Hydra's own `run_job`: a
job's planning and its finishing each run in its config, so `mer-report`, reruns (finished jobs
are left out of their pack) and fault isolation (a fold fails alone) work unchanged. Each comes
back to Hydra as COMPLETED with its score, or FAILED with a `JobFailed`, as on the other launchers.

Hydra's plugin scan imports this module, so it imports mer's training modules only in `launch`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn, JobStatus, configure_log, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, OmegaConf, open_dict

if TYPE_CHECKING:
    from hydra.types import HydraContext, TaskFunction

    from hydra_plugins.mer_launcher._packs import SweepJob

log = logging.getLogger(__name__)


class PackedLauncher(Launcher):
    """Trains each pack of a sweep's folds as one network, in this process, one pack after another."""

    def __init__(self, *, folds_per_pack: int | None) -> None:
        """Hydra passes every option of `PackedLauncherConf` (config.py), which holds the defaults."""
        self.folds_per_pack = folds_per_pack
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep the sweep's config (the task is mer-train's: this launcher runs its steps itself)."""
        self.config, self.hydra_context = config, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, pack by pack, and return when all have ended."""
        from mer.errors import user_facing

        return user_facing(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """The sweep: its dir, its packs, and each pack's jobs planned, trained, finished."""
        from hydra_plugins.mer_launcher._packs import packs_of
        from hydra_plugins.mer_launcher._progress import sweep_end
        from mer.errors import MerError

        assert self.config is not None and self.hydra_context is not None
        if self.folds_per_pack is not None and self.folds_per_pack < 1:
            raise MerError(
                f"hydra.launcher.folds_per_pack={self.folds_per_pack}: give a fold count of 1 or more, "
                "or null to let the measured memory model choose"
            )
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        jobs = [self._job(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
        packs = packs_of(jobs, self.folds_per_pack)
        log.info("packed launcher: %d jobs in %d packs", len(jobs), len(packs))
        results: dict[int, JobReturn] = {}
        outcomes: list[str] = []
        for n, pack in enumerate(packs, 1):
            for job, result, outcome in self._run_pack(pack, n, len(packs), sweep_dir):
                results[job.idx] = result
                outcomes.append(outcome)
        print(sweep_end(outcomes, sweep_dir), flush=True)
        return [results[job.idx] for job in jobs]

    def _job(self, overrides: list[str], idx: int) -> SweepJob:
        """A job's composed config, numbered as Hydra numbers sweep jobs."""
        from hydra_plugins.mer_launcher._packs import SweepJob

        config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(config):
            config.hydra.job.id = f"{idx}"
            config.hydra.job.num = idx
        return SweepJob(overrides, config, idx)

    def _in_job(self, job: SweepJob, task: TaskFunction) -> JobReturn:
        """Run `task` on the job's config as Hydra runs a job (its dir, `.hydra/`, its log)."""
        return run_job(
            hydra_context=self.hydra_context,
            task_function=task,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def _run_pack(self, pack: list[SweepJob], n: int, n_packs: int, sweep_dir: Path):
        """Plan each job, train the pack's folds at once, finish each job; yields each job, its
        return and how it ended."""
        import time

        from hydra_plugins.mer_launcher._progress import FAILED_JOB, RAN, SKIPPED
        from mer.train.job import run_fold_job
        from mer.train.packed_job import FoldPlan, finish_fold, plan_fold, train_pack

        plans = []
        for job in pack:
            planned = self._in_job(job, plan_fold)
            ok = planned.status == JobStatus.COMPLETED
            plans.append(planned.return_value if ok else FoldPlan(error=planned._return_value))
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        ready = [(job, plan) for job, plan in zip(pack, plans) if plan.fold is not None]
        skipped = sum(plan.skipped for plan in plans)
        print(
            f"pack {n}/{n_packs}: {len(ready)} folds train together"
            + (f", {skipped} finished earlier" if skipped else "")
            + (
                f", {len(pack) - len(ready) - skipped} failed before training"
                if len(pack) - len(ready) - skipped
                else ""
            ),
            flush=True,
        )
        started = time.time()
        stats = train_pack([plan for _, plan in ready], ready[0][0].config, sweep_dir) if ready else {}
        for job, plan in zip(pack, plans):
            result = self._in_job(job, lambda cfg, plan=plan: run_fold_job(cfg, partial(finish_fold, plan, stats)))
            outcome = SKIPPED if plan.skipped else RAN if result.status == JobStatus.COMPLETED else FAILED_JOB
            yield job, result, outcome
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        print(f"pack {n}/{n_packs}: done in {time.time() - started:.1f} s", flush=True)
