"""The long-video motion cache: each video's per-region motion (`mer.spot.motion`), computed once.

`outputs/cache/spot-<dataset>-<key>/` holds one `<video>.npz` per video (frame numbers and, per
expression type, [n_frames, n_regions] float32, `motion_<type>`; with a `patch_size` in the
parameters also the regions' flow patches, `patches_<type>` float16) and `manifest.json`. The key
hashes the release's long-video table and the motion parameters (`patch_size` among them only when
set, so a cache without patches keeps its key), so a change to either is a new cache. Each video is
written atomically the moment it is done: an interrupted build keeps its finished videos and a rerun
computes only the rest. Videos run in parallel, one process each, streamed frame by frame: memory
holds a few working crops per process, and the cache a few floats per frame (tens of MB for the
hundreds of thousands of frames of CAS(ME)^2 or SAMM Long Videos). Patches weigh more: 3 regions ×
3 channels × patch_size² float16 per frame and type, 4.6 KB at 16² (GBs for those releases), and a
process holds its video's patches until the video is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mer.atomic import write_atomically
from mer.data.long_videos import LongVideos
from mer.errors import MerError
from mer.preprocess.cache_build import completed_interruptibly, end_workers, init_worker, sigint_held
from mer.spot.motion import FlowFn, VideoMotion, numbered_frame_files, video_motion

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: Bumped whenever the files' meaning changes.
MOTION_CACHE_FORMAT = 1


def steps_for(fps: float, typical_seconds: dict[str, float]) -> dict[str, int]:
    """Each type's flow step k: about half a typical expression of that type, in frames (≥ 1)."""
    return {kind: max(1, round(fps * seconds / 2)) for kind, seconds in typical_seconds.items()}


def cache_dir(videos: LongVideos, params: dict[str, Any], cache_root: str | Path) -> Path:
    """Where this release's motion under these parameters is cached (content-keyed)."""
    digest = hashlib.sha256()
    digest.update(videos.content_hash().encode())
    digest.update(json.dumps({"format": MOTION_CACHE_FORMAT, **params}, sort_keys=True, default=str).encode())
    return Path(cache_root) / f"spot-{videos.dataset}-{digest.hexdigest()[:16]}"


def video_file(out: Path, video: str) -> Path:
    """A video's file in the cache: its id with anything but letters, digits, `._-` replaced."""
    return out / f"{re.sub(r'[^A-Za-z0-9._-]', '_', video)}.npz"


def _compute_video(
    frames_dir: str, frame_regex: str, steps: dict[str, int], flow_fn: FlowFn, settings: dict, out: str
) -> int:
    """In a worker: one video's motion, written atomically to `out`; its frame count."""
    files = numbered_frame_files(Path(frames_dir), frame_regex)
    if len(files) < 2:
        raise MerError(f"{frames_dir}: fewer than two frames (like {frame_regex}); check data.root")
    result = video_motion(files, steps, flow_fn, **settings)
    arrays = {"frames": result.frames, "face_found": np.array(result.face_found)}
    arrays.update({f"motion_{kind}": values for kind, values in result.motion.items()})
    arrays.update({f"patches_{kind}": values for kind, values in (result.patches or {}).items()})
    write_atomically(Path(out), lambda tmp: _save_npz(tmp, arrays))
    return len(files)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Arrays into one .npz at exactly `path` (np.savez given a name would add its own suffix)."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def build_motion_cache(
    videos: LongVideos, params: dict[str, Any], flow_fn: FlowFn, cache_root: str | Path, workers: int | None = None
) -> Path:
    """The cache of every video's motion: the videos not there yet computed in parallel, with a
    progress bar in frames; the folder, its size said in the log."""
    out = cache_dir(videos, params, cache_root)
    out.mkdir(parents=True, exist_ok=True)
    steps = steps_for(videos.fps, params["typical_seconds"])
    settings = {key: params[key] for key in ("size", "margin", "upsample", "flow_context")}
    settings["patch_size"] = params.get("patch_size")
    todo = [row for row in videos.videos.itertuples() if not video_file(out, row.video).is_file()]
    if todo:
        workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
        total = int(sum(row.n_frames for row in todo))
        with ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker
        ) as pool:
            try:
                with sigint_held():
                    futures = {
                        pool.submit(
                            _compute_video,
                            str(videos.root / row.frames_dir),
                            videos.frame_regex,
                            steps,
                            flow_fn,
                            settings,
                            str(video_file(out, row.video)),
                        ): row
                        for row in todo
                    }
                with tqdm(total=total, desc="motion", unit="frame", unit_scale=True) as progress:
                    for future in completed_interruptibly(futures):
                        progress.update(future.result())
            except BaseException:
                end_workers(pool)
                raise
    manifest = {
        "format": MOTION_CACHE_FORMAT,
        "dataset": videos.dataset,
        "root": str(videos.root),
        "fps": videos.fps,
        "steps": steps,
        "params": params,
        "videos": len(videos.videos),
        "frames": int(videos.videos["n_frames"].sum()),
        "provenance": videos.provenance,
    }
    write_atomically(out / MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=2, default=str)))
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    log.info("motion cache %s: %d videos, %d frames, %.1f MB", out, manifest["videos"], manifest["frames"], size / 1e6)
    return out


def load_video_motion(out: Path, video: str, patches: bool = False) -> VideoMotion:
    """A cached video's motion, with its flow patches when asked (a cache built with a `patch_size`);
    a damaged file is one line naming it."""
    path = video_file(out, video)
    try:
        with np.load(path, allow_pickle=False) as data:
            motion = _by_type(data, "motion_")
            kept = _by_type(data, "patches_") if patches else None
            if patches and set(kept) != set(motion):
                raise KeyError("patches")
            return VideoMotion(data["frames"], motion, bool(data["face_found"]), kept)
    except (OSError, ValueError, KeyError) as err:
        raise MerError(f"{path}: damaged motion cache file ({type(err).__name__}); delete it to recompute") from None


def _by_type(data: np.lib.npyio.NpzFile, prefix: str) -> dict[str, np.ndarray]:
    """The arrays named `<prefix><type>`, by type."""
    return {name[len(prefix) :]: data[name] for name in data.files if name.startswith(prefix)}
