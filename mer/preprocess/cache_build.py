"""The flow cache's build side: key a sample table and its preprocessing by content, compute every
clip in parallel, and write the cache atomically (the layout is `mer.preprocess.cache`'s)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock
from tqdm import tqdm

import mer
from mer.atomic import disk_full_error, is_disk_full
from mer.data.samples import SampleTable
from mer.errors import MerError
from mer.preprocess.cache import (
    CACHE_DTYPE,
    CACHE_FORMAT,
    CHANNELS,
    FILES,
    MANIFEST,
    SAMPLES,
    CacheDamaged,
    FlowCache,
    file_record,
    load_cache,
    release_name,
)
from mer.preprocess.clip import ClipResult, FlowFn, clip_settings, preprocess_clip
from mer.preprocess.data_check import degenerate_clips, paper_counts

log = logging.getLogger(__name__)


def cache_key(table: SampleTable, params: dict[str, Any]) -> str:
    """sha256 over all that shapes the cache's content: the reader's output and preprocessing params."""
    digest = hashlib.sha256()
    digest.update(f"mer-cache-{CACHE_FORMAT}".encode())
    digest.update(table.content_hash().encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def cache_dir_for(cache_root: Path, table: SampleTable, params: dict[str, Any]) -> Path:
    """Where the cache of this table under these parameters lives (whether or not it exists yet),
    named by its release (`casme2-…`, `synthetic-casme2-…`) and key."""
    return Path(cache_root) / f"{release_name(table.dataset, table.provenance)}-{cache_key(table, params)[:16]}"


def build_cache(
    table: SampleTable,
    params: dict[str, Any],
    flow_fn: FlowFn,
    cache_root: str | Path,
    workers: int | None = None,
    verify: bool = False,
) -> FlowCache:
    """Return the cache for `table` under `params`, building it first on a miss.

    A hit reads the manifest, the sample table and the arrays' headers (the cheap check; with
    `verify` also every file's sha256). A damaged cache is moved aside (`<name>.damaged-<time>`, with
    a warning) and rebuilt. One process per key builds (a file lock makes a concurrent second run
    wait and then hit); it writes into a temporary sibling and renames it into place, so a run
    killed midway, or a disk that fills up, leaves no half cache; Ctrl-C ends the workers at once
    and leaves neither the temporary cache nor the lock file.
    """
    cache_root = Path(cache_root).resolve()
    final = cache_dir_for(cache_root, table, params)
    if final.exists():
        with contextlib.suppress(CacheDamaged):  # a damaged one is moved aside under the lock
            cache = load_cache(final, verify)
            log.info("cache hit: %s", final)
            return cache
    cache_root.mkdir(parents=True, exist_ok=True)
    with _build_lock(final):
        if final.exists():
            try:
                cache = load_cache(final, verify)
                log.info("cache hit (built by a concurrent run): %s", final)
                return cache
            except CacheDamaged as damage:
                _move_aside(final, damage)
        for stale in cache_root.glob(f".tmp-{final.name}-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        tmp = cache_root / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
        try:
            tmp.mkdir()
            _write_cache(tmp, table, params, flow_fn, workers)
            os.rename(tmp, final)
        except OSError as err:
            if is_disk_full(err):
                raise disk_full_error(cache_root, f"the cache {final.name}") from err
            raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("cache built: %s", final)
    return FlowCache(final)


@contextlib.contextmanager
def _build_lock(final: Path) -> Iterator[None]:
    """Hold the lock on building `final`, and leave no lock file: it is removed while still held, so
    a waiter that then locks the removed file sees it gone and takes the new one (filelock re-checks
    the file it locked)."""
    lock = FileLock(f"{final}.lock")
    with lock:
        try:
            yield
        finally:
            Path(lock.lock_file).unlink(missing_ok=True)


def _move_aside(path: Path, damage: CacheDamaged) -> Path:
    """Rename a damaged cache to `<name>.damaged-<time>` (kept for a look, never deleted) and say so."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    if aside.exists():
        aside = aside.with_name(f"{aside.name}-{uuid.uuid4().hex[:4]}")
    os.rename(path, aside)
    warnings.warn(
        f"cache {path} is damaged ({damage.problem}): moved it to {aside.name} and rebuilding it", stacklevel=3
    )
    return aside


def _write_cache(out: Path, table: SampleTable, params: dict[str, Any], flow_fn: FlowFn, workers: int | None) -> None:
    """Compute every clip in a process pool and write the arrays, samples.csv and the manifest."""
    n, size = len(table), int(params["size"])
    arrays = {
        name: np.lib.format.open_memmap(out / f"{name}.npy", "w+", CACHE_DTYPE, (n, size, size)) for name in CHANNELS
    }
    for name in CHANNELS:  # claim the disk space now: a full disk is an OSError here, not a crash later
        _allocate(out / f"{name}.npy")
    landmarks = np.full((n, 68, 2), np.nan, np.float32)
    transforms = np.zeros((n, 2, 3), np.float32)
    no_face: list[str] = []
    rows = table.rows.reset_index(drop=True)
    settings = clip_settings(params)
    jobs = [
        dict(onset_path=table.path(r.onset_path), apex_path=table.path(r.apex_path), flow_fn=flow_fn, **settings)
        for r in rows.itertuples()
    ]
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker) as pool:
        try:
            with sigint_held():  # the workers start with it held back, then ignore it (`init_worker`)
                futures = {pool.submit(preprocess_clip, **job): i for i, job in enumerate(jobs)}
            # A `with`: the bar ends its line before anything is said after an error or Ctrl-C.
            with tqdm(completed_interruptibly(futures), total=n, desc="align + flow", unit="clip") as progress:
                for future in progress:
                    i = futures[future]
                    result: ClipResult | None = future.result()
                    if result is None or result.landmarks is None:
                        no_face.append(rows.at[i, "sample_id"])
                    if result is None:
                        continue
                    for name in CHANNELS:
                        arrays[name][i] = result.channels[name]
                    transforms[i] = result.matrix
                    if result.landmarks is not None:
                        landmarks[i] = result.landmarks
        except BaseException:  # an error or Ctrl-C: fail fast, don't finish the rest
            end_workers(pool)
            raise
    elapsed = time.perf_counter() - started
    if no_face and settings["no_face"] == "error":
        raise MerError(
            f"dlib found no face in the onset frame of {len(no_face)} clip(s): "
            f"{', '.join(sorted(no_face))}. Check those frames, or set "
            "preprocess.align.no_face=center to use a centred crop for them"
        )
    if no_face:
        warnings.warn(
            f"no face found, used a centred crop for {len(no_face)} clip(s): {', '.join(sorted(no_face))}", stacklevel=2
        )
    for array in arrays.values():
        array.flush()
    degenerate = degenerate_clips(rows, arrays["u"], arrays["v"])
    del arrays
    np.save(out / "landmarks.npy", landmarks)
    np.save(out / "transform.npy", transforms)
    rows.to_csv(out / SAMPLES, index=False)
    manifest = {
        "format": CACHE_FORMAT,
        "key": cache_key(table, params),
        "dataset": table.dataset,
        "root": str(table.root),
        "n": n,
        "classes": list(table.classes),
        "channels": list(CHANNELS),
        "params": params,
        "provenance": table.provenance,
        "counts": table.counts(),
        "no_face": sorted(no_face),
        "paper_counts": paper_counts(table),
        "degenerate": degenerate,
        "versions": _versions(),
        "build_seconds": round(elapsed, 2),
        "workers": workers,
        "files": {name: file_record(out / name) for name in FILES},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))


def _allocate(path: Path) -> None:
    """Reserve a memory-mapped file's blocks on disk (where the filesystem can), so that a disk
    that is too small fails before the build, as an OSError, rather than as a bus error mid-write."""
    if not hasattr(os, "posix_fallocate"):
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # filesystems without fallocate
            raise
    finally:
        os.close(fd)


def completed_interruptibly(futures: Iterable[Future], poll_s: float = 0.2) -> Iterator[Future]:
    """Each future as it completes, the main thread waking every `poll_s` seconds: a Ctrl-C that the
    kernel hands to another thread (tqdm's monitor) is then acted on at once, not when a clip that may
    take a minute finishes (`concurrent.futures.as_completed` sleeps until one does)."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=poll_s, return_when=FIRST_COMPLETED)
        yield from done


@contextlib.contextmanager
def sigint_held() -> Iterator[None]:
    """Hold SIGINT back while the pool starts its workers: they inherit the held signal, so a Ctrl-C
    while one starts up reaches only this process, which raises it on leaving (workers are spawned
    processes: a Python handler does not carry over, the signal mask does)."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def end_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued clips and end the running ones now (`cancel_futures` alone lets each
    running clip finish; Python < 3.14 has no public `terminate_workers`, hence `_processes`)."""
    workers = list(pool._processes.values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
    for process in workers:
        process.join()


def init_worker() -> None:
    """Leave Ctrl-C to the parent, which ends the workers (each would otherwise print a traceback),
    and one OpenCV thread per worker process, so `workers` is the real degree of parallelism."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # also drops one held back while it started
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    import cv2

    cv2.setNumThreads(1)


def _versions() -> dict[str, str]:
    """Library versions that can change the cache's numbers, recorded in the manifest."""
    import cv2
    import dlib

    return {"mer": mer.__version__, "numpy": np.__version__, "opencv": cv2.__version__, "dlib": dlib.__version__}
