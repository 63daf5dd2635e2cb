"""MMEW reader: the micro-expression sheet plus the clip folders of a release → one `SampleTable`.

MMEW (Ben et al. 2021) ships, in `MMEW_Final/`, the sheet `MMEW_Micro_Exp.xlsx` (some copies
`.csv` or `_v2.xlsx`; columns `Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units,
Estimated Emotion, remarks`) and 90 fps frames `Micro_Expression/<emotion>/<Filename>/<n>.jpg`, n
from 1 in every clip folder. `data.root` is `MMEW_Final/` or the folder holding it. Copies differ,
so the reader looks instead of assuming: a clip folder is found by its Filename under any emotion
folder (its folder need not be the sheet's emotion: `others` clips sit in `repression/` in some
copies; the release's page shows `<subject>/<emotion>/<Filename>/`), and a clip whose sheet
numbers are frames of the original video is counted from its folder's first frame
(`sheet_clips.count_from_first_frame`). Subjects are
`S01`, `S02`, ... whether the sheet writes `S01` or 1, as the release names its subjects and clips.
Only directories are listed; no image is opened.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import defaultdict
from pathlib import Path

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.samples import SampleTable
from mer.data.sheet import read_sheet
from mer.errors import MerError

log = logging.getLogger(__name__)

DATASET = "mmew"

#: The frames folder, in the root or one level down (`MMEW_Final/Micro_Expression`).
FRAMES_DIR = "Micro_Expression"

#: Coding sheet names looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = ("MMEW_Micro_Exp.xlsx", "MMEW_Micro_Exp_v2.xlsx", "MMEW_Micro_Exp.csv")

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject",),
    "clip": ("Filename", "File Name"),
    "onset": ("OnsetFrame", "Onset Frame", "Onset"),
    "apex": ("ApexFrame", "Apex Frame", "Apex"),
    "offset": ("OffsetFrame", "Offset Frame", "Offset"),
    "action_units": ("Action Units", "AUs", "AU"),
    "emotion": ("Estimated Emotion", "Emotion"),
}

#: Sheet spellings that mean the same emotion (after lower-casing): copies passed through MEB say
#: `repression` where the release says `others`.
EMOTION_ALIASES: dict[str, str] = {"other": "others", "repression": "others"}

_SUBJECT = re.compile(r"^S?0*(\d+)$", re.IGNORECASE)
_FRAME = re.compile(r"^(\d+)$")


def read_mmew(
    root: str | Path,
    sheet: str | None = None,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "all",
) -> SampleTable:
    """Read an MMEW release into a `SampleTable`, applying the apex, frame and label policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    classes, mapping = get_label_set(DATASET, label_set)

    release = find_release(root, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    log.info("MMEW: sheet %s, frames %s", release.sheet_rel, frames_rel)

    table = read_sheet(release.sheet, SHEET_COLUMNS)
    clips = sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())
    place_clip_folders(clips, release)
    listing = functools.cache(list_frames)  # each clip folder listed once for both passes
    counted = sheet_clips.count_from_first_frame(clips, lambda clip: listing(Path(clip.folder)), log, "MMEW")
    frames = sheet_clips.FrameNames(
        listing,
        lambda clip, number: f"{number}.jpg",
        "no MMEW frames (like 1.jpg) in {frames_root}: no clip folder the sheet names "
        "(e.g. {example}) holds one; check data.root",
    )
    layout = {"frames_dir": frames_rel, "counted_from_first_frame": counted}
    return sheet_clips.build_table(release, clips, classes, policies, frames, layout, log)


def find_release(root: str | Path, sheet: str | None = None) -> sheet_clips.Release:
    """The release's sheet and frames folder, found from `data.root` by listing folders, no sheet
    row read: what `read_mmew` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, "MMEW", f"{FRAMES_DIR}/ and {SHEET_NAMES[0]} (MMEW_Final/)")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, "MMEW")
    return sheet_clips.Release(DATASET, "MMEW", root, sheet_path, find_frames_dir(root))


def find_frames_dir(root: Path) -> Path:
    """`Micro_Expression/` in root (`MMEW_Final/`) or one level down (root holds `MMEW_Final/`)."""
    found = sheet_clips.folder_in_root_or_child(root, FRAMES_DIR)
    if found is not None:
        return found
    raise MerError(
        f"no MMEW frames in {root} or its subfolders: looked for a {FRAMES_DIR}/ folder (holding "
        "<emotion>/<Filename>/1.jpg); set data.root to MMEW_Final/ or the folder holding it"
    )


def list_frames(clip_dir: Path) -> dict[int, str]:
    """Frame number → file name of a clip folder's `<n>.jpg` frames ({} when there is no folder)."""
    return first_by_number(numbered_frames(clip_dir, _FRAME)) if clip_dir.is_dir() else {}


def clip_folders(frames_root: Path) -> dict[str, list[Path]]:
    """Folder name → the folders of that name two or three levels under the frames folder: where
    clip folders sit (`<emotion>/<Filename>/`, or `<subject>/<emotion>/<Filename>/`)."""
    found: dict[str, list[Path]] = defaultdict(list)
    level = [frames_root]
    for depth in (1, 2, 3):
        level = sorted(Path(entry.path) for folder in level for entry in os.scandir(folder) if entry.is_dir())
        if depth > 1:
            for folder in level:
                found[folder.name].append(folder)
    return found


def place_clip_folders(clips: list[sheet_clips.SheetClip], release: sheet_clips.Release) -> None:
    """Point each clip at the one folder named like its Filename, whatever emotion folder holds
    it, or at `*/<Filename>` when none does (so a missing folder is reported as such)."""
    found = clip_folders(release.frames_root)
    for clip in clips:
        places = found.get(clip.clip, [])
        if len(places) > 1:
            listed = ", ".join(sheet_clips.relative(path, release.root) for path in places)
            raise MerError(
                f"{release.sheet_rel} row {clip.row} ({clip.name}): several clip folders are named "
                f"{clip.clip}: {listed}; keep one"
            )
        # Absolute, since MMEW has no subject folder (`sheet_clips.clip_folder_path` takes it as it is).
        clip.folder = str(places[0] if places else release.frames_root / "*" / clip.clip)


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` ("S01", 1) → subject id `S01`; anything else is refused."""
    return f"S{sheet_clips.subject_number(value, where, _SUBJECT, '(e.g. S01 or 1)'):02d}"


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the MMEW sheet writes subjects, frame numbers and emotions."""
    known = "known MMEW labels ({label_set}): {labels} (or repression for others)"
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, sheet_clips.emotion_reader(EMOTION_ALIASES), known)
