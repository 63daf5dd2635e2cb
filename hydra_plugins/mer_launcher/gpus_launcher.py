"""`hydra/launcher=gpus`: run sweep jobs concurrently, one job per slot, a slot per GPU (or CPU share).

Each job is its own process, started with its slot already in its environment
(`CUDA_VISIBLE_DEVICES`, thread counts), so it claims the slot before CUDA initialises; a slot is
handed to the next job the moment its job ends. Jobs are forked from a server process that has
imported the app once (`preload=true`), so a job skips the interpreter start and the imports of
torch and Lightning (seconds each) but is still a fresh process of its own. A job that crashes, even without Python's help
(segfault, out-of-memory kill), is recorded in its dir and the sweep goes on. With `mps=true` the
sweep runs under its own CUDA MPS control daemon, so packed jobs' kernels run on a GPU at the same
time instead of taking turns (separate processes otherwise time-slice a GPU).
"""


import json
import logging
import multiprocessing
import os
import queue
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from mer.errors import MerError, user_facing
from mer.runs import FAILED, LAUNCHER_RECORD

log = logging.getLogger(__name__)


@dataclass
class GpusLauncherConf:
    """Options of `hydra/launcher=gpus` (`hydra.launcher.jobs_per_gpu=2` etc.)."""

    _target_: str = "hydra_plugins.mer_launcher.gpus_launcher.GpusLauncher"
    jobs_per_gpu: int = 1  # jobs packed on one GPU (small jobs leave a GPU idle between steps)
    gpus: Optional[list] = None  # GPU indices to use; None = all that torch sees
    n_jobs: Optional[int] = None  # without GPUs: concurrent CPU jobs; None = 2 (or 1 on one core)
    mps: bool = False  # run packed GPU jobs under CUDA MPS, so their kernels overlap on the GPU
    preload: bool = True  # fork jobs from a process that imported the app once (false: a new interpreter each)


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
    control = shutil.which("nvidia-cuda-mps-control")
    if control is None:
        raise MerError("hydra.launcher.mps=true needs nvidia-cuda-mps-control (part of NVIDIA's "
                       "driver utilities) on PATH: install it, or drop hydra.launcher.mps")
    base = Path(tempfile.mkdtemp(prefix="mer-mps-"))  # short: MPS's pipe is a Unix socket path
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(base / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(base / "log")}
    for path in env.values():
        Path(path).mkdir()
    daemon_env = {**os.environ, **env}
    started = subprocess.run([control, "-d"], env=daemon_env, capture_output=True, text=True)
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
        subprocess.run([control], input="quit\n", env=daemon_env, capture_output=True, text=True,
                       timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def run_forked_job(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """In a process forked from the preloaded server: take the job's environment, thread count and
    log file, then run the entry script as `python argv...` would."""
    import torch  # preloaded with the app: no import cost here

    os.environ.clear()
    os.environ.update(env)
    if env.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


def _threads(count: int) -> dict[str, str]:
    """The environment that caps a job's torch/OpenMP/MKL threads at `count` (at least 1)."""
    count = str(max(1, count))
    return {"OMP_NUM_THREADS": count, "MKL_NUM_THREADS": count}


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


class GpusLauncher(Launcher):
    """Runs each sweep job as `<this entry point> <overrides>` in a free slot's environment."""

    def __init__(self, jobs_per_gpu: int = 1, gpus: Optional[list] = None,
                 n_jobs: Optional[int] = None, mps: bool = False, preload: bool = True) -> None:
        self.jobs_per_gpu, self.gpus, self.n_jobs, self.mps = jobs_per_gpu, gpus, n_jobs, mps
        self.preload = preload
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.forkserver = None  # the multiprocessing context jobs are forked from (preload)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context = config, hydra_context
        if self.preload and "forkserver" in multiprocessing.get_all_start_methods():  # not Windows
            self.forkserver = multiprocessing.get_context("forkserver")
            self.forkserver.set_forkserver_preload([task_function.__module__])

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run every job, at most one per slot at a time, and return when all have ended."""
        return user_facing(self._launch)(job_overrides, initial_job_idx)

    def _launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        environments = job_slots(self.gpus, self.jobs_per_gpu, self.n_jobs)
        if self.mps and not environments[0]["CUDA_VISIBLE_DEVICES"]:
            raise MerError("hydra.launcher.mps=true shares GPUs between jobs, but no GPU is visible: "
                           "drop hydra.launcher.mps (CPU jobs need no MPS)")
        total = len(job_overrides)
        log.info("gpus launcher: %d jobs on %d slots%s", total, len(environments),
                 " under CUDA MPS" if self.mps else "")
        # Compose every job's config here, in one thread (Hydra's config loader is not
        # thread-safe); the threads below only wait for slots and run processes.
        jobs = [self._job_config(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
        with cuda_mps(self.mps, environments[0]["CUDA_VISIBLE_DEVICES"]) as mps_env:
            slots: queue.Queue = queue.Queue()
            for slot in environments:
                slots.put({**slot, **mps_env})
            with ThreadPoolExecutor(slots.qsize()) as pool:
                futures = [pool.submit(self._run_job, list(overrides), cfg, idx, total, slots, sweep_dir)
                           for (overrides, cfg, idx) in jobs]
                return [f.result() for f in futures]

    def _job_config(self, overrides: list[str], idx: int) -> tuple[list[str], DictConfig, int]:
        """A job's composed config, numbered as Hydra numbers sweep jobs."""
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{idx}"
            sweep_config.hydra.job.num = idx
        return overrides, sweep_config, idx

    def _run_job(self, overrides: list[str], sweep_config: DictConfig, idx: int, total: int,
                 slots: queue.Queue, sweep_dir: Path) -> JobReturn:
        """Wait for a free slot, run the job in it as a child process, give the slot back."""
        job_dir = sweep_dir / str(sweep_config.hydra.sweep.subdir)
        job_dir.mkdir(parents=True, exist_ok=True)
        slot = slots.get()
        started = time.time()
        try:
            env = {**os.environ, **slot, "MER_SWEEP_DIR": str(sweep_dir)}
            argv = [sys.argv[0], *overrides, *self._hydra_overrides(job_dir)]
            if self.forkserver is not None:
                job = self.forkserver.Process(target=run_forked_job,
                                              args=(argv, env, str(job_dir / "launcher.log")))
                job.start()
                job.join()
                code = job.exitcode
            else:
                with open(job_dir / "launcher.log", "w") as out:
                    code = subprocess.run([sys.executable, *argv], env=env, stdout=out,
                                          stderr=subprocess.STDOUT).returncode
        finally:
            slots.put(slot)
        ended = time.time()
        record = {"slot": slot["MER_SLOT"], "start": started, "end": ended, "returncode": code,
                  "overrides": overrides}
        (job_dir / LAUNCHER_RECORD).write_text(json.dumps(record, indent=2))
        if code != 0 and not (job_dir / FAILED).is_file():  # died without recording why
            tail = (job_dir / "launcher.log").read_text(errors="replace").splitlines()[-20:]
            (job_dir / FAILED).write_text(f"exit code {code}\n\n" + "\n".join(tail) + "\n")
        status = "FAILED" if code else "done"
        print(f"[{idx + 1}/{total}] {slot['MER_SLOT']}: {job_dir.name} {status} in "
              f"{ended - started:.1f} s", flush=True)
        result = JobReturn(overrides=overrides, cfg=sweep_config, working_dir=str(job_dir),
                           task_name=str(sweep_config.hydra.job.name))
        result.status = JobStatus.COMPLETED
        result._return_value = code
        return result

    def _hydra_overrides(self, job_dir: Path) -> list[str]:
        """The child run writes into the job's sweep dir (quoted: names hold `=` and `,`) under
        the sweep's job name."""
        quoted = str(job_dir).replace("\\", "\\\\").replace("'", "\\'")
        return [f"hydra.run.dir='{quoted}'", f"hydra.job.name={self.config.hydra.job.name}"]
