"""`make bench-cli`: how long a newcomer waits for mer-train's answer to a mistake, and for --help.

Each command is the real console script in a fresh interpreter (start-up included, as a user pays
it), run `--repeats` times in turn; prints the median and the range of wall seconds. The config is
checked before torch is imported, so a mistake should come back in about a second; the last row
is the import the check spares (`mer.train.job`: torch and Lightning), for scale.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

MER_TRAIN = str(Path(sys.executable).with_name("mer-train"))
MER_PREPARE = str(Path(sys.executable).with_name("mer-prepare"))

COMMANDS = {
    "mer-train data=casme2 (data.root not set)": [MER_TRAIN, "data=casme2"],
    "mer-train trainer.max_epoch=3 (unknown key)": [MER_TRAIN, "trainer.max_epoch=3"],
    "mer-train -m input=apex uv (malformed sweep)": [MER_TRAIN, "-m", "input=apex", "uv"],
    "mer-prepare data=samm (data.root not set)": [MER_PREPARE, "data=samm"],
    "mer-train --help": [MER_TRAIN, "--help"],
    "python -c 'import mer.train.job' (for scale)": [sys.executable, "-c", "import mer.train.job"],
}


def wall_seconds(command: list[str], expected_rc: int) -> float:
    """Seconds one run of `command` takes, checked to end with its expected exit code."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != expected_rc:
        raise SystemExit(
            f"{' '.join(command)}: exit {result.returncode}, expected {expected_rc}\n{result.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    """Time every command `--repeats` times, interleaved, and print a table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            expected_rc = 2 if "(" in name and "for scale" not in name else 0
            times[name].append(wall_seconds(command, expected_rc))
    print(f"| command ({args.repeats} runs each) | median | range |")
    print("|---|---|---|")
    for name, runs in times.items():
        print(f"| `{name}` | {statistics.median(runs):.2f} s | {min(runs):.2f}–{max(runs):.2f} s |")


if __name__ == "__main__":
    main()
