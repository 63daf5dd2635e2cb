"""CAS(ME)^2 reader: the coded intervals of its long videos → every interval, or one `SampleTable`.

CAS(ME)^2 (Qu et al. 2018; 22 subjects, 30 fps) ships long videos as frames
`CAS(ME)^2/rawpic/s15/15_0101disgustingteeth/img001.jpg` (at least 3 digits; `rawvideo/` holds the
same videos as .avi and is not read) and the workbook `CAS(ME)^2code_final.xlsx`, whose three sheets
have no header row. `CASFEcode_final` is read by position: subject id, clip (`disgust1_1`), onset,
apex, offset, action units, emotion category (negative, positive, surprise, others), type
(`micro-expression` or `macro-expression`), self-report. `naming rule1` takes a subject id to its
participant (15) and folder (`s15`); `naming rule2` takes a video name (`disgust1`, the clip without
its `_1`) to its code (`0101`). A video's frames folder is `<participant>_<code><stimulus>`, the
stimulus word as the release spells it (one is `15_0503unnyfarting`), so it is found by its
`15_0101` prefix: in the participant's own folder, else in any other (one sits in another's:
`s19/23_0502funnyerrors`). Offset 0 means the apex ends the expression.

`read_intervals` returns every coded interval (micro and macro: what spotting scores);
`read_casme_sq` keeps one type (micro by default) for recognition; `read_casme_sq_videos` gives
spotting every video folder holding frames (an unannotated one too) and every interval. One video
holds several expressions, so a clip is keyed by its video folder and onset: `casme_sq/s15/15_0101disgustingteeth_557`
(the subject is the person, `s23`, even for the video filed under `s19/`). Only directories are
listed; no image is opened.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mer.data import sheet_clips, video_intervals
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.long_videos import LongVideos
from mer.data.samples import SampleTable
from mer.data.sheet import ROW, cell_frame, cell_text, normalise_header
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "casme_sq"

#: The workbook's name, looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = ("CAS(ME)^2code_final.xlsx",)

#: The frames folder (participant folders `s15/` holding video folders), in the root or one down.
FRAMES_DIR = "rawpic"

#: A frame file's stem (`img001`), group 1 its number (at least 3 digits, sorted by number); anchored,
#: so `re.match` and `re.search` read it alike.
FRAME_REGEX = r"(?i)^img(\d+)$"

#: Frames per second of the long videos.
FPS = 30.0

#: The intervals sheet's names: the release's, and the spelling MEGC2020's spotting baseline reads.
CODE_SHEETS: tuple[str, ...] = ("CASFEcode_final", "CASMEcode_final")
PARTICIPANT_SHEET = "naming rule1"  # subject id → participant number and folder
VIDEO_SHEET = "naming rule2"  # video code → video name

#: Column positions (0-based) in the headerless sheets, with the names messages give them.
CODE_COLUMNS: dict[str, int] = {
    "subject id": 0,
    "clip": 1,
    "onset": 2,
    "apex": 3,
    "offset": 4,
    "action units": 5,
    "emotion": 6,
    "type": 7,
}
PARTICIPANT_COLUMNS: dict[str, int] = {"participant": 0, "folder": 1, "subject id": 2}
VIDEO_COLUMNS: dict[str, int] = {"code": 0, "name": 1}

#: Expression types a reader may keep (`data.reader.expression`).
EXPRESSIONS = ("micro", "macro", "all")

#: Columns of `read_intervals`' table: one row per coded interval.
INTERVAL_COLUMNS: tuple[str, ...] = (
    ROW,  # the row in CASFEcode_final (1-based)
    "subject",  # the person's participant folder: "s15"
    "clip",  # the sheet's clip name: "disgust1_1"
    "video_prefix",  # "<participant>_<code>": "15_0101"
    "video",  # the video's frames folder name: "15_0101disgustingteeth" ("" when none is found)
    "video_dir",  # that folder relative to the release root: "rawpic/s15/15_0101disgustingteeth" ("" when none)
    "onset",  # int frame number
    "apex",  # the apex cell as the sheet has it (the apex policy judges it)
    "offset",  # int frame number; the apex where the sheet writes 0
    "expression",  # "micro" | "macro"
    "action_units",  # the AU cell's text, verbatim ("" when empty)
    "emotion",  # the emotion category as written: "negative", "positive", "surprise", "others"
)

_NUMBER = re.compile(r"^0*(\d+)$")
_CLIP_NUMBER = re.compile(r"_\d+$")
_FRAME = re.compile(FRAME_REGEX)
_PARTICIPANT_PREFIX = re.compile(r"^(\d+)_")  # a video folder's participant number: 23 in 23_0502funnyerrors


@dataclass(frozen=True)
class Participant:
    """One `naming rule1` row: a subject id's participant number and frames folder."""

    number: int  # 15: the first part of the participant's video folder names
    folder: str  # "s15": the participant's folder under rawpic/ and the sample table's subject


def read_casme_sq(
    root: str | Path,
    sheet: str | None = None,
    expression: str = "micro",
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "3class",
) -> SampleTable:
    """Read a CAS(ME)^2 release's micro (or macro, or all) expressions into a `SampleTable`."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    sheet_clips.check_choice("data.reader.expression", expression, EXPRESSIONS)
    classes, mapping = get_label_set(DATASET, label_set)

    release = find_release(root, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    log.info("CAS(ME)^2: sheet %s, frames %s, %s expressions", release.sheet_rel, frames_rel, expression)

    intervals = read_intervals(release)
    if expression != "all":
        intervals = intervals[intervals["expression"] == expression].reset_index(drop=True)
    # a video not found goes on under its prefix, so missing_frames=drop drops it as a missing folder
    videos = intervals["video"].where(intervals["video"] != "", intervals["video_prefix"])
    clips = sheet_clips.parse_clips(release, intervals.assign(clip=videos), mapping, label_set, _sheet_format())
    _place_in_videos(clips, intervals, release, policies.missing_frames)
    _warn_left_out(clips, label_set)
    frames = sheet_clips.FrameNames(
        functools.cache(lambda clip_dir: first_by_number(numbered_frames(clip_dir, _FRAME))),
        lambda clip, number: f"img{number:03d}.jpg",
        "no CAS(ME)^2 frames (like img001.jpg) in {frames_root}: no video folder the sheet names "
        "(e.g. {example}) holds one; check data.root",
    )
    layout = {"frames_dir": frames_rel, "clip_key": "video_onset", "expression": expression}
    return sheet_clips.build_table(release, clips, classes, policies, frames, layout, log)


def read_casme_sq_videos(root: str | Path, sheet: str | None = None, apex_policy: str = "midpoint") -> LongVideos:
    """Every CAS(ME)^2 video folder holding frames and every interval the sheet codes, micro and macro:
    what `mer-spot` scores (an unannotated video too, where whatever is spotted is a false positive)."""
    video_intervals.check_apex_policy(apex_policy)
    release = find_release(root, sheet, key="data.videos.sheet")
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    log.info("CAS(ME)^2 long videos: sheet %s, frames %s", release.sheet_rel, frames_rel)

    sheets = read_workbook(release.sheet)
    participants = read_participants(*_sheet(sheets, (PARTICIPANT_SHEET,), release), release)
    videos = _video_rows(release, participants)
    by_folder = {row["frames_dir"]: row["video"] for row in videos}
    intervals = [
        _spotting_interval(interval, by_folder, release)
        for interval in read_intervals(release, sheets).to_dict("records")
    ]
    layout = {"frames_dir": frames_rel}
    return video_intervals.long_videos(release, FPS, FRAME_REGEX, videos, intervals, apex_policy, layout)


def find_release(root: str | Path, sheet: str | None = None, key: str = "data.reader.sheet") -> sheet_clips.Release:
    """The release's workbook and frames folder, found from `data.root` by listing folders, no sheet
    row read: what `read_casme_sq` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, "CAS(ME)^2", f"{FRAMES_DIR}/ and {SHEET_NAMES[0]}")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, "CAS(ME)^2", key)
    return sheet_clips.Release(DATASET, "CAS(ME)^2", root, sheet_path, find_frames_dir(root))


def find_frames_dir(root: Path) -> Path:
    """The `rawpic/` folder in root or one of its subfolders."""
    found = sheet_clips.folder_in_root_or_child(root, FRAMES_DIR)
    if found is not None:
        return found
    raise MerError(
        f"no CAS(ME)^2 frames in {root} or its subfolders: looked for {FRAMES_DIR}/ (holding participant "
        "folders like s15/ with video folders like 15_0101disgustingteeth/ of frames like img001.jpg); "
        f"set data.root to the CAS(ME)^2 folder holding {FRAMES_DIR}/ and {SHEET_NAMES[0]}"
    )


def read_intervals(release: sheet_clips.Release, sheets: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every interval `CASFEcode_final` codes, micro and macro, each joined through the naming rules
    to its person and video folder: one row each, columns `INTERVAL_COLUMNS`, in sheet order
    (`sheets`: the workbook where the caller has read it already)."""
    sheets = read_workbook(release.sheet) if sheets is None else sheets
    code_sheet, codes = _sheet(sheets, CODE_SHEETS, release)
    participants = read_participants(*_sheet(sheets, (PARTICIPANT_SHEET,), release), release)
    video_codes = read_video_codes(*_sheet(sheets, (VIDEO_SHEET,), release), release)
    videos = list_videos(release.frames_root)
    records = []
    for row, cells in _rows(codes):
        where = f"{release.sheet_rel} sheet {code_sheet} row {row}"
        records.append(_interval(row, cells, where, participants, video_codes, videos, release))
    _log_misfiled(records, release)
    return pd.DataFrame(records, columns=list(INTERVAL_COLUMNS), dtype=object)


def read_workbook(path: Path) -> dict[str, pd.DataFrame]:
    """Every sheet of an .xlsx workbook as a headerless grid of raw cells, by sheet name."""
    try:
        with warnings.catch_warnings():  # openpyxl's notes on unsupported Excel features
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            return pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as err:  # noqa: BLE001 - zip, parser and OS errors all mean "unreadable"
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise MerError(
            f"cannot read coding sheet {path} ({type(err).__name__}: {reason}); check it is an intact .xlsx file"
        ) from None


def read_participants(name: str, grid: pd.DataFrame, release: sheet_clips.Release) -> dict[int, Participant]:
    """`naming rule1`: subject id → its participant number and folder."""
    participants = {}
    for row, cells in _rows(grid):
        where = f"{release.sheet_rel} sheet {name} row {row}"
        number = _number(cells, PARTICIPANT_COLUMNS, "participant", where)
        folder = _text(cells, PARTICIPANT_COLUMNS, "folder", where)
        participants[_number(cells, PARTICIPANT_COLUMNS, "subject id", where)] = Participant(number, folder)
    return participants


def read_video_codes(name: str, grid: pd.DataFrame, release: sheet_clips.Release) -> dict[str, str]:
    """`naming rule2`: video name (lower case) → its 4-digit code as text (`disgust1` → `0101`)."""
    codes = {}
    for row, cells in _rows(grid):
        where = f"{release.sheet_rel} sheet {name} row {row}"
        code = f"{_number(cells, VIDEO_COLUMNS, 'code', where):04d}"  # "0101", or 101 as Excel may store it
        codes[_text(cells, VIDEO_COLUMNS, "name", where).lower()] = code
    return codes


def list_videos(frames_root: Path) -> dict[str, list[str]]:
    """Participant folder name → the names of its video folders, sorted."""
    return {
        participant.name: sorted(p.name for p in participant.iterdir() if p.is_dir())
        for participant in sorted(frames_root.iterdir())
        if participant.is_dir()
    }


def find_video(videos: dict[str, list[str]], own: str, prefix: str, where: str) -> str:
    """`s15/15_0101disgustingteeth`: the video folder named `<prefix>...` in the participant's own
    folder, else in any other's; "" when there is none."""
    pattern = re.compile(rf"^{re.escape(prefix)}(?!\d)")
    for folders in ([own], sorted(set(videos) - {own})):
        found = [f"{folder}/{name}" for folder in folders for name in videos.get(folder, []) if pattern.match(name)]
        if len(found) > 1:
            raise MerError(f"{where}: several video folders start with {prefix}: {', '.join(found)}; keep one of them")
        if found:
            return found[0]
    return ""


def _interval(
    row: int,
    cells: tuple[Any, ...],
    where: str,
    participants: dict[int, Participant],
    video_codes: dict[str, str],
    videos: dict[str, list[str]],
    release: sheet_clips.Release,
) -> dict[str, Any]:
    """One `CASFEcode_final` row as an interval, its person and video folder resolved."""
    subject_id = _number(cells, CODE_COLUMNS, "subject id", where)
    participant = participants.get(subject_id)
    if participant is None:
        raise MerError(
            f"{where}: subject id {subject_id} is not in sheet '{PARTICIPANT_SHEET}'; add it there or fix the row"
        )
    clip = _text(cells, CODE_COLUMNS, "clip", where)
    name = _CLIP_NUMBER.sub("", clip)
    code = video_codes.get(name.lower())
    if code is None:
        raise MerError(
            f"{where}: clip {clip!r} is of video {name!r}, which sheet '{VIDEO_SHEET}' does not name; "
            "add it there or fix the clip"
        )
    onset = sheet_clips.frame_cell(_cell(cells, CODE_COLUMNS, "onset"), _column("onset", CODE_COLUMNS), where)
    apex = _cell(cells, CODE_COLUMNS, "apex")
    offset = sheet_clips.frame_cell(_cell(cells, CODE_COLUMNS, "offset"), _column("offset", CODE_COLUMNS), where)
    if offset == 0:  # the sheet's way of saying the apex ends the expression
        offset = video_intervals.ends_at_apex(cell_frame(apex), cell_text(apex), where)
    prefix = f"{participant.number}_{code}"
    video_dir = find_video(videos, participant.folder, prefix, where)
    return {
        ROW: row,
        "subject": participant.folder,
        "clip": clip,
        "video_prefix": prefix,
        "video": video_dir.rpartition("/")[2],
        "video_dir": sheet_clips.relative(release.frames_root / video_dir, release.root) if video_dir else "",
        "onset": onset,
        "apex": apex,
        "offset": offset,
        "expression": _expression(cells, where),
        "action_units": cell_text(_cell(cells, CODE_COLUMNS, "action units")),
        "emotion": cell_text(_cell(cells, CODE_COLUMNS, "emotion")),
    }


def _place_in_videos(
    clips: list[sheet_clips.SheetClip], intervals: pd.DataFrame, release: sheet_clips.Release, missing_frames: str
) -> None:
    """Point each clip (a row of `intervals`) at its video folder and key it by video and onset;
    a video no folder holds is refused here (missing_frames=error) or left for the frame check to drop."""
    for clip, video_dir, sheet_clip in zip(clips, intervals["video_dir"], intervals["clip"], strict=True):
        if not video_dir and missing_frames == "error":
            raise MerError(
                f"{_no_video_folder(release, clip.row, sheet_clip, clip.subject, clip.clip)}; restore it, "
                "fix the sheet, or set data.reader.missing_frames=drop to skip such clips"
            )
        if video_dir:  # absolute, as it may lie in another participant's folder than the subject's
            clip.folder = str(release.root / video_dir)
        clip.clip = f"{clip.clip}_{clip.onset}"


def _no_video_folder(release: sheet_clips.Release, row: int, clip: str, subject: str, prefix: str) -> str:
    """What is wrong with a coded interval whose video folder no participant folder holds (without
    what to do: that depends on the reader)."""
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    return (
        f"{_code_row(release, row)} ({clip} of {subject}): no video folder {prefix}* in {frames_rel}/{subject}/ "
        "or another participant's folder"
    )


def _code_row(release: sheet_clips.Release, row: int) -> str:
    """How messages name a `CASFEcode_final` row: `CAS(ME)^2code_final.xlsx sheet CASFEcode_final row 6`."""
    return f"{release.sheet_rel} sheet {CODE_SHEETS[0]} row {row}"


def _video_rows(release: sheet_clips.Release, participants: dict[int, Participant]) -> list[dict[str, Any]]:
    """A `LongVideos.videos` row per video folder under rawpic/ that holds frames; its subject is the
    person its name starts with (`s23` for `s19/23_0502funnyerrors`, as `read_intervals` has it)."""
    folder_of = {participant.number: participant.folder for participant in participants.values()}
    rows, empty = [], []
    for parent, names in list_videos(release.frames_root).items():
        for name in names:
            number = _PARTICIPANT_PREFIX.match(name)
            subject = folder_of.get(int(number.group(1)), parent) if number else parent
            row = video_intervals.video_row(name, subject, release.frames_root / parent / name, release.root, _FRAME)
            if row is None:
                empty.append(f"{parent}/{name}")
            else:
                rows.append(row)
    if empty:
        log.info(
            "CAS(ME)^2: %s without frames (like img001.jpg), not read: %s",
            plural(len(empty), "video folder"),
            ", ".join(empty),
        )
    return rows


def _spotting_interval(
    interval: dict[str, Any], by_folder: dict[str, str], release: sheet_clips.Release
) -> dict[str, Any]:
    """A `read_intervals` row as a `LongVideos` interval record, its video a folder holding frames."""
    where = _code_row(release, interval[ROW])
    if not interval["video_dir"]:
        no_folder = _no_video_folder(
            release, interval[ROW], interval["clip"], interval["subject"], interval["video_prefix"]
        )
        raise MerError(f"{no_folder}; restore it or fix the sheet")
    video = by_folder.get(interval["video_dir"])
    if video is None:
        raise MerError(
            f"{where} ({interval['clip']} of {interval['subject']}): video folder {interval['video_dir']} "
            "holds no frames (like img001.jpg); restore them or fix the sheet"
        )
    return {
        "video": video,
        "subject": interval["subject"],
        "onset": interval["onset"],
        "apex": cell_frame(interval["apex"]),
        "offset": interval["offset"],
        "type": interval["expression"],
        "action_units": interval["action_units"],
        "emotion": interval["emotion"],
        video_intervals.WHERE: where,
        video_intervals.APEX_TEXT: cell_text(interval["apex"]),
    }


def _expression(cells: tuple[Any, ...], where: str) -> str:
    """The type cell (`micro-expression`, `macro-expression`) as `micro` or `macro`."""
    text = cell_text(_cell(cells, CODE_COLUMNS, "type"))
    for kind in ("micro", "macro"):
        if text.lower().startswith(kind):
            return kind
    raise MerError(
        f"{where}: {_column('type', CODE_COLUMNS)} {text!r} is neither micro-expression nor "
        "macro-expression; fix the sheet"
    )


def _sheet(
    sheets: dict[str, pd.DataFrame], names: tuple[str, ...], release: sheet_clips.Release
) -> tuple[str, pd.DataFrame]:
    """(name, grid) of the workbook's sheet called one of `names` (case, spaces, underscores ignored)."""
    wanted = {normalise_header(name) for name in names}
    for name, grid in sheets.items():
        if normalise_header(name) in wanted:
            return name, grid
    raise MerError(
        f"{release.sheet_rel} has no sheet '{names[0]}' (its sheets: {', '.join(sheets)}); "
        f"give the release's {SHEET_NAMES[0]} with its sheets {CODE_SHEETS[0]}, {PARTICIPANT_SHEET} and {VIDEO_SHEET}"
    )


def _rows(grid: pd.DataFrame) -> list[tuple[int, tuple[Any, ...]]]:
    """(1-based row number, cells) of a headerless grid's rows that are not blank."""
    return [
        (index + 1, cells)
        for index, cells in enumerate(grid.itertuples(index=False, name=None))
        if any(cell_text(cell) for cell in cells)
    ]


def _cell(cells: tuple[Any, ...], columns: dict[str, int], name: str) -> object:
    """The cell in column `name` (None past the row's end)."""
    position = columns[name]
    return cells[position] if position < len(cells) else None


def _column(name: str, columns: dict[str, int]) -> str:
    """How messages name a headerless column: `onset (column C)`."""
    return f"{name} (column {chr(ord('A') + columns[name])})"


def _number(cells: tuple[Any, ...], columns: dict[str, int], name: str, where: str) -> int:
    """A whole-number cell (1, "0101", 101.0), or an error naming the row and column."""
    text = cell_text(_cell(cells, columns, name))
    match = _NUMBER.match(text)
    if not match:
        raise MerError(f"{where}: {_column(name, columns)} {text!r} is not a number; fix the sheet")
    return int(match.group(1))


def _text(cells: tuple[Any, ...], columns: dict[str, int], name: str, where: str) -> str:
    """A required text cell, or an error naming the row and column."""
    text = cell_text(_cell(cells, columns, name))
    if not text:
        raise MerError(f"{where}: {_column(name, columns)} is empty; fill it in or delete the row")
    return text


def _log_misfiled(records: list[dict[str, Any]], release: sheet_clips.Release) -> None:
    """Log (info), once per video, the videos found in another participant's folder."""
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    misfiled = sorted(
        {
            (r["subject"], r["video_dir"])
            for r in records
            if r["video_dir"] and not r["video_dir"].startswith(f"{frames_rel}/{r['subject']}/")
        }
    )
    for subject, video_dir in misfiled:
        log.info("CAS(ME)^2: %s's video %s lies in another participant's folder; read from there", subject, video_dir)


def _warn_left_out(clips: list[sheet_clips.SheetClip], label_set: str) -> None:
    """One warning counting the clips the label set leaves out (3class: those labelled others)."""
    left_out = sorted({clip.emotion for clip in clips if clip.label is None})
    count = sum(clip.label is None for clip in clips)
    if count:
        # stacklevel 3: reader's caller → reader → here
        warnings.warn(
            f"CAS(ME)^2: label set {label_set} leaves out {plural(count, 'clip')} labelled "
            f"{', '.join(left_out)}; data.reader.label_set=all keeps them",
            UserWarning,
            stacklevel=3,
        )


def _subject_as_is(value: object, where: str) -> str:
    """`read_intervals`' subject, already the participant's folder name (`s15`)."""
    return cell_text(value)


def _sheet_format() -> sheet_clips.SheetFormat:
    """How `read_intervals`' table writes subjects, frames and emotions for `parse_clips` (which
    names only the onset and offset columns, in its messages)."""
    columns = {name: (_column(name, CODE_COLUMNS),) for name in ("onset", "offset")}
    known = "known CAS(ME)^2 emotion categories ({label_set}): {labels}"
    return sheet_clips.SheetFormat(columns, _subject_as_is, sheet_clips.emotion_reader(), known)
