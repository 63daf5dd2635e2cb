"""The sweep's own CUDA MPS control daemon: start and probe it, send it commands, quit it.

Under MPS, packed jobs' kernels run on a GPU at the same time instead of taking turns (separate
processes otherwise time-slice a GPU). Its pipe and log dirs are in a fresh temp dir, so it never
meets another user's daemon.
"""

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mer.errors import MerError

log = logging.getLogger(__name__)
MPS_CONTROL = "nvidia-cuda-mps-control"


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
        raise MerError(
            "hydra.launcher.mps=true needs nvidia-cuda-mps-control (part of NVIDIA's "
            "driver utilities) on PATH: install it, or drop hydra.launcher.mps"
        )
    base = Path(tempfile.mkdtemp(prefix="mer-mps-"))  # short: MPS's pipe is a Unix socket path
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(base / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(base / "log")}
    for path in env.values():
        Path(path).mkdir()
    daemon_env = {**os.environ, **env}
    # Its own session: a Ctrl-C to the sweep's process group must not take the GPU from under
    # the jobs still ending.
    started = subprocess.run([control, "-d"], env=daemon_env, capture_output=True, text=True, start_new_session=True)
    if started.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise MerError(
            f"could not start CUDA MPS ({(started.stderr or started.stdout).strip()}): "
            "drop hydra.launcher.mps, or ask the machine's admin whether MPS is allowed"
        )
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import torch; torch.ones(1, device='cuda').sum().item()"],
            env={**daemon_env, "CUDA_VISIBLE_DEVICES": probe_gpu},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
            raise MerError(
                f"CUDA MPS started, but a CUDA process could not run under it ({last}): "
                "drop hydra.launcher.mps, or ask the machine's admin whether MPS is allowed"
            )
        log.info("CUDA MPS control daemon started (pipe %s)", env["CUDA_MPS_PIPE_DIRECTORY"])
        yield env
    finally:
        mps_command("quit", env, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def mps_command(command: str, mps_env: dict[str, str], timeout: float = 30) -> str:
    """One command to the sweep's MPS control daemon (pipe dirs in `mps_env`); its answer, or ""
    (and a warning) if it gave none within `timeout` seconds."""
    try:
        return subprocess.run(
            [MPS_CONTROL],
            input=command + "\n",
            env={**os.environ, **mps_env},
            capture_output=True,
            text=True,
            timeout=timeout,
        ).stdout
    except subprocess.TimeoutExpired:
        log.warning(
            "CUDA MPS did not answer %r within %g s (pipe %s)", command, timeout, mps_env["CUDA_MPS_PIPE_DIRECTORY"]
        )
        return ""


def mps_terminate_clients(mps_env: dict[str, str], pids: list[int]) -> None:
    """Have the sweep's MPS server drop these processes' GPU work, before they are killed: MPS's
    supported way to end a client early (one killed with GPU work in flight can leave the server,
    and with it every other job, hung)."""
    for server in mps_command("get_server_list", mps_env).split():
        for pid in pids:
            mps_command(f"terminate_client {server} {pid}", mps_env)
