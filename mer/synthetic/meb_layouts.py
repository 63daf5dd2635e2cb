"""The synthetic release in the layouts of the other releases MEB reads: MMEW, 4DME, CASME (I), CAS(ME)^2.

Like `mer.synthetic.layouts`, each renames the CASME II plan into one release's folders, frame names
and sheet, with the quirks DESIGN.md records of it (and each reader's module docstring names), so
each reader is tested on a tree in its own format. The motion stays the plan's; each layout maps the
planned emotion onto its release's vocabulary (a class's clips keep one motion) and writes each clip's
planned action units in its release's AU notation, so an AU task can learn them too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from mer.synthetic.layout_base import Layout, PlannedClip, au_cell, listed_by_subject, natural_key, shifted_frames
from mer.synthetic.xlsx import write_workbook, write_xlsx

# --- MMEW -----------------------------------------------------------------------------------

MMEW_SHEET = "MMEW_Final/MMEW_Micro_Exp.xlsx"
MMEW_FRAMES_DIR = "MMEW_Final/Micro_Expression"
MMEW_HEADER = (
    "Subject",
    "Filename",
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    "Action Units",
    "Estimated Emotion",
    "remarks",
)
#: Planned emotion → MMEW's (one motion per MMEW emotion; repression, which MMEW lacks, is anger).
MMEW_EMOTIONS = {
    "happiness": "happiness",
    "disgust": "disgust",
    "repression": "anger",
    "surprise": "surprise",
    "others": "others",
    "fear": "fear",
    "sadness": "sadness",
}
#: The folder one `others` clip is filed under: where MEB's others→repression rename looks for it.
MMEW_MISFILED_FOLDER = "repression"
#: The first clip's sheet numbers are frames of its original video: its planned numbers plus this
#: (its folder, like every other, numbers them from 1), more than any clip's frame count, so that
#: the sheet's onset names no file in the folder.
MMEW_VIDEO_START = 1000

# --- 4DME -----------------------------------------------------------------------------------

FOURDME_SHEET = "4DMicro/4DME_Labelling_Micro_release v1.xlsx"  # the space before v1 is the release's
FOURDME_FRAMES_DIR = "4DMicro/gray_micro"
FOURDME_EMOTION_COLUMNS = ("Positive", "Negative", "Surprise", "Repression", "Others")
FOURDME_HEADER = (
    "sub_ID",
    "fold_name",
    "Emotion",
    "Onset",
    "Apex",
    "Offset",
    "AUs",
    "fold",
    "eye blink",
    *FOURDME_EMOTION_COLUMNS,
    "Total",
)
FOURDME_EMOTIONS = {
    "happiness": "Positive",
    "disgust": "Negative",
    "repression": "Repression",
    "surprise": "Surprise",
    "others": "Others",
    "fear": "Negative",
    "sadness": "Negative",
}
#: The first surprise clip is labelled with a combined emotion: its own class, of one clip.
FOURDME_COMBINED = "Surprise+Positive"
#: Frame file names: 4DME's are not public, so this is mer's choice (a name ending in the number).
FOURDME_FRAME_NAME = "img{n}.jpg"
#: Every third clip's first AU carries 4DME's static mark, `AU4(k)+9`: still a planned AU, so the AU
#: task's targets are the planned ones as MEB reads the mark (`task.static_aus=keep`).
FOURDME_STATIC_EVERY = 3

# --- CASME (I) ------------------------------------------------------------------------------

#: Section letter → its folder; subjects 1–7 are Section A's, 8 on Section B's.
CASME1_SECTIONS = {"A": "CASME_A/Section A", "B": "CASME_B/Section B"}
CASME1_SECTION_A_SUBJECTS = 7
#: Each section's sheet, in its section folder: .xlsx, as .xls cannot be written without xlwt.
CASME1_SHEET = "Section {letter}.xlsx"
#: Digits each section pads its frame numbers to (`EP01_5-7.jpg`, `EP01_5-007.jpg`).
CASME1_FRAME_DIGITS = {"A": 1, "B": 3}
CASME1_HEADER = ("Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "AU", "Emotion")
CASME1_EMOTIONS = {
    "happiness": "happiness",
    "disgust": "disgust",
    "repression": "repression",
    "surprise": "surprise",
    "others": "tense",
    "fear": "fear",
    "sadness": "sadness",
}
#: The first `tense` clip (the plan's others: a random motion, so no class loses its own) is
#: written with the release's misspelt contempt.
CASME1_MISSPELT = "comtempt"

# --- CAS(ME)^2 ------------------------------------------------------------------------------

CASME_SQ_SHEET = "CAS(ME)^2/CAS(ME)^2code_final.xlsx"
CASME_SQ_FRAMES_DIR = "CAS(ME)^2/rawpic"
CASME_SQ_SHEETS = ("CASFEcode_final", "naming rule1", "naming rule2")
#: The release's 22 participant numbers, subject ids 1–22 in order (later subjects: 41, 42, ...).
CASME_SQ_PARTICIPANTS = (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 40)
#: The stimulus videos (code, name, stimulus word): a video folder is `<participant>_<code><stimulus>`.
CASME_SQ_STIMULI = (
    ("0503", "happy2", "funnyfarting"),
    ("0101", "disgust1", "disgustingteeth"),
    ("0102", "disgust2", "eatingworms"),
    ("0401", "anger1", "girlcrashing"),
    ("0402", "anger2", "beatingpregnantwoman"),
    ("0502", "happy1", "funnyerrors"),
    ("0505", "happy3", "funnyinnovations"),
    ("0507", "happy4", "climbingthewall"),
    ("0508", "happy5", "funnydunkey"),
)
#: The first subject's first video (`15_0503...`) has its stimulus misspelt, as in the release.
CASME_SQ_MISSPELT = "unnyfarting"
CASME_SQ_CLIPS_PER_VIDEO = 3  # at least: a long video holds several expressions
CASME_SQ_GAP = 25  # frames between one expression's offset and the next one's onset
CASME_SQ_EMOTIONS = {
    "happiness": "positive",
    "disgust": "negative",
    "repression": "negative",
    "surprise": "surprise",
    "others": "others",
    "fear": "negative",
    "sadness": "negative",
}
MICRO, MACRO = "micro-expression", "macro-expression"


def _sheet_frames(clip: PlannedClip) -> tuple[int, int | None, int]:
    """The onset, apex and offset a sheet writes: the clip's own unless its layout set others."""
    return (
        clip.get("sheet_onset", clip["onset"]),
        clip.get("sheet_apex", clip["apex"]),
        clip.get("sheet_offset", clip["offset"]),
    )


# --- MMEW -----------------------------------------------------------------------------------


def _mmew_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`MMEW_Final/Micro_Expression/happiness/S01-01-001/1.jpg`: frames from 1 in every folder;
    the first clip's sheet counts frames of its original video, and one `others` clip is filed
    under `repression/`."""
    out: list[PlannedClip] = []
    misfiled = False
    for number, group in listed_by_subject(clips).items():
        subject = f"S{number:02d}"
        for j, clip in enumerate(group):
            name = f"{subject}-01-{j + 1:03d}"
            emotion = MMEW_EMOTIONS[clip["emotion"]]
            folder = emotion
            if emotion == "others" and not misfiled:
                folder, misfiled = MMEW_MISFILED_FOLDER, True
            frames = shifted_frames(clip, 1 - clip["onset"])
            original = shifted_frames(clip, MMEW_VIDEO_START) if not out else frames
            out.append(
                {
                    **clip,
                    **frames,
                    "folder": subject,
                    "filename": name,
                    "emotion": emotion,
                    "emotion_folder": folder,
                    "sheet_onset": original["onset"],
                    "sheet_apex": original["apex"],
                    "sheet_offset": original["offset"],
                    "frames_dir": f"{MMEW_FRAMES_DIR}/{folder}/{name}",
                    "frame_name": "{n}.jpg",
                }
            )
    return out


def _mmew_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`MMEW_Final/MMEW_Micro_Exp.xlsx`, header in row 1, rows by subject and name."""
    ordered = sorted(clips, key=lambda c: (c["subject"], natural_key(c["filename"])))
    rows = [
        [c["subject"], c["filename"], *_sheet_frames(c), au_cell(c["action_units"]), c["emotion"], None]
        for c in ordered
    ]
    write_xlsx(root / MMEW_SHEET, [list(MMEW_HEADER), *rows])


# --- 4DME -----------------------------------------------------------------------------------


def fourdme_action_units(aus: str, static: bool) -> str:
    """Planned AUs in 4DME's notation: `AU` before the first (`AU4+9+L10`, `AUR10`), which with
    `static` carries the `(k)` mark of a static AU (`AU4(k)+9+L10`)."""
    first, plus, rest = aus.partition("+")
    return f"AU{first}{'(k)' if static else ''}{plus}{rest}"


def _fourdme_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`4DMicro/gray_micro/S01/S01_01/img46.jpg` (greyscale); one `Surprise+Positive` clip, and
    every third clip's first AU marked static, `(k)`."""
    out: list[PlannedClip] = []
    combined = False
    for number, group in listed_by_subject(clips).items():
        subject = f"S{number:02d}"
        for j, clip in enumerate(group):
            name = f"{subject}_{j + 1:02d}"
            emotion = FOURDME_EMOTIONS[clip["emotion"]]
            if emotion == "Surprise" and not combined:
                emotion, combined = FOURDME_COMBINED, True
            out.append(
                {
                    **clip,
                    "folder": subject,
                    "filename": name,
                    "emotion": emotion,
                    "action_units": fourdme_action_units(clip["action_units"], j % FOURDME_STATIC_EVERY == 2),
                    "sheet_apex": clip["apex"],
                    "frames_dir": f"{FOURDME_FRAMES_DIR}/{subject}/{name}",
                    "frame_name": FOURDME_FRAME_NAME,
                }
            )
    return out


def _fourdme_tallies(emotion: str) -> list[int]:
    """A row's tally cells: fold, eye blink, one 0/1 per emotion column, and their total."""
    parts = emotion.split("+")
    flags = [int(column in parts) for column in FOURDME_EMOTION_COLUMNS]
    return [1, 0, *flags, sum(flags)]


def _fourdme_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`4DME_Labelling_Micro_release v1.xlsx`: header in row 1, rows by subject and name, then a
    row of column sums under the tally columns only (as the release's tally columns invite)."""
    ordered = sorted(clips, key=lambda c: (c["subject"], natural_key(c["filename"])))
    rows = [
        [
            c["folder"],
            c["filename"],
            c["emotion"],
            *_sheet_frames(c),
            c["action_units"],
            *_fourdme_tallies(c["emotion"]),
        ]
        for c in ordered
    ]
    sums = [sum(row[i] for row in rows) for i in range(7, len(FOURDME_HEADER))]
    write_xlsx(root / FOURDME_SHEET, [list(FOURDME_HEADER), *rows, [None] * 7 + sums])


# --- CASME (I) ------------------------------------------------------------------------------


def casme1_subject(number: int, n_subjects: int) -> tuple[str, int]:
    """(section, CASME subject number) of planned subject `number`: the first half (at most 7) in
    Section A as 1, 2, ..., the rest in Section B from 8, so both sections exist from 2 subjects."""
    in_a = min(CASME1_SECTION_A_SUBJECTS, (n_subjects + 1) // 2)
    return ("A", number) if number <= in_a else ("B", CASME1_SECTION_A_SUBJECTS + number - in_a)


def _casme1_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`CASME_A/Section A/sub01/EP02_01f/EP02_01f-46.jpg` (Section B pads to `-046`); the first
    tense clip is `comtempt`; the plan's '/' apex is written in ApexF2 with ApexF1 blank."""
    groups = listed_by_subject(clips)
    out: list[PlannedClip] = []
    misspelt = False
    for number, group in groups.items():
        section, subject = casme1_subject(number, len(groups))
        folder = f"sub{subject:02d}"
        for clip in group:
            emotion = CASME1_EMOTIONS[clip["emotion"]]
            if emotion == "tense" and not misspelt:
                emotion, misspelt = CASME1_MISSPELT, True
            name = clip["filename"]
            out.append(
                {
                    **clip,
                    "section": section,
                    "casme_subject": subject,
                    "folder": folder,
                    "emotion": emotion,
                    "frames_dir": f"{CASME1_SECTIONS[section]}/{folder}/{name}",
                    "frame_name": f"{name}-{{n:0{CASME1_FRAME_DIGITS[section]}d}}.jpg",
                }
            )
    return out


def _casme1_sheets(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`Section A.xlsx` and `Section B.xlsx`, each in its section folder, header in row 1."""
    for section, folder in CASME1_SECTIONS.items():
        ordered = sorted(
            (c for c in clips if c["section"] == section),
            key=lambda c: (c["casme_subject"], natural_key(c["filename"])),
        )
        if not ordered:
            continue
        rows = []
        for c in ordered:
            slash = c["sheet_apex"] == "/"
            apex_cells = [None, c["apex"]] if slash else [c["apex"], None]
            au = au_cell(c["action_units"])
            rows.append(
                [c["casme_subject"], c["filename"], None, c["onset"], *apex_cells, c["offset"], None, au, c["emotion"]]
            )
        write_xlsx(root / folder / CASME1_SHEET.format(letter=section), [list(CASME1_HEADER), *rows])


# --- CAS(ME)^2 ------------------------------------------------------------------------------


def casme_sq_participant(subject: int) -> int:
    """The participant number of subject id `subject` (1-based): the release's 22, then 41, 42, ..."""
    if subject <= len(CASME_SQ_PARTICIPANTS):
        return CASME_SQ_PARTICIPANTS[subject - 1]
    return CASME_SQ_PARTICIPANTS[-1] + subject - len(CASME_SQ_PARTICIPANTS)


def _casme_sq_clips(clips: Sequence[PlannedClip]) -> list[PlannedClip]:
    """`CAS(ME)^2/rawpic/s15/15_0503unnyfarting/img046.jpg`: several expressions per long video,
    every third a macro-expression; quirks: the misspelt stimulus, the last video filed under the
    previous participant's folder, an offset written 0 (first clip) and an empty AU cell (second)."""
    groups = listed_by_subject(clips)
    out: list[PlannedClip] = []
    for number, group in groups.items():
        participant = casme_sq_participant(number)
        per_video = max(CASME_SQ_CLIPS_PER_VIDEO, math.ceil(len(group) / len(CASME_SQ_STIMULI)))
        previous_offset = 0
        for j, clip in enumerate(group):
            v, i = divmod(j, per_video)
            code, video_name, stimulus = CASME_SQ_STIMULI[(number - 1 + v) % len(CASME_SQ_STIMULI)]
            if number == 1 and v == 0:
                stimulus = CASME_SQ_MISSPELT
            video = f"{participant}_{code}{stimulus}"
            last_video = number == len(groups) and v == (len(group) - 1) // per_video
            home = casme_sq_participant(number - 1) if last_video and number > 1 else participant
            frames = shifted_frames(clip, previous_offset + CASME_SQ_GAP - clip["onset"] if i else 0)
            previous_offset = frames["offset"]
            record = {
                **clip,
                **frames,
                "subject_id": number,
                "folder": f"s{participant}",
                "filename": video,
                "sheet_clip": f"{video_name}_{i + 1}",
                "self_report": clip["emotion"],
                "clip_id": f"{video}_{frames['onset']}",
                "emotion": CASME_SQ_EMOTIONS[clip["emotion"]],
                "expression": MACRO if i % 3 == 2 else MICRO,
                "sheet_apex": frames["apex"],
                "frames_dir": f"{CASME_SQ_FRAMES_DIR}/s{home}/{video}",
                "frame_name": "img{n:03d}.jpg",
            }
            if not out:
                record["sheet_offset"] = 0  # the release's "the apex ends it"
            elif len(out) == 1:
                record["action_units"] = ""
            out.append(record)
    return out


def casme_sq_sheet(root: Path, clips: Sequence[PlannedClip]) -> None:
    """`CAS(ME)^2code_final.xlsx`: three headerless sheets, the intervals by subject id and onset,
    then subject id → participant, then video code (as text) → video name."""
    ordered = sorted(clips, key=lambda c: (c["subject_id"], c["filename"], c["onset"]))
    intervals = [
        [
            c["subject_id"],
            c["sheet_clip"],
            *_sheet_frames(c),
            au_cell(c["action_units"]) if c["action_units"] else None,
            c["emotion"],
            c["expression"],
            c["self_report"],
        ]
        for c in ordered
    ]
    subjects = sorted({c["subject_id"] for c in clips})
    participants = [[casme_sq_participant(s), f"s{casme_sq_participant(s)}", s] for s in subjects]
    videos = [[code, name] for code, name, _ in sorted(CASME_SQ_STIMULI)]
    write_workbook(root / CASME_SQ_SHEET, dict(zip(CASME_SQ_SHEETS, (intervals, participants, videos), strict=True)))


MEB_LAYOUTS: dict[str, Layout] = {
    "mmew": Layout("mmew", "MMEW", _mmew_clips, _mmew_sheet),
    "4dme": Layout("4dme", "4DME", _fourdme_clips, _fourdme_sheet, grey=True),
    "casme1": Layout("casme1", "CASME", _casme1_clips, _casme1_sheets),
    "casme_sq": Layout("casme_sq", "CAS(ME)^2", _casme_sq_clips, casme_sq_sheet),
}
