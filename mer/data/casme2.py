"""CASME II reader: the coding sheet plus the frame folders of a release → one `SampleTable`.

CASME II (Yan et al. 2014) ships raw frames (`CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`) and
cropped ones (`Cropped/sub01/EP02_01f/reg_img46.jpg`), and a coding sheet with onset, apex and
offset frame numbers per clip. Only directories are listed here; no image is opened.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.samples import SampleTable
from mer.data.sheet import cell_text, read_sheet
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "casme2"

#: Frame folders under the root, in order of preference within each kind.
FRAME_DIRS: dict[str, tuple[str, ...]] = {
    "raw": ("CASME2_RAW_selected", "CASME2-RAW"),
    "cropped": ("Cropped", "Cropped_original", "Cropped-updated/Cropped"),
}

#: Frame file name prefix per kind: raw `img46.jpg`, cropped `reg_img46.jpg`.
FRAME_PREFIX: dict[str, str] = {"raw": "img", "cropped": "reg_img"}

#: Coding sheet names looked for in the root and one level down (compared ignoring case).
SHEET_NAMES: tuple[str, ...] = (
    "CASME2-coding-20140508.xlsx",
    "CASME2-coding-20190701.xlsx",
    "CASME2_label_Ver_2.xls",
)

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

LAYOUTS = ("auto", "raw", "cropped")

_SUBJECT = re.compile(r"^(?:sub)?0*(\d+)$", re.IGNORECASE)


def read_casme2(
    root: str | Path,
    layout: str = "auto",
    frames_dir: str | None = None,
    sheet: str | None = None,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "5class",
) -> SampleTable:
    """Read a CASME II release into a `SampleTable`, applying the apex, frame and label policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    classes, mapping = get_label_set(DATASET, label_set)

    release, kind = find_release(root, layout, frames_dir, sheet)
    prefix = FRAME_PREFIX[kind]
    frames_rel = sheet_clips.relative(release.frames_root, release.root)
    log.info("CASME II: sheet %s, frames %s (%s, %sN.jpg)", release.sheet_rel, frames_rel, kind, prefix)

    table = read_sheet(release.sheet, SHEET_COLUMNS)
    clips = sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())
    _log_unlisted_folders(release.frames_root, clips)
    frames = sheet_clips.FrameNames(
        lambda clip_dir: first_by_number(list_frames(clip_dir, prefix)),
        lambda clip, number: f"{prefix}{number}.jpg",
        f"no frames ({prefix}N.jpg) in {{frames_root}}: no clip folder the sheet names "
        "(e.g. {example}) holds one; check data.reader.layout (raw: imgN.jpg, "
        "cropped: reg_imgN.jpg) or data.reader.frames_dir",
    )
    layout_provenance = {"layout": frames_rel, "layout_kind": kind}
    return sheet_clips.build_table(release, clips, classes, policies, frames, layout_provenance, log)


def find_release(
    root: str | Path, layout: str = "auto", frames_dir: str | None = None, sheet: str | None = None
) -> tuple[sheet_clips.Release, str]:
    """The release's coding sheet and frames folder (and the frames' kind), found from `data.root`
    by listing folders, no sheet row read: what `read_casme2` reads, and what `mer.preflight`
    checks before any job starts."""
    sheet_clips.check_choice("data.reader.layout", layout, LAYOUTS)
    root = sheet_clips.resolve_root(
        root,
        "CASME II",
        f"one of {', '.join(FRAME_DIRS['raw'] + FRAME_DIRS['cropped'])} and the coding sheet",
    )
    sheet_path = find_sheet(root, sheet)
    frames_root, kind = find_frames_dir(root, layout, frames_dir)
    return sheet_clips.Release(DATASET, "CASME II", root, sheet_path, frames_root), kind


def list_frames(clip_dir: Path, prefix: str) -> list[tuple[int, str]]:
    """(number, file name) of a clip's `{prefix}N.jpg` frames, sorted by number: img99 < img100."""
    return numbered_frames(clip_dir, re.compile(rf"^{re.escape(prefix)}(\d+)$"))


def find_sheet(root: Path, sheet: str | None = None) -> Path:
    """The coding sheet: the override, or the one sheet-like file in root or one level down."""
    if sheet is not None:
        return sheet_clips.sheet_override(root, sheet)
    folders = sheet_clips.root_and_children(root)
    found = [p for folder in folders for p in _sheet_candidates(folder)]
    if not found:
        raise MerError(
            f"no CASME II coding sheet in {root} or its subfolders: looked for "
            f"{', '.join(SHEET_NAMES)} or a *.csv whose name contains 'coding' or 'casme'; "
            "pass one with data.reader.sheet=PATH"
        )
    if len(found) > 1:
        names = ", ".join(sheet_clips.relative(p, root) for p in found)
        raise MerError(f"several CASME II coding sheets in {root}: {names}; choose one with data.reader.sheet=PATH")
    return found[0]


def find_frames_dir(root: Path, layout: str = "auto", frames_dir: str | None = None) -> tuple[Path, str]:
    """The frames folder and its kind (raw/cropped): the override, or the first known one found."""
    if frames_dir is not None:
        folder = sheet_clips.inside_root(root, frames_dir, "data.reader.frames_dir")
        if not folder.is_dir():
            raise MerError(f"frames folder {folder} (data.reader.frames_dir) does not exist")
        kind = layout if layout != "auto" else _guess_kind(folder, root)
        log.info("CASME II: frames folder %s from data.reader.frames_dir (%s)", folder, kind)
        return folder, kind
    kinds = ("raw", "cropped") if layout == "auto" else (layout,)
    for kind in kinds:
        for name in FRAME_DIRS[kind]:
            if (root / name).is_dir():
                log.info("CASME II: layout=%s chose %s frames in %s", layout, kind, name)
                return root / name, kind
    looked = ", ".join(f"{name}/ ({FRAME_PREFIX[k]}N.jpg)" for k in kinds for name in FRAME_DIRS[k])
    raise MerError(
        f"no CASME II frames folder in {root} (data.reader.layout={layout}): looked for {looked}; "
        "pass another with data.reader.frames_dir=PATH"
    )


def _sheet_candidates(folder: Path) -> list[Path]:
    """Files in folder named like a CASME II coding sheet (hidden and Excel lock files skipped)."""
    known = {name.lower() for name in SHEET_NAMES}
    found = []
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        if name.startswith((".", "~$")) or not path.is_file():
            continue
        is_csv = name.endswith(".csv") and ("coding" in name or "casme" in name)
        if name in known or is_csv:
            found.append(path)
    return found


def _guess_kind(folder: Path, root: Path) -> str:
    """raw or cropped for an overridden frames folder: by its name, else by its first frame file."""
    rel = sheet_clips.relative(folder, root)
    for kind, names in FRAME_DIRS.items():
        if rel in names or folder.name in names:
            return kind
    for subject in sorted(p for p in folder.iterdir() if p.is_dir()):
        for clip in sorted(p for p in subject.iterdir() if p.is_dir()):
            if list_frames(clip, FRAME_PREFIX["cropped"]):
                return "cropped"
            if list_frames(clip, FRAME_PREFIX["raw"]):
                return "raw"
    return "raw"


def _read_emotion(value: object) -> tuple[str, str]:
    """(mapping key, text for messages) of a sheet `Estimated Emotion` cell: both lower-cased."""
    emotion = cell_text(value).lower()
    return emotion, emotion


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` (1, "1", "sub01") → folder name `sub01`; anything else is refused."""
    number = sheet_clips.subject_number(value, where, _SUBJECT, "(1-26) or a folder like sub01")
    return f"sub{number:02d}"


def _log_unlisted_folders(frames_root: Path, clips: list[sheet_clips.SheetClip]) -> None:
    """Log (info) clip folders that have no sheet row: the release has some, they are ignored."""
    listed = {clip.name for clip in clips}
    folders = [
        f"{subject.name}/{clip.name}"
        for subject in sorted(frames_root.iterdir())
        if subject.is_dir()
        for clip in sorted(subject.iterdir())
        if clip.is_dir()
    ]
    unlisted = [name for name in folders if name not in listed]
    if unlisted:
        names = ", ".join(unlisted)
        log.info("CASME II: ignored %s with no sheet row: %s", plural(len(unlisted), "clip folder"), names)


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the CASME II coding sheet writes subjects, frame numbers and emotions."""
    known = "known CASME II labels ({label_set}): {labels}"
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, _read_emotion, known)
