"""The sweep's progress line: how many jobs have ended, and about how long the rest take."""

import statistics
import threading
import time
from typing import Callable, Sequence


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
