"""What every synthetic release layout shares: the `Layout` record and the helpers that rename a plan.

`mer.synthetic.layouts` (CASME II, SAMM, SMIC-HS, CAS(ME)^3) and `mer.synthetic.meb_layouts` (MMEW,
4DME, CASME (I), CAS(ME)^2) both build on it, so neither module imports the other's layouts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: One clip of the release plan (`synthetic.json`'s `clips`): sheet fields, frames and motion.
PlannedClip = dict[str, Any]


@dataclass(frozen=True)
class Layout:
    """How one release lays the planned clips out on disk, and writes its coding sheet."""

    name: str  # the reader that reads it, as conf/data/<name>.yaml configures it
    title: str  # how progress and notes name it
    #: planned clips → this release's clips, each with `frames_dir` (relative to the root) and
    #: `frame_name` (a format string of the frame number `n`); clips it leaves out are not drawn
    adapt: Callable[[Sequence[PlannedClip]], list[PlannedClip]]
    #: writes the coding sheet into the root; None: the release's labels are folder names
    write_sheet: Callable[[Path, Sequence[PlannedClip]], None] | None
    grey: bool = False  # SAMM's and 4DME's frames are greyscale
    #: reader config values this layout needs over conf/data/<name>.yaml's defaults
    reader_options: Mapping[str, Any] = field(default_factory=dict)


def frame_file(clip: PlannedClip, number: int) -> str:
    """A clip's frame file name for a frame number."""
    return clip["frame_name"].format(n=number)


def listed_by_subject(clips: Sequence[PlannedClip]) -> dict[int, list[PlannedClip]]:
    """Planned sheet clips grouped by subject number, in plan order (the unlisted folder left out)."""
    groups: dict[int, list[PlannedClip]] = {}
    for clip in clips:
        if clip["in_sheet"]:
            groups.setdefault(clip["subject"], []).append(clip)
    return groups


def shifted_frames(clip: PlannedClip, shift: int) -> dict[str, int]:
    """Onset, apex and offset moved by `shift` frames."""
    return {key: clip[key] + shift for key in ("onset", "apex", "offset")}


def natural_key(name: str) -> list[Any]:
    """Sort key that orders digits by value, as the releases list clips."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def au_cell(aus: str) -> int | str:
    """An AU cell as CASME II-style sheets hold it: a plain int for one unprefixed AU, else text
    like '4+L10'."""
    return int(aus) if aus.isdigit() else aus
