"""SAMM Long Videos reader: every long video and every interval its sheet codes → one `LongVideos`.

SAMM Long Videos (Yap et al. 2020; 147 videos, 200 fps, greyscale) ships frames as
`SAMM_longvideos/006_1/006_1_0001.jpg` (video `<subject>_<n>`, a 4-digit frame number after the last
`_`) and `SAMM_LongVideos_V1_Release.xlsx` (V2 and V3 copies exist), whose sheet
`FACS_Movement_Only` has note rows above the header `Subject, Filename, Inducement Code, Onset,
Apex, Offset, Duration, Type, Action Units, Notes`. A row's Filename `006_1_2` is the second
movement of video `006_1`; Type `Micro - 1/2` is a micro-expression, `Macro` a macro-expression.
Frame numbers may be non-integer (rounded half up, 1234.5 → 1235); offset 0 means the apex ends the
movement. The sheet has no emotion. `data.root` is the folder holding `SAMM_longvideos/` and the
workbook, or the folder holding that. Only directories are listed; no image is opened.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

from mer.data import sheet_clips, video_intervals
from mer.data.long_videos import LongVideos
from mer.data.sheet import ROW, cell_text, read_sheet
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "samm_lv"
NAME = "SAMM Long Videos"

#: The frames folder (video folders `006_1/`), in the root or one down (its name compared ignoring case).
FRAMES_DIR = "SAMM_longvideos"

#: The workbook's names, looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = (
    "SAMM_LongVideos_V1_Release.xlsx",
    "SAMM_LongVideos_V2_Release.xlsx",
    "SAMM_LongVideos_V3_Release.xlsx",
)

#: The workbook's worksheet of coded intervals (it need not be the first).
INTERVAL_SHEET = "FACS_Movement_Only"

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject",),
    "clip": ("Filename", "File Name"),
    "onset": ("Onset", "Onset Frame"),
    "apex": ("Apex", "Apex Frame"),
    "offset": ("Offset", "Offset Frame"),
    "type": ("Type",),
    "action_units": ("Action Units", "AUs"),
}

#: A frame file's stem (`006_1_0001`), group 1 its number (the digits after the last `_`); anchored,
#: so `re.match` and `re.search` read it alike.
FRAME_REGEX = r"^.*_(\d+)$"

#: Frames per second of the long videos.
FPS = 200.0

_FRAME = re.compile(FRAME_REGEX)
_SUBJECT = re.compile(r"^0*(\d+)$")
_VIDEO = re.compile(r"^(\d+)_(\d+)$")  # a video folder: 006_1
_FILENAME = re.compile(r"^(\d+)_(\d+)(?:_\d+)?$")  # a sheet Filename: 006_1_2 (movement 2 of video 006_1)
_TYPE = re.compile(r"^(micro|macro)(?![a-z])")  # on the Type cell lower-cased, spaces removed: micro-1/2


def read_samm_lv(root: str | Path, sheet: str | None = None, apex_policy: str = "midpoint") -> LongVideos:
    """Every SAMM Long Videos video folder holding frames and every interval the sheet codes, micro and
    macro: what `mer-spot` scores (an unannotated video too, where whatever is spotted is a false positive)."""
    video_intervals.check_apex_policy(apex_policy)
    release = find_release(root, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root) or "."
    log.info("%s: sheet %s, frames %s", NAME, release.sheet_rel, frames_rel)

    videos = _video_rows(release)
    table = read_sheet(release.sheet, SHEET_COLUMNS, sheet_name=INTERVAL_SHEET)
    # a workbook's rows are named with their worksheet; a CSV export has only the one
    csv = release.sheet.suffix.lower() == ".csv"
    sheet_name = release.sheet_rel if csv else f"{release.sheet_rel} sheet {INTERVAL_SHEET}"
    intervals = [
        _interval(record, f"{sheet_name} row {record[ROW]}", videos, release) for record in table.to_dict("records")
    ]
    layout = {"frames_dir": frames_rel, "interval_sheet": INTERVAL_SHEET}
    rows = list(videos.values())
    return video_intervals.long_videos(release, FPS, FRAME_REGEX, rows, intervals, apex_policy, layout)


def find_release(root: str | Path, sheet: str | None = None) -> sheet_clips.Release:
    """The release's workbook and frames folder, found from `data.root` by listing folders, no sheet
    row read: what `read_samm_lv` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, NAME, f"{FRAMES_DIR}/ and {SHEET_NAMES[0]}")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, NAME, key="data.videos.sheet")
    return sheet_clips.Release(DATASET, NAME, root, sheet_path, find_frames_dir(root))


def find_frames_dir(root: Path) -> Path:
    """The `SAMM_longvideos/` folder (any case) holding video folders like `006_1/`: root itself, or
    in root or one of its subfolders."""
    children = (child for folder in sheet_clips.root_and_children(root) for child in sorted(folder.iterdir()))
    for candidate in (root, *children):
        if candidate.name.lower() == FRAMES_DIR.lower() and _holds_videos(candidate):
            return candidate
    raise MerError(
        f"no {NAME} frames in {root} or its subfolders: looked for {FRAMES_DIR}/ holding video folders "
        f"like 006_1/ (frames like 006_1_0001.jpg); set data.root to the folder holding {FRAMES_DIR}/ "
        f"and {SHEET_NAMES[0]}"
    )


def _holds_videos(folder: Path) -> bool:
    """True for a folder holding at least one video folder like `006_1/`."""
    return folder.is_dir() and any(p.is_dir() and _VIDEO.match(p.name) for p in folder.iterdir())


def _video_rows(release: sheet_clips.Release) -> dict[tuple[int, int], dict[str, Any]]:
    """A `LongVideos.videos` row per video folder (`006_1/`) holding frames, its subject `006`, by the
    folder's (subject, video) numbers: (6, 1)."""
    rows, left_out = {}, []
    for folder in sorted(p for p in release.frames_root.iterdir() if p.is_dir()):
        video = _VIDEO.match(folder.name)
        if video is None:
            left_out.append(folder.name)
            continue
        subject, number = int(video.group(1)), int(video.group(2))
        row = video_intervals.video_row(folder.name, f"{subject:03d}", folder, release.root, _FRAME)
        if row is None:
            left_out.append(folder.name)
            continue
        rows[subject, number] = row
    if left_out:
        log.info(
            "%s: %s not a video of frames (like 006_1/006_1_0001.jpg), not read: %s",
            NAME,
            plural(len(left_out), "folder"),
            ", ".join(left_out),
        )
    return rows


def _interval(
    record: dict[str, Any], where: str, videos: dict[tuple[int, int], dict[str, Any]], release: sheet_clips.Release
) -> dict[str, Any]:
    """One sheet row as a `LongVideos` interval record, its video a folder holding frames."""
    filename = cell_text(record["clip"])
    movement = _FILENAME.match(filename)
    if movement is None:
        raise MerError(f"{where}: Filename {filename!r} is not a movement of a video like 006_1_2; fix the sheet")
    subject, number = int(movement.group(1)), int(movement.group(2))
    named = sheet_clips.subject_number(record["subject"], where, _SUBJECT, "(e.g. 6 or 006)")
    if named != subject:
        raise MerError(
            f"{where}: Subject {cell_text(record['subject'])!r} is not the subject of Filename {filename!r} "
            f"({subject:03d}); fix the sheet"
        )
    video = videos.get((subject, number))
    if video is None:
        frames_rel = sheet_clips.relative(release.frames_root, release.root) or "."
        raise MerError(
            f"{where}: no video folder {subject:03d}_{number} holding frames in {frames_rel}/ for Filename "
            f"{filename!r}; restore it or fix the sheet"
        )
    onset = _frame(record["onset"], "Onset", where)
    apex = _rounded_frame(record["apex"])  # None: missing, for the apex policy
    offset = _frame(record["offset"], "Offset", where)
    if offset == 0:  # the sheet's way of saying the apex ends the movement
        offset = video_intervals.ends_at_apex(apex, cell_text(record["apex"]), where)
    return {
        "video": video["video"],
        "subject": video["subject"],
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "type": _movement_type(record["type"], where),
        "action_units": cell_text(record["action_units"]),
        "emotion": "",
        video_intervals.WHERE: where,
        video_intervals.APEX_TEXT: cell_text(record["apex"]),
    }


def _rounded_frame(value: object) -> int | None:
    """A frame cell rounded half up (1234.5 → 1235), as SAMM-LV writes some frames; None where it is
    not a number."""
    try:
        number = float(cell_text(value))
    except ValueError:
        return None
    return math.floor(number + 0.5) if math.isfinite(number) else None


def _frame(value: object, column: str, where: str) -> int:
    """A required frame cell rounded half up, or an error naming the row, the column and the cell."""
    rounded = _rounded_frame(value)
    return sheet_clips.frame_cell(value if rounded is None else rounded, column, where)


def _movement_type(value: object, where: str) -> str:
    """The Type cell (`Micro - 1/2`, `Macro`, any case and spacing) as `micro` or `macro`."""
    text = cell_text(value)
    match = _TYPE.match(re.sub(r"\s+", "", text).lower())
    if match is None:
        raise MerError(f"{where}: Type {text!r} is neither Micro (e.g. 'Micro - 1/2') nor Macro; fix the sheet")
    return match.group(1)
