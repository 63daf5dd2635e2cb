"""Sheet rows → sample-table rows: the parts every reader shares, around its `SheetClip`.

A reader (CASME II, SAMM, CAS(ME)^3; SMIC-HS, whose folders stand in for sheet rows) knows its own
sheet names, folder layout and frame file names; what takes a sheet row to a sample-table row —
cell checks, the label set, the apex policy, finding the onset/apex files, the missing-frame
policy, relative paths, provenance — is the same for each and lives here.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mer.data.labels import MAPPINGS
from mer.data.samples import COLUMNS, SampleTable, file_sha256
from mer.data.sheet import ROW, cell_frame, cell_text
from mer.errors import MerError, plural

APEX_POLICIES = ("midpoint", "drop", "error")
MISSING_FRAMES = ("error", "drop")


@dataclass
class SheetClip:
    """One sheet row on its way to a sample-table row."""

    dataset: str
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
    #: The clip's frames folder under its subject folder ("": `clip` itself), or an absolute path
    #: where the release files it elsewhere (MMEW's emotion folders, CAS(ME)^2's misfiled video).
    folder: str = ""

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
        return f"{self.dataset}/{self.subject}/{self.clip}"


@dataclass(frozen=True)
class Policies:
    """What a reader does with bad apexes, missing frames and emotions outside the label set."""

    apex_policy: str
    missing_frames: str
    label_set: str

    def check(self, dataset: str) -> None:
        """Refuse a policy outside its choices, naming the config key."""
        check_choice("data.reader.apex_policy", self.apex_policy, APEX_POLICIES)
        check_choice("data.reader.missing_frames", self.missing_frames, MISSING_FRAMES)
        check_choice("data.reader.label_set", self.label_set, tuple(MAPPINGS[dataset]))


@dataclass(frozen=True)
class Release:
    """Where a reader found the parts of one release (all paths absolute)."""

    dataset: str
    name: str  # how log lines name the dataset: "CASME II"
    root: Path
    sheet: Path
    frames_root: Path

    @property
    def sheet_rel(self) -> str:
        """The coding sheet relative to the root, as messages and provenance name it."""
        return relative(self.sheet, self.root)


@dataclass(frozen=True)
class FrameNames:
    """How a release names the frame files in its clip folders."""

    files: Callable[[Path], dict[int, str]]  # clip folder → frame number → file name
    expected: Callable[[SheetClip, int], str]  # the file name a missing frame would have
    no_frames_message: str  # format fields: frames_root, example


@dataclass(frozen=True)
class SheetFormat:
    """How a release's coding sheet writes subjects, frame numbers and emotions."""

    columns: dict[str, tuple[str, ...]]  # canonical column → header spellings, preferred first
    subject_folder: Callable[[object, str], str]  # (Subject cell, where) → folder name
    read_emotion: Callable[[object], tuple[str, str]]  # cell → (mapping key, text for messages)
    known_labels: str  # ends the unknown-emotion error; format fields: label_set, labels

    @property
    def frame_columns(self) -> tuple[str, str]:
        """The onset and offset columns as messages name them (their preferred spellings)."""
        return self.columns["onset"][0], self.columns["offset"][0]


def check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse a config value outside its choices, naming the key."""
    if value not in choices:
        raise MerError(f"unknown {key}={value!r}: choose one of {', '.join(choices)}")


def resolve_root(root: str | Path, reader: str, holding: str) -> Path:
    """The release folder as an absolute path, or an error saying it is not there."""
    path = Path(root).expanduser()
    if not path.is_dir():
        raise MerError(
            f"{reader} root {path} does not exist or is not a folder (data.root): give the folder holding {holding}"
        )
    return path.resolve()


def inside_root(root: Path, given: str | Path, key: str) -> Path:
    """An override path (relative to root, or absolute) as an absolute path inside root."""
    path = Path(given).expanduser()
    candidate = Path(os.path.normpath(path if path.is_absolute() else root / path))
    if candidate.is_relative_to(root):
        return candidate
    if candidate.exists() and candidate.resolve().is_relative_to(root):
        return candidate.resolve()
    raise MerError(f"{key}={given} leads outside the root {root}: give a path inside it")


def sheet_override(root: Path, sheet: str, key: str = "data.reader.sheet") -> Path:
    """The coding sheet given by `key` (data.reader.sheet; data.videos.sheet for mer-spot), checked
    to lie inside root and exist."""
    path = inside_root(root, sheet, key)
    if not path.is_file():
        raise MerError(f"coding sheet {path} ({key}) does not exist")
    return path


def relative(path: Path, root: Path) -> str:
    """A path inside root as POSIX text relative to root (what the sample table stores)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.resolve().relative_to(root).as_posix()


def root_and_children(root: Path) -> list[Path]:
    """The root and its direct subfolders, sorted (where a coding sheet may lie)."""
    return [root] + sorted(p for p in root.iterdir() if p.is_dir())


def folder_in_root_or_child(root: Path, name: str) -> Path | None:
    """`root/name`, or `<child>/name` of one of root's subfolders (root holds the release's top
    folder), where that is a folder; None where neither is."""
    return next((folder / name for folder in root_and_children(root) if (folder / name).is_dir()), None)


def emotion_reader(aliases: dict[str, str] | None = None) -> Callable[[object], tuple[str, str]]:
    """A sheet's emotion cell → (mapping key: lower-cased, spellings in `aliases` resolved, the
    cell as written, for messages): `SheetFormat.read_emotion` of most readers."""
    aliases = aliases or {}

    def read_emotion(value: object) -> tuple[str, str]:
        raw = cell_text(value)
        return aliases.get(raw.lower(), raw.lower()), raw

    return read_emotion


def find_named_sheet(
    root: Path, sheet: str | None, names: tuple[str, ...], reader: str, key: str = "data.reader.sheet"
) -> Path:
    """The coding sheet: the override (inside root), or the one file named like `names` (case
    ignored) in root or one level down."""
    if sheet is not None:
        return sheet_override(root, sheet, key)
    known = {name.lower() for name in names}
    found = [
        path
        for folder in root_and_children(root)
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name.lower() in known
    ]
    if not found:
        raise MerError(
            f"no {reader} coding sheet in {root} or its subfolders: looked for "
            f"{', '.join(names)}; pass one with {key}=PATH"
        )
    if len(found) > 1:
        listed = ", ".join(relative(p, root) for p in found)
        raise MerError(f"several {reader} coding sheets in {root}: {listed}; choose one with {key}=PATH")
    return found[0]


def subject_number(value: object, where: str, pattern: re.Pattern[str], examples: str) -> int:
    """Sheet `Subject` as a number via `pattern`'s group 1; anything else is refused."""
    text = cell_text(value)
    match = pattern.match(text)
    if not match:
        raise MerError(f"{where}: Subject {text!r} is not a subject number {examples}; fix the sheet")
    return int(match.group(1))


def clip_folder(value: object, where: str) -> str:
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


def frame_cell(value: object, column: str, where: str) -> int:
    """A required frame number cell, or an error naming the row and column."""
    frame = cell_frame(value)
    if frame is None:
        text = cell_text(value)
        raise MerError(f"{where}: {column} {text!r} is not a frame number; fix the sheet")
    return frame


def frame_span(record: dict[str, Any], where: str, name: str, columns: tuple[str, str]) -> tuple[int, int]:
    """A row's (onset, offset) frame cells, refused when missing or when onset is after offset."""
    onset_column, offset_column = columns
    onset = frame_cell(record["onset"], onset_column, where)
    offset = frame_cell(record["offset"], offset_column, where)
    if onset > offset:
        raise MerError(f"{where} ({name}): {onset_column} {onset} is after {offset_column} {offset}; fix the sheet")
    return onset, offset


def sheet_clip(
    dataset: str,
    record: dict[str, Any],
    subject: str,
    clip: str,
    emotion: str,
    label: str | None,
    span: tuple[int, int],
) -> SheetClip:
    """A `SheetClip` from checked cells plus the row's action units and apex taken as they are."""
    return SheetClip(
        dataset=dataset,
        row=int(record[ROW]),
        subject=subject,
        clip=clip,
        emotion=emotion,
        label=label,
        action_units=cell_text(record["action_units"]),
        onset=span[0],
        apex=cell_frame(record["apex"]),
        offset=span[1],
        apex_text=cell_text(record["apex"]),
    )


def parse_clips(
    release: Release,
    table: pd.DataFrame,
    mapping: dict[str, str | None],
    label_set: str,
    sheet_format: SheetFormat,
) -> list[SheetClip]:
    """Sheet rows → clips with mapped labels (None: the label set drops it); bad cells refused."""
    clips = []
    for record in table.to_dict("records"):
        where = f"{release.sheet_rel} row {record[ROW]}"
        subject = sheet_format.subject_folder(record["subject"], where)
        clip = clip_folder(record["clip"], where)
        span = frame_span(record, where, f"{subject}/{clip}", sheet_format.frame_columns)
        emotion, shown = sheet_format.read_emotion(record["emotion"])
        if emotion not in mapping:
            known = sheet_format.known_labels.format(label_set=label_set, labels=", ".join(sorted(mapping)))
            raise MerError(f"{where} ({subject}/{clip}): unknown emotion {shown!r}; {known}")
        label = mapping[emotion]
        clips.append(sheet_clip(release.dataset, record, subject, clip, emotion, label, span))
    return clips


def check_unique(clips: list[SheetClip], sheet_rel: str) -> None:
    """Refuse two sheet rows naming the same clip (they would be one sample twice)."""
    seen: dict[str, int] = {}
    for clip in clips:
        if clip.name in seen:
            raise MerError(
                f"{sheet_rel} rows {seen[clip.name]} and {clip.row} both name {clip.name}; delete one of them"
            )
        seen[clip.name] = clip.row


def split_labels(
    clips: list[SheetClip], label_set: str, log: logging.Logger, reader: str
) -> tuple[list[SheetClip], list[dict[str, str]]]:
    """(clips the label set keeps, drop records for the rest), logging (info) drops per emotion."""
    dropped = [
        {"sample_id": c.sample_id, "reason": f"label '{c.emotion}' not in {label_set}"}
        for c in clips
        if c.label is None
    ]
    counts = Counter(clip.emotion for clip in clips if clip.label is None)
    if counts:
        detail = ", ".join(f"{emotion} {n}" for emotion, n in sorted(counts.items()))
        total = sum(counts.values())
        log.info("%s: label set %s drops %s (%s)", reader, label_set, plural(total, "clip"), detail)
    return [c for c in clips if c.label is not None], dropped


def apex_is_valid(clip: SheetClip) -> bool:
    """True when the sheet's apex is a frame number within [onset, offset]."""
    return clip.apex is not None and clip.onset <= clip.apex <= clip.offset


def apply_apex_policy(
    clips: list[SheetClip], policy: str, sheet_rel: str
) -> tuple[list[SheetClip], list[str], list[dict[str, str]]]:
    """Fix (midpoint), drop or refuse clips whose apex is "/" or outside [onset, offset]."""
    bad = [clip for clip in clips if not apex_is_valid(clip)]
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
    action = "used midpoint (onset+offset)//2" if policy == "midpoint" else "dropped"
    message = f"apex '/' or outside [onset, offset] in {plural(len(bad), 'clip')}, {action}: {names}"
    # stacklevel 4: reader's caller → reader → build_table → here
    warnings.warn(message, UserWarning, stacklevel=4)
    if policy == "drop":
        reasons = [{"sample_id": c.sample_id, "reason": f"apex {c.apex_text!r} not in {c.span}"} for c in bad]
        return [c for c in clips if apex_is_valid(c)], [], reasons
    for clip in bad:
        clip.apex = (clip.onset + clip.offset) // 2
    return clips, [clip.sample_id for clip in bad], []


def count_from_first_frame(
    clips: list[SheetClip], frames: Callable[[SheetClip], dict[int, str]], log: logging.Logger, reader: str
) -> list[str]:
    """Move onto the folder's numbers the clips whose sheet numbers count frames of the original
    video while their folder numbers its frames from the first (copies of MMEW disagree on which):
    the onset's file is absent and the folder holds exactly offset−onset+1 frames, so the onset
    becomes the folder's first frame and apex and offset shift with it. Changes those clips in
    place, logs (info) how many, and returns their sample ids for the provenance."""
    moved = []
    for clip in clips:
        files = frames(clip)
        if not files or clip.onset in files or len(files) != clip.offset - clip.onset + 1:
            continue
        shift = min(files) - clip.onset
        clip.onset += shift
        clip.offset += shift
        if clip.apex is not None:
            clip.apex += shift
            clip.apex_text = str(clip.apex)
        moved.append(clip.sample_id)
    if moved:
        log.info(
            "%s: counted %s from the folder's first frame: the sheet numbers frames of the original "
            "video (no onset file, offset-onset+1 frames in the folder)",
            reader,
            plural(len(moved), "clip"),
        )
    return moved


def missing_frame(
    clip: SheetClip,
    clip_dir: Path,
    frames: dict[int, str],
    expected_file: Callable[[SheetClip, int], str],
) -> str:
    """What is missing for a clip (its folder, onset or apex file) as text, or "" if nothing is."""
    if not clip_dir.is_dir():
        return f"clip folder {clip_dir} does not exist"
    for what, number in (("onset", clip.onset), ("apex", clip.apex)):
        if number not in frames:
            return f"{what} frame {clip_dir / expected_file(clip, number)} does not exist"
    return ""


def sample_row(clip: SheetClip, root: Path, clip_dir: Path, frames: dict[int, str]) -> dict[str, Any]:
    """One sample-table row (paths relative to root, POSIX)."""
    clip_rel = PurePosixPath(relative(clip_dir, root))
    return {
        "sample_id": clip.sample_id,
        "dataset": clip.dataset,
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


def clip_folder_path(clip: SheetClip, frames_root: Path) -> Path:
    """Where a clip's frames are: `frames_root/<subject>/<folder or clip>`, or its absolute `folder`."""
    if clip.folder and Path(clip.folder).is_absolute():
        return Path(clip.folder)
    return frames_root / clip.subject / (clip.folder or clip.clip)


def locate_frames(
    clips: list[SheetClip],
    root: Path,
    frames_root: Path,
    frame_files: Callable[[Path], dict[int, str]],
    expected_file: Callable[[SheetClip, int], str],
    no_frames_message: str,
    policy: str,
    sheet_rel: str,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Sample-table rows, onset/apex files found by listing clip folders, missing per policy."""
    rows: list[dict[str, Any]] = []
    missing: list[tuple[SheetClip, str]] = []
    any_frames = False
    for clip in clips:
        clip_dir = clip_folder_path(clip, frames_root)
        frames = frame_files(clip_dir) if clip_dir.is_dir() else {}
        any_frames = any_frames or bool(frames)
        problem = missing_frame(clip, clip_dir, frames, expected_file)
        if problem:
            missing.append((clip, problem))
            continue
        rows.append(sample_row(clip, root, clip_dir, frames))
    if clips and not any_frames:
        raise MerError(
            no_frames_message.format(
                frames_root=frames_root,
                example=clip_folder_path(clips[0], frames_root),
            )
        )
    if missing and policy == "error":
        clip, problem = missing[0]
        raise MerError(
            f"{sheet_rel} row {clip.row} ({clip.name}): {problem}; restore it, fix the sheet, "
            "or set data.reader.missing_frames=drop to skip such clips"
        )
    if missing:
        detail = ", ".join(f"{clip.name} ({problem})" for clip, problem in missing)
        message = f"missing onset/apex frames in {plural(len(missing), 'clip')}, dropped: {detail}"
        # stacklevel 4: reader's caller → reader → build_table → here
        warnings.warn(message, UserWarning, stacklevel=4)
    dropped = [{"sample_id": clip.sample_id, "reason": problem} for clip, problem in missing]
    return rows, dropped


def build_table(
    release: Release,
    clips: list[SheetClip],
    classes: tuple[str, ...],
    policies: Policies,
    frames: FrameNames,
    layout: dict[str, Any],  # the reader's own provenance: where and how it found the frames
    log: logging.Logger,
) -> SampleTable:
    """The sample table of parsed clips: policies applied, frames found, provenance recorded."""
    sheet_rel = release.sheet_rel
    check_unique(clips, sheet_rel)
    kept, dropped = split_labels(clips, policies.label_set, log, release.name)
    kept, apex_fixed, apex_dropped = apply_apex_policy(kept, policies.apex_policy, sheet_rel)
    dropped += apex_dropped
    rows, frame_dropped = locate_frames(
        kept,
        release.root,
        release.frames_root,
        frames.files,
        frames.expected,
        frames.no_frames_message,
        policies.missing_frames,
        sheet_rel,
    )
    dropped += frame_dropped
    provenance: dict[str, Any] = {
        "reader": release.dataset,
        "sheet": sheet_rel,
        "sheet_sha256": file_sha256(release.sheet),
        **layout,
        "apex_policy": policies.apex_policy,
        "missing_frames": policies.missing_frames,
        "label_set": policies.label_set,
        "apex_fixed": apex_fixed,
        "dropped": dropped,
    }
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return SampleTable(
        dataset=release.dataset,
        root=release.root,
        rows=table,
        classes=classes,
        provenance=provenance,
    )
