"""How many CPU threads a job should use: the cores it may actually run on, or what its launcher gave it.

Kept free of heavy imports: the sweep launcher reads it before any job starts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity (taskset, a cpuset), capped by a
    container's CPU quota (cgroup v2), which torch's default thread count ignores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


def job_threads(env: Mapping[str, str], cpus_per_task: int | None) -> int:
    """A job's thread count: `OMP_NUM_THREADS` where its launcher slot (or the user) set it, else
    the `cpus_per_task` its submitit launcher gave it (at most the cores available), else the
    cores available; never fewer than 1."""
    cores = available_cores()
    if env.get("OMP_NUM_THREADS", "").strip().isdigit():
        return max(1, int(env["OMP_NUM_THREADS"]))  # the user's or the slot's choice stands
    if cpus_per_task:
        return max(1, min(int(cpus_per_task), cores))
    return cores
