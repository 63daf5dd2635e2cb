"""Writing a synthetic release: plan, render, sheet and record into a folder, atomically and locked.

The folder contract: `synthetic.json` (the plan: params, subjects, clips with their bumps) beside
the frames and sheet of the chosen layout. A release already there with the same parameters is
kept; one with other parameters is replaced (with a warning); a non-empty folder without
`synthetic.json` may be a real release and is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import uuid
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from mer.errors import MerError
from mer.synthetic.layouts import LAYOUTS
from mer.synthetic.params import param_diff, synthetic_params
from mer.synthetic.plan import plan_release
from mer.synthetic.render import render_subject

GROUND_TRUTH_FILE = "synthetic.json"


def generate_synthetic(
    root: str | Path,
    n_subjects: int = 8,
    clips_per_subject: int = 8,
    frames_per_clip: Sequence[int] = (9, 15),
    seed: int = 0,
    amplitude: Sequence[float] = (0.5, 2.5),
    noise_sigma: Sequence[float] = (1.5, 2.0),
    head_shift: float = 0.3,
    jpeg_quality: int = 92,
    layout: str = "casme2",
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a synthetic release in `layout` at `root` (atomic, locked) and return its path.

    A release already there with the same parameters is kept; one with other parameters is
    replaced (with a warning); a non-empty folder that is not a synthetic release is refused.
    `workers` and `progress` change speed and output only, never the files.
    """
    params = synthetic_params(
        n_subjects,
        clips_per_subject,
        frames_per_clip,
        seed,
        amplitude,
        noise_sigma,
        head_shift,
        jpeg_quality,
        layout,
    )
    return publish_release(root, params, lambda tmp: _write_release(tmp, params, workers, progress))


def publish_release(root: str | Path, params: dict[str, Any], write: Callable[[Path], None]) -> Path:
    """Run `write(folder)` into a temporary sibling of `root` and swap it into place, under a lock.

    What `generate_synthetic` and `mer.synthetic.long_videos` share: a release at `root` recorded with
    the same `params` is kept; one with other params is replaced (with a warning); a non-empty folder
    that is not a synthetic release is refused.
    """
    from filelock import FileLock

    root = Path(root).expanduser().absolute()
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root.parent / f".{root.name}.lock")):
        existing = refuse_foreign(root)
        if existing == params:
            return root  # another process generated it while we waited for the lock
        if existing is not None:
            warnings.warn(
                f"{root} holds a synthetic release generated with other parameters "
                f"({param_diff(existing, params)}); regenerating it",
                stacklevel=3,
            )
        _remove_stale_temporaries(root)
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            write(tmp)
            _swap_into_place(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def load_ground_truth(root: str | Path) -> dict[str, Any]:
    """The generator's record of a synthetic release (params, subjects, clips with their bumps)."""
    path = Path(root) / GROUND_TRUTH_FILE
    if not path.is_file():
        raise MerError(f"{path} not found: {root} is not a synthetic release")
    return json.loads(path.read_text())


def existing_params(root: Path) -> dict[str, Any] | None:
    """The params recorded in `root/synthetic.json`, or None when there is no readable record."""
    try:
        return json.loads((root / GROUND_TRUTH_FILE).read_text())["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refuse_foreign(root: Path) -> dict[str, Any] | None:
    """Existing synthetic params at `root`; MerError if `root` holds anything else."""
    if root.exists() and not root.is_dir():
        raise MerError(f"{root} is a file, not a folder: point data.root at a folder")
    existing = existing_params(root)
    if existing is None and root.is_dir() and any(root.iterdir()):
        raise MerError(
            f"{root} is not empty and holds no {GROUND_TRUTH_FILE}: it may be a real release, so "
            "the synthetic generator will not overwrite it. Point data.root at an empty or new "
            "folder (or use data=casme2 to read a real release there)"
        )
    return existing


def _remove_stale_temporaries(root: Path) -> None:
    """Delete temp/old siblings left by killed generators (safe: the caller holds the lock)."""
    for stale in root.parent.glob(f".{root.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in root.parent.glob(f".{root.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _swap_into_place(tmp: Path, root: Path) -> None:
    """Rename the finished temp folder to `root`, moving any previous release aside first."""
    if root.exists():
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex[:8]}"
        root.rename(old)
        tmp.rename(root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(root)


def _write_release(tmp: Path, params: dict[str, Any], workers: int | None, progress: bool) -> None:
    """Plan, render frames (threads; OpenCV and numpy release the GIL), write sheet and record."""
    from tqdm import tqdm

    layout = LAYOUTS[params["layout"]]
    plan = plan_release(params)
    plan["clips"] = layout.adapt(plan["clips"])
    plan["note"] = plan["note"].replace("CASME II", layout.title)
    tmp.mkdir(parents=True)
    workers = workers or min(4, os.cpu_count() or 1)
    bar = tqdm(
        total=len(plan["clips"]), desc=f"synthetic {layout.title}", unit="clip", file=sys.stderr, disable=not progress
    )
    lock = threading.Lock()

    def done(n: int) -> None:
        """Advance the shared progress bar from a worker thread."""
        with lock:
            bar.update(n)

    with bar, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                render_subject,
                subject,
                [c for c in plan["clips"] if c["subject"] == subject["subject"]],
                tmp,
                params["jpeg_quality"],
                layout,
                done,
            )
            for subject in plan["subjects"]
        ]
        for future in as_completed(futures):
            future.result()
    if layout.write_sheet is not None:
        layout.write_sheet(tmp, plan["clips"])
    (tmp / GROUND_TRUTH_FILE).write_text(json.dumps(plan, indent=1) + "\n")
