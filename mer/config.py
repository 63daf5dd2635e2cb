"""Where the Hydra configs live, the resolvers they use, and the error for a composite source
without its folder (the command line is checked in `mer.preflight`)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mer.run_dir import NOT_IN_JOB_NAME


def _config_dir() -> Path:
    """The Hydra configs: `mer/conf` inside an installed wheel, the repository's top-level `conf/`
    (their source) in a checkout or an editable install."""
    packaged = Path(__file__).resolve().parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "conf"


CONFIG_DIR = str(_config_dir())


def _all_folds(*, _root_: DictConfig) -> str:
    """`${mer_folds:}`: every LOSO fold of the configured dataset (reads its subjects when used)."""
    from mer.data.folds import all_folds

    return all_folds(_root_=_root_)


def register_resolvers() -> None:
    """Make mer's resolvers available to the configs: `${mer_folds:}` (`folds=all`) and
    `${mer_not_in_job_name:}` (the keys Hydra leaves out of a sweep job's dir name)."""
    if not OmegaConf.has_resolver("mer_folds"):
        OmegaConf.register_new_resolver("mer_folds", _all_folds)
    if not OmegaConf.has_resolver("mer_not_in_job_name"):
        OmegaConf.register_new_resolver("mer_not_in_job_name", lambda: list(NOT_IN_JOB_NAME))


# Every Hydra entry point reads CONFIG_DIR from here, so its configs resolve wherever it runs: in
# mer-train and mer-prepare, and in a job process a launcher starts (submitit unpickles the task).
register_resolvers()
