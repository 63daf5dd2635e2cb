"""`mer`: the installed version, its commands, where its configs are and the first command to run
(`mer --version`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import entry_points

import mer


def commands() -> list[str]:
    """mer's console scripts (mer-train, mer-report, ...), from the installed package's metadata."""
    return sorted(
        e.name
        for e in entry_points(group="console_scripts")
        if e.name.startswith("mer-") and e.value.startswith("mer.")
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `mer [--version]`."""
    parser = argparse.ArgumentParser(prog="mer", description=mer.__doc__)
    parser.add_argument("--version", action="version", version=f"mer {mer.__version__}")
    parser.parse_args(argv)
    from mer.config import CONFIG_DIR

    print(f"mer {mer.__version__}: {mer.__doc__.strip()}")
    print(f"commands (each takes --help): {', '.join(commands())}")
    print(f"configs: {CONFIG_DIR} (add your own with --config-dir DIR)")
    print(
        "first: mer-train debug=smoke (the whole path on a small synthetic release, under a minute on a "
        "CPU); in a source checkout, make demo sets up, trains the demo sweep and prints its report"
    )
