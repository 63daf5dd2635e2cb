"""CAS(ME)^2 reader on a crafted release in the real layout: headerless sheets joined through the
naming rules, videos found by prefix (misspelt, misfiled), micro rows kept, errors."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data.casme_sq import find_release, read_casme_sq, read_intervals
from mer.data.labels import CLASSES
from mer.data.samples import COLUMNS, file_sha256
from mer.errors import MerError

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "casme_sq.yaml"
SHEET = "CAS(ME)^2code_final.xlsx"

#: `naming rule1`: participant, folder, subject id.
PARTICIPANTS = [[15, "s15", 1], [16, "s16", 2], [19, "s19", 3], [23, "s23", 4]]
#: `naming rule2`: code (text, or a number as Excel may store it), video name.
VIDEO_NAMES = [["0101", "disgust1"], ["0401", "anger1"], [502, "happy2"], ["0503", "happy3"]]
#: `CASFEcode_final`: subject id, clip, onset, apex, offset, AUs, emotion, type, self-report.
CODES = [
    [1, "disgust1_1", 557, 560, 570, "4+9", "negative", "micro-expression", "disgust"],
    [1, "disgust1_2", 700, 705, 0, "4", "negative", "micro-expression", "disgust"],  # offset 0: the apex
    [1, "disgust1_3", 20, 30, 45, "4+7", "negative", "macro-expression", "disgust"],
    [1, "happy3_1", 101, 103, 110, None, "positive", "micro-expression", "happy"],  # no AUs; misspelt video
    [2, "anger1_1", 33, 36, 40, "R4", "others", "micro-expression", "other"],
    [3, "disgust1_1", 9, 12, 15, "1+2", "surprise", "micro-expression", "surprise"],
    [4, "happy2_1", 150, 152, 158, "12", "positive", "micro-expression", "happy"],  # filed under s19/
    [4, "disgust1_1", 1000, 1003, 1008, "9", "negative", "macro-expression", None],
]
#: Each video's folder under rawpic/, as the release spells it.
VIDEOS = {
    (15, "0101"): "s15/15_0101disgustingteeth",
    (15, "0503"): "s15/15_0503unnyfarting",
    (16, "0401"): "s16/16_0401angrywhole",
    (19, "0101"): "s19/19_0101disgustingteeth",
    (23, "0502"): "s19/23_0502funnyerrors",
    (23, "0101"): "s23/23_0101disgustingteeth",
}
MICRO_3CLASS_IDS = [
    "casme_sq/s15/15_0101disgustingteeth_557",
    "casme_sq/s15/15_0101disgustingteeth_700",
    "casme_sq/s15/15_0503unnyfarting_101",
    "casme_sq/s19/19_0101disgustingteeth_9",
    "casme_sq/s23/23_0502funnyerrors_150",
]
IMAGE = np.full((8, 8, 3), 128, np.uint8)


def video_of(code_row: list) -> str:
    """The video folder (under rawpic/) a CASFEcode_final row's frames lie in."""
    participant = PARTICIPANTS[code_row[0] - 1][0]
    code = {name: f"{int(code):04d}" for code, name in VIDEO_NAMES}[code_row[1].rsplit("_", 1)[0]]
    return VIDEOS[(participant, code)]


def write_workbook(path: Path, codes: list[list], participants: list[list] = PARTICIPANTS) -> None:
    """The release's workbook: three sheets without a header row."""
    book = openpyxl.Workbook()
    sheets = {"CASFEcode_final": codes, "naming rule1": participants, "naming rule2": VIDEO_NAMES}
    book.active.title = "CASFEcode_final"
    for name, rows in sheets.items():
        sheet = book[name] if name in book.sheetnames else book.create_sheet(name)
        for r, values in enumerate(rows, start=1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    sheet.cell(row=r, column=c, value=value)
    book.save(path)


def make_release(top: Path) -> Path:
    """`CAS(ME)^2/`: rawpic/ frames `img001.jpg` (real JPEGs), rawvideo/ (ignored), the workbook."""
    for folder in VIDEOS.values():
        (top / "rawpic" / folder).mkdir(parents=True)
        (top / "rawvideo" / folder).parent.mkdir(parents=True, exist_ok=True)
        (top / "rawvideo" / f"{folder}.avi").write_bytes(b"")
    for values in CODES:
        onset, apex, offset = values[2:5]
        offset = offset or apex
        for number in {onset, apex, offset, (onset + offset) // 2}:
            assert cv2.imwrite(str(top / "rawpic" / video_of(values) / f"img{number:03d}.jpg"), IMAGE)
    write_workbook(top / SHEET, CODES)
    return top


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_release(tmp_path_factory.mktemp("casme_sq") / "CAS(ME)^2")


def copy_release(release: Path, tmp_path: Path) -> Path:
    """A private copy of the release that a test may break."""
    return Path(shutil.copytree(release, tmp_path / "CAS(ME)^2"))


def with_cell(row: int, column: int, value: object) -> list[list]:
    """CODES with one cell (0-based row and column) replaced."""
    rows = [list(r) for r in CODES]
    rows[row][column] = value
    return rows


def read_quietly(root: Path, **kwargs) -> tuple:
    """(table, the warnings the read raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_casme_sq(root, **kwargs)
    return table, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_micro_clips_without_others_by_default(release: Path) -> None:
    """Micro rows keyed by video and onset; the person is the subject; one warning for others."""
    table, said = read_quietly(release)
    assert said == [
        "CAS(ME)^2: label set 3class leaves out 1 clip labelled others; data.reader.label_set=all keeps them"
    ]
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == MICRO_3CLASS_IDS
    assert table.classes == CLASSES["casme_sq"]["3class"] == ("negative", "positive", "surprise")
    assert table.subjects == ["s15", "s19", "s23"]
    rows = table.rows.set_index("sample_id")
    assert rows.loc["casme_sq/s15/15_0101disgustingteeth_557"].to_dict() == {
        "dataset": "casme_sq",
        "subject": "s15",
        "clip": "15_0101disgustingteeth_557",
        "label": "negative",
        "emotion": "negative",
        "action_units": "4+9",
        "onset_frame": 557,
        "apex_frame": 560,
        "offset_frame": 570,
        "clip_dir": "rawpic/s15/15_0101disgustingteeth",
        "onset_path": "rawpic/s15/15_0101disgustingteeth/img557.jpg",
        "apex_path": "rawpic/s15/15_0101disgustingteeth/img560.jpg",
    }
    assert rows.loc["casme_sq/s15/15_0101disgustingteeth_700", "offset_frame"] == 705  # offset 0
    assert rows.loc["casme_sq/s15/15_0503unnyfarting_101", "action_units"] == ""
    assert (
        rows.loc["casme_sq/s19/19_0101disgustingteeth_9", "onset_path"]
        == "rawpic/s19/19_0101disgustingteeth/img009.jpg"
    )
    misfiled = rows.loc["casme_sq/s23/23_0502funnyerrors_150"]
    assert (misfiled["subject"], misfiled["clip_dir"]) == ("s23", "rawpic/s19/23_0502funnyerrors")
    assert misfiled["apex_path"] == "rawpic/s19/23_0502funnyerrors/img152.jpg"
    assert rows["label"].tolist() == ["negative", "negative", "positive", "surprise", "positive"]
    assert table.provenance["sheet_sha256"] == file_sha256(release / SHEET)


def test_label_set_all_keeps_others_without_a_warning(release: Path) -> None:
    table, said = read_quietly(release, label_set="all")
    assert said == []
    assert table.classes == ("negative", "positive", "surprise", "others")
    assert table.rows.set_index("sample_id").loc["casme_sq/s16/16_0401angrywhole_33", "label"] == "others"
    assert len(table) == len(MICRO_3CLASS_IDS) + 1


def test_composite3_is_3class(release: Path) -> None:
    assert read_quietly(release, label_set="composite3")[0].rows.equals(read_quietly(release)[0].rows)


@pytest.mark.parametrize(
    "expression, ids",
    [
        ("macro", ["casme_sq/s15/15_0101disgustingteeth_20", "casme_sq/s23/23_0101disgustingteeth_1000"]),
        ("all", sorted(MICRO_3CLASS_IDS + ["casme_sq/s15/15_0101disgustingteeth_20",
                                           "casme_sq/s16/16_0401angrywhole_33",
                                           "casme_sq/s23/23_0101disgustingteeth_1000"])),
    ],
)  # fmt: skip
def test_expression_chooses_the_rows(release: Path, expression: str, ids: list[str]) -> None:
    table, _ = read_quietly(release, expression=expression, label_set="all")
    assert table.rows["sample_id"].tolist() == ids
    if expression == "macro":  # img1000.jpg: at least 3 digits
        assert table.rows["onset_path"].tolist()[1] == "rawpic/s23/23_0101disgustingteeth/img1000.jpg"


def test_read_intervals_returns_every_interval(release: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Spotting's view: all 8 intervals, micro and macro, with their video folders."""
    with caplog.at_level(logging.INFO, logger="mer.data.casme_sq"):
        intervals = read_intervals(find_release(release))
    assert "s23's video rawpic/s19/23_0502funnyerrors lies in another participant's folder" in caplog.text
    assert len(intervals) == len(CODES)
    assert intervals["expression"].tolist() == ["micro", "micro", "macro", "micro", "micro", "micro", "micro", "macro"]
    assert intervals["video_dir"].tolist() == [f"rawpic/{video_of(r)}" for r in CODES]
    assert intervals["subject"].tolist() == ["s15", "s15", "s15", "s15", "s16", "s19", "s23", "s23"]
    assert intervals["clip"].tolist()[:2] == ["disgust1_1", "disgust1_2"]
    assert intervals["video_prefix"].tolist()[6] == "23_0502"
    assert intervals["offset"].tolist()[1] == 705
    assert intervals["action_units"].tolist()[3] == ""
    assert intervals["emotion"].tolist()[4] == "others"


def test_root_may_be_the_folder_holding_the_release(release: Path) -> None:
    table, _ = read_quietly(release.parent)
    assert table.rows["onset_path"][0] == "CAS(ME)^2/rawpic/s15/15_0101disgustingteeth/img557.jpg"


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    """conf/data/casme_sq.yaml builds the reader with data.root filled in."""
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    with pytest.warns(UserWarning, match="leaves out 1 clip labelled others"):
        assert instantiate(cfg.data.reader).rows["sample_id"].tolist() == MICRO_3CLASS_IDS


# ---------------------------------------------------------------- errors


def test_missing_workbook(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    (root / SHEET).unlink()
    with pytest.raises(MerError, match=r"no CAS\(ME\)\^2 coding sheet in .*looked for CAS\(ME\)\^2code_final\.xlsx"):
        read_casme_sq(root)


def test_clip_not_in_naming_rule2(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    write_workbook(root / SHEET, with_cell(5, 1, "sad1_1"))
    with pytest.raises(
        MerError,
        match=r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 6: clip 'sad1_1' is of video 'sad1', "
        r"which sheet 'naming rule2' does not name; add it there or fix the clip$",
    ):
        read_casme_sq(root)


def test_subject_id_not_in_naming_rule1(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    write_workbook(root / SHEET, with_cell(2, 0, 9))
    with pytest.raises(MerError, match=r"sheet CASFEcode_final row 3: subject id 9 is not in sheet 'naming rule1'"):
        read_casme_sq(root)


def test_bad_frame_cell_names_the_row(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    write_workbook(root / SHEET, with_cell(3, 2, "1O1"))
    with pytest.raises(
        MerError,
        match=r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 4: onset \(column C\) '1O1' is not a "
        r"frame number; fix the sheet$",
    ):
        read_casme_sq(root)


def test_missing_naming_sheet(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    book = openpyxl.load_workbook(root / SHEET)
    del book["naming rule2"]
    book.save(root / SHEET)
    with pytest.raises(MerError, match=r"has no sheet 'naming rule2' \(its sheets: CASFEcode_final, naming rule1\)"):
        read_casme_sq(root)


def test_missing_video_folder_error_or_drop(release: Path, tmp_path: Path) -> None:
    """A video no participant folder holds stops the read naming its prefix, or its clips drop."""
    root = copy_release(release, tmp_path)
    shutil.rmtree(root / "rawpic/s19/19_0101disgustingteeth")
    with pytest.raises(
        MerError,
        match=r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 6 \(disgust1_1 of s19\): no video folder "
        r"19_0101\* in rawpic/s19/ or another participant's folder; restore it, fix the sheet, or set "
        r"data.reader.missing_frames=drop",
    ):
        read_casme_sq(root)
    table, said = read_quietly(root, missing_frames="drop")
    assert table.rows["sample_id"].tolist() == [i for i in MICRO_3CLASS_IDS if "/s19/" not in i]
    assert any("missing onset/apex frames in 1 clip, dropped: s19/19_0101_9" in s for s in said)
