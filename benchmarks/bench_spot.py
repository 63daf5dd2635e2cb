"""`make bench-spot`: what spotting a long video costs: motion frames/s, memory, disk, and the peaks.

Runs in one process (the machine is shared and noisy) and prints medians:
- the synthetic long video(s) (`--videos` of `--frames` frames in `--layout`'s layout), generated once
  into a temp dir (or `--data DIR`, kept), and their frames' disk use;
- motion stage (flow plus signal: `build_motion_cache` with conf/spot.yaml's defaults) into a fresh
  cache dir each of `--repeats` times: frames/s with 1 worker, and with every core where there are
  several videos (a video is one process, so one video cannot use more);
- memory: the peak resident memory of the worker process computing a video (RUSAGE_CHILDREN's
  ru_maxrss once the pool has ended), for a `--short-frames` video first, then the long one: frames
  are streamed, so the peak does not grow with the video's length;
- disk: the motion cache's bytes per frame and in all, beside full flow fields at 112² float16 for
  the same frames, both projected to CAS(ME)^2's and SAMM Long Videos' sizes (estimates);
- spotting alone: `spot.name`'s method (flow_peaks: a video's cached motion loaded, its peaks found), per video.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_prepare import median_time  # the sibling script: the same timing helper
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mer.config import CONFIG_DIR
from mer.data.long_videos import LongVideos
from mer.errors import plural
from mer.spot.app import motion_params, spotter
from mer.spot.motion_cache import MANIFEST, build_motion_cache, steps_for, video_file
from mer.synthetic.long_videos import LONG_LAYOUTS, generate_long_videos, read_synthetic_videos

#: Full flow fields as a recognition cache would keep them: u and v at 112² in float16, per frame.
FLOW_SIDE, FLOW_BYTES = 112, 2
FLOW_FIELD_BYTES = 2 * FLOW_SIDE**2 * FLOW_BYTES
#: The real releases' total frame counts, ESTIMATES for the projection (neither DESIGN.md nor the
#: papers' abstracts give them): CAS(ME)^2's part A, 87 long videos of its 22 subjects at 30 fps, taken
#: at about 100 s (3,000 frames) each; SAMM Long Videos, 147 videos at 200 fps, about 35 s (7,000
#: frames) each. The projection is linear: scale it by the true count where known.
RELEASE_FRAMES: dict[str, int] = {"CAS(ME)^2 (est. 87 × 3,000)": 87 * 3_000, "SAMM-LV (est. 147 × 7,000)": 147 * 7_000}
SPOT_CALLS = 10  # the spotting stage is milliseconds: the median of this many calls


def spot_cfg() -> DictConfig:
    """The real mer-spot config's spotting node (conf/spot.yaml's defaults)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("spot").spot


def children_peak_mb() -> float:
    """The largest resident memory of any ended child process so far, MB (ru_maxrss is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def synthetic_videos(root: Path, layout: str, videos: int, frames: int) -> tuple[LongVideos, float]:
    """`videos` synthetic long videos (a subject each) at `root`, generated unless there; the seconds that took."""
    started = time.perf_counter()
    generate_long_videos(root, layout, n_subjects=videos, videos_per_subject=1, frames_per_video=frames, seed=0)
    generated = time.perf_counter() - started
    read = read_synthetic_videos(root, layout, n_subjects=videos, videos_per_subject=1, frames_per_video=frames)
    return read, generated


def timed_motion(
    videos: LongVideos, params: dict[str, Any], flow_fn: Any, workers: int, root: Path
) -> tuple[float, Path]:
    """The motion stage into a fresh cache root: its wall seconds (pool start-up included) and the cache."""
    started = time.perf_counter()
    out = build_motion_cache(videos, params, flow_fn, root, workers=workers)
    return time.perf_counter() - started, out


def spot_all(videos: LongVideos, cache: Path, steps: dict[str, int], cfg: DictConfig) -> None:
    """The spotting stage alone, as mer-spot runs it (`spot.name`'s method on the cached motion)."""
    spotter(cfg.name)(videos, cache, steps, OmegaConf.to_container(cfg, resolve=True))


def measure(args: argparse.Namespace, data: Path, scratch: Path) -> dict[str, Any]:
    """Every figure, in the order the module's docstring lists them (videos under `data`, caches under `scratch`)."""
    cores = os.cpu_count() or 1
    cfg = spot_cfg()
    params, flow_fn = motion_params(cfg), instantiate(cfg.flow)
    videos, generated = synthetic_videos(
        data / f"{args.layout}-{args.videos}x{args.frames}", args.layout, args.videos, args.frames
    )
    short, _ = synthetic_videos(data / f"{args.layout}-1x{args.short_frames}", args.layout, 1, args.short_frames)
    total = int(videos.videos["n_frames"].sum())
    frames_bytes = sum(folder_bytes(videos.root / d) for d in videos.videos["frames_dir"])
    print(
        f"{args.videos} × {args.frames} frames ({args.layout}, {videos.fps:g} fps) generated in {generated:.1f} s",
        flush=True,
    )

    # RUSAGE_CHILDREN keeps the largest of every ended child: the short video's worker first, alone.
    timed_motion(short, params, flow_fn, 1, scratch / "short")
    short_peak = children_peak_mb()
    rates: dict[int, list[float]] = {1: [], cores: []} if args.videos > 1 and cores > 1 else {1: []}
    caches, long_peak = [], None
    for repeat in range(args.repeats):
        for workers in rates:
            seconds, cache = timed_motion(videos, params, flow_fn, workers, scratch / f"{repeat}-{workers}")
            rates[workers].append(total / seconds)
            caches.append(cache)
            if long_peak is None:
                long_peak = children_peak_mb()  # after the long video's first 1-worker run
    cache = caches[0]
    steps = steps_for(videos.fps, params["typical_seconds"])
    spot = median_time(lambda: spot_all(videos, cache, steps, cfg), SPOT_CALLS) / args.videos
    motion_bytes = sum(video_file(cache, v).stat().st_size for v in videos.videos["video"])
    one = statistics.median(rates[1])
    return {
        "cores": cores,
        "videos": args.videos,
        "frames": total,
        "fps": videos.fps,
        "frames_mb": frames_bytes / 1e6,
        "frames_per_s_1_worker": one,
        "frames_per_s_all_cores": statistics.median(rates[cores]) if cores in rates and cores > 1 else None,
        "peak_mb_short": short_peak,
        "peak_mb_long": long_peak,
        "cache_bytes_per_frame": motion_bytes / total,
        "cache_bytes": motion_bytes + (cache / MANIFEST).stat().st_size,
        "flow_bytes_per_frame": FLOW_FIELD_BYTES,
        "spot_ms_per_video": 1e3 * spot,
        "projection": {
            name: {
                "cache_mb": n * motion_bytes / total / 1e6,
                "flow_gb": n * FLOW_FIELD_BYTES / 1e9,
                "motion_hours_1_worker": n / one / 3600,
            }
            for name, n in RELEASE_FRAMES.items()
        },
    }


def table(f: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The figures as a markdown table."""
    n, cores = f["frames"], f["cores"]
    all_cores = (
        f"{f['frames_per_s_all_cores']:.0f} frames/s ({f['frames_per_s_all_cores'] / f['frames_per_s_1_worker']:.2f}×)"
        if f["frames_per_s_all_cores"] is not None
        else f"not measured: {'one video is one process' if f['videos'] == 1 else 'one core'}"
    )
    rows = [
        (
            f"synthetic frames on disk ({n:,} frames, 256² JPEG)",
            f"{f['frames_mb']:.1f} MB ({1e6 * f['frames_mb'] / n / 1e3:.1f} kB/frame)",
        ),
        (
            f"motion stage (flow + signal, pool start-up included), 1 worker, median of {args.repeats}",
            f"{f['frames_per_s_1_worker']:.0f} frames/s ({n / f['frames_per_s_1_worker']:.1f} s)",
        ),
        (f"motion stage, {cores} workers ({plural(f['videos'], 'video')})", all_cores),
        (f"peak memory of the worker process, {args.short_frames:,}-frame video", f"{f['peak_mb_short']:.0f} MB"),
        (
            f"peak memory of the worker process, {args.frames:,}-frame video (RUSAGE_CHILDREN: the larger of both)",
            f"{f['peak_mb_long']:.0f} MB",
        ),
        ("motion cache on disk", f"{f['cache_bytes_per_frame']:.1f} B/frame, {f['cache_bytes'] / 1e3:.1f} kB in all"),
        (
            f"full flow fields for the same frames ({FLOW_SIDE}² u+v float16)",
            f"{FLOW_FIELD_BYTES:,} B/frame, {n * FLOW_FIELD_BYTES / 1e6:.0f} MB",
        ),
        (
            f"spotting alone (load the cached motion + peaks), median of {SPOT_CALLS}",
            f"{f['spot_ms_per_video']:.1f} ms per video",
        ),
    ]
    for name, p in f["projection"].items():
        rows.append(
            (
                f"{name} frames: motion cache vs flow fields; motion at 1 worker (256² frames)",
                f"{p['cache_mb']:.1f} MB vs {p['flow_gb']:.1f} GB; {p['motion_hours_1_worker']:.1f} h",
            )
        )
    return ["| measure | value |", "|---|---|", *(f"| {m} | {v} |" for m, v in rows)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the table, and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="frames of the long video")
    parser.add_argument("--videos", type=int, default=1, help="long videos (all cores are used only with several)")
    parser.add_argument("--layout", choices=sorted(LONG_LAYOUTS), default="casme_sq")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--short-frames", type=int, default=1_000, help="the short video the memory peak is compared with"
    )
    parser.add_argument("--data", type=Path, help="keep the synthetic videos here (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        figures = measure(args, args.data or Path(scratch) / "videos", Path(scratch) / "caches")
    print()
    print("\n".join(table(figures, args)), flush=True)
    return figures


if __name__ == "__main__":
    main()
