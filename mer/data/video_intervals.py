"""What the spotting readers (CAS(ME)^2, SAMM Long Videos) share on the way to `LongVideos`: a video
folder's frame numbers, the offset-0 rule, the apex policy on intervals, the table and its provenance.

A reader builds one `videos` row per video folder holding frames (`video_row`) and one interval
record per sheet row (the `INTERVAL_COLUMNS` keys, the apex an int or None, plus `WHERE` naming the
sheet row for messages and `APEX_TEXT` the apex cell as written); `long_videos` checks the spans,
applies the apex policy and returns the table.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.long_videos import INTERVAL_COLUMNS, VIDEO_COLUMNS, LongVideos
from mer.data.samples import file_sha256
from mer.errors import MerError, plural

#: The config key of a spotting reader's apex policy (`data.videos.apex_policy`).
APEX_POLICY_KEY = "data.videos.apex_policy"

#: Interval record keys beside `INTERVAL_COLUMNS`: where the sheet has it ("<sheet> row 14"), the apex cell as written.
WHERE = "where"
APEX_TEXT = "apex_text"


def check_apex_policy(policy: str) -> None:
    """Refuse an apex policy outside midpoint, drop, error (the recognition readers' choices)."""
    sheet_clips.check_choice(APEX_POLICY_KEY, policy, sheet_clips.APEX_POLICIES)


def video_row(video: str, subject: str, folder: Path, root: Path, frame: re.Pattern[str]) -> dict[str, Any] | None:
    """A `videos` row for a folder of frames whose stems `frame` numbers (group 1); None where it holds none."""
    numbers = sorted(first_by_number(numbered_frames(folder, frame)))
    if not numbers:
        return None
    return {
        "video": video,
        "subject": subject,
        "frames_dir": sheet_clips.relative(folder, root),
        "first_frame": numbers[0],
        "last_frame": numbers[-1],
        "n_frames": len(numbers),
    }


def ends_at_apex(apex: int | None, apex_text: str, where: str) -> int:
    """The offset of an interval whose sheet writes offset 0 (the apex ends the expression)."""
    if apex is None:
        raise MerError(
            f"{where}: offset 0 means the apex ends the expression, but the apex {apex_text!r} is not a "
            "frame number; fix the sheet"
        )
    return apex


def long_videos(
    release: sheet_clips.Release,
    fps: float,
    frame_regex: str,
    videos: list[dict[str, Any]],
    intervals: list[dict[str, Any]],
    apex_policy: str,
    layout: dict[str, Any],  # the reader's own provenance: where it found the frames
) -> LongVideos:
    """The release's `LongVideos`: spans checked, the apex policy applied, sorted by video and onset."""
    if not videos:
        raise MerError(
            f"no {release.name} frames in {release.frames_root}: no video folder holds frames; check data.root"
        )
    for interval in intervals:
        if interval["onset"] > interval["offset"]:
            raise MerError(
                f"{interval[WHERE]}: onset {interval['onset']} is after offset {interval['offset']}; fix the sheet"
            )
    intervals, apex_changed = apply_apex_policy(intervals, apex_policy, release.name)
    provenance = {
        "reader": release.dataset,
        "sheet": release.sheet_rel,
        "sheet_sha256": file_sha256(release.sheet),
        **layout,
        "apex_policy": apex_policy,
        "apex_fixed": apex_changed if apex_policy == "midpoint" else [],
        "apex_dropped": apex_changed if apex_policy == "drop" else [],
    }
    video_table = pd.DataFrame(videos, columns=list(VIDEO_COLUMNS)).sort_values("video", kind="stable")
    interval_table = pd.DataFrame(intervals, columns=list(INTERVAL_COLUMNS)).sort_values(
        ["video", "onset", "offset"], kind="stable"
    )
    return LongVideos(
        dataset=release.dataset,
        root=release.root,
        fps=fps,
        videos=video_table.reset_index(drop=True),
        intervals=interval_table.reset_index(drop=True).astype({"onset": int, "apex": int, "offset": int}),
        frame_regex=frame_regex,
        provenance=provenance,
    )


def apply_apex_policy(
    intervals: list[dict[str, Any]], policy: str, reader: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """(intervals kept, the names of those fixed or dropped) after giving the midpoint to, dropping or
    refusing the intervals whose apex is missing or outside [onset, offset], said in one warning."""
    bad = [i for i in intervals if i["apex"] is None or not i["onset"] <= i["apex"] <= i["offset"]]
    if not bad:
        return intervals, []
    if policy == "error":
        first = bad[0]
        raise MerError(
            f"{first[WHERE]}: apex {first[APEX_TEXT]!r} is not a frame in [onset {first['onset']}, offset "
            f"{first['offset']}]; fix the sheet or set {APEX_POLICY_KEY}=midpoint or drop"
        )
    names = [f"{i['video']} [{i['onset']}, {i['offset']}]" for i in bad]
    action = "used midpoint (onset+offset)//2" if policy == "midpoint" else "dropped"
    # stacklevel 4: reader's caller → reader → long_videos → here
    warnings.warn(
        f"{reader}: apex missing or outside [onset, offset] in {plural(len(bad), 'interval')}, {action}: "
        f"{', '.join(names)}",
        UserWarning,
        stacklevel=4,
    )
    if policy == "drop":
        dropped = {id(interval) for interval in bad}
        return [i for i in intervals if id(i) not in dropped], names
    for interval in bad:
        interval["apex"] = (interval["onset"] + interval["offset"]) // 2
    return intervals, names
