"""Where the Hydra configs live, the resolvers they use, and a one-line check of config-group
choices on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mer.errors import MerError, user_facing
from mer.runs import NOT_IN_JOB_NAME



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


def group_options(group: str) -> list[str]:
    """The options of a config group: the YAML files in `conf/<group>/`."""
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


def check_group_choices(args: list[str]) -> None:
    """Refuse `input=flow3d` (or `head=a,knn` in a sweep) with one line naming the options.

    Hydra's own message for an unknown option is a multi-line dump of its search path; this
    checks plain and comma-separated choices of every top-level group before Hydra starts.
    """
    for arg in args:
        key, sep, value = arg.lstrip("+~").partition("=")
        group = Path(CONFIG_DIR) / key
        if not sep or "(" in value or "$" in value or "." in key or "/" in key or not group.is_dir():
            continue
        options = group_options(key)
        for choice in value.split(","):
            if choice not in options and choice != "null":
                raise MerError(f"unknown {key} '{choice}': choose one of {', '.join(options)} "
                               f"({key}=... on the command line; options live in conf/{key}/)")


def checked_cli(hydra_main) -> None:
    """Run a Hydra entry point after checking its group choices (one-line errors, exit code 2)."""
    user_facing(check_group_choices)(sys.argv[1:])
    hydra_main()
