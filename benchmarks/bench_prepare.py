"""`make bench-prepare`: align+flow throughput with 1 worker vs all cores, and the cache-hit time.

Runs side by side in one process (the machine is shared and noisy) and prints medians:
- flow stage: samples/s building a fresh cache of the first `--clips` clips, 1 worker vs all cores,
  alternating, `--repeats` times (pool start-up included, as a user pays it);
- cache hit: `prepare()` on the whole CASME II-sized synthetic release (26 subjects, ~250 clips)
  once its cache exists — reading the sheet, listing the frames, hashing, the cheap integrity check;
  and the wall time of the `mer-prepare` command on that hit, interpreter start-up included;
- integrity: the cheap check alone (`load_cache`), the content check (`--verify`: every file's
  sha256), and sha256 against xxh3-128 (xxhash, where installed) over the same files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from mer.data import read_samples
from mer.preprocess.cache import FILES, load_cache
from mer.preprocess.cache_build import build_cache
from mer.preprocess.prepare import cache_params, prepare

ROOT = Path(__file__).resolve().parents[1]


def compose_cfg(overrides: list[str]):
    """The real mer-prepare config."""
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose("prepare", overrides=overrides)


def median_time(fn, repeats: int = 5) -> float:
    """Median wall time of `fn()` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def hash_files(paths: list[Path], new_hash) -> None:
    """Hash every file in 1 MiB blocks (as `mer.preprocess.cache.sha256_of` does)."""
    for path in paths:
        digest = new_hash()
        with open(path, "rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
        digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=32, help="clips per throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    overrides = [
        f"data.root={args.out / 'synthetic-casme2-26x10'}",
        "data.reader.n_subjects=26",
        "data.reader.clips_per_subject=10",
        f"paths.output_dir={args.out}",
        f"preprocess.size={args.size}",
    ]
    cfg = compose_cfg(overrides)
    table = read_samples(cfg.data)  # generates the release on first use
    print(
        f"synthetic release: {len(table)} clips, {len(table.subjects)} subjects; size {args.size}; {cores} cores",
        flush=True,
    )

    subset = replace(table, rows=table.rows.head(args.clips))
    params = cache_params(cfg.preprocess)
    flow_fn = instantiate(cfg.preprocess.flow)
    rates: dict[int, list[float]] = {1: [], cores: []}
    for _ in range(args.repeats):
        for workers in rates:
            with tempfile.TemporaryDirectory() as scratch:
                started = time.perf_counter()
                build_cache(subset, params, flow_fn, scratch, workers=workers)
                rates[workers].append(len(subset) / (time.perf_counter() - started))

    cache = prepare(cfg)  # make sure the full cache exists (built once, then every call is a hit)
    hit = median_time(lambda: prepare(cfg))
    check = median_time(lambda: load_cache(cache.path))
    verify = median_time(lambda: load_cache(cache.path, verify=True))
    files = [cache.path / name for name in FILES]
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    sha256 = median_time(lambda: hash_files(files, hashlib.sha256))
    try:
        import xxhash  # not a dependency: measured only to justify sha256

        xxh3 = median_time(lambda: hash_files(files, xxhash.xxh3_128))
    except ImportError:
        xxh3 = None
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("mer-prepare")), *overrides], check=True, capture_output=True)
    cli_hit = time.perf_counter() - started

    one, many = statistics.median(rates[1]), statistics.median(rates[cores])
    print()
    print(f"| measure (median of {args.repeats}, {args.clips} clips at {args.size}²) | value |")
    print("|---|---|")
    print(f"| align+flow, 1 worker | {one:.2f} samples/s |")
    print(f"| align+flow, {cores} workers | {many:.2f} samples/s |")
    print(f"| speed-up 1 → {cores} workers | {many / one:.2f}× (target ≥ 1.7×) |")
    print(f"| cache hit, prepare() on {len(table)} clips (median of 5) | {hit:.3f} s (target < 2 s) |")
    print(f"| cache hit, `mer-prepare` command incl. start-up | {cli_hit:.2f} s |")
    print(f"| cheap check alone (files, sizes, headers, rows; median of 5) | {1e3 * check:.1f} ms |")
    print(f"| `--verify` at {args.size}²: check + sha256 of {megabytes:.0f} MB (median of 5) | {verify:.3f} s |")
    print(
        f"| hashing those files: sha256 vs xxh3-128 | {sha256:.3f} s vs "
        + (f"{xxh3:.3f} s |" if xxh3 is not None else "xxhash not installed |")
    )


if __name__ == "__main__":
    main()
