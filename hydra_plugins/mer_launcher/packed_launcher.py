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

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.core.utils import JobReturn, JobStatus, configure_log, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig

if TYPE_CHECKING:
    from hydra.types import HydraContext, TaskFunction

    from hydra_plugins.mer_launcher._packs import SweepJob

log = logging.getLogger(__name__)


class PackedLauncher(Launcher):
    """Trains each pack of a sweep's folds as one network, in this process, one pack after another."""

    def __init__(self, *, folds_per_pack: int | None) -> None:
        """Hydra passes every option of `PackedLauncherConf` (config.py), which holds the defaults."""
        self.folds_per_pack = folds_per_pack
        self.interrupted = False  # Ctrl-C came (`_on_ctrl_c`)
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
        """The sweep: its dir, its configurations, and each one's jobs planned, packed, trained, finished."""
        from hydra_plugins.mer_launcher._packs import SweepJob, configurations
        from hydra_plugins.mer_launcher._progress import sweep_end
        from hydra_plugins.mer_launcher._sweep import job_config, started_sweep_dir
        from mer.errors import MerError

        assert self.config is not None and self.hydra_context is not None
        if self.folds_per_pack is not None and self.folds_per_pack < 1:
            raise MerError(
                f"hydra.launcher.folds_per_pack={self.folds_per_pack}: give a fold count of 1 or more, "
                "or null to let the measured memory model choose"
            )
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = started_sweep_dir(self.config)
        jobs = [
            SweepJob(
                list(o), job_config(self.hydra_context, self.config, list(o), initial_job_idx + i), initial_job_idx + i
            )
            for i, o in enumerate(job_overrides)
        ]
        groups = configurations(jobs)
        log.info("packed launcher: %d jobs of %d configurations", len(jobs), len(groups))
        results: dict[int, JobReturn] = {}
        outcomes: list[str] = []
        previous = signal.signal(signal.SIGINT, self._on_ctrl_c)
        try:
            for n, group in enumerate(groups, 1):
                for job, result, outcome in self._run_configuration(group, f"configuration {n}/{len(groups)}"):
                    results[job.idx] = result
                    outcomes.append(outcome)
                    self._stop_if_interrupted()
        except (KeyboardInterrupt, SystemExit) as stop:  # Lightning exits 1 after a Ctrl-C in fit
            print(
                f"interrupted: {len(results)} of {len(jobs)} jobs ended (the pack in training recorded "
                "nothing); rerun the same command to go on, finished jobs are skipped",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(130) from stop
        finally:
            signal.signal(signal.SIGINT, previous)
        print(sweep_end(outcomes, sweep_dir), flush=True)
        return [results[job.idx] for job in jobs]

    def _on_ctrl_c(self, signum: int, frame) -> None:
        """Ctrl-C: remember it, then raise KeyboardInterrupt as Python does. Python drops an
        exception raised inside a `__del__` (a sheet's ZipFile closing, say), so the sweep also
        stops at its next check (`_stop_if_interrupted`) if this one was swallowed."""
        self.interrupted = True
        signal.default_int_handler(signum, frame)

    def _stop_if_interrupted(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came and was swallowed on its way."""
        if self.interrupted:
            raise KeyboardInterrupt

    def _in_job(self, job: SweepJob, task: TaskFunction) -> JobReturn:
        """Run `task` on the job's config as Hydra runs a job (its dir, `.hydra/`, its log)."""
        return run_job(
            hydra_context=self.hydra_context,
            task_function=task,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def _run_configuration(self, group: list[SweepJob], name: str):
        """Plan each job of one configuration, then train its folds pack by pack (`folds_per_pack`
        at a time, or as many as the measured memory model fits) and finish each pack's jobs;
        yields each job, its return and how it ended."""
        from mer.train.packed import folds_that_fit
        from mer.train.packed_job import FoldPlan, pack_trainer, plan_fold, train_pack

        plans = []
        for job in group:
            planned = self._in_job(job, plan_fold)
            self._stop_if_interrupted()
            ok = planned.status == JobStatus.COMPLETED
            plans.append(planned.return_value if ok else FoldPlan(error=planned._return_value))
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        ready = [i for i, plan in enumerate(plans) if plan.fold is not None]
        skipped = sum(plan.skipped for plan in plans)
        size = 1
        if ready:
            trainer_config = group[ready[0]].config.trainer
            size = self.folds_per_pack or folds_that_fit(
                [plans[i].fold for i in ready], lambda **limits: pack_trainer(trainer_config, **limits)
            )
        packs = [ready[k : k + size] for k in range(0, len(ready), size)]
        failed = len(group) - len(ready) - skipped
        to_train = f"{len(ready)} to train in {len(packs)} pack(s) of up to {size} folds" if ready else "none to train"
        print(
            f"{name}: {len(group)} jobs, {to_train}"
            + (f", {skipped} finished earlier" if skipped else "")
            + (f", {failed} failed before training" if failed else ""),
            flush=True,
        )
        untrained = [i for i, plan in enumerate(plans) if plan.fold is None]  # skipped, or failed: at once
        yield from self._finish(group, plans, untrained, "untrained", {}, time.time())
        for n, pack in enumerate(packs, 1):  # train the pack, then finish its jobs (which frees its folds)
            started = time.time()
            stats = train_pack([plans[i] for i in pack], group[pack[0]].config.trainer, self.config.hydra.sweep.dir)
            self._stop_if_interrupted()
            print(f"{name}, pack{n}: {len(pack)} folds trained in {stats['fit_s']:.1f} s", flush=True)
            yield from self._finish(group, plans, pack, f"pack{n}", stats, started)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

    def _finish(self, group: list[SweepJob], plans: list, indices: list[int], pack: str, stats: dict, started: float):
        """Finish the jobs `indices` of `group` (`mer.train.packed_job.finish_fold` in each job's
        dir, its launcher record), dropping each plan's network and data; yields each job, its
        return and how it ended."""
        from hydra_plugins.mer_launcher._progress import FAILED_JOB, RAN, SKIPPED
        from mer.train.job import run_fold_job
        from mer.train.packed_job import FoldPlan, finish_fold

        for i in indices:
            job, plan = group[i], plans[i]
            finish = partial(finish_fold, plan, stats)
            result = self._in_job(job, lambda cfg, finish=finish: run_fold_job(cfg, finish))
            outcome = SKIPPED if plan.skipped else RAN if result.status == JobStatus.COMPLETED else FAILED_JOB
            record_job(job, result, pack, started, stats.get("packed_folds", 0))
            plans[i] = FoldPlan(skipped=plan.skipped)  # its network and data, no longer held
            yield job, result, outcome


def record_job(job: SweepJob, result: JobReturn, pack: str, started: float, packed_folds: int) -> None:
    """The job's launcher record (`launcher.json`, as `hydra/launcher=gpus` writes one): its pack
    as its slot (`untrained` for a job skipped or failed before training), the pack's start, the
    job's end, 0 or 1 for how it ended, its overrides."""
    from mer.run_dir import LAUNCHER_RECORD

    record = {
        "slot": pack,
        "pid": os.getpid(),
        "start": started,
        "end": time.time(),
        "returncode": 0 if result.status == JobStatus.COMPLETED else 1,
        "overrides": job.overrides,
        "packed_folds": packed_folds,
    }
    job_dir = Path(result.hydra_cfg.hydra.runtime.output_dir)
    (job_dir / LAUNCHER_RECORD).write_text(json.dumps(record, indent=2))
