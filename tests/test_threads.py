"""A job's CPU threads: its launcher's share, submitit's cpus_per_task, or the cores it may run on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mer import threads
from mer.threads import available_cores, job_threads


@pytest.fixture
def four_cores(monkeypatch, tmp_path: Path) -> None:
    """A process that may run on 4 cores, with no container CPU quota."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", tmp_path / "absent")


def test_a_container_quota_caps_the_cores_the_affinity_allows(four_cores, monkeypatch, tmp_path: Path) -> None:
    assert available_cores() == 4
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(threads, "CGROUP_CPU_MAX", quota)
    quota.write_text("150000 100000\n")  # 1.5 CPUs of quota: 2 threads
    assert available_cores() == 2
    quota.write_text("max 100000\n")
    assert available_cores() == 4


def test_a_jobs_threads_come_from_its_slot_then_submitit_then_the_cores(four_cores) -> None:
    assert job_threads({}, None) == 4  # a single run, or Hydra's basic launcher: the cores it may use
    assert job_threads({}, 2) == 2  # submitit's cpus_per_task ...
    assert job_threads({}, 16) == 4  # ... never more than the cores there are
    assert job_threads({"OMP_NUM_THREADS": "1"}, 2) == 1  # a gpus slot's share, or the user's own
    assert job_threads({"OMP_NUM_THREADS": "0"}, None) == 1  # never none
