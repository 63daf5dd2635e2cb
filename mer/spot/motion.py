"""A long video → per-region facial motion per frame, streamed: what spotting reads (`mer.spot.signal`).

The face is aligned once per video, on its first frame with a face, with dlib's 68 landmarks (the
same alignment as recognition, `mer.preprocess.align`), and every frame is warped into that small
working crop as it is read; only the last 2k + 1 crops are kept. For each expression type (k about
half a typical expression of that type, from the frame rate), frame c's motion is the mean of the
optical flows from frame c to frame c − k and to frame c + k, as MDMD compares a frame with the
frames k before and after it: at an expression's apex both point back to the neutral face and add
up; at its onset or offset one of them is zero; and a steady head drift cancels between them. The
median flow of the nose ridge, a rigid region, is then taken away, and the mean magnitude in each
expressive region (brows, eyes, mouth) kept: a few floats per frame, whatever the video's length.

A method that learns from the flow itself (`spot=softnet`) asks for `patch_size`: then each region's
box of that same head-free mean flow is also kept, resized to patch_size² with its optical strain as
a third channel (u, v, strain, as SoftNet's three streams), float16, written into one preallocated
array per type as each frame is done.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mer.preprocess.align import Alignment, alignment_from_landmarks, centre_alignment
from mer.preprocess.flow import optical_strain
from mer.preprocess.landmarks import detect_landmarks

#: Landmark indices of each region (dlib's 68 points): the expressive ones, and the rigid reference.
REGIONS: dict[str, tuple[int, ...]] = {
    "brows": tuple(range(17, 27)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}
NOSE_RIDGE: tuple[int, ...] = (27, 28, 29, 30)
#: Fallback boxes (fractions of the crop: x0, y0, x1, y1) where dlib finds no face in the video.
#: The channels of a region's patch: the flow's two components and its optical strain.
PATCH_CHANNELS: tuple[str, ...] = ("u", "v", "strain")
FALLBACK_BOXES: dict[str, tuple[float, float, float, float]] = {
    "brows": (0.15, 0.15, 0.85, 0.35),
    "eyes": (0.15, 0.3, 0.85, 0.5),
    "mouth": (0.25, 0.65, 0.75, 0.9),
    "nose": (0.42, 0.35, 0.58, 0.6),
}

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class VideoMotion:
    """One video's motion: frame numbers, and per type an array [n_frames, n_regions] (0 within k
    frames of either end, which lack a frame k before or after), with its flow patches when asked."""

    frames: np.ndarray  # int64 [n]
    motion: dict[str, np.ndarray]  # type → float32 [n, len(REGIONS)]
    face_found: bool
    #: type → float16 [n, len(REGIONS), len(PATCH_CHANNELS), p, p] (0 where motion is), or None when off
    patches: dict[str, np.ndarray] | None = None


def numbered_frame_files(folder: Path, frame_regex: str) -> list[tuple[int, Path]]:
    """A video's frame files, (number, path) sorted by number (img9 before img10)."""
    pattern = re.compile(frame_regex)
    found = []
    for path in folder.iterdir():
        match = pattern.match(path.stem)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def region_boxes(alignment: Alignment, pad: float = 0.04) -> dict[str, tuple[int, int, int, int]]:
    """Each region's box in crop pixels (x0, y0, x1, y1), from the landmarks mapped into the crop
    (grown by `pad` of the crop on each side), or the fallback fractions without landmarks."""
    size = alignment.size
    if alignment.landmarks is None:
        return {name: tuple(round(f * size) for f in box) for name, box in FALLBACK_BOXES.items()}
    points = alignment.landmarks @ alignment.matrix[:, :2].T + alignment.matrix[:, 2]
    grow = pad * size
    boxes = {}
    for name, indices in (*REGIONS.items(), ("nose", NOSE_RIDGE)):
        low, high = points[list(indices)].min(axis=0) - grow, points[list(indices)].max(axis=0) + grow
        x0, y0 = np.clip(np.floor(low), 0, size - 1).astype(int)
        x1, y1 = np.clip(np.ceil(high), 1, size).astype(int)
        boxes[name] = (int(x0), int(y0), int(max(x1, x0 + 1)), int(max(y1, y0 + 1)))
    return boxes


def head_free(flow: np.ndarray, boxes: Mapping[str, tuple[int, int, int, int]]) -> np.ndarray:
    """The flow less the nose ridge's median flow (the head's own motion): the face's own."""
    x0, y0, x1, y1 = boxes["nose"]
    return flow - np.median(flow[y0:y1, x0:x1].reshape(-1, 2), axis=0)


def region_motion(flow: np.ndarray, boxes: Mapping[str, tuple[int, int, int, int]]) -> np.ndarray:
    """Mean flow magnitude in each expressive region after the nose ridge's median flow (the
    head's own motion) is taken away: [len(REGIONS)]."""
    residual = np.linalg.norm(head_free(flow, boxes), axis=-1)
    return np.array(
        [residual[b[1] : b[3], b[0] : b[2]].mean() for b in (boxes[name] for name in REGIONS)], dtype=np.float32
    )


def region_patches(flow: np.ndarray, boxes: Mapping[str, tuple[int, int, int, int]], patch_size: int) -> np.ndarray:
    """Each expressive region's box of the head-free flow (u, v) and its optical strain, resized to
    patch_size²: float16 [len(REGIONS), len(PATCH_CHANNELS), patch_size, patch_size]."""
    residual = head_free(flow, boxes)
    maps = np.dstack([residual, optical_strain(residual)]).astype(np.float32)
    return np.stack(
        [
            cv2.resize(maps[y0:y1, x0:x1], (patch_size, patch_size), interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
            for x0, y0, x1, y1 in (boxes[name] for name in REGIONS)
        ]
    ).astype(np.float16)


def video_alignment(
    files: list[tuple[int, Path]], size: int, margin: float, upsample: int, tries: int = 10
) -> Alignment:
    """The video's one alignment: dlib on the first of `tries` evenly spread frames that shows a
    face, else the centred square."""
    picks = np.linspace(0, len(files) - 1, num=min(tries, len(files))).round().astype(int)
    for index in dict.fromkeys(picks):
        grey = cv2.imread(str(files[index][1]), cv2.IMREAD_GRAYSCALE)
        landmarks = detect_landmarks(grey, upsample=upsample) if grey is not None else None
        if landmarks is not None:
            return alignment_from_landmarks(landmarks, size=size, margin=margin)
    grey = cv2.imread(str(files[0][1]), cv2.IMREAD_GRAYSCALE)
    return centre_alignment(grey.shape, size)


def aligned_frames(files: list[tuple[int, Path]], alignment: Alignment, pad: int) -> Iterator[tuple[int, np.ndarray]]:
    """Each frame read (grey) and warped into the working crop plus its context border, one at a time."""
    for number, path in files:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if grey is None:
            raise OSError(f"cannot read frame {path}")
        yield number, alignment.apply(grey, pad)


def video_motion(
    files: list[tuple[int, Path]],
    steps: Mapping[str, int],
    flow_fn: FlowFn,
    size: int = 64,
    margin: float = 0.2,
    upsample: int = 0,
    flow_context: float = 0.1,
    progress: Callable[[int], None] | None = None,
    patch_size: int | None = None,
) -> VideoMotion:
    """Stream a video's frames once: per type (its step k in `steps`), each frame's region motion
    against the frames k before and after it (0 within k of either end), and with `patch_size` its
    regions' flow patches (`region_patches`; None: none kept)."""
    alignment = video_alignment(files, size, margin, upsample)
    boxes = region_boxes(alignment)
    pad = round(flow_context * size)
    inner = slice(pad, pad + size)
    history: deque[np.ndarray] = deque(maxlen=2 * max(steps.values()) + 1)
    motion = {kind: np.zeros((len(files), len(REGIONS)), np.float32) for kind in steps}
    patches = None
    if patch_size is not None:  # one array per type, filled frame by frame
        shape = (len(files), len(REGIONS), len(PATCH_CHANNELS), patch_size, patch_size)
        patches = {kind: np.zeros(shape, np.float16) for kind in steps}
    for i, (_, crop) in enumerate(aligned_frames(files, alignment, pad)):
        history.append(crop)
        for kind, k in steps.items():
            centre = i - k  # the frame k back now has k frames on both sides
            if centre >= k:
                middle = history[-1 - k]
                back = flow_fn(middle, history[-1 - 2 * k])[inner, inner]
                ahead = flow_fn(middle, crop)[inner, inner]
                flow = (back + ahead) / 2
                motion[kind][centre] = region_motion(flow, boxes)
                if patches is not None:
                    patches[kind][centre] = region_patches(flow, boxes, patch_size)
        if progress is not None:
            progress(1)
    return VideoMotion(np.array([n for n, _ in files], np.int64), motion, alignment.landmarks is not None, patches)
