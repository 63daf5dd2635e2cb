"""`make bench-packed`: a 6-fold STSTNet sweep packed (`hydra/launcher=packed`) against separate
jobs (`hydra/launcher=gpus`, the default), side by side.

On a 6-subject synthetic release (the cache built first, so the sweeps time training) it runs the
same sweep, one job per fold, once per launcher and `--repeats` times in turn, each from an empty
sweep dir, and prints each launcher's median wall time from the `mer-train -m` command's start to
its end (fastest–slowest), training images per second over the whole sweep, and the ratio of the
medians. Both sweeps write the same files; `mer-report` is not part of the figure.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench_launchers import timed_sweep  # the sibling scripts: one timed `mer-train -m`
from bench_sweep import prepare

from mer.preprocess.cache import load_cache
from mer.synthetic import generate_synthetic

ROOT = Path(__file__).resolve().parents[1]
LAUNCHERS = {"separate": ["hydra/launcher=gpus"], "packed": ["hydra/launcher=packed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=28, help="the cache's side (STSTNet reads 28²)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="one more override")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench-packed")
    args = parser.parse_args()

    clips = 10
    out = args.out.resolve()
    release = generate_synthetic(
        out / f"synthetic-casme2-{args.subjects}x{clips}",
        n_subjects=args.subjects,
        clips_per_subject=clips,
        progress=False,
    )
    cache = prepare(["data=casme2", f"data.root={release}", f"paths.output_dir={out}", f"preprocess.size={args.size}"])
    common = [
        f"cache={cache}",
        f"preprocess.size={args.size}",
        f"paths.output_dir={out}",
        "model=ststnet",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        f"data.fold={','.join(map(str, range(args.subjects)))}",
        *args.set,
    ]
    n_clips = len(load_cache(cache).samples)
    images = (args.subjects - 1) * n_clips * args.epochs  # each fold trains on the other subjects' clips
    seconds: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    for repeat in range(args.repeats):  # in turn, so a busy spell hits both alike
        for name, launcher in LAUNCHERS.items():
            sweep_dir = out / f"sweep-{name}-{repeat}-{time.strftime('%Y%m%d-%H%M%S')}"
            seconds[name].append(timed_sweep(common, launcher, sweep_dir))
            print(f"{name}, repeat {repeat + 1}: {seconds[name][-1]:.1f} s", flush=True)
    print(
        f"\n{args.subjects} jobs (STSTNet, {args.subjects} LOSO folds of {n_clips} clips), "
        f"{args.epochs} epochs, {args.repeats} repeats, median (fastest–slowest) from the command's start to its end"
    )
    print("| launcher | whole sweep | training images/s |")
    print("|---|---|---|")
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    for name, times in seconds.items():
        print(f"| {name} | {medians[name]:.1f} s ({min(times):.1f}–{max(times):.1f}) | {images / medians[name]:.0f} |")
    print(f"\npacked / separate: {medians['packed'] / medians['separate']:.2f}× the wall time")


if __name__ == "__main__":
    main()
