"""The paths `mer-predict` and `mer-export` are given, checked before torch is imported: a missing clip
or an output folder that cannot be written answers in one line at once (a missing checkpoint:
`mer.run_dir.check_checkpoint`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mer.errors import MerError


def check_clip_paths(paths: Sequence[str | Path]) -> None:
    """Every path of a clip (a folder, a video, or an onset and an apex image) must exist."""
    for path in paths:
        if not Path(path).exists():
            raise MerError(f"{path} does not exist: give a clip folder, a video, or an onset and an apex image")


def check_writable(folder: Path, fix: str) -> None:
    """`folder` must be creatable and writable, so no work is done for output that cannot be saved;
    `fix` tells the user what to give instead."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        reason = f"{existing} is a file"
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = f"{existing} is not writable"
    else:
        return
    raise MerError(f"cannot write into {folder}: {reason}; {fix}")
