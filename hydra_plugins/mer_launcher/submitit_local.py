"""`hydra/launcher=submitit_local` as mer runs it: hydra-submitit-launcher's local launcher, which
says a line as each job is submitted and as each ends, ends with the sweep's count of ran, skipped
and failed jobs, its dir and the `mer-report` command to run next, and gives each job a share of
the cores (all its jobs run at once).

Its options and their defaults are the submitit plugin's (conf/hydra/launcher/submitit_local.yaml
names this class). Hydra's plugin scan imports this module, so what a sweep needs (submitit, mer's
modules) is imported in the methods that run one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher


class SayingLocalLauncher(LocalLauncher):
    """submitit's local executor, one job per submission, each reported as it goes."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Submit every job (each starts at once), say each as it is submitted and as it ends, end
        with the sweep's count, dir and next command, and return when all have ended; a failed
        job is said, counted and returned as FAILED, and the sweep goes on."""
        import submitit

        from hydra_plugins.mer_launcher._progress import ended_as, job_outcome, sweep_end

        assert self.config is not None and self.hydra_context is not None
        total = len(job_overrides)
        self._share_cores(total)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        executor = submitit.AutoExecutor(cluster="local", folder=self.params["submitit_folder"])
        executor.update_parameters(**{k: v for k, v in self.params.items() if k != "submitit_folder"})
        submitted = {}  # job → (its overrides, its dir, its number, when it was submitted)
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            job_dir = sweep_dir / str(
                self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides)).hydra.sweep.subdir
            )
            job = executor.submit(
                self, list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()
            )
            submitted[job] = (list(overrides), job_dir, idx, time.time())
            print(f"[{idx + 1}/{total}] submitted: {job_dir.name} (submitit job {job.job_id})", flush=True)
        results, outcomes = {}, []
        for job in submitit.helpers.as_completed(list(submitted), poll_frequency=0.5):
            overrides, job_dir, idx, started = submitted[job]
            results[idx] = self._job_return(job, overrides, job_dir)
            outcome = job_outcome(0 if results[idx].status == JobStatus.COMPLETED else 1, job_dir, started)
            outcomes.append(outcome)
            print(
                f"[{idx + 1}/{total}] {job_dir.name} {ended_as(outcome, time.time() - started, job_dir)} "
                f"({len(outcomes)} of {total} jobs ended)",
                flush=True,
            )
        print(sweep_end(outcomes, sweep_dir), flush=True)
        return [results[idx] for idx in sorted(results)]

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """In the job's process: take its share of the cores (unless `OMP_NUM_THREADS` is set
        already), then run the job as the plugin does."""
        os.environ.setdefault("OMP_NUM_THREADS", str(self.params["cpus_per_task"]))
        return super().__call__(*args, **kwargs)

    def _share_cores(self, n_jobs: int) -> None:
        """Without `cpus_per_task`, give each of the `n_jobs` jobs, which run at once, an equal
        share of the cores (the job takes it in `__call__`)."""
        from mer.threads import available_cores

        if not self.params.get("cpus_per_task"):
            self.params["cpus_per_task"] = max(1, available_cores() // n_jobs)

    def _job_return(self, job: Any, overrides: list[str], job_dir: Path) -> JobReturn:
        """The job's `JobReturn`: COMPLETED with the UF1 its task returned, or FAILED with a
        `JobFailed`, the task's own or, for a job that failed outside the task's handling (a
        crash, a config error), one made here, with `failed.txt` in its dir saying why."""
        from mer.run_dir import FAILED
        from mer.train.job import JobFailed  # the task's module: imported already

        try:
            result = job.results()[0]
        except Exception as died:
            result = JobReturn(
                overrides=overrides,
                cfg=OmegaConf.create(),
                working_dir=str(job_dir),
                task_name=str(self.config.hydra.job.name),
                status=JobStatus.FAILED,
            )
            result.return_value = died
        err = result._return_value
        if result.status == JobStatus.FAILED and not isinstance(err, JobFailed):
            why = f"{type(err).__name__}: {err}"
            job_dir.mkdir(parents=True, exist_ok=True)
            if not (job_dir / FAILED).is_file():
                (job_dir / FAILED).write_text(why + "\n")
            result.return_value = JobFailed.in_dir(job_dir, why.splitlines()[0])
        return result
