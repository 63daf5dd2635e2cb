"""SAMM reader: the FACS coding sheet plus the frame folders of a release → one `SampleTable`.

SAMM (Davison et al. 2018) ships greyscale 200 fps frames as `SAMM/006/006_1_2/006_05562.jpg`
(subject folder `{:03d}`, frame number after the last `_`, padding varies) and
`SAMM_Micro_FACS_Codes_v2.xlsx`, whose header row sits below ~13 note rows. Only directories are
listed here; no image is opened. What every reader shares (cell checks, label, apex and
missing-frame policies, paths, provenance) lives in `mer.data.sheet_clips`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.samples import SampleTable
from mer.data.sheet import read_sheet
from mer.errors import MerError

log = logging.getLogger(__name__)

DATASET = "samm"

#: Frames folder under the root; the root may also be this folder itself.
FRAMES_DIR = "SAMM"

#: Coding sheet names looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM_Micro_FACS_Codes_v2.csv")

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject",),
    "clip": ("Filename", "File Name"),
    "onset": ("Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("Apex Frame", "ApexFrame", "Apex"),
    "offset": ("Offset Frame", "OffsetFrame", "Offset"),
    "action_units": ("Action Units", "AUs"),
    "emotion": ("Estimated Emotion", "Emotion"),
}

#: Sheet spellings that mean the same emotion (after lower-casing).
EMOTION_ALIASES: dict[str, str] = {"other": "others"}

_SUBJECT = re.compile(r"^0*(\d+)$")
_FRAME = re.compile(r"_(\d+)$")


def read_samm(
    root: str | Path,
    sheet: str | None = None,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "5class",
) -> SampleTable:
    """Read a SAMM release into a `SampleTable`, applying the apex, frame and label policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    classes, mapping = get_label_set(DATASET, label_set)

    release = find_release(root, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root) or "."
    log.info("SAMM: sheet %s, frames %s", release.sheet_rel, frames_rel)

    table = read_sheet(release.sheet, SHEET_COLUMNS)
    clips = sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())
    frames = sheet_clips.FrameNames(
        lambda clip_dir: first_by_number(list_frames(clip_dir)),
        lambda clip, number: f"{clip.subject}_{number:05d}.jpg",
        "no SAMM frames (like 006_05562.jpg) in {frames_root}: no clip folder the sheet names "
        "(e.g. {example}) holds one; check data.root",
    )
    layout = {"frames_dir": frames_rel}
    return sheet_clips.build_table(release, clips, classes, policies, frames, layout, log)


def find_release(root: str | Path, sheet: str | None = None) -> sheet_clips.Release:
    """The release's coding sheet and frames folder, found from `data.root` by listing folders, no
    sheet row read: what `read_samm` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, "SAMM", f"{FRAMES_DIR}/ and {SHEET_NAMES[0]}")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, "SAMM")
    return sheet_clips.Release(DATASET, "SAMM", root, sheet_path, find_frames_dir(root))


def list_frames(clip_dir: Path) -> list[tuple[int, str]]:
    """(number, file name) of a clip's `006_05562.jpg` frames, sorted by number, not by text."""
    return numbered_frames(clip_dir, _FRAME)


def find_frames_dir(root: Path) -> Path:
    """`root/SAMM` when present, else root itself when it holds subject folders like `006/`."""
    if (root / FRAMES_DIR).is_dir():
        return root / FRAMES_DIR
    if any(p.is_dir() and _SUBJECT.match(p.name) for p in root.iterdir()):
        return root
    raise MerError(
        f"no SAMM frames in {root}: looked for a {FRAMES_DIR}/ folder or subject folders like 006/ "
        "(holding clip folders like 006_1_2/ with frames like 006_05562.jpg); set data.root to "
        "the folder holding SAMM/ and the coding sheet"
    )


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` (6, "006") → folder name `006`; anything else is refused."""
    return f"{sheet_clips.subject_number(value, where, _SUBJECT, '(e.g. 6 or 006)'):03d}"


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the SAMM coding sheet writes subjects, frame numbers and emotions."""
    known = "known SAMM labels ({label_set}): {labels} (or Other)"
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, sheet_clips.emotion_reader(EMOTION_ALIASES), known)
