"""The run-directory contract between `mer-train` (writes) and `mer-report` (reads).

Each job's Hydra output dir holds:

- `predictions.csv`: sample_id, subject, label, pred (class names), then `score_<class>` per class;
  for action units (`task=au`) sample_id, subject, then per AU `AU<n>` (truth 0/1), `AU<n>_pred`
  (0/1) and `AU<n>_score` (the logit);
- `metrics.json`: accuracy, uf1, uar (or for action units au_f1 and f1_AU<n>), n (this fold
  alone), task, test_subject, input, head, the cache dir it trained on (whose manifest the report
  reads for the data checks), timing;
- `.hydra/config.yaml` and `.hydra/overrides.yaml`: the composed config and the job's overrides;
- `csv/metrics.csv`: the training curves; optionally `wandb/` and `model.ckpt` (with what
  `mer-predict` needs to preprocess a new clip: see `mer.train.checkpoint`);
- `run_config.yaml`: the resolved config of a finished job (a rerun with the same config skips it);
- `failed.txt`: the error of a failed job, instead of metrics.json (the sweep goes on);
- `launcher.json`: slot, start and end time, exit code (jobs run by `hydra/launcher=gpus`, or by
  `hydra/launcher=packed`, whose slot is the job's pack).
"""

from __future__ import annotations

from pathlib import Path

from mer.errors import MerError

PREDICTIONS = "predictions.csv"
RUN_CONFIG = "run_config.yaml"
FAILED = "failed.txt"
LAUNCHER_RECORD = "launcher.json"
METRICS = "metrics.json"
CHECKPOINT = "model.ckpt"
SCORE_PREFIX = "score_"
#: metrics.json's (and report.csv's) mean F1 over action units, which an AU job has instead of uf1.
AU_F1 = "au_f1"
#: The environment variable in which `hydra/launcher=gpus` tells a job it starts as a process of its
#: own (a single Hydra run) which sweep dir it belongs to: W&B groups the sweep's runs by it.
SWEEP_DIR_ENV = "MER_SWEEP_DIR"

#: Override keys left out of a sweep job's dir name (`hydra.job.override_dirname`, through the
#: `${mer_not_in_job_name:}` resolver): where a job reads and writes, and how it is watched.
NOT_IN_JOB_NAME = (
    "folds",
    "experiment",
    "data.root",
    "data.roots.casme2",
    "data.roots.samm",
    "data.roots.smic",
    "data.roots.casme3",
    "data.roots.casme1",
    "data.roots.casme_sq",
    "data.roots.mmew",
    "data.roots.4dme",
    "paths.output_dir",
    "paths.data_dir",
    "paths.cache_dir",
    "cache",
    "logger",
    "trainer.enable_progress_bar",
)
#: Override keys that are not part of a configuration (a key ending in "." covers all below it):
#: those of `NOT_IN_JOB_NAME`, and those that name a job *within* a configuration (which fold, which
#: seed) or the hardware it ran on.
NOT_CONFIGURATION = (
    *NOT_IN_JOB_NAME,
    "data.fold",
    "data.test_subject",
    "data.test_dataset",  # the held-out source of a cross-dataset job: its fold (CD6ME sweeps six)
    "seed",
    "data.roots.",
    "paths.",
    "hydra.",
    "trainer.accelerator",
    "trainer.devices",
    "save_checkpoint",
)


def override_key(override: str) -> str:
    """The config key an override sets (`+a.b=1` → `a.b`)."""
    return override.lstrip("+~").split("=", 1)[0]


def configuration_overrides(overrides: list[str]) -> list[str]:
    """The overrides that define a configuration: all but fold, seed, paths and loggers."""
    return sorted(
        o
        for o in overrides
        if not any(
            override_key(o) == p or (p.endswith(".") and override_key(o).startswith(p)) for p in NOT_CONFIGURATION
        )
    )


def configuration_name(overrides: list[str]) -> str:
    """A configuration's readable name, e.g. "head=hinge,input=uv" ("default" when none)."""
    return ",".join(configuration_overrides(overrides)) or "default"


def score_line(metrics: dict) -> str:
    """A finished job's scores as its one line says them: accuracy and UF1, or the mean AU F1."""
    if AU_F1 in metrics:
        return f"AU F1 {metrics[AU_F1]:.3f}"
    return f"accuracy {metrics['accuracy']:.3f}, UF1 {metrics['uf1']:.3f}"


def check_checkpoint(path: Path) -> None:
    """The checkpoint must be a file (torch-free, so the entry points say it at once); what it holds
    is `mer.train.checkpoint.read_checkpoint`'s to check."""
    if not path.is_file():
        raise MerError(
            f"checkpoint {path} not found: give the model.ckpt that "
            "`mer-train save_checkpoint=true` writes into its run dir"
        )
