"""What runs inside a job's own process (forked or a warm worker): take the slot, point output at
the job's log, run the entry script as `python argv...` would, and leave nothing to the next job."""

import gc
import os
import runpy
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from hydra_plugins.mer_launcher._slots import enter_slot


def run_forked_job(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """In a process forked from the preloaded server: take the job's slot, then run the entry
    script as `python argv...` would."""
    enter_slot(env)
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
        enter_slot(env)  # every job starts from the slot's environment and thread count ...
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

    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "matmul_precision": torch.get_float32_matmul_precision(),
    }


def _set_torch_flags(flags: dict[str, Any]) -> None:
    """Put back settings saved by `_torch_flags`."""
    import torch

    torch.use_deterministic_algorithms(flags["deterministic_algorithms"])
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.set_float32_matmul_precision(flags["matmul_precision"])
