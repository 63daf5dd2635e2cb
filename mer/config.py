"""Where the Hydra configs live, and a one-line check of config-group choices on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from mer.errors import MerError, user_facing

CONFIG_DIR = str(Path(__file__).resolve().parents[1] / "conf")


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
