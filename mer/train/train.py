"""`mer-train`: one LOSO fold per job (`-m` sweeps folds, inputs, heads, seeds). Its command line is
checked here, before torch is imported; the job itself is `mer.train.job`."""

from __future__ import annotations

import warnings

from mer.preflight import checked_cli


def main() -> None:
    """Console script: check the command line (one line, exit 2, in about a second), then train."""
    # conf/hydra/launcher/submitit_local.yaml is named as the submitit plugin's node, which Hydra
    # then lays it over (the node gives the options and defaults, the file the class) with a
    # deprecation notice.
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/submitit_local' is validated against")
    checked_cli("train", "mer.train.job")


if __name__ == "__main__":
    main()
