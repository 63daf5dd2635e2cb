"""`hydra/launcher=gpus`: run sweep jobs concurrently, one job per slot, a slot per GPU (or CPU share).

Each slot's environment (`CUDA_VISIBLE_DEVICES`, thread counts) is in place before the job's
process initialises CUDA, so a job claims its slot first; a slot goes to the next job the moment
its job ends. How a job's process starts is `start`:
- `forked` (default): a fresh process per job, forked from a server that has imported the app once,
  so a job skips the interpreter start and the imports of torch and Lightning (seconds each).
- `warm`: one long-lived process per slot runs the slot's jobs one after another, so CUDA's context
  and cuDNN's per-shape kernel set-up (many seconds per process on a GPU) outlive a job. Global
  torch flags and the environment are reset before each job, and a worker whose job failed is
  replaced, so a failure cannot leak into the next job.
- `exec`: a new interpreter per job.
A job that crashes, even without Python's help (segfault, out-of-memory kill), is recorded in its
dir and the sweep goes on. Ctrl-C starts no more jobs and gives the running ones `stop_grace_s` to
end, then kills those still running. With `mps=true` the sweep runs under its own CUDA MPS control
daemon, so packed jobs' kernels run on a GPU at the same time instead of taking turns (separate
processes otherwise time-slice a GPU).
"""


import gc
import json
import logging
import multiprocessing
import os
import queue
import runpy
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from mer.errors import MerError, user_facing
from mer.runs import FAILED, LAUNCHER_RECORD, METRICS

log = logging.getLogger(__name__)
STARTS = ("forked", "warm", "exec")
MPS_CONTROL = "nvidia-cuda-mps-control"


@dataclass
class GpusLauncherConf:
    """Options of `hydra/launcher=gpus` (`hydra.launcher.jobs_per_gpu=2` etc.)."""

    _target_: str = "hydra_plugins.mer_launcher.gpus_launcher.GpusLauncher"
    jobs_per_gpu: int = 1  # jobs packed on one GPU (small jobs leave a GPU idle between steps)
    gpus: Optional[list] = None  # GPU indices to use; None = all that torch sees
    n_jobs: Optional[int] = None  # without GPUs: concurrent CPU jobs; None = 2 (or 1 on one core)
    mps: bool = False  # run packed GPU jobs under CUDA MPS, so their kernels overlap on the GPU
    # forked: a fresh process per job, forked from a preloaded server | warm: one long-lived
    # process per slot runs its jobs one after another | exec: a new interpreter per job
    start: str = "forked"
    # after Ctrl-C, seconds the running jobs get to end before they are killed (a job stuck in a
    # GPU call, or one that ignores the signal, would otherwise hold the sweep open); a second
    # Ctrl-C kills them at once
    stop_grace_s: float = 30.0


ConfigStore.instance().store(group="hydra/launcher", name="gpus", node=GpusLauncherConf,
                             provider="mer")


def job_slots(gpus: Optional[list], jobs_per_gpu: int, n_jobs: Optional[int]) -> list[dict[str, str]]:
    """One environment per slot: a GPU each (repeated `jobs_per_gpu` times), or a CPU share each."""
    if gpus is None:
        gpus = list(range(_visible_gpu_count()))
    cores = os.cpu_count() or 1
    if gpus:  # packed GPU jobs still run CPU ops (set-up, the SVM): a share of the cores each
        threads = _threads(cores // (len(gpus) * jobs_per_gpu))
        return [{"CUDA_VISIBLE_DEVICES": str(g), "MER_SLOT": f"gpu{g}.{k}", **threads}
                for k in range(jobs_per_gpu) for g in gpus]
    n_jobs = max(1, n_jobs or min(2, cores))
    return [{"CUDA_VISIBLE_DEVICES": "", "MER_SLOT": f"cpu{k}", **_threads(cores // n_jobs)}
            for k in range(n_jobs)]


@contextmanager
def cuda_mps(enabled: bool, probe_gpu: str = "0") -> Iterator[dict[str, str]]:
    """A CUDA MPS control daemon of this sweep's own (pipe and log dirs in a fresh temp dir), quit
    when the sweep ends; yields the environment that points jobs at it (empty when not enabled).
    One CUDA client on `probe_gpu` checks it first, so a refused MPS is one message, not a sweep
    of failed jobs."""
    if not enabled:
        yield {}
        return
    control = shutil.which(MPS_CONTROL)
    if control is None:
        raise MerError("hydra.launcher.mps=true needs nvidia-cuda-mps-control (part of NVIDIA's "
                       "driver utilities) on PATH: install it, or drop hydra.launcher.mps")
    base = Path(tempfile.mkdtemp(prefix="mer-mps-"))  # short: MPS's pipe is a Unix socket path
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(base / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(base / "log")}
    for path in env.values():
        Path(path).mkdir()
    daemon_env = {**os.environ, **env}
    # Its own session: a Ctrl-C to the sweep's process group must not take the GPU from under
    # the jobs still ending.
    started = subprocess.run([control, "-d"], env=daemon_env, capture_output=True, text=True,
                             start_new_session=True)
    if started.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise MerError(f"could not start CUDA MPS ({(started.stderr or started.stdout).strip()}): "
                       "drop hydra.launcher.mps, or ask the machine's admin whether MPS is allowed")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import torch; torch.ones(1, device='cuda').sum().item()"],
            env={**daemon_env, "CUDA_VISIBLE_DEVICES": probe_gpu}, capture_output=True, text=True,
            timeout=300)
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
            raise MerError(f"CUDA MPS started, but a CUDA process could not run under it ({last}): "
                           "drop hydra.launcher.mps, or ask the machine's admin whether MPS is allowed")
        log.info("CUDA MPS control daemon started (pipe %s)", env["CUDA_MPS_PIPE_DIRECTORY"])
        yield env
    finally:
        mps_command("quit", env, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def mps_command(command: str, mps_env: dict[str, str], timeout: float = 30) -> str:
    """One command to the sweep's MPS control daemon (pipe dirs in `mps_env`); its answer, or ""
    (and a warning) if it gave none within `timeout` seconds."""
    try:
        return subprocess.run([MPS_CONTROL], input=command + "\n", env={**os.environ, **mps_env},
                              capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired:
        log.warning("CUDA MPS did not answer %r within %g s (pipe %s)", command, timeout,
                    mps_env["CUDA_MPS_PIPE_DIRECTORY"])
        return ""


def mps_terminate_clients(mps_env: dict[str, str], pids: list[int]) -> None:
    """Have the sweep's MPS server drop these processes' GPU work, before they are killed: MPS's
    supported way to end a client early (one killed with GPU work in flight can leave the server,
    and with it every other job, hung)."""
    for server in mps_command("get_server_list", mps_env).split():
        for pid in pids:
            mps_command(f"terminate_client {server} {pid}", mps_env)


def run_forked_job(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """In a process forked from the preloaded server: take the job's slot, then run the entry
    script as `python argv...` would."""
    _enter_slot(env)
    _redirect_output(log_path)
    sys.exit(_run_in_process(argv))


def warm_worker(env: dict[str, str], jobs: Connection) -> None:
    """A slot's long-lived worker: run each job `(argv, log_path)` it receives in this process, one
    after another, and answer with its exit code; `None` ends it."""
    import torch

    flags = _torch_flags()
    while True:
        try:
            job = jobs.recv()
        except (EOFError, KeyboardInterrupt):  # the launcher is gone, or Ctrl-C stopped the sweep
            return
        if job is None:
            return
        argv, log_path = job
        _enter_slot(env)  # every job starts from the slot's environment and thread count ...
        _set_torch_flags(flags)  # ... and the worker's first torch flags: none leak from the last job
        _redirect_output(log_path)
        code = _run_in_process(argv)
        gc.collect()  # the job's tensors and CUDA graphs, back to the caching allocator ...
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()  # ... and to the GPU; cuDNN's kernel choices stay
        jobs.send(code)


def _run_in_process(argv: list[str]) -> int:
    """Run the entry script as `python argv...` would, here; its exit code."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    sys.argv = list(argv)
    try:
        runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # what Python would print and exit 1 for
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None
    return code


def _enter_slot(env: dict[str, str]) -> None:
    """Take a slot's environment and thread counts (before anything initialises CUDA), and
    Python's own Ctrl-C handler (Lightning ignores Ctrl-C once it has stopped a fit on one)."""
    import torch  # preloaded with the app: no import cost here
    import torch._inductor.config as inductor  # read its compile threads at import, preloaded too

    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(env)
    if env.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    if env.get("TORCHINDUCTOR_COMPILE_THREADS"):  # else model.compile forks a worker per core, per job
        inductor.compile_threads = int(env["TORCHINDUCTOR_COMPILE_THREADS"])


def _redirect_output(log_path: str) -> None:
    """Point this process's stdout and stderr (the file descriptors) at a job's log."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)


def _torch_flags() -> dict[str, Any]:
    """The process-wide torch settings a training run may change (Lightning's `deterministic`,
    `benchmark`)."""
    import torch

    return {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "matmul_precision": torch.get_float32_matmul_precision()}


def _set_torch_flags(flags: dict[str, Any]) -> None:
    """Put back settings saved by `_torch_flags`."""
    import torch

    torch.use_deterministic_algorithms(flags["deterministic_algorithms"])
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.set_float32_matmul_precision(flags["matmul_precision"])


def _threads(count: int) -> dict[str, str]:
    """The environment that caps a job's torch/OpenMP/MKL threads, and torch.compile's compile
    workers, at `count` (at least 1)."""
    count = str(max(1, count))
    return {"OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count, "TORCHINDUCTOR_COMPILE_THREADS": count}


def _visible_gpu_count() -> int:
    """GPUs this process could use, counted without initialising CUDA here (nvidia-smi)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip()])
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return len(out.stdout.split()) if out.returncode == 0 else 0


def last_end(free_at: Sequence[float], queued: int, seconds: float) -> float:
    """When the last of `queued` jobs of `seconds` each ends, each taking the first slot to free up
    (`free_at`: when each slot frees up); the latest of `free_at` with none queued."""
    free = sorted(free_at)
    for _ in range(queued):
        free[0] += seconds
        free.sort()
    return max(free)


class SweepProgress:
    """A launch's line per ended job: how many jobs have ended, and about how long the rest take."""

    def __init__(self, total: int, n_slots: int, clock: Callable[[], float] = time.time) -> None:
        self.total, self.n_slots, self.clock = total, n_slots, clock
        self.started: dict[str, float] = {}  # when each busy slot's job started
        self.trained: list[tuple[float, float]] = []  # (start, seconds) of each job that trained
        self.ended = 0
        self.lock = threading.Lock()  # one ended job at a time is counted and said

    def job_started(self, slot: str) -> float:
        """Note that `slot`'s job starts now; the time."""
        started = self.started[slot] = self.clock()
        return started

    def job_ended(self, slot: str, ended: float, trained: bool, said: str) -> None:
        """Count `slot`'s job as ended at time `ended` and print `said` with the progress after it."""
        with self.lock:
            started = self.started.pop(slot)
            self.ended += 1
            if trained:
                self.trained.append((started, ended - started))
            print(f"{said} ({self.ended} of {self.total} jobs ended{self._time_left()})", flush=True)

    def _typical(self) -> float:
        """The median time of the jobs that trained, counting only those that started once the
        first had ended when there are any: they pay no first-wave start-up (a warm worker's
        CUDA set-up, a compile), as most of the queued jobs will not."""
        first_end = min(start + seconds for start, seconds in self.trained)
        later = [seconds for start, seconds in self.trained if start >= first_end]
        return statistics.median(later or [seconds for _, seconds in self.trained])

    def _time_left(self) -> str:
        """", about T left": the running jobs end, and each queued one takes the first slot to free
        up, at the typical time of the jobs that trained so far ("" before any has)."""
        if not self.trained or self.ended >= self.total:
            return ""
        typical, now = self._typical(), self.clock()
        running = [max(0.0, typical - (now - t)) for t in list(self.started.values())]
        idle = [0.0] * (self.n_slots - len(running))
        left = last_end(running + idle, self.total - self.ended - len(running), typical)
        if left < 1:  # the running jobs have outlasted the typical time
            return ", the rest ending"
        return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.1f} min left"


class GpusLauncher(Launcher):
    """Runs each sweep job as `<this entry point> <overrides>` in a free slot's environment."""

    def __init__(self, jobs_per_gpu: int = 1, gpus: Optional[list] = None,
                 n_jobs: Optional[int] = None, mps: bool = False, start: str = "forked",
                 stop_grace_s: float = 30.0) -> None:
        self.jobs_per_gpu, self.gpus, self.n_jobs, self.mps = jobs_per_gpu, gpus, n_jobs, mps
        self.start, self.stop_grace_s = start, stop_grace_s
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.forkserver = None  # the multiprocessing context jobs (or warm workers) are forked from
        self.workers: dict[str, tuple[Any, Connection]] = {}  # start=warm: process, pipe by slot
        self.running: dict[str, Any] = {}  # the process running each busy slot's job (has .kill())

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        if self.start != "exec" and "forkserver" in multiprocessing.get_all_start_methods():  # not Windows
            self.forkserver = multiprocessing.get_context("forkserver")
            self.forkserver.set_forkserver_preload([task_function.__module__])
            from multiprocessing import forkserver

            forkserver.ensure_running()  # now: its imports (seconds) overlap Hydra's config checks

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most one per slot at a time, and return when all have ended."""
        return user_facing(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        if self.start not in STARTS:
            raise MerError(f"hydra.launcher.start={self.start!r}: choose one of {', '.join(STARTS)}")
        environments = job_slots(self.gpus, self.jobs_per_gpu, self.n_jobs)
        if self.mps and not environments[0]["CUDA_VISIBLE_DEVICES"]:
            raise MerError("hydra.launcher.mps=true shares GPUs between jobs, but no GPU is visible: "
                           "drop hydra.launcher.mps (CPU jobs need no MPS)")
        total = len(job_overrides)
        progress = SweepProgress(total, len(environments))
        log.info("gpus launcher: %d jobs on %d slots%s", total, len(environments),
                 " under CUDA MPS" if self.mps else "")
        with cuda_mps(self.mps, environments[0]["CUDA_VISIBLE_DEVICES"]) as mps_env:
            slots: queue.Queue = queue.Queue()
            for slot in environments:
                slots.put({**slot, **mps_env})
            futures: list[Future] = []
            try:
                with ThreadPoolExecutor(slots.qsize()) as pool:
                    try:
                        # Each job's config is composed here, in one thread (Hydra's config loader
                        # is not thread-safe), and the job queued at once: the first jobs run
                        # while the rest are composed. The threads only wait for slots and run
                        # processes.
                        for i, overrides in enumerate(job_overrides):
                            job = self._job_config(list(overrides), initial_job_idx + i, sweep_dir)
                            futures.append(pool.submit(self._run_job, *job, sweep_dir, progress, slots))
                        return [f.result() for f in futures]
                    except KeyboardInterrupt:
                        # Ctrl-C reached the running jobs too (one process group): start no more,
                        # let them end, and say how to go on.
                        pool.shutdown(wait=False, cancel_futures=True)
                        self._let_running_jobs_end(futures, mps_env)
                        ran = sum(f.done() and not f.cancelled() for f in futures)
                        print(f"interrupted: {ran} of {total} jobs ran (an interrupted job is "
                              "recorded as failed); rerun the same command to go on, finished "
                              "jobs are skipped", file=sys.stderr, flush=True)
                        sys.exit(130)
            finally:
                for slot in list(self.workers):
                    self._retire_worker(slot)

    def _let_running_jobs_end(self, futures: list[Future], mps_env: dict[str, str]) -> None:
        """After Ctrl-C: wait `stop_grace_s` for the running jobs to end, then (or at a second
        Ctrl-C) kill the ones still running (first dropped by MPS's server, under `mps_env`)."""
        # The queued jobs' futures, cancelled, are left out: wait() never counts a future
        # cancelled before it started as done, so it would always run to its timeout.
        started = [f for f in futures if not f.cancelled()]
        try:
            wait(started, timeout=self.stop_grace_s)
        except KeyboardInterrupt:
            pass
        if not all(f.done() for f in started):
            print(f"killing {len(self.running)} job(s) still running after Ctrl-C",
                  file=sys.stderr, flush=True)
        while not all(f.done() for f in started):
            stuck = list(self.running.values())
            if mps_env:
                mps_terminate_clients(mps_env, [process.pid for process in stuck])
            for process in stuck:
                process.kill()
            wait(started, timeout=5)  # a job started just now is killed on the next round

    def _job_config(self, overrides: list[str], idx: int,
                    sweep_dir: Path) -> tuple[list[str], DictConfig, int, Path]:
        """A job's composed config, numbered as Hydra numbers sweep jobs, and its dir."""
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{idx}"
            sweep_config.hydra.job.num = idx
        return overrides, sweep_config, idx, sweep_dir / str(sweep_config.hydra.sweep.subdir)

    def _run_job(self, overrides: list[str], sweep_config: DictConfig, idx: int, job_dir: Path,
                 sweep_dir: Path, progress: SweepProgress, slots: queue.Queue) -> JobReturn:
        """Wait for a free slot, run the job in it (as `start` says), give the slot back."""
        job_dir.mkdir(parents=True, exist_ok=True)
        slot = slots.get()
        started = progress.job_started(slot["MER_SLOT"])
        try:
            env = {**os.environ, **slot, "MER_SWEEP_DIR": str(sweep_dir)}
            argv = [sys.argv[0], *overrides, *self._hydra_overrides(job_dir)]
            log_path = str(job_dir / "launcher.log")
            if self.forkserver is not None and self.start == "warm":
                pid, code = self._run_warm(slot["MER_SLOT"], argv, env, log_path)
            elif self.forkserver is not None:
                job = self.forkserver.Process(target=run_forked_job, args=(argv, env, log_path))
                job.start()
                self.running[slot["MER_SLOT"]] = job
                job.join()
                pid, code = job.pid, job.exitcode
            else:
                with open(log_path, "w") as out:
                    job = subprocess.Popen([sys.executable, *argv], env=env, stdout=out,
                                           stderr=subprocess.STDOUT)
                    self.running[slot["MER_SLOT"]] = job
                    pid, code = job.pid, job.wait()
        finally:
            ended = time.time()  # before the slot is free: its next job starts after this one ended
            self.running.pop(slot["MER_SLOT"], None)
            slots.put(slot)
        record = {"slot": slot["MER_SLOT"], "pid": pid, "start": started, "end": ended,
                  "returncode": code, "overrides": overrides}
        (job_dir / LAUNCHER_RECORD).write_text(json.dumps(record, indent=2))
        if code != 0 and not (job_dir / FAILED).is_file():  # died without recording why
            tail = (job_dir / "launcher.log").read_text(errors="replace").splitlines()[-20:]
            (job_dir / FAILED).write_text(f"exit code {code}\n\n" + "\n".join(tail) + "\n")
        metrics = job_dir / METRICS
        trained = code == 0 and metrics.is_file() and metrics.stat().st_mtime >= started  # not skipped
        progress.job_ended(slot["MER_SLOT"], ended, trained,
                           f"[{idx + 1}/{progress.total}] {slot['MER_SLOT']}: {job_dir.name} "
                           f"{'FAILED' if code else 'done'} in {ended - started:.1f} s")
        result = JobReturn(overrides=overrides, cfg=sweep_config, working_dir=str(job_dir),
                           task_name=str(sweep_config.hydra.job.name))
        result.status = JobStatus.COMPLETED
        result._return_value = code
        return result

    def _run_warm(self, slot: str, argv: list[str], env: dict[str, str],
                  log_path: str) -> tuple[int, int]:
        """Run a job in the slot's warm worker (started on first use); its pid and exit code.

        A worker that dies with its job (a signal, the out-of-memory killer) gives the job its exit
        status; a worker whose job failed in any way is retired, and the next job gets a new one.
        """
        if slot not in self.workers:
            ours, theirs = self.forkserver.Pipe()
            worker = self.forkserver.Process(target=warm_worker, args=(env, theirs))
            worker.start()
            theirs.close()
            self.workers[slot] = (worker, ours)
        worker, pipe = self.workers[slot]
        self.running[slot] = worker
        pipe.send((argv, log_path))
        try:
            code = pipe.recv()
        except EOFError:  # the worker died during the job
            worker.join()
            code = worker.exitcode
        if code != 0:
            self._retire_worker(slot)
        return worker.pid, code

    def _retire_worker(self, slot: str) -> None:
        """End a slot's warm worker (if it still runs) and forget it."""
        worker, pipe = self.workers.pop(slot)
        if worker.is_alive():
            try:
                pipe.send(None)
            except OSError:  # its end of the pipe is already gone
                pass
            worker.join(timeout=60)
            if worker.is_alive():
                worker.kill()
                worker.join()
        pipe.close()

    def _hydra_overrides(self, job_dir: Path) -> list[str]:
        """The child run writes into the job's sweep dir (quoted: names hold `=` and `,`) under
        the sweep's job name."""
        quoted = str(job_dir).replace("\\", "\\\\").replace("'", "\\'")
        return [f"hydra.run.dir='{quoted}'", f"hydra.job.name={self.config.hydra.job.name}"]
