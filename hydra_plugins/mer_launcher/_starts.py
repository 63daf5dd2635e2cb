"""How a job's process starts (`hydra.launcher.start`): one class per way, behind `JobStart`.

- `forked` (default): a fresh process per job, forked from a server that has imported the app once,
  so a job skips the interpreter start and the imports of torch and Lightning (seconds each).
- `warm`: one long-lived process per slot runs the slot's jobs one after another, so CUDA's context
  and cuDNN's per-shape kernel set-up (many seconds per process on a GPU) outlive a job. Global
  torch flags and the environment are reset before each job, and a worker whose job failed is
  replaced, so a failure cannot leak into the next job.
- `exec`: a new interpreter per job (also what forked and warm become where there is no
  forkserver, on Windows).
"""

import multiprocessing
import subprocess
import sys
import threading
from abc import ABC, abstractmethod
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from hydra_plugins.mer_launcher._job_process import run_forked_job, warm_worker
from mer.errors import MerError

# multiprocessing's Process is not safe across threads: `start()` polls every other child
# (`multiprocessing.process._cleanup`), so a slot's thread starting a job could read the 8-byte
# exit status of a job that another slot's thread is joining; that thread then reads EOF and its
# job "exits 255" (CPython's popen_forkserver). Every start, join and liveness poll takes this
# lock; joins first wait for the process's sentinel outside it, so no thread holds it while a job runs.
_PROCESS_TABLE = threading.Lock()


def start_process(process: Any) -> None:
    """Start a multiprocessing `process` while no other thread reads a child's exit status."""
    with _PROCESS_TABLE:
        process.start()


def join_process(process: Any, timeout: float | None = None) -> bool:
    """Wait (up to `timeout` seconds) for `process` to end, then read its exit status under the
    lock; whether it ended."""
    if not wait([process.sentinel], timeout):
        return False
    with _PROCESS_TABLE:
        process.join()
    return True


def process_alive(process: Any) -> bool:
    """Whether `process` still runs, polled under the lock."""
    with _PROCESS_TABLE:
        return process.is_alive()


class JobStart(ABC):
    """Runs one job at a time per slot to its end, and keeps the process running each busy slot's
    job in `running` (it has `.pid` and `.kill()`), so that Ctrl-C can kill what still runs."""

    def __init__(self, forkserver: BaseContext | None = None) -> None:
        self.forkserver = forkserver  # the multiprocessing context jobs (or warm workers) fork from
        self.running: dict[str, Any] = {}

    def run(self, slot: str, argv: list[str], env: dict[str, str], log_path: str) -> tuple[int, int]:
        """Run `python argv...` in `slot`'s environment `env`, its output to `log_path`; its pid and
        exit code (a signal's as a negative number)."""
        try:
            return self._run(slot, argv, env, log_path)
        finally:
            self.running.pop(slot, None)

    @abstractmethod
    def _run(self, slot: str, argv: list[str], env: dict[str, str], log_path: str) -> tuple[int, int]:
        """`run`'s work, which puts the job's process in `running` once started."""

    def close(self) -> None:  # noqa: B027 (most starts leave nothing behind: no override needed)
        """End what outlives a job when the sweep ends (nothing but warm workers)."""


class ForkedStart(JobStart):
    """`start=forked`: a process per job, forked from the preloaded server."""

    def _run(self, slot: str, argv: list[str], env: dict[str, str], log_path: str) -> tuple[int, int]:
        job = self.forkserver.Process(target=run_forked_job, args=(argv, env, log_path))
        start_process(job)
        self.running[slot] = job
        join_process(job)
        return job.pid, job.exitcode


class ExecStart(JobStart):
    """`start=exec`: a new interpreter per job."""

    def _run(self, slot: str, argv: list[str], env: dict[str, str], log_path: str) -> tuple[int, int]:
        with open(log_path, "w") as out:
            job = subprocess.Popen([sys.executable, *argv], env=env, stdout=out, stderr=subprocess.STDOUT)
            self.running[slot] = job
            return job.pid, job.wait()


class WarmStart(JobStart):
    """`start=warm`: the slot's long-lived worker (started on first use) runs the job.

    A worker that dies with its job (a signal, the out-of-memory killer) gives the job its exit
    status; a worker whose job failed in any way is retired, and the next job gets a new one.
    """

    def __init__(self, forkserver: BaseContext | None = None) -> None:
        super().__init__(forkserver)
        self.workers: dict[str, tuple[Any, Connection]] = {}  # process, pipe by slot

    def _run(self, slot: str, argv: list[str], env: dict[str, str], log_path: str) -> tuple[int, int]:
        if slot not in self.workers:
            ours, theirs = self.forkserver.Pipe()
            worker = self.forkserver.Process(target=warm_worker, args=(env, theirs))
            start_process(worker)
            theirs.close()
            self.workers[slot] = (worker, ours)
        worker, pipe = self.workers[slot]
        self.running[slot] = worker
        pipe.send((argv, log_path))
        try:
            code = pipe.recv()
        except EOFError:  # the worker died during the job
            join_process(worker)
            code = worker.exitcode
        if code != 0:
            self._retire(slot)
        return worker.pid, code

    def close(self) -> None:
        """End every slot's worker."""
        for slot in list(self.workers):
            self._retire(slot)

    def _retire(self, slot: str) -> None:
        """End a slot's warm worker (if it still runs) and forget it."""
        worker, pipe = self.workers.pop(slot)
        if process_alive(worker):
            try:
                pipe.send(None)
            except OSError:  # its end of the pipe is already gone
                pass
            if not join_process(worker, timeout=60):
                worker.kill()
                join_process(worker)
        pipe.close()


STARTS: dict[str, type[JobStart]] = {"forked": ForkedStart, "warm": WarmStart, "exec": ExecStart}


def preloaded_forkserver(module: str) -> BaseContext | None:
    """The forkserver that forked and warm jobs fork from, started now with `module` imported (its
    imports, seconds, overlap Hydra's config checks); None where there is none (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([module])
    from multiprocessing import forkserver

    forkserver.ensure_running()
    return context


def job_start(start: str, forkserver: BaseContext | None) -> JobStart:
    """The `JobStart` that `hydra.launcher.start` names; exec's where there is no forkserver."""
    if start not in STARTS:
        raise MerError(f"hydra.launcher.start={start!r}: choose one of {', '.join(STARTS)}")
    return STARTS[start if forkserver is not None else "exec"](forkserver)
