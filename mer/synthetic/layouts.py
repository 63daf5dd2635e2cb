"""Each release's layout for the synthetic generator: folders, frame names, coding sheet, quirks.

`mer.synthetic.plan` plans one release in CASME II's terms (subjects, clips, action units and the
micro-motion of each clip). A layout renames that plan into another release's exact conventions
(each reader's module docstring, and the README's dataset sections), so each reader is tested on a
generated tree in its own format. The motion, and so the class a flow model can learn, stays the
plan's: a layout only maps the planned emotion onto its release's vocabulary and moves frame numbers.
The `Layout` record and the shared helpers live in `mer.synthetic.layout_base`; the releases MEB reads
beside these (MMEW, 4DME, CASME (I), CAS(ME)^2) in `mer.synthetic.meb_layouts`; `LAYOUTS` has them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mer.synthetic.layout_base import (
    Layout,
    PlannedClip,
    au_cell,
    listed_by_subject,
    natural_key,
    shifted_frames,
)
from mer.synthetic.meb_layouts import MEB_LAYOUTS
from mer.synthetic.xlsx import write_xlsx

# --- CASME II -------------------------------------------------------------------------------

CASME2_RAW_DIR = "CASME2_RAW_selected"
CASME2_SHEET = "CASME2-coding-20140508.xlsx"
#: Row 1 of the 20140508 sheet; ``None`` cells are the two blank header cells pandas names
#: ``Unnamed: 2`` and ``Unnamed: 6``.
CASME2_HEADER: tuple[str | None, ...] = (
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
)

# --- SAMM -----------------------------------------------------------------------------------

SAMM_SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
SAMM_HEADER = (
    "Subject",
    "Filename",
    "Inducement Code",
    "Onset Frame",
    "Apex Frame",
    "Offset Frame",
    "Duration",
    "Micro",
    "Action Units",
    "Estimated Emotion",
    "Objective Classes",
    "Notes",
)
SAMM_NOTE_ROWS = 13  # note rows above the header, as in the release
#: Planned emotion → SAMM's label (capitalised; "others" is written Other and Others in turn).
SAMM_EMOTIONS = {
    "happiness": "Happiness",
    "disgust": "Anger",
    "repression": "Contempt",
    "surprise": "Surprise",
    "others": "Other",
    "fear": "Fear",
    "sadness": "Sadness",
}
SAMM_OBJECTIVE = {
    "Happiness": 1,
    "Surprise": 2,
    "Anger": 3,
    "Contempt": 4,
    "Fear": 5,
    "Sadness": 6,
    "Other": 7,
    "Others": 7,
}

# --- SMIC-HS --------------------------------------------------------------------------------

SMIC_HS_DIR = "SMIC_all_raw/HS"
#: Planned emotion → SMIC's label folder; None: a non-micro clip, written under `non_micro/`.
SMIC_LABELS = {
    "happiness": "positive",
    "surprise": "surprise",
    "disgust": "negative",
    "repression": "negative",
    "fear": "negative",
    "sadness": "negative",
    "others": None,
}
SMIC_ABBREVIATIONS = {"positive": "po", "negative": "ne", "surprise": "sur", None: "nm"}

# --- CAS(ME)^3 part A -----------------------------------------------------------------------

CASME3_SHEET = "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx"
CASME3_HEADER = ("Subject", "Filename", "Onset", "Apex", "Offset", "AU", "Objective class", "emotion")
CASME3_EMOTIONS = {
    "happiness": "happy",
    "disgust": "disgust",
    "repression": "anger",
    "surprise": "surprise",
    "others": "others",
    "fear": "fear",
    "sadness": "sad",
}
CASME3_OBJECTIVE = {"happy": 1, "disgust": 2, "anger": 3, "surprise": 4, "others": 5, "fear": 6, "sad": 7}
CASME3_CLIPS_PER_VIDEO = 2  # one video (task) holds several expressions, told apart by onset


# --- CASME II -------------------------------------------------------------------------------


def _casme2_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """The plan as drawn: `CASME2_RAW_selected/sub01/EP02_01f/img46.jpg`, unlisted clip included."""
    return [
        {**c, "frames_dir": f"{CASME2_RAW_DIR}/{c['folder']}/{c['filename']}", "frame_name": "img{n}.jpg"}
        for c in clips
    ]


def casme2_sheet_rows(clips: Sequence[PlannedClip]) -> list[list[Any]]:
    """The CASME II sheet's data rows (sorted by subject, then name), in the 20140508 columns."""
    ordered = sorted((c for c in clips if c["in_sheet"]), key=lambda c: (c["subject"], natural_key(c["filename"])))
    return [
        [
            c["subject"],
            c["filename"],
            None,
            c["onset"],
            c["sheet_apex"],
            c["offset"],
            None,
            au_cell(c["action_units"]),
            c["emotion"],
        ]
        for c in ordered
    ]


def _casme2_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`CASME2-coding-20140508.xlsx`, header in row 1."""
    write_xlsx(root / CASME2_SHEET, [list(CASME2_HEADER), *casme2_sheet_rows(clips)])


# --- SAMM -----------------------------------------------------------------------------------


def _samm_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`SAMM/006/006_1_2/006_05562.jpg`: 3-digit subjects from 006, frame padding 5 or 4 digits by
    subject, Other and Others in turn, and the plan's bad-apex clip with an apex past its offset."""
    out: list[PlannedClip] = []
    others = 0
    for number, group in listed_by_subject(clips).items():
        subject = f"{number + 5:03d}"
        padding = 5 if number % 2 else 4
        for j, clip in enumerate(group):
            name = f"{subject}_{j % 7 + 1}_{j // 7 + 1}"
            frames = shifted_frames(clip, 1000 + 500 * j)
            emotion = SAMM_EMOTIONS[clip["emotion"]]
            if emotion == "Other":
                emotion, others = ("Other", "Others")[others % 2], others + 1
            bad_apex = clip["sheet_apex"] == "/"
            out.append(
                {
                    **clip,
                    **frames,
                    "folder": subject,
                    "filename": name,
                    "emotion": emotion,
                    "sheet_apex": frames["offset"] + 3 if bad_apex else frames["apex"],
                    "frames_dir": f"SAMM/{subject}/{name}",
                    "frame_name": f"{subject}_{{n:0{padding}d}}.jpg",
                }
            )
    return out


def _samm_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`SAMM_Micro_FACS_Codes_v2.xlsx`: note rows, then the header, then one row per clip."""
    notes = [["SAMM micro-movement FACS codes (synthetic)"]] + [
        [f"note {i}: synthetic release for testing mer's SAMM reader"] for i in range(1, SAMM_NOTE_ROWS)
    ]
    rows = [
        [
            int(c["folder"]) if i % 2 else c["folder"],
            c["filename"],
            1,
            c["onset"],
            c["sheet_apex"],
            c["offset"],
            c["offset"] - c["onset"] + 1,
            "Micro - 1/2",
            c["action_units"],
            c["emotion"],
            SAMM_OBJECTIVE[c["emotion"]],
            None,
        ]
        for i, c in enumerate(sorted(clips, key=lambda c: natural_key(c["filename"])))
    ]
    write_xlsx(root / SAMM_SHEET, [*notes, list(SAMM_HEADER), *rows])


# --- SMIC-HS --------------------------------------------------------------------------------


def _smic_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`SMIC_all_raw/HS/s2/micro/surprise/s2_sur_02/image100230.bmp`; the plan's `others` clips go
    to `non_micro/`; the apex is the middle frame, the convention for SMIC's unannotated apex."""
    out: list[PlannedClip] = []
    for number, group in listed_by_subject(clips).items():
        subject = f"s{number}"
        counts: Counter[str | None] = Counter()
        for j, clip in enumerate(group):
            label = SMIC_LABELS[clip["emotion"]]
            counts[label] += 1
            name = f"{subject}_{SMIC_ABBREVIATIONS[label]}_{counts[label]:02d}"
            where = f"micro/{label}" if label else "non_micro"
            onset = clip["onset"] + 100000 + 1000 * j
            offset = onset + clip["offset"] - clip["onset"]
            apex = onset + (offset - onset) // 2
            out.append(
                {
                    **clip,
                    "onset": onset,
                    "apex": apex,
                    "offset": offset,
                    "sheet_apex": None,
                    "folder": subject,
                    "filename": name,
                    "emotion": label or "non_micro",
                    "frames_dir": f"{SMIC_HS_DIR}/{subject}/{where}/{name}",
                    "frame_name": "image{n:06d}.bmp",
                }
            )
    return out


# --- CAS(ME)^3 part A -----------------------------------------------------------------------


def _casme3_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`spNO.1/b/color/175.jpg`: two expressions per video (task a, b, ...), the second starting
    after the first ends, so only the onset tells them apart."""
    out: list[PlannedClip] = []
    for number, group in listed_by_subject(clips).items():
        subject = f"spNO.{number}"
        previous_offset = 0
        for j, clip in enumerate(group):
            video = "abcdefghijklmnopqrstuvwxyz"[j // CASME3_CLIPS_PER_VIDEO % 26]
            second = j % CASME3_CLIPS_PER_VIDEO
            shift = previous_offset + 25 - clip["onset"] if second else 0
            frames = shifted_frames(clip, shift)
            previous_offset = frames["offset"]
            out.append(
                {
                    **clip,
                    **frames,
                    "folder": subject,
                    "filename": video,
                    "clip_id": f"{video}_{frames['onset']}",
                    "sheet_apex": frames["apex"],
                    "emotion": CASME3_EMOTIONS[clip["emotion"]],
                    "frames_dir": f"{subject}/{video}/color",
                    "frame_name": "{n}.jpg",
                }
            )
    return out


def _casme3_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx`, header in row 1, rows by subject and onset."""
    ordered = sorted(clips, key=lambda c: (c["subject"], c["filename"], c["onset"]))
    rows = [
        [
            c["folder"],
            c["filename"],
            c["onset"],
            c["sheet_apex"],
            c["offset"],
            c["action_units"],
            CASME3_OBJECTIVE[c["emotion"]],
            c["emotion"],
        ]
        for c in ordered
    ]
    write_xlsx(root / CASME3_SHEET, [list(CASME3_HEADER), *rows])


LAYOUTS: dict[str, Layout] = {
    "casme2": Layout("casme2", "CASME II", _casme2_clips, _casme2_sheet, reader_options={"layout": "raw"}),
    "samm": Layout("samm", "SAMM", _samm_clips, _samm_sheet, grey=True),
    "smic": Layout("smic", "SMIC-HS", _smic_clips, None),
    "casme3": Layout("casme3", "CAS(ME)^3 part A", _casme3_clips, _casme3_sheet),
    **MEB_LAYOUTS,
}
