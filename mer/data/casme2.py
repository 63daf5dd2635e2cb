"""CASME II reader: the coding sheet plus the frame folders of a release → one `SampleTable`.

CASME II (Yan et al. 2014) ships raw frames (`CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`) and
cropped ones (`Cropped/sub01/EP02_01f/reg_img46.jpg`), and a coding sheet with onset, apex and
offset frame numbers per clip. Only directories are listed here; no image is opened.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mer.data.labels import MAPPINGS, label_set as get_label_set
from mer.data.samples import COLUMNS, SampleTable, file_sha256
from mer.data.sheet import ROW, cell_frame, cell_text, read_sheet
from mer.errors import MerError

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
APEX_POLICIES = ("midpoint", "drop", "error")
MISSING_FRAMES = ("error", "drop")

_SUBJECT = re.compile(r"^(?:sub)?0*(\d+)$", re.IGNORECASE)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class _Clip:
    """One sheet row on its way to a sample-table row."""

    row: int
    subject: str
    clip: str
    emotion: str
    label: str | None  # None: the label set drops this emotion
    action_units: str
    onset: int
    apex: int | None
    offset: int
    apex_text: str

    @property
    def name(self) -> str:
        """`sub01/EP02_01f`: how warnings and errors name the clip."""
        return f"{self.subject}/{self.clip}"

    @property
    def span(self) -> str:
        """`[46, 86]`: the clip's onset and offset, for messages."""
        return f"[{self.onset}, {self.offset}]"

    @property
    def sample_id(self) -> str:
        """`casme2/sub01/EP02_01f`: unique across datasets."""
        return f"{DATASET}/{self.subject}/{self.clip}"


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
    _check_choice("data.reader.layout", layout, LAYOUTS)
    _check_choice("data.reader.apex_policy", apex_policy, APEX_POLICIES)
    _check_choice("data.reader.missing_frames", missing_frames, MISSING_FRAMES)
    _check_choice("data.reader.label_set", label_set, tuple(MAPPINGS[DATASET]))
    classes, mapping = get_label_set(DATASET, label_set)

    root = _resolve_root(root)
    sheet_path = find_sheet(root, sheet)
    sheet_rel = _relative(sheet_path, root)
    frames_root, kind = find_frames_dir(root, layout, frames_dir)
    prefix = FRAME_PREFIX[kind]
    frames_rel = _relative(frames_root, root)
    log.info("CASME II: sheet %s, frames %s (%s, %sN.jpg)", sheet_rel, frames_rel, kind, prefix)

    clips = _parse_rows(read_sheet(sheet_path, SHEET_COLUMNS), sheet_rel, mapping, label_set)
    _check_unique(clips, sheet_rel)
    _log_unlisted_folders(frames_root, clips)
    dropped: list[dict[str, str]] = [
        {"sample_id": c.sample_id, "reason": f"label '{c.emotion}' not in {label_set}"}
        for c in clips
        if c.label is None
    ]
    _log_label_drops(clips, label_set)
    kept = [c for c in clips if c.label is not None]

    kept, apex_fixed, apex_dropped = _apply_apex_policy(kept, apex_policy, sheet_rel)
    dropped += apex_dropped
    rows, frame_dropped = _locate_frames(kept, root, frames_root, prefix, missing_frames, sheet_rel)
    dropped += frame_dropped

    provenance: dict[str, Any] = {
        "reader": DATASET,
        "sheet": sheet_rel,
        "sheet_sha256": file_sha256(sheet_path),
        "layout": frames_rel,
        "layout_kind": kind,
        "apex_policy": apex_policy,
        "missing_frames": missing_frames,
        "label_set": label_set,
        "apex_fixed": apex_fixed,
        "dropped": dropped,
    }
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return SampleTable(
        dataset=DATASET, root=root, rows=table, classes=classes, provenance=provenance
    )


def list_frames(clip_dir: Path, prefix: str) -> list[tuple[int, str]]:
    """(number, file name) of a clip's `{prefix}N.jpg` frames, sorted by number: img99 < img100."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    frames = []
    for name in os.listdir(clip_dir):
        stem, suffix = os.path.splitext(name)
        match = pattern.match(stem)
        if match and suffix.lower() in _IMAGE_SUFFIXES:
            frames.append((int(match.group(1)), name))
    return sorted(frames)


def find_sheet(root: Path, sheet: str | None = None) -> Path:
    """The coding sheet: the override, or the one sheet-like file in root or one level down."""
    if sheet is not None:
        path = _inside_root(root, sheet, "data.reader.sheet")
        if not path.is_file():
            raise MerError(f"coding sheet {path} (data.reader.sheet) does not exist")
        return path
    found = [p for folder in _root_and_children(root) for p in _sheet_candidates(folder)]
    if not found:
        raise MerError(
            f"no CASME II coding sheet in {root} or its subfolders: looked for "
            f"{', '.join(SHEET_NAMES)} or a *.csv whose name contains 'coding' or 'casme'; "
            "pass one with data.reader.sheet=PATH"
        )
    if len(found) > 1:
        names = ", ".join(_relative(p, root) for p in found)
        raise MerError(
            f"several CASME II coding sheets in {root}: {names}; "
            "choose one with data.reader.sheet=PATH"
        )
    return found[0]


def find_frames_dir(
    root: Path, layout: str = "auto", frames_dir: str | None = None
) -> tuple[Path, str]:
    """The frames folder and its kind (raw/cropped): the override, or the first known one found."""
    if frames_dir is not None:
        folder = _inside_root(root, frames_dir, "data.reader.frames_dir")
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


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse a config value outside its choices, naming the key."""
    if value not in choices:
        raise MerError(f"unknown {key}={value!r}: choose one of {', '.join(choices)}")


def _resolve_root(root: str | Path) -> Path:
    """The release folder as an absolute path, or an error saying it is not there."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise MerError(
            f"CASME II root {path} does not exist or is not a folder (data.root): give the folder "
            f"holding one of {', '.join(FRAME_DIRS['raw'] + FRAME_DIRS['cropped'])} and the "
            "coding sheet"
        )
    return path.resolve()


def _inside_root(root: Path, given: str | Path, key: str) -> Path:
    """An override path (relative to root, or absolute) as an absolute path inside root."""
    path = Path(given).expanduser()
    candidate = Path(os.path.normpath(path if path.is_absolute() else root / path))
    if candidate.is_relative_to(root):
        return candidate
    if candidate.exists() and candidate.resolve().is_relative_to(root):
        return candidate.resolve()
    raise MerError(f"{key}={given} leads outside the root {root}: give a path inside it")


def _relative(path: Path, root: Path) -> str:
    """A path inside root as POSIX text relative to root (what the sample table stores)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.resolve().relative_to(root).as_posix()


def _root_and_children(root: Path) -> list[Path]:
    """The root and its direct subfolders, sorted (where a coding sheet may lie)."""
    return [root] + sorted(p for p in root.iterdir() if p.is_dir())


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
    rel = _relative(folder, root)
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


def _parse_rows(
    table: pd.DataFrame, sheet_rel: str, mapping: dict[str, str | None], label_set: str
) -> list[_Clip]:
    """Sheet rows → clips with mapped labels (None: the label set drops it); bad cells refused."""
    clips = []
    for record in table.to_dict("records"):
        where = f"{sheet_rel} row {record[ROW]}"
        subject = _subject_folder(record["subject"], where)
        clip = _clip_folder(record["clip"], where)
        onset = _frame(record["onset"], "OnsetFrame", where)
        offset = _frame(record["offset"], "OffsetFrame", where)
        if onset > offset:
            raise MerError(
                f"{where} ({subject}/{clip}): OnsetFrame {onset} is after OffsetFrame {offset}; "
                "fix the sheet"
            )
        emotion = cell_text(record["emotion"]).lower()
        if emotion not in mapping:
            raise MerError(
                f"{where} ({subject}/{clip}): unknown emotion {emotion!r}; known CASME II labels "
                f"({label_set}): {', '.join(sorted(mapping))}"
            )
        clips.append(
            _Clip(
                row=int(record[ROW]),
                subject=subject,
                clip=clip,
                emotion=emotion,
                label=mapping[emotion],
                action_units=cell_text(record["action_units"]),
                onset=onset,
                apex=cell_frame(record["apex"]),
                offset=offset,
                apex_text=cell_text(record["apex"]),
            )
        )
    return clips


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` (1, "1", "sub01") → folder name `sub01`; anything else is refused."""
    text = cell_text(value)
    match = _SUBJECT.match(text)
    if not match:
        raise MerError(
            f"{where}: Subject {text!r} is not a subject number (1-26) or a folder like sub01; "
            "fix the sheet"
        )
    return f"sub{int(match.group(1)):02d}"


def _clip_folder(value: object, where: str) -> str:
    """Sheet `Filename` verbatim as a folder name; empty names and paths out of it are refused."""
    text = cell_text(value)
    if not text:
        raise MerError(f"{where}: Filename is empty; fill it in or delete the row")
    if text in (".", "..") or any(ch in text for ch in ("/", "\\", ":", "\0")):
        raise MerError(
            f"{where}: Filename {text!r} is not a plain folder name (it would lead outside "
            "the frames folder); fix the sheet"
        )
    return text


def _frame(value: object, column: str, where: str) -> int:
    """A required frame number cell, or an error naming the row and column."""
    frame = cell_frame(value)
    if frame is None:
        text = cell_text(value)
        raise MerError(f"{where}: {column} {text!r} is not a frame number; fix the sheet")
    return frame


def _check_unique(clips: list[_Clip], sheet_rel: str) -> None:
    """Refuse two sheet rows naming the same clip (they would be one sample twice)."""
    seen: dict[str, int] = {}
    for clip in clips:
        if clip.name in seen:
            raise MerError(
                f"{sheet_rel} rows {seen[clip.name]} and {clip.row} both name {clip.name}; "
                "delete one of them"
            )
        seen[clip.name] = clip.row


def _log_unlisted_folders(frames_root: Path, clips: list[_Clip]) -> None:
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
        log.info(
            "CASME II: %d clip folders have no sheet row (ignored): %s",
            len(unlisted),
            ", ".join(unlisted),
        )


def _log_label_drops(clips: list[_Clip], label_set: str) -> None:
    """Log (info) how many clips of each emotion the label set drops."""
    counts = Counter(clip.emotion for clip in clips if clip.label is None)
    if counts:
        detail = ", ".join(f"{emotion} {n}" for emotion, n in sorted(counts.items()))
        total = sum(counts.values())
        log.info("CASME II: label set %s drops %d clips (%s)", label_set, total, detail)


def _apex_is_valid(clip: _Clip) -> bool:
    """True when the sheet's apex is a frame number within [onset, offset]."""
    return clip.apex is not None and clip.onset <= clip.apex <= clip.offset


def _apply_apex_policy(
    clips: list[_Clip], policy: str, sheet_rel: str
) -> tuple[list[_Clip], list[str], list[dict[str, str]]]:
    """Fix (midpoint), drop or refuse clips whose apex is "/" or outside [onset, offset]."""
    bad = [clip for clip in clips if not _apex_is_valid(clip)]
    if not bad:
        return clips, [], []
    if policy == "error":
        first = bad[0]
        raise MerError(
            f"{sheet_rel} row {first.row} ({first.name}): ApexFrame {first.apex_text!r} is not a "
            f"frame in [onset {first.onset}, offset {first.offset}]; fix the sheet or set "
            "data.reader.apex_policy=midpoint or drop"
        )
    names = ", ".join(clip.name for clip in bad)
    action = "used midpoint (onset+offset)//2" if policy == "midpoint" else "dropped them"
    message = f"apex '/' or outside [onset, offset] in {len(bad)} clips, {action}: {names}"
    warnings.warn(message, UserWarning, stacklevel=3)
    if policy == "drop":
        reasons = [
            {"sample_id": c.sample_id, "reason": f"apex {c.apex_text!r} not in {c.span}"}
            for c in bad
        ]
        return [c for c in clips if _apex_is_valid(c)], [], reasons
    for clip in bad:
        clip.apex = (clip.onset + clip.offset) // 2
    return clips, [clip.sample_id for clip in bad], []


def _locate_frames(
    clips: list[_Clip], root: Path, frames_root: Path, prefix: str, policy: str, sheet_rel: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Sample-table rows, onset/apex files found by listing clip folders, missing per policy."""
    rows: list[dict[str, Any]] = []
    missing: list[tuple[_Clip, str]] = []
    any_frames = False
    for clip in clips:
        clip_dir = frames_root / clip.subject / clip.clip
        frames = _frame_files(clip_dir, prefix) if clip_dir.is_dir() else {}
        any_frames = any_frames or bool(frames)
        problem = _missing_frame(clip, clip_dir, frames, prefix)
        if problem:
            missing.append((clip, problem))
            continue
        rows.append(_row(clip, root, clip_dir, frames))
    if clips and not any_frames:
        raise MerError(
            f"no frames ({prefix}N.jpg) in {frames_root}: none of the {len(clips)} clip folders "
            f"the sheet names (e.g. {frames_root / clips[0].name}) holds one; check "
            "data.reader.layout (raw: imgN.jpg, cropped: reg_imgN.jpg) or data.reader.frames_dir"
        )
    if missing and policy == "error":
        clip, problem = missing[0]
        raise MerError(
            f"{sheet_rel} row {clip.row} ({clip.name}): {problem}; restore it, fix the sheet, "
            "or set data.reader.missing_frames=drop to skip such clips"
        )
    if missing:
        detail = ", ".join(f"{clip.name} ({problem})" for clip, problem in missing)
        message = f"missing onset/apex frames in {len(missing)} clips, dropped: {detail}"
        warnings.warn(message, UserWarning, stacklevel=3)
    dropped = [{"sample_id": clip.sample_id, "reason": problem} for clip, problem in missing]
    return rows, dropped


def _frame_files(clip_dir: Path, prefix: str) -> dict[int, str]:
    """Frame number → file name in a clip folder (first wins if img46 and img046 both exist)."""
    files: dict[int, str] = {}
    for number, name in list_frames(clip_dir, prefix):
        files.setdefault(number, name)
    return files


def _missing_frame(clip: _Clip, clip_dir: Path, frames: dict[int, str], prefix: str) -> str:
    """What is missing for a clip (its folder, onset or apex file) as text, or "" if nothing is."""
    if not clip_dir.is_dir():
        return f"clip folder {clip_dir} does not exist"
    for what, number in (("onset", clip.onset), ("apex", clip.apex)):
        if number not in frames:
            return f"{what} frame {clip_dir / f'{prefix}{number}.jpg'} does not exist"
    return ""


def _row(clip: _Clip, root: Path, clip_dir: Path, frames: dict[int, str]) -> dict[str, Any]:
    """One sample-table row (paths relative to root, POSIX)."""
    clip_rel = PurePosixPath(_relative(clip_dir, root))
    return {
        "sample_id": clip.sample_id,
        "dataset": DATASET,
        "subject": clip.subject,
        "clip": clip.clip,
        "label": clip.label,
        "emotion": clip.emotion,
        "action_units": clip.action_units,
        "onset_frame": clip.onset,
        "apex_frame": clip.apex,
        "offset_frame": clip.offset,
        "clip_dir": str(clip_rel),
        "onset_path": str(clip_rel / frames[clip.onset]),
        "apex_path": str(clip_rel / frames[clip.apex]),
    }
