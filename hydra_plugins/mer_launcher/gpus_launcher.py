"""`hydra/launcher=gpus`: run sweep jobs concurrently, one job per slot, a slot per GPU (or CPU share).

This module is the sweep's story; its parts are the package's `_` modules:
- `_slots`: each slot's environment (`CUDA_VISIBLE_DEVICES`, thread counts), in place before the
  job's process initialises CUDA, so a job claims its slot first; a slot goes to the next job the
  moment its job ends.
- `_starts`: how a job's process starts, `start` = forked (default), warm or exec.
- `_progress`: a line per ended job (done, skipped: finished earlier, or FAILED and why), with
  about how long the rest take, and at the end how the jobs ended, the sweep dir and the
  `mer-report` command to run next.
- `_mps`: with `mps=true` the sweep runs under its own CUDA MPS control daemon, so packed jobs'
  kernels run on a GPU at the same time instead of taking turns.
A job that crashes, even without Python's help (segfault, out-of-memory kill), is recorded in its
dir and the sweep goes on; each job comes back to Hydra as COMPLETED with its UF1, or FAILED with
a `JobFailed`. Ctrl-C starts no more jobs and gives the running ones `stop_grace_s` to end, then
kills those still running.

The options and their defaults are `config.py`'s. Hydra's plugin scan imports this module, so it
imports the sweep's parts (and mer's modules) only in the methods that run a sweep.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from hydra.types import HydraContext, TaskFunction

    from hydra_plugins.mer_launcher._progress import SweepProgress
    from hydra_plugins.mer_launcher._starts import JobStart

log = logging.getLogger(__name__)


class GpusLauncher(Launcher):
    """Runs each sweep job as `<this entry point> <overrides>` in a free slot's environment."""

    def __init__(
        self, *, jobs_per_gpu: int, gpus: list | None, n_jobs: int | None, mps: bool, start: str, stop_grace_s: float
    ) -> None:
        """Hydra passes every option of `GpusLauncherConf` (config.py), which holds the defaults."""
        self.jobs_per_gpu, self.gpus, self.n_jobs, self.mps = jobs_per_gpu, gpus, n_jobs, mps
        self.start, self.stop_grace_s = start, stop_grace_s
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.forkserver = None  # the multiprocessing context jobs (or warm workers) are forked from

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep the sweep's config, and start the server that jobs fork from (with the task's module
        imported) unless each job is a new interpreter."""
        from hydra_plugins.mer_launcher._starts import preloaded_forkserver

        self.config, self.hydra_context = config, hydra_context
        if self.start != "exec":
            self.forkserver = preloaded_forkserver(task_function.__module__)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most one per slot at a time, and return when all have ended."""
        from mer.errors import user_facing

        return user_facing(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """The sweep: its dir, its slots (under MPS if asked), then each job in the first free slot."""
        from concurrent.futures import ThreadPoolExecutor
        from contextlib import closing

        from hydra_plugins.mer_launcher._mps import cuda_mps
        from hydra_plugins.mer_launcher._progress import SweepProgress, sweep_end
        from hydra_plugins.mer_launcher._slots import job_slots
        from hydra_plugins.mer_launcher._starts import job_start
        from hydra_plugins.mer_launcher._sweep import started_sweep_dir
        from mer.errors import MerError

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = started_sweep_dir(self.config)
        start = job_start(self.start, self.forkserver)
        environments = job_slots(self.gpus, self.jobs_per_gpu, self.n_jobs)
        if self.mps and not environments[0]["CUDA_VISIBLE_DEVICES"]:
            raise MerError(
                "hydra.launcher.mps=true shares GPUs between jobs, but no GPU is visible: "
                "drop hydra.launcher.mps (CPU jobs need no MPS)"
            )
        progress = SweepProgress(len(job_overrides), len(environments))
        log.info(
            "gpus launcher: %d jobs on %d slots%s",
            progress.total,
            len(environments),
            " under CUDA MPS" if self.mps else "",
        )
        tune = self.config.get("tune")
        if tune is not None and tune.get("name") == "nested":  # what the sweep costs, before it starts
            from mer.train.search_space import cost_line

            log.info("%s", cost_line(progress.total, tune.trials, tune.inner_folds))
        # Leaving the `with`: the pool's threads end, then the warm workers, then MPS.
        with (
            cuda_mps(self.mps, environments[0]["CUDA_VISIBLE_DEVICES"]) as mps_env,
            closing(start),
            ThreadPoolExecutor(len(environments)) as pool,
        ):
            slots: queue.Queue = queue.Queue()
            for slot in environments:
                slots.put({**slot, **mps_env})
            futures: list[Future] = []
            try:
                # Each job's config is composed here, in one thread (Hydra's config loader is not
                # thread-safe), and the job queued at once: the first jobs run while the rest are
                # composed. The threads only wait for slots and run processes.
                for i, overrides in enumerate(job_overrides):
                    job = self._job_config(list(overrides), initial_job_idx + i, sweep_dir)
                    futures.append(pool.submit(self._run_job, *job, sweep_dir, start, progress, slots))
                results = [f.result() for f in futures]
                print(sweep_end(progress.outcomes, sweep_dir), flush=True)
                return results
            except KeyboardInterrupt:
                self._stop(pool, futures, progress.total, start, mps_env)

    def _stop(
        self, pool: ThreadPoolExecutor, futures: list[Future], total: int, start: JobStart, mps_env: dict[str, str]
    ) -> NoReturn:
        """After Ctrl-C, which reached the running jobs too (one process group): start no more
        jobs (of `total`), let the running ones end, say how to go on, and exit 130."""
        pool.shutdown(wait=False, cancel_futures=True)
        self._let_running_jobs_end(futures, start, mps_env)
        ran = sum(f.done() and not f.cancelled() for f in futures)
        print(
            f"interrupted: {ran} of {total} jobs ran (an interrupted job is recorded as "
            "failed); rerun the same command to go on, finished jobs are skipped",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(130)

    def _let_running_jobs_end(self, futures: list[Future], start: JobStart, mps_env: dict[str, str]) -> None:
        """Wait `stop_grace_s` for the running jobs to end, then (or at a second Ctrl-C) kill the
        ones still running (first dropped by MPS's server, under `mps_env`)."""
        from concurrent.futures import wait

        from hydra_plugins.mer_launcher._mps import mps_terminate_clients

        # The queued jobs' futures, cancelled, are left out: wait() never counts a future
        # cancelled before it started as done, so it would always run to its timeout.
        started = [f for f in futures if not f.cancelled()]
        try:
            wait(started, timeout=self.stop_grace_s)
        except KeyboardInterrupt:
            pass
        if not all(f.done() for f in started):
            print(f"killing {len(start.running)} job(s) still running after Ctrl-C", file=sys.stderr, flush=True)
        while not all(f.done() for f in started):
            stuck = list(start.running.values())
            if mps_env:
                mps_terminate_clients(mps_env, [process.pid for process in stuck])
            for process in stuck:
                process.kill()
            wait(started, timeout=5)  # a job started just now is killed on the next round

    def _job_config(self, overrides: list[str], idx: int, sweep_dir: Path) -> tuple[list[str], DictConfig, int, Path]:
        """A job's composed config, numbered as Hydra numbers sweep jobs, and its dir."""
        from hydra_plugins.mer_launcher._sweep import job_config

        sweep_config = job_config(self.hydra_context, self.config, overrides, idx)
        return overrides, sweep_config, idx, sweep_dir / str(sweep_config.hydra.sweep.subdir)

    def _run_job(
        self,
        overrides: list[str],
        sweep_config: DictConfig,
        idx: int,
        job_dir: Path,
        sweep_dir: Path,
        start: JobStart,
        progress: SweepProgress,
        slots: queue.Queue,
    ) -> JobReturn:
        """Wait for a free slot, run the job in it (as `start` says), give the slot back, record
        how the job ended, and return that to Hydra."""
        from hydra_plugins.mer_launcher._progress import ended_as, job_outcome
        from mer.run_dir import SWEEP_DIR_ENV

        job_dir.mkdir(parents=True, exist_ok=True)
        slot = slots.get()
        started = progress.job_started(idx)
        try:
            env = {**os.environ, **slot, SWEEP_DIR_ENV: str(sweep_dir)}
            argv = [sys.argv[0], *overrides, *self._hydra_overrides(job_dir)]
            pid, code = start.run(slot["MER_SLOT"], argv, env, str(job_dir / "launcher.log"))
        finally:
            ended = time.time()  # before the slot is free: its next job starts after this one ended
            slots.put(slot)
        record_job(
            job_dir,
            {
                "slot": slot["MER_SLOT"],
                "pid": pid,
                "start": started,
                "end": ended,
                "returncode": code,
                "overrides": overrides,
            },
        )
        outcome = job_outcome(code, job_dir, started)
        progress.job_ended(
            idx,
            ended,
            outcome,
            f"[{idx + 1}/{progress.total}] {slot['MER_SLOT']}: {job_dir.name} "
            f"{ended_as(outcome, ended - started, job_dir)}",
        )
        return job_return(overrides, sweep_config, job_dir, outcome, code)

    def _hydra_overrides(self, job_dir: Path) -> list[str]:
        """The child run writes into the job's sweep dir (quoted: names hold `=` and `,`) under
        the sweep's job name."""
        quoted = str(job_dir).replace("\\", "\\\\").replace("'", "\\'")
        return [f"hydra.run.dir='{quoted}'", f"hydra.job.name={self.config.hydra.job.name}"]


def job_return(overrides: list[str], sweep_config: DictConfig, job_dir: Path, outcome: str, code: int) -> JobReturn:
    """What a job that ended as `outcome` (with exit code `code`) returns to Hydra: COMPLETED with
    its score (UF1, or mean AU F1), as `mer-train`'s task returns it, or FAILED with a `JobFailed`, as Hydra's own
    launchers return a task's error."""
    from hydra_plugins.mer_launcher._progress import FAILED_JOB, failure_line
    from mer.train.job import JobFailed, recorded_score  # the task's module: imported already

    result = JobReturn(
        overrides=overrides, cfg=sweep_config, working_dir=str(job_dir), task_name=str(sweep_config.hydra.job.name)
    )
    if outcome == FAILED_JOB:
        result.status = JobStatus.FAILED
        result.return_value = JobFailed.in_dir(job_dir, failure_line(job_dir) or f"exit code {code}")
    else:
        result.status = JobStatus.COMPLETED
        result.return_value = recorded_score(job_dir)
    return result


def record_job(job_dir: Path, record: dict) -> None:
    """Write the job's launcher record and, for a job that died without recording why, its
    failure: the exit code and the last lines of its log."""
    from mer.run_dir import FAILED, LAUNCHER_RECORD

    (job_dir / LAUNCHER_RECORD).write_text(json.dumps(record, indent=2))
    code = record["returncode"]
    if code != 0 and not (job_dir / FAILED).is_file():
        tail = (job_dir / "launcher.log").read_text(errors="replace").splitlines()[-20:]
        (job_dir / FAILED).write_text(f"exit code {code}\n\n" + "\n".join(tail) + "\n")
