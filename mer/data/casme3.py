"""CAS(ME)^3 part A reader: the label sheet plus the frame folders of a release → one `SampleTable`.

CAS(ME)^3 (Li et al. 2022) part A ships each recorded video's colour frames as
`spNO.1/b/color/175.jpg` (subject `spNO.N`, video `a`, `b`, ..., unpadded frame numbers) and the
sheet `cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx` with columns `Subject, Filename, Onset, Apex,
Offset, AU, Objective class, emotion`. One video holds several expressions, so a clip is keyed by
its video and onset: `casme3/spNO.1/b_175`. Only directories are listed; no image is opened.
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

DATASET = "casme3"

SHEET_NAMES: tuple[str, ...] = ("cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx",)

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject",),
    "clip": ("Filename", "File Name"),
    "onset": ("Onset", "Onset Frame", "OnsetFrame"),
    "apex": ("Apex", "Apex Frame", "ApexFrame"),
    "offset": ("Offset", "Offset Frame", "OffsetFrame"),
    "action_units": ("AU", "Action Units", "AUs"),
    "emotion": ("emotion", "Estimated Emotion"),
}

#: Each video's frames sit in this folder under `spNO.N/<video>/`.
COLOUR_DIR = "color"

_SUBJECT = re.compile(r"^(?:spNO\.)?0*(\d+)$", re.IGNORECASE)
_FRAME = re.compile(r"^(\d+)$")


def read_casme3(
    root: str | Path,
    sheet: str | None = None,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "all",
) -> SampleTable:
    """Read a CAS(ME)^3 part A release into a `SampleTable`, applying the policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    classes, mapping = get_label_set(DATASET, label_set)

    release = find_release(root, sheet)
    frames_rel = sheet_clips.relative(release.frames_root, release.root) or "."
    log.info("CAS(ME)^3: sheet %s, frames %s", release.sheet_rel, frames_rel)

    table = read_sheet(release.sheet, SHEET_COLUMNS)
    clips = sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())
    for clip in clips:  # several expressions per video: the onset tells them apart
        clip.folder = f"{clip.clip}/{COLOUR_DIR}"
        clip.clip = f"{clip.clip}_{clip.onset}"
    frames = sheet_clips.FrameNames(
        lambda clip_dir: first_by_number(numbered_frames(clip_dir, _FRAME)),
        lambda clip, number: f"{number}.jpg",
        "no CAS(ME)^3 frames (like 175.jpg) in {frames_root}: no video folder the sheet names "
        "(e.g. {example}) holds one; check data.root",
    )
    layout = {"frames_dir": frames_rel, "clip_key": "video_onset"}
    return sheet_clips.build_table(release, clips, classes, policies, frames, layout, log)


def find_release(root: str | Path, sheet: str | None = None) -> sheet_clips.Release:
    """The release's label sheet and frames folder, found from `data.root` by listing folders, no
    sheet row read: what `read_casme3` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, "CAS(ME)^3", f"subject folders like spNO.1/ and {SHEET_NAMES[0]}")
    sheet_path = sheet_clips.find_named_sheet(root, sheet, SHEET_NAMES, "CAS(ME)^3 part A")
    return sheet_clips.Release(DATASET, "CAS(ME)^3", root, sheet_path, find_frames_dir(root))


def find_frames_dir(root: Path) -> Path:
    """The folder holding the `spNO.N/` subject folders: root itself or one of its subfolders."""
    for folder in sheet_clips.root_and_children(root):
        if any(p.is_dir() and p.name.lower().startswith("spno.") for p in folder.iterdir()):
            return folder
    raise MerError(
        f"no CAS(ME)^3 part A frames in {root} or its subfolders: looked for subject folders like "
        "spNO.1/ (holding video folders like b/color/ with frames like 175.jpg); set data.root "
        "to the folder holding them and the label sheet"
    )


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` ("spNO.1", 1) → folder name `spNO.1`; anything else is refused."""
    return f"spNO.{sheet_clips.subject_number(value, where, _SUBJECT, '(e.g. spNO.1)')}"


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the CAS(ME)^3 part A sheet writes subjects, frame numbers and emotions."""
    known = "known CAS(ME)^3 labels ({label_set}): {labels}"
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, sheet_clips.emotion_reader(), known)
