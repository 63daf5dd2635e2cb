"""The uniform long-video table: what a spotting reader returns (CAS(ME)^2, SAMM Long Videos) and
`mer-spot` reads — every video's frames and every annotated interval, in the release's own frame
numbers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mer.errors import MerError

#: Columns of `LongVideos.videos`: one row per video. Paths are relative to `LongVideos.root`.
VIDEO_COLUMNS: tuple[str, ...] = (
    "video",  # the video's id as the release names it: "15_0101disgustingteeth", "006_1"
    "subject",  # the person: "s15", "006" (LOSO by subject)
    "frames_dir",  # folder of the video's frames, relative to root
    "first_frame",  # the first frame number (the release's numbering)
    "last_frame",  # the last frame number
    "n_frames",  # how many frame files (numbers may have gaps)
)

#: Columns of `LongVideos.intervals`: one row per annotated interval, frames inclusive.
INTERVAL_COLUMNS: tuple[str, ...] = (
    "video",  # a `videos` row's video
    "subject",
    "onset",  # int, the release's frame number
    "apex",  # int (the apex policy applied: midpoint where missing or outside)
    "offset",  # int; the apex where the sheet writes 0
    "type",  # "micro" | "macro"
    "action_units",  # the AU cell as text ("" when empty)
    "emotion",  # the sheet's emotion where it has one, else ""
)

TYPES = ("micro", "macro")


@dataclass(frozen=True)
class LongVideos:
    """A spotting release: its videos, their annotated intervals, the frame rate, and what produced
    them (the provenance keys the long-video cache)."""

    dataset: str
    root: Path
    fps: float
    videos: pd.DataFrame
    intervals: pd.DataFrame
    #: frame file name pattern per video is not uniform across releases: the reader records how to
    #: list a video's frames (`frame_regex`: a regex whose group 1 is the frame number).
    frame_regex: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, frame, columns in (
            ("videos", self.videos, VIDEO_COLUMNS),
            ("intervals", self.intervals, INTERVAL_COLUMNS),
        ):
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"long-video {name} table lacks columns {missing}")
        repeated = sorted(self.videos.loc[self.videos["video"].duplicated(), "video"])
        if repeated:
            raise MerError(f"{self.dataset}: video ids repeat: {', '.join(repeated[:5])}")
        unknown = sorted(set(self.intervals["video"]) - set(self.videos["video"]))
        if unknown:
            raise ValueError(f"intervals name videos the table lacks: {unknown[:5]}")
        bad_type = sorted(set(self.intervals["type"]) - set(TYPES))
        if bad_type:
            raise ValueError(f"interval types {bad_type} are not among {TYPES}")

    def content_hash(self) -> str:
        """sha256 of the tables and provenance: changes whenever what the reader returned changes."""
        digest = hashlib.sha256()
        digest.update(json.dumps(self.provenance, sort_keys=True, default=str).encode())
        digest.update(json.dumps([self.dataset, self.fps, self.frame_regex]).encode())
        digest.update(self.videos[list(VIDEO_COLUMNS)].to_csv(index=False).encode())
        digest.update(self.intervals[list(INTERVAL_COLUMNS)].to_csv(index=False).encode())
        return digest.hexdigest()
