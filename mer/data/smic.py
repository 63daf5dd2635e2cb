"""SMIC-HS reader: label folders of a release → one `SampleTable` (SMIC has no coding sheet).

SMIC (Li et al. 2013) ships its 100 fps high-speed clips as
`SMIC_all_raw/HS/s2/micro/surprise/s2_sur_02/image100230.bmp` (cropped copies under
`SMIC_all_cropped/HS/`, `reg_image{:06d}.bmp`). The label is the folder name (negative, positive,
surprise); `non_micro/` holds clips that are not micro-expressions and is skipped. There is no
apex annotation: the onset is the first frame, the offset the last, and the apex the frame
`apex_position` of the way between them (0.5, the middle frame, is the field's convention).
Only directories are listed here; no image is opened.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pandas as pd

from mer.data import sheet_clips
from mer.data.frame_files import numbered_frames
from mer.data.labels import label_set as get_label_set
from mer.data.samples import COLUMNS, SampleTable
from mer.errors import MerError, plural

log = logging.getLogger(__name__)

DATASET = "smic"

#: The HS folder under the root, preferred first; the root may also be the HS folder itself.
HS_DIRS = ("SMIC_all_raw/HS", "SMIC_all_cropped/HS", "HS")
MICRO = "micro"
NON_MICRO = "non_micro"

_SUBJECT = re.compile(r"^s\d+$", re.IGNORECASE)
_FRAME = re.compile(r"(\d+)$")


def read_smic(
    root: str | Path,
    frames_dir: str | None = None,
    apex_position: float = 0.5,
    missing_frames: str = "error",
    label_set: str = "all",
) -> SampleTable:
    """Read a SMIC-HS release into a `SampleTable`: labels from folders, apex by position."""
    sheet_clips.check_choice("data.reader.missing_frames", missing_frames, sheet_clips.MISSING_FRAMES)
    if not isinstance(apex_position, (int, float)) or not 0 <= apex_position <= 1:
        raise MerError(
            f"data.reader.apex_position={apex_position!r}: give the apex as a fraction of the way "
            "from the first frame to the last, in [0, 1] (0.5 = the middle frame)"
        )
    classes, mapping = get_label_set(DATASET, label_set)
    root, hs = find_release(root, frames_dir)
    hs_rel = sheet_clips.relative(hs, root) or "."
    log.info("SMIC-HS: clips in %s/sN/%s/<label>/", hs_rel, MICRO)

    clips: list[sheet_clips.SheetClip] = []
    folders: dict[str, tuple[Path, list[tuple[int, str]]]] = {}  # sample_id → folder, frames
    non_micro = 0
    for subject_dir in subject_dirs(hs):
        non_micro += count_folders(subject_dir / NON_MICRO)
        for label_dir in label_dirs(subject_dir / MICRO, mapping):
            emotion = label_dir.name.lower()
            for clip_dir in sorted(p for p in label_dir.iterdir() if p.is_dir()):
                frames = numbered_frames(clip_dir, _FRAME)
                clip = _clip(subject_dir.name, clip_dir.name, emotion, mapping[emotion], frames, apex_position)
                clips.append(clip)
                folders[clip.sample_id] = (clip_dir, frames)
    if non_micro:
        log.info("SMIC-HS: skipped %s in %s/ folders (not micro-expressions)", plural(non_micro, "clip"), NON_MICRO)
    kept, dropped = sheet_clips.split_labels(clips, label_set, log, "SMIC-HS")
    short = [c for c in kept if len(folders[c.sample_id][1]) < 2]
    dropped += _short_clips(short, folders, missing_frames, root)
    rows = [
        sheet_clips.sample_row(c, root, folders[c.sample_id][0], dict(folders[c.sample_id][1]))
        for c in kept
        if c not in short
    ]
    provenance = {
        "reader": DATASET,
        "frames_dir": hs_rel,
        "labels_from": "folder names",
        "apex_position": apex_position,
        "missing_frames": missing_frames,
        "label_set": label_set,
        "non_micro_skipped": non_micro,
        "dropped": dropped,
    }
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.sort_values("sample_id", kind="stable").reset_index(drop=True)
    return SampleTable(DATASET, root, table, classes, provenance)


def find_release(root: str | Path, frames_dir: str | None = None) -> tuple[Path, Path]:
    """The release folder and its HS folder, found from `data.root` by listing folders: where
    `read_smic` reads, and what `mer.preflight` checks before any job starts."""
    root = sheet_clips.resolve_root(root, "SMIC-HS", f"{HS_DIRS[0]}/ (or {HS_DIRS[1]}/)")
    return root, find_hs_dir(root, frames_dir)


def find_hs_dir(root: Path, frames_dir: str | None = None) -> Path:
    """The HS folder: the override, the first known one under root, or root if it holds `sN/`."""
    if frames_dir is not None:
        folder = sheet_clips.inside_root(root, frames_dir, "data.reader.frames_dir")
        if not folder.is_dir():
            raise MerError(f"SMIC-HS folder {folder} (data.reader.frames_dir) does not exist")
        return folder
    for name in HS_DIRS:
        if (root / name).is_dir():
            return root / name
    if any(p.is_dir() and _SUBJECT.match(p.name) for p in root.iterdir()):
        return root
    raise MerError(
        f"no SMIC-HS clips in {root}: looked for {', '.join(d + '/' for d in HS_DIRS)} or subject "
        "folders like s1/ (holding micro/<label>/<clip>/ frame folders); set data.root to the "
        "folder holding SMIC_all_raw/, or data.reader.frames_dir to the HS folder"
    )


def subject_dirs(hs: Path) -> list[Path]:
    """Subject folders `s1`, `s2`, ... sorted by number; an HS folder without any is refused."""
    found = [p for p in hs.iterdir() if p.is_dir() and _SUBJECT.match(p.name)]
    if not found:
        raise MerError(f"no SMIC-HS subject folders (s1, s2, ...) in {hs}; check data.root")
    return sorted(found, key=lambda p: int(p.name[1:]))


def label_dirs(micro: Path, mapping: dict[str, str | None]) -> list[Path]:
    """A subject's label folders under `micro/`; one not among SMIC's labels is refused."""
    if not micro.is_dir():
        return []
    found = sorted(p for p in micro.iterdir() if p.is_dir())
    for folder in found:
        if folder.name.lower() not in mapping:
            raise MerError(
                f"{folder}: unknown SMIC-HS label folder {folder.name!r}; the labels are "
                f"{', '.join(sorted(mapping))}: rename it or move it out of {MICRO}/"
            )
    return found


def count_folders(folder: Path) -> int:
    """How many clip folders a folder holds (0 if it does not exist)."""
    return sum(p.is_dir() for p in folder.iterdir()) if folder.is_dir() else 0


def _clip(
    subject: str,
    name: str,
    emotion: str,
    label: str | None,
    frames: list[tuple[int, str]],
    apex_position: float,
) -> sheet_clips.SheetClip:
    """A clip from its folder: onset first frame, offset last, apex at `apex_position`."""
    numbers = [number for number, _ in frames] or [0]
    apex = numbers[int(apex_position * (len(numbers) - 1))]
    return sheet_clips.SheetClip(
        dataset=DATASET,
        row=0,
        subject=subject,
        clip=name,
        emotion=emotion,
        label=label,
        action_units="",
        onset=numbers[0],
        apex=apex,
        offset=numbers[-1],
        apex_text=str(apex),
    )


def _short_clips(
    short: list[sheet_clips.SheetClip],
    folders: dict[str, tuple[Path, list[tuple[int, str]]]],
    policy: str,
    root: Path,
) -> list[dict[str, str]]:
    """Refuse (error) or drop with one warning the clip folders with fewer than two frames."""
    if not short:
        return []
    counts = {c.sample_id: (folders[c.sample_id][0], len(folders[c.sample_id][1])) for c in short}
    if policy == "error":
        folder, count = next(iter(counts.values()))
        raise MerError(
            f"SMIC-HS clip folder {folder} holds {count} frame(s); a clip needs at least two "
            "(onset and apex): restore its frames, or set data.reader.missing_frames=drop"
        )
    names = ", ".join(f"{sheet_clips.relative(folder, root)} ({count})" for folder, count in counts.values())
    warnings.warn(f"SMIC-HS clips with fewer than 2 frames, dropped: {names}", UserWarning, stacklevel=3)
    return [{"sample_id": sample_id, "reason": f"{count} frame(s)"} for sample_id, (_, count) in counts.items()]
