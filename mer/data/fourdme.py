"""4DME reader: the micro-expression labelling sheet plus the frame folders of a release → one `SampleTable`.

4DME (Li et al. 2022) ships, in `4DMicro/`, the sheet `4DME_Labelling_Micro_release v1.xlsx` (a
space before `v1`; columns `sub_ID, fold_name, Emotion, Onset, Apex, Offset, AUs`, then tallies such
as `fold, eye blink, Positive, ..., Total` and maybe one-hot AU columns, all ignored) and greyscale
frames `gray_micro/<sub_ID>/<fold_name>/` (cropped copies in `gray_micro_crop/`). `data.root` is
`4DMicro/` or the folder holding it. The frame file names are not public: every image whose name
ends in a number is a frame, ordered by that number, and a clip whose sheet numbers are frames of
the original video is counted from its folder's first frame (`sheet_clips.count_from_first_frame`).
An emotion is positive, negative, surprise, repression or others, or a combination such as
`Surprise+Positive`, kept as `surprise+positive`. Only directories are listed; no image is opened.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

import pandas as pd

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import COMBINED, sheet_label_set
from mer.data.samples import SampleTable
from mer.data.sheet import ROW, cell_text, read_sheet
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "4dme"

#: Frames folder per kind, in the root or one level down (`4DMicro/gray_micro`).
FRAME_DIRS: dict[str, str] = {"raw": "gray_micro", "cropped": "gray_micro_crop"}

LAYOUTS = ("auto", "raw", "cropped")

#: Labelling sheet names looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = (
    "4DME_Labelling_Micro_release v1.xlsx",
    "4DME_Labelling_Micro_release_v1.xlsx",
    "4DME_Labelling_Micro_release v1.csv",
)

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("sub_ID", "Subject"),
    "clip": ("fold_name", "Filename"),
    "onset": ("Onset", "Onset Frame", "OnsetFrame"),
    "apex": ("Apex", "Apex Frame", "ApexFrame"),
    "offset": ("Offset", "Offset Frame", "OffsetFrame"),
    "action_units": ("AUs", "AU", "Action Units"),
    "emotion": ("Emotion", "Estimated Emotion"),
}

#: Sheet spellings that mean the same emotion (after lower-casing).
EMOTION_ALIASES: dict[str, str] = {"other": "others"}

_SUBJECT = re.compile(r"^[\w-]+$")
_FRAME = re.compile(r"(\d+)$")


def read_4dme(
    root: str | Path,
    layout: str = "auto",
    sheet: str | None = None,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "all",
) -> SampleTable:
    """Read a 4DME release into a `SampleTable`, applying the apex, frame and label policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)

    release, kind = find_release(root, layout, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    log.info("4DME: sheet %s, frames %s (%s)", release.sheet_rel, frames_rel, kind)

    table = clip_rows(read_sheet(release.sheet, SHEET_COLUMNS, header_hint="sub_ID"), release.sheet_rel)
    emotions = [_read_emotion(cell)[0] for cell in table["emotion"]]
    classes, mapping = sheet_label_set(DATASET, label_set, emotions)
    clips = sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())
    listing = functools.cache(list_frames)  # each clip folder listed once for both passes
    counted = sheet_clips.count_from_first_frame(
        clips, lambda clip: listing(release.frames_root / clip.subject / clip.clip), log, "4DME"
    )
    frames = sheet_clips.FrameNames(
        listing,
        lambda clip, number: f"*{number}.*",
        "no 4DME frames (image files whose name ends in the frame number) in {frames_root}: no "
        "clip folder the sheet names (e.g. {example}) holds one; check data.root or data.reader.layout",
    )
    provenance = {"frames_dir": frames_rel, "layout_kind": kind, "counted_from_first_frame": counted}
    return sheet_clips.build_table(release, clips, classes, policies, frames, provenance, log)


def find_release(root: str | Path, layout: str = "auto", sheet: str | None = None) -> tuple[sheet_clips.Release, str]:
    """The release's sheet and frames folder (and the frames' kind), found from `data.root` by
    listing folders, no sheet row read: what `read_4dme` reads, and what `mer.preflight` checks
    before any job starts."""
    sheet_clips.check_choice("data.reader.layout", layout, LAYOUTS)
    root = sheet_clips.resolve_root(root, "4DME", f"{FRAME_DIRS['raw']}/ and {SHEET_NAMES[0]} (4DMicro/)")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, "4DME")
    frames_root, kind = find_frames_dir(root, layout)
    return sheet_clips.Release(DATASET, "4DME", root, sheet_path, frames_root), kind


def find_frames_dir(root: Path, layout: str = "auto") -> tuple[Path, str]:
    """The frames folder and its kind: `gray_micro/` (raw) or `gray_micro_crop/` (cropped) in root
    or one level down; `auto` takes raw where both are there."""
    kinds = ("raw", "cropped") if layout == "auto" else (layout,)
    for kind in kinds:
        found = sheet_clips.folder_in_root_or_child(root, FRAME_DIRS[kind])
        if found is not None:
            return found, kind
    looked = " or ".join(f"{FRAME_DIRS[kind]}/" for kind in kinds)
    raise MerError(
        f"no 4DME frames in {root} or its subfolders (data.reader.layout={layout}): looked for "
        f"{looked} (holding <sub_ID>/<fold_name>/ frame folders); set data.root to 4DMicro/ or "
        "the folder holding it"
    )


def list_frames(clip_dir: Path) -> dict[int, str]:
    """Frame number → file name of the images in a clip folder whose name ends in a number ({}
    when there is no folder): the names are not public, so none is assumed."""
    return first_by_number(numbered_frames(clip_dir, _FRAME)) if clip_dir.is_dir() else {}


def clip_rows(table: pd.DataFrame, sheet_rel: str) -> pd.DataFrame:
    """The sheet rows that describe a clip: a row whose clip columns are all blank (a tally row
    under the table, filled only in the tally columns) is skipped, and logged."""
    clip_columns = [column for column in SHEET_COLUMNS if column != "action_units"]
    named = table[clip_columns].map(cell_text).ne("").any(axis=1)
    if not named.all():
        rows = table.loc[~named, ROW].astype(str)
        log.info(
            "4DME: skipped %s of %s naming no clip (tallies only): %s",
            plural(len(rows), "row"),
            sheet_rel,
            ", ".join(rows),
        )
    return table.loc[named].reset_index(drop=True)


def _read_emotion(value: object) -> tuple[str, str]:
    """(mapping key, the cell as written) of a sheet `Emotion` cell: lower case, spacing around
    `+` dropped, aliases resolved (`Negative + Repression` → `negative+repression`)."""
    raw = cell_text(value)
    parts = (" ".join(part.split()).lower() for part in raw.split(COMBINED))
    return COMBINED.join(EMOTION_ALIASES.get(part, part) for part in parts), raw


def _subject_folder(value: object, where: str) -> str:
    """Sheet `sub_ID` verbatim as the subject's folder name; anything but letters, digits, `_`
    and `-` is refused (it would not be one folder under the frames folder)."""
    text = cell_text(value)
    if not _SUBJECT.match(text):
        raise MerError(f"{where}: sub_ID {text!r} is not a subject folder name (e.g. S01); fix the sheet")
    return text


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the 4DME sheet writes subjects, frame numbers and emotions."""
    known = (
        "4DME's emotions are positive, negative, surprise, repression and others, alone or "
        f"joined by '{COMBINED}' (e.g. Surprise{COMBINED}Positive)"
    )
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, _read_emotion, known)
