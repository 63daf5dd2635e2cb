"""Slots: the environment each job runs in (its GPU or CPU share, its thread caps), made by the
launcher and entered by the job's process before anything initialises CUDA."""

import os
import signal
import subprocess

from mer.threads import available_cores


def job_slots(gpus: list | None, jobs_per_gpu: int, n_jobs: int | None) -> list[dict[str, str]]:
    """One environment per slot: a GPU each (repeated `jobs_per_gpu` times), or a CPU share each."""
    if gpus is None:
        gpus = list(range(_visible_gpu_count()))
    cores = available_cores()
    if gpus:  # packed GPU jobs still run CPU ops (set-up, the SVM): a share of the cores each
        threads = _threads(cores // (len(gpus) * jobs_per_gpu))
        return [
            {"CUDA_VISIBLE_DEVICES": str(g), "MER_SLOT": f"gpu{g}.{k}", **threads}
            for k in range(jobs_per_gpu)
            for g in gpus
        ]
    n_jobs = max(1, n_jobs or min(2, cores))
    return [{"CUDA_VISIBLE_DEVICES": "", "MER_SLOT": f"cpu{k}", **_threads(cores // n_jobs)} for k in range(n_jobs)]


def enter_slot(env: dict[str, str]) -> None:
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
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return len(out.stdout.split()) if out.returncode == 0 else 0
