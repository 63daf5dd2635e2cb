"""`make bench-launchers`: the same small sweep on each launcher, side by side, to choose the default.

On a 4-subject synthetic release at 32² (the cache built first, so the sweeps time training) it
runs one sweep of 8 jobs (4 folds × {apex, u+v}) per launcher, `--repeats` times in turn, and
prints each launcher's median wall time from the `mer-train -m` command's start to its end, with
its fastest and slowest. Every repeat starts from an empty sweep dir, so no job is skipped.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_sweep import prepare  # the sibling script: mer-prepare, the cache dir it prints

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = {  # name in the table → the overrides that choose it
    "basic": ["hydra/launcher=basic"],
    "gpus": ["hydra/launcher=gpus"],
    "submitit_local": ["hydra/launcher=submitit_local"],
}


def timed_sweep(common: list[str], launcher: list[str], sweep_dir: Path) -> float:
    """Seconds `mer-train -m` takes from start to end with these overrides."""
    mer_train = str(Path(sys.executable).with_name("mer-train"))
    started = time.perf_counter()
    subprocess.run(
        [mer_train, "-m", *common, *launcher, f"hydra.sweep.dir={sweep_dir}"], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launchers", nargs="+", choices=tuple(LAUNCHERS), default=["basic", "gpus"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench-launchers")
    args = parser.parse_args()

    cache = prepare(
        [
            f"data.root={args.out / 'synthetic-4x6'}",
            "data.reader.n_subjects=4",
            "data.reader.clips_per_subject=6",
            f"paths.output_dir={args.out}",
            f"preprocess.size={args.size}",
        ]
    )
    common = [
        f"cache={cache}",
        f"preprocess.size={args.size}",
        f"paths.output_dir={args.out}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        "data.fold=0,1,2,3",
        "input=apex,uv",
    ]
    seconds: dict[str, list[float]] = {name: [] for name in args.launchers}
    for repeat in range(args.repeats):  # launchers in turn, so a busy spell hits each alike
        for name in args.launchers:
            sweep_dir = args.out / f"sweep-{name}-{repeat}-{time.strftime('%Y%m%d-%H%M%S')}"
            seconds[name].append(timed_sweep(common, LAUNCHERS[name], sweep_dir))
            print(f"{name}, repeat {repeat + 1}: {seconds[name][-1]:.1f} s", flush=True)
    print(
        f"\n8 jobs (4 folds × apex, u+v), {args.size}², {args.epochs} epochs, "
        f"{args.repeats} repeats, median (fastest–slowest) from the command's start to its end"
    )
    print("| launcher | whole sweep |")
    print("|---|---|")
    for name, times in seconds.items():
        print(f"| {name} | {statistics.median(times):.1f} s ({min(times):.1f}–{max(times):.1f}) |")


if __name__ == "__main__":
    main()
