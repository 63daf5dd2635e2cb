"""Where the Hydra configs live and the resolvers they use (the command line is checked in
`mer.preflight`)."""

from __future__ import annotations

from pathlib import Path

from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from omegaconf import DictConfig, OmegaConf

from mer.errors import user_facing
from mer.run_dir import NOT_IN_JOB_NAME


def _config_dir() -> Path:
    """The Hydra configs: `mer/conf` inside an installed wheel, the repository's top-level `conf/`
    (their source) in a checkout or an editable install."""
    packaged = Path(__file__).resolve().parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "conf"


CONFIG_DIR = str(_config_dir())


@user_facing
def _all_folds(*, _root_: DictConfig) -> str:
    """`${mer_folds:}`: every LOSO fold of the configured dataset (reads its subjects when used).
    Hydra's sweeper resolves it before any job, outside mer's error handling: a dataset it cannot
    read is one line and exit code 2 here, not a traceback wrapped in OmegaConf's error."""
    from mer.data.folds import all_folds

    return all_folds(_root_=_root_)


def _group_options(group: str) -> str:
    """`${mer_options:data}`: a config group's options, from every folder Hydra reads configs from
    (`--config-dir`'s too), for a --help page that lists only the groups its command uses."""
    return ", ".join(GlobalHydra.instance().config_loader().get_group_options(group, ObjectType.CONFIG))


def register_resolvers() -> None:
    """Make mer's resolvers available to the configs: `${mer_folds:}` (`folds=all`),
    `${mer_not_in_job_name:}` (the keys Hydra leaves out of a sweep job's dir name) and
    `${mer_options:GROUP}` (a --help page's options)."""
    if not OmegaConf.has_resolver("mer_folds"):
        OmegaConf.register_new_resolver("mer_folds", _all_folds)
    if not OmegaConf.has_resolver("mer_not_in_job_name"):
        OmegaConf.register_new_resolver("mer_not_in_job_name", lambda: list(NOT_IN_JOB_NAME))
    if not OmegaConf.has_resolver("mer_options"):
        OmegaConf.register_new_resolver("mer_options", _group_options)


# Every Hydra entry point reads CONFIG_DIR from here, so its configs resolve wherever it runs: in
# mer-train and mer-prepare, and in a job process a launcher starts (submitit unpickles the task).
register_resolvers()
