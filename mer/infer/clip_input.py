"""A clip to predict on: a folder of frames, a video file, or an onset and an apex image."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mer.data.frame_files import IMAGE_SUFFIXES, first_by_number, numbered_frames
from mer.errors import MerError
from mer.infer.preflight import check_clip_paths
from mer.preprocess.clip import read_grey

#: The frame number in a file name: its last run of digits (img46, reg_img46, 006_05562).
FRAME_NUMBER = re.compile(r"(\d+)\D*$")


@dataclass(frozen=True)
class Clip:
    """A clip's frames in time order, uint8 grey and all of one size, with what names them."""

    source: str  # "folder", "video" or "images"
    path: Path  # the folder, the video, or the onset image
    names: list[str]  # each frame as the user knows it: its file name, or "frame 12" of a video
    numbers: list[int]  # from the file names (img46 → 46); a video's frame index from 0
    frames: list[np.ndarray]

    def index_of(self, number: int, option: str) -> int:
        """Position of the frame numbered `number`, or a clear error naming `option`."""
        if number not in self.numbers:
            kind = "frame index" if self.source == "video" else "frame number"
            raise MerError(
                f"{option} {number}: {self.path} has no {kind} {number}; its frames run "
                f"{self.numbers[0]}–{self.numbers[-1]}"
            )
        return self.numbers.index(number)


def read_clip(paths: Sequence[str | Path]) -> Clip:
    """A clip folder, a video file, or two images (onset, apex), told apart by what the paths are."""
    check_clip_paths(paths)
    paths = [Path(p) for p in paths]
    if len(paths) == 2:
        return read_images(*paths)
    (path,) = paths
    if path.is_dir():
        return read_folder(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise MerError(f"{path} is one image: give the onset and the apex image, a clip folder or a video")
    return read_video(path)


def read_folder(folder: Path) -> Clip:
    """The image files of a clip folder, ordered by the number in their names (img9 < img10)."""
    files = first_by_number(numbered_frames(folder, FRAME_NUMBER))
    numbers = sorted(files)
    frames = [read_grey(folder / files[n]) for n in numbers]
    return _checked(Clip("folder", folder, [files[n] for n in numbers], numbers, frames))


def read_video(path: Path) -> Clip:
    """Every frame of a video file, as grey."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        while capture.isOpened():
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame)
    finally:
        capture.release()
    if not frames:
        raise MerError(
            f"cannot read video {path}: OpenCV decodes no frame from it (not a video, "
            "damaged, or a codec this OpenCV build lacks); convert it, or extract its "
            "frames into a folder"
        )
    return _checked(Clip("video", path, [f"frame {i}" for i in range(len(frames))], list(range(len(frames))), frames))


def read_images(onset: Path, apex: Path) -> Clip:
    """An onset and an apex image, as a clip of two frames."""
    return _checked(Clip("images", onset, [onset.name, apex.name], [0, 1], [read_grey(onset), read_grey(apex)]))


def _checked(clip: Clip) -> Clip:
    """The clip, if it has at least two frames, all of one size."""
    if len(clip.frames) < 2:
        what = {"folder": "numbered image file", "video": "frame"}[clip.source]
        raise MerError(
            f"{clip.path} holds {len(clip.frames)} {what}(s): a prediction needs at "
            "least two frames, an onset and an apex"
        )
    shape = clip.frames[0].shape
    for name, frame in zip(clip.names, clip.frames):
        if frame.shape != shape:
            raise MerError(
                f"{clip.path}: {name} is {frame.shape[1]}×{frame.shape[0]} but "
                f"{clip.names[0]} is {shape[1]}×{shape[0]}; a clip's frames share one size"
            )
    return clip
