"""CASME (I) reader: the two sections' coding sheets plus their frame folders → one `SampleTable`.

CASME (Yan et al. 2013; 195 clips of 19 subjects, 60 fps) ships in two sections, each a folder
with its own coding sheet and frames: `CASME_A/Section A/` (subjects 1–7, `Section A.xls`) and
`CASME_B/Section B/` (subjects 8–19, `Section B.xls`; .xlsx and .csv exports are read too), frames
`sub01/<Filename>/<Filename>-<n>.jpg` (Section A writes n unpadded, Section B pads it to 3 digits;
both are sorted by number). A sheet's columns are `Subject, Filename, (blank), OnsetF, ApexF1,
ApexF2, OffsetF, (blank), AU, ..., Emotion`. The apex is ApexF1; ApexF2, a second apex a few clips
have, is used only where ApexF1 is blank. Emotions are lower-cased and the sheets' misspelt
`comtempt` is read as contempt. A release may hold one section only (logged, not refused). Each
section goes through `mer.data.sheet_clips` on its own, so every message names that section's
sheet; the section tables are then joined. Only directories are listed; no image is opened.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from mer.data import sheet_clips
from mer.data.frame_files import first_by_number, numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.samples import SampleTable
from mer.data.sheet import ROW, cell_frame, cell_text, normalise_header, read_sheet
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "casme1"

#: Section letter → the release's folder holding that section's folder (`CASME_A/Section A/`).
SECTION_PARENTS: dict[str, str] = {"A": "CASME_A", "B": "CASME_B"}

#: Digits a section pads its frame numbers to: Section A `EP01_5-7.jpg`, Section B `EP01_5-007.jpg`.
FRAME_DIGITS: dict[str, int] = {"A": 1, "B": 3}

#: A section's coding sheet is `Section A` with one of these suffixes (compared ignoring case).
SHEET_SUFFIXES: tuple[str, ...] = (".xls", ".xlsx", ".csv")

#: Canonical column → accepted header spellings (case, spaces and underscores ignored).
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "subject": ("Subject",),
    "clip": ("Filename", "File Name"),
    "onset": ("OnsetF", "Onset Frame", "OnsetFrame", "Onset"),
    "apex": ("ApexF1", "Apex Frame", "ApexFrame", "Apex"),
    "offset": ("OffsetF", "Offset Frame", "OffsetFrame", "Offset"),
    "action_units": ("AU", "Action Units", "AUs"),
    "emotion": ("Emotion", "Estimated Emotion"),
}

#: The optional second-apex column, read only where ApexF1 is blank.
SECOND_APEX = "ApexF2"

#: Sheet spellings that mean the same emotion (after lower-casing).
EMOTION_ALIASES: dict[str, str] = {"comtempt": "contempt"}

#: How many folder levels below data.root a `Section A/` folder is looked for: root = the folder
#: holding CASME_A/ (2 levels) or the folder holding that one (3).
SEARCH_DEPTH = 3

_SUBJECT = re.compile(r"^(?:sub)?0*(\d+)$", re.IGNORECASE)
_FRAME = re.compile(r"-(\d+)$")
_SECTION_DIR = re.compile(r"^section[ _]?([ab])$", re.IGNORECASE)


def read_casme1(
    root: str | Path,
    apex_policy: str = "midpoint",
    missing_frames: str = "error",
    label_set: str = "all",
) -> SampleTable:
    """Read a CASME release (one or both sections) into a `SampleTable`, applying the policies."""
    policies = sheet_clips.Policies(apex_policy, missing_frames, label_set)
    policies.check(DATASET)
    classes, mapping = get_label_set(DATASET, label_set)

    sections = find_release(root)
    _log_sections(sections)
    clips = {letter: _parse_section(release, mapping, label_set) for letter, release in sections.items()}
    check_subjects_apart(sections, clips)
    tables = {}
    for letter, release in sections.items():  # inline, so the policies' warnings name our caller
        frames = sheet_clips.FrameNames(
            lambda clip_dir: first_by_number(numbered_frames(clip_dir, _FRAME)),
            lambda clip, number, digits=FRAME_DIGITS[letter]: f"{clip.clip}-{number:0{digits}d}.jpg",
            "no CASME frames (like EP01_5-1.jpg) in {frames_root}: no clip folder the sheet names "
            "(e.g. {example}) holds one; check data.root",
        )
        layout = {"frames_dir": sheet_clips.relative(release.frames_root, release.root) or "."}
        tables[letter] = sheet_clips.build_table(release, clips[letter], classes, policies, frames, layout, log)
    return join_sections(next(iter(sections.values())).root, tables, classes)


def find_release(root: str | Path) -> dict[str, sheet_clips.Release]:
    """Section letter → that section's coding sheet and frames folder, found from `data.root` by
    listing folders, no sheet row read: what `read_casme1` reads, and what `mer.preflight` checks
    before any job starts. One section alone is read (and said in the log); none is an error."""
    root = sheet_clips.resolve_root(root, "CASME", "CASME_A/Section A/ and CASME_B/Section B/")
    folders = find_section_dirs(root)
    if not folders:
        raise MerError(
            f"no CASME section in {root} or {SEARCH_DEPTH} levels below it: looked for CASME_A/Section A/ "
            "and CASME_B/Section B/ (each holding its sheet, e.g. Section A.xls, and subject folders "
            "like sub01/); set data.root to the folder holding CASME_A/ and CASME_B/"
        )
    sections = {
        letter: sheet_clips.Release(DATASET, f"CASME Section {letter}", root, _find_sheet(root, letter, folder), folder)
        for letter, folder in sorted(folders.items())
    }
    return sections


def find_section_dirs(root: Path) -> dict[str, Path]:
    """Section letter → its `Section A/` folder: root itself or a folder up to `SEARCH_DEPTH` below."""
    found: dict[str, list[Path]] = {}
    level = [root]
    for depth in range(SEARCH_DEPTH + 1):
        for folder in level:
            match = _SECTION_DIR.match(folder.name)
            if match:
                found.setdefault(match.group(1).upper(), []).append(folder)
        if depth < SEARCH_DEPTH:
            level = [child for folder in level if not _SECTION_DIR.match(folder.name) for child in _subfolders(folder)]
    for letter, folders in found.items():
        if len(folders) > 1:
            names = ", ".join(sheet_clips.relative(f, root) or "." for f in folders)
            raise MerError(
                f"several CASME Section {letter} folders in {root}: {names}; set data.root to the folder of one release"
            )
    return {letter: folders[0] for letter, folders in found.items()}


def check_subjects_apart(
    sections: dict[str, sheet_clips.Release], clips: dict[str, list[sheet_clips.SheetClip]]
) -> None:
    """Refuse a subject that both sections' sheets name (its clips would merge into one LOSO fold)."""
    first_row: dict[str, tuple[str, int]] = {}
    for letter, section_clips in clips.items():
        for clip in section_clips:
            first_row.setdefault(clip.subject, (letter, clip.row))
            other, row = first_row[clip.subject]
            if other != letter:
                raise MerError(
                    f"{sections[letter].sheet_rel} row {clip.row} names subject {clip.subject}, as "
                    f"{sections[other].sheet_rel} row {row} does: subjects must differ between the "
                    "sections (A: 1-7, B: 8-19); fix the Subject cell"
                )


def join_sections(root: Path, tables: dict[str, SampleTable], classes: tuple[str, ...]) -> SampleTable:
    """The section tables as one, each section's provenance (its sheet's sha256 too) kept under its
    letter, so either sheet changing changes the cache key."""
    rows = pd.concat([table.rows for table in tables.values()], ignore_index=True)
    rows = rows.sort_values("sample_id", kind="stable").reset_index(drop=True)
    first = next(iter(tables.values())).provenance
    provenance = {
        "reader": DATASET,
        "label_set": first["label_set"],
        "sections": {letter: table.provenance for letter, table in tables.items()},
    }
    return SampleTable(DATASET, root, rows, classes, provenance)


def _log_sections(sections: dict[str, sheet_clips.Release]) -> None:
    """Log (info) each section's sheet and frames, and a section the root does not hold."""
    root = next(iter(sections.values())).root
    for letter, release in sections.items():
        frames_rel = sheet_clips.relative(release.frames_root, root) or "."
        log.info("CASME: Section %s: sheet %s, frames %s", letter, release.sheet_rel, frames_rel)
    for letter in sorted(set(SECTION_PARENTS) - set(sections)):
        missing = f"{SECTION_PARENTS[letter]}/Section {letter}/"
        log.info("CASME: %s is not in %s: reading the other section only", missing, root)


def _subfolders(folder: Path) -> list[Path]:
    """The folder's subfolders, sorted, hidden ones skipped."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _find_sheet(root: Path, letter: str, section_dir: Path) -> Path:
    """A section's coding sheet (`Section A.xls`, or an .xlsx/.csv export): in its section folder or
    the folder above it (inside root)."""
    names = {f"section {letter}{suffix}".lower() for suffix in SHEET_SUFFIXES}
    folders = [section_dir] if section_dir == root else [section_dir, section_dir.parent]
    found = [p for folder in folders for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() in names]
    looked = ", ".join(f"Section {letter}{suffix}" for suffix in SHEET_SUFFIXES)
    where = " or ".join(f"{sheet_clips.relative(f, root) or '.'}/" for f in folders)
    if not found:
        raise MerError(f"no CASME Section {letter} coding sheet in {where}: looked for {looked}; restore it")
    if len(found) > 1:
        listed = ", ".join(sheet_clips.relative(p, root) for p in found)
        raise MerError(f"several CASME Section {letter} coding sheets: {listed}; keep one of them")
    return found[0]


def _parse_section(
    release: sheet_clips.Release, mapping: dict[str, str | None], label_set: str
) -> list[sheet_clips.SheetClip]:
    """A section's sheet rows → clips, the apex taken from ApexF2 where ApexF1 is blank."""
    table = read_sheet(release.sheet, SHEET_COLUMNS)
    second = [c for c in table.columns if normalise_header(c) == normalise_header(SECOND_APEX)]
    if second:
        blank = table["apex"].map(lambda v: cell_text(v) == "")
        from_second = blank & table[second[0]].map(lambda v: cell_frame(v) is not None)
        table.loc[from_second, "apex"] = table.loc[from_second, second[0]]
        if from_second.any():
            rows = ", ".join(str(r) for r in table.loc[from_second, ROW])
            log.info(
                "%s: %s apex from ApexF2 (ApexF1 blank): rows %s",
                release.name,
                plural(int(from_second.sum()), "clip"),
                rows,
            )
    return sheet_clips.parse_clips(release, table, mapping, label_set, _sheet_format())


def _subject_folder(value: object, where: str) -> str:
    """Sheet `Subject` (1, "1", "sub01") → folder name `sub01`; anything else is refused."""
    return f"sub{sheet_clips.subject_number(value, where, _SUBJECT, '(1-19) or a folder like sub01'):02d}"


def _sheet_format() -> sheet_clips.SheetFormat:
    """How the CASME coding sheets write subjects, frame numbers and emotions."""
    known = "known CASME labels ({label_set}): {labels} (or the sheets' comtempt)"
    return sheet_clips.SheetFormat(SHEET_COLUMNS, _subject_folder, sheet_clips.emotion_reader(EMOTION_ALIASES), known)
