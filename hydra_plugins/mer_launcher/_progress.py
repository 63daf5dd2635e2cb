"""What a sweep says: a line per ended job (ran, skipped or failed), how long the rest take, and
at its end a line counting how its jobs ended, where it wrote, and the command to run next."""

import shlex
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path

from mer.errors import plural
from mer.run_dir import FAILED, METRICS

RAN, SKIPPED, FAILED_JOB = "ran", "skipped", "failed"


def job_outcome(code: int, job_dir: Path, started: float) -> str:
    """How a job that started at `started` ended: failed (a non-zero exit, or the `failed.txt` a
    sweep job leaves), ran (its `metrics.json` written since it started), or skipped (`mer-train`
    found it finished earlier with the same config)."""
    metrics = job_dir / METRICS
    if code != 0 or (job_dir / FAILED).is_file() or not metrics.is_file():
        return FAILED_JOB
    return RAN if metrics.stat().st_mtime >= started else SKIPPED


def ended_as(outcome: str, seconds: float, job_dir: Path) -> str:
    """An ended job's words on the console: `done in 3.2 s`, `skipped: finished earlier`, or
    `FAILED in 1.0 s (<the first line of its failed.txt>)`."""
    if outcome == RAN:
        return f"done in {seconds:.1f} s"
    if outcome == SKIPPED:
        return "skipped: finished earlier"
    why = failure_line(job_dir)
    return f"FAILED in {seconds:.1f} s" + (f" ({why})" if why else "")


def failure_line(job_dir: Path) -> str:
    """The first line of the `failed.txt` a failed job left in its dir ("" where it left none)."""
    failed = job_dir / FAILED
    return next(iter(failed.read_text(errors="replace").splitlines()), "") if failed.is_file() else ""


def sweep_summary(outcomes: Iterable[str]) -> str:
    """How a sweep's jobs ended: `8 jobs: 2 ran, 6 skipped, 0 failed`."""
    count = Counter(outcomes)
    total = sum(count.values())
    return f"{plural(total, 'job')}: {count[RAN]} ran, {count[SKIPPED]} skipped, {count[FAILED_JOB]} failed"


def sweep_end(outcomes: Iterable[str], sweep_dir: Path) -> str:
    """The sweep's last three lines: how its jobs ended (`sweep_summary`), its dir, and the
    command to run next, `mer-report` on that dir."""
    where = Path(sweep_dir).resolve()
    return f"{sweep_summary(outcomes)}\nsweep dir: {where}\nnext: mer-report {shlex.quote(str(where))}"


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
        # When each running job started, by the job (not its slot: a freed slot's next job may start
        # before the job that left it is counted).
        self.started: dict[Hashable, float] = {}
        self.trained: list[tuple[float, float]] = []  # (start, seconds) of each job that trained
        self.outcomes: list[str] = []  # how each ended job ended (RAN, SKIPPED, FAILED_JOB)
        self.lock = threading.Lock()  # one ended job at a time is counted and said

    def job_started(self, job: Hashable) -> float:
        """Note that `job` starts now; the time."""
        started = self.started[job] = self.clock()
        return started

    @property
    def ended(self) -> int:
        """How many jobs have ended."""
        return len(self.outcomes)

    def job_ended(self, job: Hashable, ended: float, outcome: str, said: str) -> None:
        """Count `job` as ended at time `ended` as `outcome` (only jobs that ran set the pace) and
        print `said` with the progress after it."""
        with self.lock:
            started = self.started.pop(job)
            self.outcomes.append(outcome)
            if outcome == RAN:
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
        """ ", about T left": the running jobs end, and each queued one takes the first slot to free
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
