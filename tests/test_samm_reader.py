"""SAMM reader on crafted releases in the real layout: note rows, padding, labels, errors."""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest
from helpers import replaced_cells
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data.labels import CLASSES
from mer.data.samm import list_frames, read_samm
from mer.data.samples import COLUMNS, file_sha256
from mer.errors import MerError
from mer.synthetic import generate_synthetic, load_ground_truth

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "samm.yaml"
SHEET = "SAMM_Micro_FACS_Codes_v2.xlsx"
HEADER = [
    "Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
    "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes",
]  # fmt: skip
NOTES = 13  # header on row 14, first data row (ROWS[0]) on row 15


def row(subject, clip, onset, apex, offset, aus, emotion) -> list:
    """One sheet row in the SAMM column order."""
    duration = offset - onset + 1 if isinstance(offset, int) and isinstance(onset, int) else None
    return [subject, clip, 1, onset, apex, offset, duration, "Micro - 1/2", aus, emotion, 1, None]


ROWS = [
    row(6, "006_1_2", 5562, 5588, 5602, "4+7", "Anger"),
    row(6, "006_1_5", 1200, 1230, 1260, "R14", "Contempt"),
    row("007", "007_3_1", 980, 1010, 1040, "12", "Happiness"),
    row(7, "007_5_2", 300, 310, 320, "1+2", "Surprise"),
    row(9, "009_2_3", 40, 50, 60, 4, "Other"),
    row(11, "011_1_1", 98, 100, 120, "2", "Others"),
    row(16, "016_7_1", 10, 20, 30, "9", "Disgust"),
    row(20, "020_1_1", 10, 20, 30, "1+2+4", "Fear"),
    row(21, "021_2_1", 10, 20, 30, "15", "Sadness"),
]
#: Zero padding of the frame numbers in each clip's file names (SAMM's padding varies).
PADDING = {"006": 5, "007": 4, "009": 5, "011": 0, "016": 5, "020": 3, "021": 5}
FIVE_CLASS_IDS = [
    "samm/006/006_1_2",
    "samm/006/006_1_5",
    "samm/007/007_3_1",
    "samm/007/007_5_2",
    "samm/009/009_2_3",
    "samm/011/011_1_1",
]
KNOWN = "anger, contempt, disgust, fear, happiness, others, sadness, surprise"

_ok, _buf = cv2.imencode(".jpg", np.full((8, 8), 128, np.uint8))
JPEG = _buf.tobytes()


def subject_folder(subject) -> str:
    return f"{int(subject):03d}"


def frame_name(subject: str, number: int) -> str:
    return f"{subject}_{number:0{PADDING.get(subject, 5)}d}.jpg"


def write_frames(folder: Path, subject: str, numbers) -> None:
    """Tiny real JPEG files `{subject}_{n:0Nd}.jpg` in folder (written with cv2.imwrite)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = np.full((8, 8), 128, np.uint8)
    for n in numbers:
        assert cv2.imwrite(str(folder / frame_name(subject, n)), image)


def frame_numbers(r: list) -> set[int]:
    onset, apex, offset = r[3], r[4], r[5]
    numbers = {onset, offset, (onset + offset) // 2}
    if isinstance(apex, int):
        numbers.add(apex)
    return numbers


def write_xlsx(path: Path, rows: list[list], notes: int = NOTES) -> None:
    """The sheet as SAMM ships it: `notes` note rows above the header row, then the data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    lines = [[f"Note {i}: SAMM micro-movement FACS codes"] for i in range(notes)]
    if notes > 1:  # a note row that mentions some header words but is not the header
        lines[1] = ["Subject numbers are anonymised", "Filename", "Onset Frame"]
    for r, values in enumerate(lines + [HEADER] + rows, start=1):
        for c, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    wb.save(path)


def make_release(
    root: Path,
    rows: list[list] = ROWS,
    frames: str = "SAMM",
    sheet: str | None = SHEET,
    frame_rows: list[list] | None = None,
) -> Path:
    """A crafted SAMM release: `SAMM/006/006_1_2/006_05562.jpg` frames and the coding sheet."""
    for r in rows if frame_rows is None else frame_rows:
        subject = subject_folder(r[0])
        write_frames(root / frames / subject / r[1], subject, frame_numbers(r))
    if sheet is not None:
        write_xlsx(root / sheet, rows)
    return root


def replaced(index: int, **cells) -> list[list]:
    """ROWS with some cells of one row replaced."""
    return replaced_cells(
        ROWS, index, {"subject": 0, "clip": 1, "onset": 3, "apex": 4, "offset": 5, "emotion": 9}, **cells
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return make_release(tmp_path / "release")


# ---------------------------------------------------------------- output table


def test_columns_ids_paths_and_provenance(release: Path) -> None:
    table = read_samm(release)
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == FIVE_CLASS_IDS
    assert table.dataset == "samm" and table.root == release.resolve()
    assert table.classes == CLASSES["samm"]["5class"]
    assert table.rows.iloc[0].to_dict() == {
        "sample_id": "samm/006/006_1_2",
        "dataset": "samm",
        "subject": "006",
        "clip": "006_1_2",
        "label": "anger",
        "emotion": "anger",
        "action_units": "4+7",
        "onset_frame": 5562,
        "apex_frame": 5588,
        "offset_frame": 5602,
        "clip_dir": "SAMM/006/006_1_2",
        "onset_path": "SAMM/006/006_1_2/006_05562.jpg",
        "apex_path": "SAMM/006/006_1_2/006_05588.jpg",
    }
    for column in ("onset_frame", "apex_frame", "offset_frame"):
        assert pd.api.types.is_integer_dtype(table.rows[column])
    for path in table.rows["onset_path"].tolist() + table.rows["apex_path"].tolist():
        assert table.path(path).is_file()
    prov = table.provenance
    assert prov["reader"] == "samm" and prov["sheet"] == SHEET
    assert prov["sheet_sha256"] == file_sha256(release / SHEET)
    assert (prov["apex_policy"], prov["missing_frames"], prov["label_set"]) == (
        "midpoint",
        "error",
        "5class",
    )
    assert prov["apex_fixed"] == []
    assert [d["sample_id"] for d in prov["dropped"]] == [
        "samm/016/016_7_1",
        "samm/020/020_1_1",
        "samm/021/021_2_1",
    ]
    assert prov["dropped"][0]["reason"] == "label 'disgust' not in 5class"


def test_header_below_note_rows_and_varying_padding(release: Path) -> None:
    rows = read_samm(release, label_set="all").rows.set_index("clip")
    assert len(rows) == len(ROWS)
    assert rows.loc["007_3_1", "onset_path"] == "SAMM/007/007_3_1/007_0980.jpg"
    assert rows.loc["011_1_1", "apex_path"] == "SAMM/011/011_1_1/011_100.jpg"
    assert rows.loc["020_1_1", "onset_path"] == "SAMM/020/020_1_1/020_010.jpg"
    assert rows.loc["009_2_3", "action_units"] == "4"  # an int cell


def test_frames_sorted_numerically(tmp_path: Path) -> None:
    clip = tmp_path / "006_1_2"
    clip.mkdir()
    for name in ["006_100.jpg", "006_0099.jpg", "006_00101.jpg", "006_8.jpg", "notes.txt"]:
        (clip / name).write_bytes(JPEG)
    (clip / "Thumbs.db").write_bytes(b"x")
    assert list_frames(clip) == [
        (8, "006_8.jpg"),
        (99, "006_0099.jpg"),
        (100, "006_100.jpg"),
        (101, "006_00101.jpg"),
    ]


def test_other_and_others_both_mean_others(release: Path) -> None:
    rows = read_samm(release).rows.set_index("clip")
    assert rows.loc[["009_2_3", "011_1_1"], "emotion"].tolist() == ["others", "others"]
    assert rows.loc[["009_2_3", "011_1_1"], "label"].tolist() == ["others", "others"]


def test_root_may_be_the_samm_folder_itself(tmp_path: Path) -> None:
    root = make_release(tmp_path, sheet="SAMM/" + SHEET)
    table = read_samm(root / "SAMM")
    assert table.rows["onset_path"].iloc[0] == "006/006_1_2/006_05562.jpg"
    assert table.provenance["sheet"] == SHEET and table.provenance["frames_dir"] == "."
    assert read_samm(root).provenance["sheet"] == "SAMM/" + SHEET  # sheet one level down


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert cfg.data.name == "samm"
    assert instantiate(cfg.data.reader).rows["sample_id"].tolist() == FIVE_CLASS_IDS


@pytest.mark.parametrize(
    "label_set, counts",
    [
        ("5class", {"anger": 1, "contempt": 1, "happiness": 1, "surprise": 1, "others": 2}),
        (
            "all",
            {
                "anger": 1,
                "contempt": 1,
                "disgust": 1,
                "fear": 1,
                "happiness": 1,
                "others": 2,
                "sadness": 1,
                "surprise": 1,
            },
        ),
        ("composite3", {"negative": 5, "positive": 1, "surprise": 1}),
    ],
)
def test_label_sets(release: Path, caplog, label_set: str, counts: dict) -> None:
    with caplog.at_level(logging.INFO, logger="mer.data.samm"):
        table = read_samm(release, label_set=label_set)
    assert table.classes == CLASSES["samm"][label_set]
    assert table.counts()["label"] == counts
    assert len(table.provenance["dropped"]) == len(ROWS) - len(table)
    if label_set == "composite3":
        assert table.classes == ("negative", "positive", "surprise")
        assert "label set composite3 drops 2 clips (others 2)" in caplog.text


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"apex_policy": "mid"}, r"data\.reader\.apex_policy='mid': choose one of midpoint"),
        ({"missing_frames": "skip"}, r"data\.reader\.missing_frames='skip': .*error, drop"),
        ({"label_set": "6class"}, r"data\.reader\.label_set='6class': .*5class, all, composite3"),
    ],
)
def test_unknown_option_values(release: Path, options: dict, pattern: str) -> None:
    with pytest.raises(MerError, match=pattern):
        read_samm(release, **options)


# ---------------------------------------------------------------- apex policies


def _bad_apex_release(tmp_path: Path) -> Path:
    rows = replaced(0, apex=5700)  # after offset 5602, like 028_4_1
    rows[3][4] = None  # 007_5_2: no apex at all
    return make_release(tmp_path, rows)


def test_apex_outside_or_missing_midpoint(tmp_path: Path) -> None:
    root = _bad_apex_release(tmp_path)
    with pytest.warns(UserWarning) as record:
        table = read_samm(root)
    assert [str(w.message) for w in record if "apex" in str(w.message)] == [
        "apex '/' or outside [onset, offset] in 2 clips, used midpoint (onset+offset)//2: 006/006_1_2, 007/007_5_2"
    ]
    rows = table.rows.set_index("clip")
    assert rows.loc["006_1_2", "apex_frame"] == (5562 + 5602) // 2
    assert rows.loc["006_1_2", "apex_path"] == "SAMM/006/006_1_2/006_05582.jpg"
    assert rows.loc["007_5_2", "apex_frame"] == 310
    assert table.provenance["apex_fixed"] == ["samm/006/006_1_2", "samm/007/007_5_2"]


def test_apex_drop(tmp_path: Path) -> None:
    root = _bad_apex_release(tmp_path)
    match = r"in 2 clips, dropped: 006/006_1_2, 007/007_5_2"
    with pytest.warns(UserWarning, match=match) as record:
        table = read_samm(root, apex_policy="drop")
    assert len([w for w in record if "apex" in str(w.message)]) == 1
    assert set(table.rows["sample_id"]) == set(FIVE_CLASS_IDS) - {
        "samm/006/006_1_2",
        "samm/007/007_5_2",
    }
    assert {"sample_id": "samm/006/006_1_2", "reason": "apex '5700' not in [5562, 5602]"} in (
        table.provenance["dropped"]
    )


def test_apex_error(tmp_path: Path) -> None:
    root = _bad_apex_release(tmp_path)
    pattern = (
        rf"{re.escape(SHEET)} row 15 \(006/006_1_2\): ApexFrame '5700' is not a frame in "
        r"\[onset 5562, offset 5602\]; .*data\.reader\.apex_policy=midpoint or drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_samm(root, apex_policy="error")


def test_valid_release_warns_nothing(release: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_samm(release, apex_policy="error")) == len(FIVE_CLASS_IDS)


# ---------------------------------------------------------------- sheet errors


def test_unknown_label(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(1, emotion="Angry"))
    pattern = rf"{re.escape(SHEET)} row 16 \(006/006_1_5\): unknown emotion 'Angry'; .*{KNOWN}"
    with pytest.raises(MerError, match=pattern):
        read_samm(root)


@pytest.mark.parametrize("clip", ["../007/007_3_1", "..", "/etc", "006_1_2/../../x", "a\\b"])
def test_path_traversal_in_filename(tmp_path: Path, clip: str) -> None:
    root = make_release(tmp_path, replaced(2, clip=clip), frame_rows=ROWS)
    pattern = rf"{re.escape(SHEET)} row 17: Filename .* is not a plain folder name"
    with pytest.raises(MerError, match=pattern):
        read_samm(root)


def test_bad_subject(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(0, subject="../006"), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 15: Subject '\.\./006' is not a subject number"):
        read_samm(root)


def test_sheet_override_outside_the_root(tmp_path: Path) -> None:
    root = make_release(tmp_path / "release")
    other = make_release(tmp_path / "other")
    for value in ("../other/" + SHEET, str(other / SHEET)):
        with pytest.raises(MerError, match=r"data\.reader\.sheet=.* leads outside the root"):
            read_samm(root, sheet=value)
    with pytest.raises(MerError, match=r"coding sheet .*nope\.xlsx \(data\.reader\.sheet\)"):
        read_samm(root, sheet="nope.xlsx")


def test_no_sheet(tmp_path: Path) -> None:
    root = make_release(tmp_path, sheet=None)
    pattern = (
        r"no SAMM coding sheet in .* looked for SAMM_Micro_FACS_Codes_v2\.xlsx.*"
        r"data\.reader\.sheet=PATH"
    )
    with pytest.raises(MerError, match=pattern):
        read_samm(root)


def test_no_frames(tmp_path: Path) -> None:
    root = make_release(tmp_path, frames="elsewhere")
    with pytest.raises(MerError, match=r"no SAMM frames in .*looked for a SAMM/ folder.*006/"):
        read_samm(root)
    shutil.rmtree(root / "elsewhere")
    (root / "SAMM" / "006" / "006_1_2").mkdir(parents=True)  # folders, no frame files
    with pytest.raises(MerError, match=r"no SAMM frames \(like 006_05562\.jpg\) in .*SAMM"):
        read_samm(root)


def test_root_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(MerError, match=r"SAMM root .*nowhere does not exist .*data\.root"):
        read_samm(tmp_path / "nowhere")


# ---------------------------------------------------------------- frames on disk


def test_missing_frame_is_an_error(release: Path) -> None:
    clip = release.resolve() / "SAMM" / "006" / "006_1_2"
    (clip / "006_05562.jpg").unlink()
    pattern = (
        rf"{re.escape(SHEET)} row 15 \(006/006_1_2\): onset frame "
        rf"{re.escape(str(clip / '006_05562.jpg'))} does not exist; .*"
        r"data\.reader\.missing_frames=drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_samm(release)


def test_missing_frames_drop(release: Path) -> None:
    (release / "SAMM" / "006" / "006_1_2" / "006_05562.jpg").unlink()  # onset
    (release / "SAMM" / "007" / "007_3_1" / "007_1010.jpg").unlink()  # apex
    shutil.rmtree(release / "SAMM" / "011" / "011_1_1")  # whole clip folder
    match = (
        r"missing onset/apex frames in 3 clips, dropped: 006/006_1_2 \(onset frame .*006_05562"
        r"\.jpg does not exist\), 007/007_3_1 \(apex frame .*007_01010\.jpg does not exist\), "
        r"011/011_1_1 \(clip folder .* does not exist\)"
    )
    with pytest.warns(UserWarning, match=match) as record:
        table = read_samm(release, missing_frames="drop")
    assert len([w for w in record if "missing" in str(w.message)]) == 1
    gone = {"samm/006/006_1_2", "samm/007/007_3_1", "samm/011/011_1_1"}
    assert set(table.rows["sample_id"]) == set(FIVE_CLASS_IDS) - gone
    assert gone <= {d["sample_id"] for d in table.provenance["dropped"]}


def test_reads_no_image(release: Path, monkeypatch) -> None:
    before = read_samm(release).rows
    for path in (release / "SAMM").rglob("*.jpg"):
        path.write_bytes(b"garbage, not a JPEG")

    def refuse(*args, **kwargs):
        raise AssertionError("the reader opened an image")

    monkeypatch.setattr(cv2, "imread", refuse)
    pd.testing.assert_frame_equal(read_samm(release).rows, before)


def test_generated_release_reads_back(tmp_path: Path) -> None:
    """The synthetic generator's SAMM layout (note rows, Other/Others, padding 4 and 5, an apex past
    its offset) reads back to its ground truth, the bad apex fixed to the true (midpoint) frame."""
    root = generate_synthetic(
        tmp_path / "SAMM_release",
        n_subjects=3,
        clips_per_subject=6,
        frames_per_clip=(5, 7),
        layout="samm",
        progress=False,
    )
    truth = load_ground_truth(root)
    assert {"Other", "Others"} <= {c["emotion"] for c in truth["clips"]}
    with pytest.warns(UserWarning, match=r"apex '/' or outside \[onset, offset\] in 1 clip, used midpoint"):
        table = read_samm(root, label_set="all")
    rows = table.rows.set_index("sample_id")
    assert len(rows) == len(truth["clips"])
    for clip in truth["clips"]:
        row = rows.loc[f"samm/{clip['folder']}/{clip['filename']}"]
        assert (row["onset_frame"], row["apex_frame"], row["offset_frame"]) == (
            clip["onset"],
            clip["apex"],
            clip["offset"],
        )
        other = clip["emotion"] in ("Other", "Others")
        assert row["label"] == ("others" if other else clip["emotion"].lower())
    paddings = {len(Path(p).stem.rsplit("_", 1)[1]) for p in table.rows["onset_path"]}
    assert paddings == {4, 5}
