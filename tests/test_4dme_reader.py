"""4DME reader on tiny releases in the real layout: combined emotions, tallies, frame names, errors."""

from __future__ import annotations

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
from mer.data.fourdme import read_4dme
from mer.data.labels import CLASSES
from mer.data.samples import COLUMNS, file_sha256
from mer.errors import MerError

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "4dme.yaml"
TOP = "4DMicro"
SHEET = "4DME_Labelling_Micro_release v1.xlsx"
HEADER = ["sub_ID", "fold_name", "Emotion", "Onset", "Apex", "Offset", "AUs"]
TALLIES = ["fold", "eye blink", "Positive", "Negative", "Surprise", "Repression", "Others", "Total", "AU1", "AU4"]

#: Sheet rows (first data row is spreadsheet row 2): sub_ID, fold_name, Emotion, Onset, Apex, Offset, AUs.
ROWS = [
    ["S01", "fold_01", "Positive", 10, 13, 16, "AU6+AU12"],
    ["S01", "fold_02", "Surprise+Positive", 3, 5, 8, "AU1+AU2+AU12"],
    ["S02", "fold_01", "Negative + Repression", 5, 7, 9, "AU4(k)+L7"],
    ["S02", "fold_03", "repression", 20, 22, 25, "AUR2+12(k)+45"],
    ["S03", "fold_01", "Others", 2, 3, 5, "AU45"],
    ["S03", "fold_02", "Surprise", 30, 31, 34, "1+2"],
    ["S03", "fold_04", "NEGATIVE", 8, 10, 12, 4],
]
#: Frame file names per subject (the release's are not public): numbered as in the sheet, except
#: S03/fold_02, whose folder numbers its frames from 1 while the sheet counts the video's.
NAMES = {"S01": "img_{:04d}.jpg", "S02": "{}.png", "S03": "S03_frame{:03d}.jpg"}
FROM_ONE = {"fold_02"}
ALL_IDS = [
    "4dme/S01/fold_01",
    "4dme/S01/fold_02",
    "4dme/S02/fold_01",
    "4dme/S02/fold_03",
    "4dme/S03/fold_01",
    "4dme/S03/fold_02",
    "4dme/S03/fold_04",
]
ALL_CLASSES = (
    "negative",
    "negative+repression",
    "others",
    "positive",
    "repression",
    "surprise",
    "surprise+positive",
)

IMAGES = {suffix: cv2.imencode(suffix, np.full((8, 8), 128, np.uint8))[1].tobytes() for suffix in (".jpg", ".png")}


def write_clip(folder: Path, name: str, numbers: range) -> None:
    """Real greyscale image files (encoded by cv2) named `name.format(n)` in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        file = name.format(n)
        (folder / file).write_bytes(IMAGES[Path(file).suffix])


def write_sheet(path: Path, rows: list[list], tally_row: bool = True) -> None:
    """The sheet as 4DME ships it: the clip columns, then tallies and one-hot AU columns; with
    `tally_row`, a last row with only the tallies filled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    book.active.append(HEADER + TALLIES)
    for i, r in enumerate(rows):
        book.active.append(r + [i % 3 + 1, 0, 1, 0, 0, 0, 0, 1, 0, 1])
    if tally_row:
        book.active.append([None] * len(HEADER) + [None, 2, 2, 2, 2, 1, 1, 7, 3, 2])
    book.save(path)


def make_release(
    parent: Path,
    rows: list[list] = ROWS,
    sheet: str | None = SHEET,
    frames: str = "gray_micro",
    frame_rows: list[list] = ROWS,
) -> Path:
    """`parent/4DMicro/` with the sheet and `<frames>/<sub_ID>/<fold_name>/` frame folders holding
    onset..offset; returns the 4DMicro folder."""
    top = parent / TOP
    for subject, fold, _emotion, onset, _apex, offset, _aus in frame_rows:
        numbers = range(1, offset - onset + 2) if subject == "S03" and fold in FROM_ONE else range(onset, offset + 1)
        write_clip(top / frames / subject / fold, NAMES[subject], numbers)
    if sheet is not None:
        write_sheet(top / sheet, rows)
    return top


def replaced(index: int, **cells) -> list[list]:
    """ROWS with some cells of one row replaced."""
    return replaced_cells(
        ROWS, index, {"subject": 0, "clip": 1, "emotion": 2, "onset": 3, "apex": 4, "offset": 5}, **cells
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return make_release(tmp_path)


def test_clips_labels_subjects_and_paths(release: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mer.data.fourdme"):
        table = read_4dme(release)
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == ALL_IDS
    assert table.subjects == ["S01", "S02", "S03"]
    assert table.rows.iloc[0].to_dict() == {
        "sample_id": "4dme/S01/fold_01",
        "dataset": "4dme",
        "subject": "S01",
        "clip": "fold_01",
        "label": "positive",
        "emotion": "positive",
        "action_units": "AU6+AU12",
        "onset_frame": 10,
        "apex_frame": 13,
        "offset_frame": 16,
        "clip_dir": "gray_micro/S01/fold_01",
        "onset_path": "gray_micro/S01/fold_01/img_0010.jpg",
        "apex_path": "gray_micro/S01/fold_01/img_0013.jpg",
    }
    rows = table.rows.set_index("sample_id")
    assert rows.loc["4dme/S02/fold_03", "apex_path"] == "gray_micro/S02/fold_03/22.png"
    assert rows.loc["4dme/S03/fold_04", "onset_path"] == "gray_micro/S03/fold_04/S03_frame008.jpg"
    prov = table.provenance
    assert prov["reader"] == "4dme" and prov["sheet"] == SHEET
    assert prov["sheet_sha256"] == file_sha256(release / SHEET)
    assert (prov["frames_dir"], prov["layout_kind"]) == ("gray_micro", "raw")
    assert "4DME: skipped 1 row of 4DME_Labelling_Micro_release v1.xlsx naming no clip (tallies only): 9" in caplog.text


def test_combined_emotions_and_verbatim_action_units(release: Path) -> None:
    """`all` keeps every emotion the sheet names as its own class, combinations included."""
    table = read_4dme(release)
    assert table.classes == ALL_CLASSES
    rows = table.rows.set_index("sample_id")
    assert rows["emotion"].tolist() == [
        "positive",
        "surprise+positive",
        "negative+repression",
        "repression",
        "others",
        "surprise",
        "negative",
    ]
    assert (rows["label"] == rows["emotion"]).all()
    assert rows.loc["4dme/S02/fold_01", "action_units"] == "AU4(k)+L7"
    assert rows.loc["4dme/S02/fold_03", "action_units"] == "AUR2+12(k)+45"
    assert rows.loc["4dme/S03/fold_04", "action_units"] == "4"


def test_sheet_numbered_in_the_video_is_counted_from_the_first_frame(release: Path) -> None:
    table = read_4dme(release)
    row = table.rows.set_index("sample_id").loc["4dme/S03/fold_02"]
    assert (row["onset_frame"], row["apex_frame"], row["offset_frame"]) == (1, 2, 5)
    assert row["apex_path"] == "gray_micro/S03/fold_02/S03_frame002.jpg"
    assert table.provenance["counted_from_first_frame"] == ["4dme/S03/fold_02"]


@pytest.mark.parametrize(
    "label_set, classes, counts",
    [
        ("all", ALL_CLASSES, dict.fromkeys(ALL_CLASSES, 1)),
        (
            "5class",
            CLASSES["4dme"]["5class"],
            {"positive": 1, "negative": 1, "surprise": 1, "repression": 1, "others": 1},
        ),
        ("composite3", ("negative", "positive", "surprise"), {"negative": 3, "positive": 1, "surprise": 1}),
    ],
)
def test_label_sets(release: Path, label_set: str, classes: tuple, counts: dict) -> None:
    """5class keeps single emotions; composite3 counts repression (and negative+repression) as negative."""
    table = read_4dme(release, label_set=label_set)
    assert table.classes == classes
    assert table.counts()["label"] == counts
    dropped = {d["sample_id"] for d in table.provenance["dropped"]}
    expected = {
        "all": set(),
        "5class": {"4dme/S01/fold_02", "4dme/S02/fold_01"},
        "composite3": {"4dme/S01/fold_02", "4dme/S03/fold_01"},
    }
    assert dropped == expected[label_set]


def test_cropped_frames(tmp_path: Path) -> None:
    """`layout=auto` takes gray_micro/ where both are there, gray_micro_crop/ where only it is."""
    top = make_release(tmp_path)
    make_release(tmp_path, sheet=None, frames="gray_micro_crop")
    table = read_4dme(top, layout="cropped")
    assert table.provenance["layout_kind"] == "cropped"
    assert table.rows["onset_path"].iloc[0] == "gray_micro_crop/S01/fold_01/img_0010.jpg"
    assert read_4dme(top).provenance["layout_kind"] == "raw"
    shutil.rmtree(top / "gray_micro")
    assert read_4dme(top).provenance["frames_dir"] == "gray_micro_crop"
    with pytest.raises(MerError, match=r"no 4DME frames in .*\(data\.reader\.layout=raw\): looked for gray_micro/"):
        read_4dme(top, layout="raw")
    with pytest.raises(MerError, match=r"data\.reader\.layout='crop': choose one of auto, raw, cropped"):
        read_4dme(top, layout="crop")


def test_root_may_be_the_folder_holding_4dmicro(release: Path) -> None:
    table = read_4dme(release.parent)
    assert table.rows["sample_id"].tolist() == ALL_IDS
    assert table.provenance["sheet"] == f"{TOP}/{SHEET}"
    assert table.rows["clip_dir"].iloc[0] == f"{TOP}/gray_micro/S01/fold_01"


def test_release_found_from_the_folders_alone(release: Path, tmp_path: Path) -> None:
    """What the command-line check calls: it lists folders and reads no sheet row."""
    (release / SHEET).write_bytes(b"not a spreadsheet")
    config = OmegaConf.to_container(OmegaConf.load(CONFIG).reader)
    found, kind = locate_release({**config, "root": str(release.parent)})
    assert (found.sheet, found.frames_root, kind) == (release / SHEET, release / "gray_micro", "raw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MerError, match=r"no 4DME coding sheet in .*empty"):
        locate_release({**config, "root": str(tmp_path / "empty")})


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert cfg.data.name == "4dme"
    assert instantiate(cfg.data.reader).rows["sample_id"].tolist() == ALL_IDS


def test_no_sheet(tmp_path: Path) -> None:
    top = make_release(tmp_path, sheet=None)
    with pytest.raises(MerError, match=r"no 4DME coding sheet in .*looked for 4DME_Labelling_Micro_release v1\.xlsx"):
        read_4dme(top)


def test_bad_frame_cell_names_the_row(tmp_path: Path) -> None:
    top = make_release(tmp_path, replaced(2, apex=7, offset="nine"), frame_rows=ROWS)
    with pytest.raises(
        MerError, match=rf"{re.escape(SHEET)} row 4: Offset 'nine' is not a frame number; fix the sheet"
    ):
        read_4dme(top)


def test_bad_subject(tmp_path: Path) -> None:
    top = make_release(tmp_path, replaced(0, subject="../S02"), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 2: sub_ID '\.\./S02' is not a subject folder name"):
        read_4dme(top)


@pytest.mark.parametrize("label_set", ["all", "5class"])
@pytest.mark.parametrize("emotion", ["Angry", "Angry+Positive", ""])
def test_unknown_emotion(tmp_path: Path, emotion: str, label_set: str) -> None:
    top = make_release(tmp_path, replaced(1, emotion=emotion))
    pattern = (
        rf"{re.escape(SHEET)} row 3 \(S01/fold_02\): unknown emotion {re.escape(repr(emotion))}; 4DME's emotions "
        r"are positive, negative, surprise, repression and others, alone or joined by '\+'"
    )
    with pytest.raises(MerError, match=pattern):
        read_4dme(top, label_set=label_set)


def test_missing_clip_folder_error_or_drop(release: Path) -> None:
    shutil.rmtree(release / "gray_micro" / "S02" / "fold_03")
    pattern = (
        rf"{re.escape(SHEET)} row 5 \(S02/fold_03\): clip folder .*gray_micro/S02/fold_03 does not exist; "
        r".*data\.reader\.missing_frames=drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_4dme(release)
    with pytest.warns(UserWarning, match=r"missing onset/apex frames in 1 clip, dropped: S02/fold_03"):
        table = read_4dme(release, missing_frames="drop")
    assert "4dme/S02/fold_03" not in table.rows["sample_id"].tolist()


def test_missing_apex_file(release: Path) -> None:
    (release / "gray_micro" / "S01" / "fold_01" / "img_0013.jpg").unlink()
    with pytest.raises(MerError, match=r"row 2 \(S01/fold_01\): apex frame .*S01/fold_01/\*13\.\* does not exist"):
        read_4dme(release)
