"""`mer-train`: one LOSO fold per job (`-m` sweeps folds, inputs, heads, seeds). Its command line is
checked here, before torch is imported; the job itself is `mer.train.job`."""

from __future__ import annotations

from mer.command_line import checked_cli


def main() -> None:
    """Console script: check the command line (one line, exit 2, in about a second), then train."""
    checked_cli("train", "mer.train.job")


if __name__ == "__main__":
    main()
