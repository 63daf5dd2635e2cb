"""Frame files in a clip folder: which files are images, and the frame number each one carries.

Shared by the readers (a release's clip folders) and by `mer.infer` (a new clip's folder), so both
count the same files as frames and order them the same way (img9 before img10).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: File name suffixes counted as frames (compared ignoring case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def numbered_frames(clip_dir: Path, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """(number, file name) of the image files whose stem `pattern` finds a number in, by number."""
    frames = []
    for name in os.listdir(clip_dir):
        stem, suffix = os.path.splitext(name)
        match = pattern.search(stem)
        if match and suffix.lower() in IMAGE_SUFFIXES:
            frames.append((int(match.group(1)), name))
    return sorted(frames)


def first_by_number(frames: list[tuple[int, str]]) -> dict[int, str]:
    """Frame number → file name (first wins if e.g. img46 and img046 both exist)."""
    files: dict[int, str] = {}
    for number, name in frames:
        files.setdefault(number, name)
    return files
