"""MMEW reader on tiny releases in the real layout: clip folders under any emotion, numbering, errors."""

from __future__ import annotations

import csv
import logging
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest
from helpers import replaced_cells
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data import locate_release
from mer.data.labels import CLASSES
from mer.data.mmew import read_mmew
from mer.data.samples import COLUMNS, file_sha256
from mer.errors import MerError

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "mmew.yaml"
TOP = "MMEW_Final"
SHEET = "MMEW_Micro_Exp.xlsx"
FRAMES = "Micro_Expression"
HEADER = [
    "Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion", "remarks",
]  # fmt: skip

#: Sheet rows (first data row is spreadsheet row 2) and the emotion folder each clip sits in.
ROWS = [
    ["S01", "S01-01-001", 1, 3, 6, "AU12", "happiness", None],
    [1, "S01-02-001", 1, 2, 4, "1+2", "surprise", None],
    ["S02", "S02-04-001", 120, 123, 126, "4+L7", "disgust", "numbered in the video"],
    ["S02", "S02-07-001", 1, 3, 5, "AU4(k)+L7", "others", None],
    ["S03", "S03-03-001", 1, 2, 4, 4, "anger", None],
    [3, "S03-05-001", 1, 3, 5, "1+4", "fear", None],
    ["S10", "S10-06-001", 1, 2, 3, "15", "sadness", None],
]
FOLDER_EMOTION = {"S02-07-001": "repression"}  # MEB's rename: `others` clips in repression/
ALL_IDS = [
    "mmew/S01/S01-01-001",
    "mmew/S01/S01-02-001",
    "mmew/S02/S02-04-001",
    "mmew/S02/S02-07-001",
    "mmew/S03/S03-03-001",
    "mmew/S03/S03-05-001",
    "mmew/S10/S10-06-001",
]

_ok, _buf = cv2.imencode(".jpg", np.full((8, 8), 128, np.uint8))
JPEG = _buf.tobytes()


def write_clip(folder: Path, count: int) -> None:
    """A clip folder of real JPEG frames `1.jpg` ... `<count>.jpg` (encoded by cv2)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"{n}.jpg").write_bytes(JPEG)


def write_sheet(path: Path, rows: list[list]) -> None:
    """The sheet as .xlsx (openpyxl) or .csv, by the path's suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows([HEADER] + [["" if v is None else v for v in r] for r in rows])
        return
    book = openpyxl.Workbook()
    for values in [HEADER] + rows:
        book.active.append(values)
    book.save(path)


def make_release(
    parent: Path, rows: list[list] = ROWS, sheet: str | None = SHEET, frame_rows: list[list] = ROWS
) -> Path:
    """`parent/MMEW_Final/` with the sheet of `rows` and, per row of `frame_rows`, frames
    `Micro_Expression/<emotion>/<Filename>/<n>.jpg`, n from 1 to offset-onset+1; returns MMEW_Final."""
    top = parent / TOP
    for r in frame_rows:
        emotion = FOLDER_EMOTION.get(r[1], r[6])
        write_clip(top / FRAMES / emotion / r[1], r[4] - r[2] + 1)
    if sheet is not None:
        write_sheet(top / sheet, rows)
    return top


def replaced(index: int, **cells) -> list[list]:
    """ROWS with some cells of one row replaced."""
    return replaced_cells(
        ROWS, index, {"subject": 0, "clip": 1, "onset": 2, "apex": 3, "offset": 4, "emotion": 6}, **cells
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return make_release(tmp_path)


def test_clips_labels_subjects_and_paths(release: Path) -> None:
    table = read_mmew(release)
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == ALL_IDS
    assert table.classes == CLASSES["mmew"]["all"]
    assert table.subjects == ["S01", "S02", "S03", "S10"]
    assert table.rows.iloc[0].to_dict() == {
        "sample_id": "mmew/S01/S01-01-001",
        "dataset": "mmew",
        "subject": "S01",
        "clip": "S01-01-001",
        "label": "happiness",
        "emotion": "happiness",
        "action_units": "AU12",
        "onset_frame": 1,
        "apex_frame": 3,
        "offset_frame": 6,
        "clip_dir": "Micro_Expression/happiness/S01-01-001",
        "onset_path": "Micro_Expression/happiness/S01-01-001/1.jpg",
        "apex_path": "Micro_Expression/happiness/S01-01-001/3.jpg",
    }
    rows = table.rows.set_index("clip")
    assert rows["label"].tolist() == ["happiness", "surprise", "disgust", "others", "anger", "fear", "sadness"]
    assert rows.loc["S02-07-001", "action_units"] == "AU4(k)+L7"  # kept verbatim
    assert rows.loc["S03-03-001", "action_units"] == "4"  # an int cell
    for path in table.rows["onset_path"].tolist() + table.rows["apex_path"].tolist():
        assert table.path(path).is_file()
    prov = table.provenance
    assert prov["reader"] == "mmew" and prov["sheet"] == SHEET and prov["frames_dir"] == FRAMES
    assert prov["sheet_sha256"] == file_sha256(release / SHEET)
    assert prov["dropped"] == [] and prov["apex_fixed"] == []


def test_sheet_numbered_in_the_video_is_counted_from_the_first_frame(release: Path, caplog) -> None:
    """Onset 120 has no file and the folder holds 126-120+1 = 7 frames: 120 ↦ 1, apex 123 ↦ 4."""
    with caplog.at_level(logging.INFO, logger="mer.data.mmew"):
        table = read_mmew(release)
    row = table.rows.set_index("clip").loc["S02-04-001"]
    assert (row["onset_frame"], row["apex_frame"], row["offset_frame"]) == (1, 4, 7)
    assert row["onset_path"] == "Micro_Expression/disgust/S02-04-001/1.jpg"
    assert row["apex_path"] == "Micro_Expression/disgust/S02-04-001/4.jpg"
    assert table.provenance["counted_from_first_frame"] == ["mmew/S02/S02-04-001"]
    assert "MMEW: counted 1 clip from the folder's first frame" in caplog.text


def test_a_frame_count_that_does_not_fit_is_not_renumbered(release: Path) -> None:
    """Without exactly offset-onset+1 frames the sheet's numbers stand, and the onset is missing."""
    (release / FRAMES / "disgust" / "S02-04-001" / "7.jpg").unlink()
    with pytest.raises(MerError, match=r"row 4 \(S02/S02-04-001\): onset frame .*S02-04-001/120\.jpg does not exist"):
        read_mmew(release)


def test_clip_folder_under_another_emotion_folder(release: Path) -> None:
    row = read_mmew(release).rows.set_index("clip").loc["S02-07-001"]
    assert row["clip_dir"] == "Micro_Expression/repression/S02-07-001"
    assert (row["emotion"], row["label"]) == ("others", "others")


def test_subject_folders_above_the_emotion_folders(tmp_path: Path) -> None:
    """The release page's `<subject>/<emotion>/<Filename>/` layout is read the same way."""
    top = make_release(tmp_path)
    flat = read_mmew(top).rows
    for emotion in list((top / FRAMES).iterdir()):
        for clip in list(emotion.iterdir()):
            target = top / FRAMES / clip.name[:3] / emotion.name
            target.mkdir(parents=True, exist_ok=True)
            clip.rename(target / clip.name)
        emotion.rmdir()
    nested = read_mmew(top).rows
    assert nested["sample_id"].tolist() == flat["sample_id"].tolist()
    assert nested.set_index("clip").loc["S01-01-001", "apex_path"] == "Micro_Expression/S01/happiness/S01-01-001/3.jpg"


def test_csv_sheet_reads_like_the_xlsx(tmp_path: Path) -> None:
    xlsx = read_mmew(make_release(tmp_path / "a")).rows
    csv_top = make_release(tmp_path / "b", sheet="MMEW_Micro_Exp.csv")
    table = read_mmew(csv_top)
    assert table.provenance["sheet"] == "MMEW_Micro_Exp.csv"
    assert table.rows.drop(columns="action_units").equals(xlsx.drop(columns="action_units"))
    assert table.rows["action_units"].tolist() == xlsx["action_units"].tolist()


def test_root_may_be_the_folder_holding_mmew_final(release: Path) -> None:
    table = read_mmew(release.parent)
    assert table.rows["sample_id"].tolist() == ALL_IDS
    assert table.provenance["sheet"] == f"{TOP}/{SHEET}"
    assert table.rows["onset_path"].iloc[0] == f"{TOP}/{FRAMES}/happiness/S01-01-001/1.jpg"


def test_release_found_from_the_folders_alone(release: Path, tmp_path: Path) -> None:
    """What the command-line check calls: it lists folders and reads no sheet row."""
    (release / SHEET).write_bytes(b"not a spreadsheet")
    config = OmegaConf.to_container(OmegaConf.load(CONFIG).reader)
    found = locate_release({**config, "root": str(release.parent)})
    assert (found.sheet, found.frames_root) == (release / SHEET, release / FRAMES)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MerError, match=r"no MMEW coding sheet in .*empty"):
        locate_release({**config, "root": str(tmp_path / "empty")})


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert cfg.data.name == "mmew"
    assert instantiate(cfg.data.reader).rows["sample_id"].tolist() == ALL_IDS


@pytest.mark.parametrize(
    "label_set, counts",
    [
        (
            "all",
            {"happiness": 1, "surprise": 1, "anger": 1, "disgust": 1, "fear": 1, "sadness": 1, "others": 1},
        ),
        ("composite3", {"negative": 4, "positive": 1, "surprise": 1}),
    ],
)
def test_label_sets(release: Path, label_set: str, counts: dict) -> None:
    table = read_mmew(release, label_set=label_set)
    assert table.classes == CLASSES["mmew"][label_set]
    assert table.counts()["label"] == counts
    if label_set == "composite3":
        assert table.provenance["dropped"] == [
            {"sample_id": "mmew/S02/S02-07-001", "reason": "label 'others' not in composite3"}
        ]


def test_no_sheet(tmp_path: Path) -> None:
    top = make_release(tmp_path, sheet=None)
    with pytest.raises(
        MerError, match=r"no MMEW coding sheet in .*looked for MMEW_Micro_Exp\.xlsx.*data\.reader\.sheet"
    ):
        read_mmew(top)


def test_no_frames_folder(tmp_path: Path) -> None:
    top = make_release(tmp_path)
    shutil.rmtree(top / FRAMES)
    with pytest.raises(MerError, match=r"no MMEW frames in .*looked for a Micro_Expression/ folder"):
        read_mmew(top)


def test_bad_frame_cell_names_the_row(tmp_path: Path) -> None:
    top = make_release(tmp_path, replaced(4, onset="1a"))
    with pytest.raises(
        MerError, match=rf"{re.escape(SHEET)} row 6: OnsetFrame '1a' is not a frame number; fix the sheet"
    ):
        read_mmew(top)


def test_unknown_emotion(tmp_path: Path) -> None:
    rows = replaced(1, emotion="contempt")
    top = make_release(tmp_path, rows)
    pattern = rf"{re.escape(SHEET)} row 3 \(S01/S01-02-001\): unknown emotion 'contempt'; known MMEW labels \(all\)"
    with pytest.raises(MerError, match=pattern):
        read_mmew(top)


def test_missing_clip_folder_error_or_drop(release: Path) -> None:
    shutil.rmtree(release / FRAMES / "fear" / "S03-05-001")
    pattern = (
        rf"{re.escape(SHEET)} row 7 \(S03/S03-05-001\): clip folder .*Micro_Expression/\*/S03-05-001 "
        r"does not exist; .*data\.reader\.missing_frames=drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_mmew(release)
    with pytest.warns(UserWarning, match=r"missing onset/apex frames in 1 clip, dropped: S03/S03-05-001"):
        table = read_mmew(release, missing_frames="drop")
    assert "mmew/S03/S03-05-001" not in table.rows["sample_id"].tolist()


def test_two_folders_with_one_clip_name(release: Path) -> None:
    write_clip(release / FRAMES / "others" / "S01-02-001", 4)
    with pytest.raises(
        MerError, match=r"row 3 \(S01/S01-02-001\): several clip folders are named S01-02-001: .*; keep one"
    ):
        read_mmew(release)
