"""`hydra/launcher=gpus`: run sweep jobs concurrently, one job per slot, a slot per GPU (or CPU share).

This module is the sweep's story; its parts are the package's `_` modules:
- `_slots`: each slot's environment (`CUDA_VISIBLE_DEVICES`, thread counts), in place before the
  job's process initialises CUDA, so a job claims its slot first; a slot goes to the next job the
  moment its job ends.
- `_starts`: how a job's process starts, `start` = forked (default), warm or exec.
- `_progress`: a line per ended job (done, skipped: finished earlier, or FAILED and why), with
  about how long the rest take, and a last line counting how the jobs ended.
- `_mps`: with `mps=true` the sweep runs under its own CUDA MPS control daemon, so packed jobs'
  kernels run on a GPU at the same time instead of taking turns.
A job that crashes, even without Python's help (segfault, out-of-memory kill), is recorded in its
dir and the sweep goes on. Ctrl-C starts no more jobs and gives the running ones `stop_grace_s` to
end, then kills those still running.
"""

import json
import logging
import os
import queue
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.mer_launcher._mps import cuda_mps, mps_terminate_clients
from hydra_plugins.mer_launcher._progress import SweepProgress, ended_as, job_outcome, sweep_summary
from hydra_plugins.mer_launcher._slots import job_slots
from hydra_plugins.mer_launcher._starts import JobStart, job_start, preloaded_forkserver

# hydra/launcher=submitit_local's class (conf/hydra/launcher/submitit_local.yaml): Hydra's plugin
# scan registers it from this module's names.
from hydra_plugins.mer_launcher._submitit_local import SayingLocalLauncher  # noqa: F401
from mer.errors import MerError, user_facing
from mer.run_dir import FAILED, LAUNCHER_RECORD, SWEEP_DIR_ENV

log = logging.getLogger(__name__)


@dataclass
class GpusLauncherConf:
    """Options of `hydra/launcher=gpus` (`hydra.launcher.jobs_per_gpu=2` etc.)."""

    _target_: str = "hydra_plugins.mer_launcher.gpus_launcher.GpusLauncher"
    jobs_per_gpu: int = 1  # jobs packed on one GPU (small jobs leave a GPU idle between steps)
    gpus: list | None = None  # GPU indices to use; None = all that torch sees
    n_jobs: int | None = None  # without GPUs: concurrent CPU jobs; None = 2 (or 1 on one core)
    mps: bool = False  # run packed GPU jobs under CUDA MPS, so their kernels overlap on the GPU
    # forked: a fresh process per job, forked from a preloaded server | warm: one long-lived
    # process per slot runs its jobs one after another | exec: a new interpreter per job
    start: str = "forked"
    # after Ctrl-C, seconds the running jobs get to end before they are killed (a job stuck in a
    # GPU call, or one that ignores the signal, would otherwise hold the sweep open); a second
    # Ctrl-C kills them at once
    stop_grace_s: float = 30.0


ConfigStore.instance().store(group="hydra/launcher", name="gpus", node=GpusLauncherConf, provider="mer")


class GpusLauncher(Launcher):
    """Runs each sweep job as `<this entry point> <overrides>` in a free slot's environment."""

    def __init__(
        self,
        jobs_per_gpu: int = 1,
        gpus: list | None = None,
        n_jobs: int | None = None,
        mps: bool = False,
        start: str = "forked",
        stop_grace_s: float = 30.0,
    ) -> None:
        self.jobs_per_gpu, self.gpus, self.n_jobs, self.mps = jobs_per_gpu, gpus, n_jobs, mps
        self.start, self.stop_grace_s = start, stop_grace_s
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.forkserver = None  # the multiprocessing context jobs (or warm workers) are forked from

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        if self.start != "exec":
            self.forkserver = preloaded_forkserver(task_function.__module__)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most one per slot at a time, and return when all have ended."""
        return user_facing(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """The sweep: its dir, its slots (under MPS if asked), then each job in the first free slot."""
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
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
                print(sweep_summary(progress.outcomes), flush=True)
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
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{idx}"
            sweep_config.hydra.job.num = idx
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
        """Wait for a free slot, run the job in it (as `start` says), give the slot back, and
        record how the job ended."""
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
        result = JobReturn(
            overrides=overrides, cfg=sweep_config, working_dir=str(job_dir), task_name=str(sweep_config.hydra.job.name)
        )
        result.status = JobStatus.COMPLETED
        result._return_value = code
        return result

    def _hydra_overrides(self, job_dir: Path) -> list[str]:
        """The child run writes into the job's sweep dir (quoted: names hold `=` and `,`) under
        the sweep's job name."""
        quoted = str(job_dir).replace("\\", "\\\\").replace("'", "\\'")
        return [f"hydra.run.dir='{quoted}'", f"hydra.job.name={self.config.hydra.job.name}"]


def record_job(job_dir: Path, record: dict) -> None:
    """Write the job's launcher record and, for a job that died without recording why, its
    failure: the exit code and the last lines of its log."""
    (job_dir / LAUNCHER_RECORD).write_text(json.dumps(record, indent=2))
    code = record["returncode"]
    if code != 0 and not (job_dir / FAILED).is_file():
        tail = (job_dir / "launcher.log").read_text(errors="replace").splitlines()[-20:]
        (job_dir / FAILED).write_text(f"exit code {code}\n\n" + "\n".join(tail) + "\n")
