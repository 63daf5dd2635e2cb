"""CASME (I) reader on crafted releases in the real layout: two sections, their sheets, errors."""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mer.data import locate_release
from mer.data.casme1 import read_casme1
from mer.data.labels import CLASSES
from mer.data.samples import COLUMNS, file_sha256
from mer.errors import MerError

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "casme1.yaml"
HEADER = ["Subject", "Filename", None, "OnsetF", "ApexF1", "ApexF2", "OffsetF", None, "AU", "Remarks", "Emotion"]


def row(subject, clip, onset, apex1, apex2, offset, aus, emotion) -> list:
    """One sheet row in CASME's column order (two blank columns, a remarks column)."""
    return [subject, clip, None, onset, apex1, apex2, offset, None, aus, None, emotion]


#: Section A: subjects 1-7, frame numbers unpadded (`EP01_5-7.jpg`).
ROWS_A = [
    row(1, "EP01_5", 7, 9, None, 12, "4+9", "disgust"),
    row(1, "EP02_1", 5, None, 11, 15, "1+2", "surprise"),  # ApexF1 blank: ApexF2 is the apex
    row(3, "EP03_2", 40, 45, 48, 60, "12", "happiness"),  # both: ApexF1 is the apex
    row(7, "EP07_4", 3, 9, None, 14, "L14", "comtempt"),  # the sheets' spelling
]
#: Section B: subjects 8-19, frame numbers padded to 3 digits (`EP01_1-007.jpg`).
ROWS_B = [
    row(8, "EP01_1", 7, 9, None, 12, "4", "repression"),
    row(12, "EP05_3", 100, 104, None, 110, "R14", "tense"),
    row(15, "EP06_1", 50, 52, None, 58, "9", "fear"),
    row(19, "EP10_2", 21, 25, None, 33, "1+4", "sadness"),
]
ALL_IDS = [
    "casme1/sub01/EP01_5",
    "casme1/sub01/EP02_1",
    "casme1/sub03/EP03_2",
    "casme1/sub07/EP07_4",
    "casme1/sub08/EP01_1",
    "casme1/sub12/EP05_3",
    "casme1/sub15/EP06_1",
    "casme1/sub19/EP10_2",
]
IMAGE = np.full((8, 8, 3), 128, np.uint8)


def write_xlsx(path: Path, rows: list[list]) -> None:
    """A section's sheet as an .xlsx copy of the release's .xls (sheet `Sheet1`, header on row 1)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    for r, values in enumerate([HEADER, *rows], start=1):
        for c, value in enumerate(values, start=1):
            if value is not None:
                sheet.cell(row=r, column=c, value=value)
    book.save(path)


def write_csv(path: Path, rows: list[list]) -> None:
    """A section's sheet as a CSV export."""
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["" if v is None else v for v in values] for values in [HEADER, *rows]])


def write_section(folder: Path, letter: str, rows: list[list], digits: int, sheet_suffix: str = ".xlsx") -> None:
    """`Section A/`: the sheet and `sub01/<Filename>/<Filename>-<n>.jpg` frames (real JPEGs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (write_xlsx if sheet_suffix == ".xlsx" else write_csv)(folder / f"Section {letter}{sheet_suffix}", rows)
    for values in rows:
        subject, clip, onset, apex1, apex2, offset = values[0], values[1], *values[3:7]
        clip_dir = folder / f"sub{subject:02d}" / clip
        clip_dir.mkdir(parents=True)
        for number in {onset, offset, apex1 or apex2, onset + 1, (onset + offset) // 2}:
            assert cv2.imwrite(str(clip_dir / f"{clip}-{number:0{digits}d}.jpg"), IMAGE)


def make_release(top: Path, sections: str = "AB") -> Path:
    """A crafted CASME release: `CASME_A/Section A/` (.xlsx sheet) and `CASME_B/Section B/` (.csv)."""
    if "A" in sections:
        write_section(top / "CASME_A" / "Section A", "A", ROWS_A, 1)
    if "B" in sections:
        write_section(top / "CASME_B" / "Section B", "B", ROWS_B, 3, ".csv")
    return top


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_release(tmp_path_factory.mktemp("casme1") / "CASME")


def copy_release(release: Path, tmp_path: Path) -> Path:
    """A private copy of the release that a test may break."""
    return Path(shutil.copytree(release, tmp_path / "CASME"))


def test_both_sections_one_table(release: Path) -> None:
    """Both sections' clips, subjects sub01..sub19 as the sheets number them, paths per section."""
    table = read_casme1(release)
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == ALL_IDS
    assert table.classes == CLASSES["casme1"]["all"]
    assert table.subjects == ["sub01", "sub03", "sub07", "sub08", "sub12", "sub15", "sub19"]
    rows = table.rows.set_index("sample_id")
    assert rows.loc["casme1/sub01/EP01_5"].to_dict() == {
        "dataset": "casme1",
        "subject": "sub01",
        "clip": "EP01_5",
        "label": "disgust",
        "emotion": "disgust",
        "action_units": "4+9",
        "onset_frame": 7,
        "apex_frame": 9,
        "offset_frame": 12,
        "clip_dir": "CASME_A/Section A/sub01/EP01_5",
        "onset_path": "CASME_A/Section A/sub01/EP01_5/EP01_5-7.jpg",
        "apex_path": "CASME_A/Section A/sub01/EP01_5/EP01_5-9.jpg",
    }
    section_b = rows.loc["casme1/sub08/EP01_1"]
    assert section_b["onset_path"] == "CASME_B/Section B/sub08/EP01_1/EP01_1-007.jpg"
    assert section_b["apex_path"] == "CASME_B/Section B/sub08/EP01_1/EP01_1-009.jpg"
    assert rows.loc["casme1/sub01/EP02_1", "apex_frame"] == 11  # ApexF2 where ApexF1 is blank
    assert rows.loc["casme1/sub03/EP03_2", "apex_frame"] == 45  # ApexF1 wins over ApexF2
    assert rows.loc["casme1/sub07/EP07_4", ["label", "emotion"]].tolist() == ["contempt", "contempt"]
    assert rows["action_units"].tolist() == ["4+9", "1+2", "12", "L14", "4", "R14", "9", "1+4"]
    assert rows["label"].tolist() == [
        "disgust", "surprise", "happiness", "contempt", "repression", "tense", "fear", "sadness",
    ]  # fmt: skip


def test_provenance_keeps_both_sheets(release: Path) -> None:
    """Each section's sheet and its sha256 go into the provenance (and so the cache key)."""
    sections = read_casme1(release).provenance["sections"]
    assert sections["A"]["sheet"] == "CASME_A/Section A/Section A.xlsx"
    assert sections["B"]["sheet"] == "CASME_B/Section B/Section B.csv"
    assert sections["A"]["sheet_sha256"] == file_sha256(release / "CASME_A/Section A/Section A.xlsx")
    assert sections["B"]["sheet_sha256"] == file_sha256(release / "CASME_B/Section B/Section B.csv")


@pytest.mark.parametrize("kept", ["A", "B"])
def test_one_section_alone_is_read_and_said(tmp_path: Path, kept: str, caplog: pytest.LogCaptureFixture) -> None:
    """A root holding one section reads it and says (info) the other is not there."""
    root = make_release(tmp_path / "CASME", kept)
    with caplog.at_level(logging.INFO, logger="mer.data.casme1"):
        table = read_casme1(root)
    assert table.rows["sample_id"].tolist() == (ALL_IDS[:4] if kept == "A" else ALL_IDS[4:])
    missing = "B" if kept == "A" else "A"
    assert f"CASME_{missing}/Section {missing}/ is not in {root}: reading the other section only" in caplog.text


def test_root_may_be_the_folder_holding_the_release(release: Path) -> None:
    """data.root one folder above the release: paths keep the release's folder."""
    table = read_casme1(release.parent)
    assert table.rows["onset_path"][0] == "CASME/CASME_A/Section A/sub01/EP01_5/EP01_5-7.jpg"


def test_sheet_beside_the_section_folder(release: Path, tmp_path: Path) -> None:
    """A sheet in CASME_A/ instead of CASME_A/Section A/ is found too."""
    root = copy_release(release, tmp_path)
    shutil.move(root / "CASME_A/Section A/Section A.xlsx", root / "CASME_A/Section A.xlsx")
    table = read_casme1(root)
    assert table.provenance["sections"]["A"]["sheet"] == "CASME_A/Section A.xlsx"
    assert len(table) == len(ALL_IDS)


def test_composite3_drops_repression_and_tense(release: Path) -> None:
    """composite3: happiness positive; disgust, sadness, fear, contempt negative; two dropped."""
    table = read_casme1(release, label_set="composite3")
    assert table.classes == ("negative", "positive", "surprise")
    assert table.counts()["label"] == {"negative": 4, "positive": 1, "surprise": 1}
    assert "casme1/sub08/EP01_1" not in set(table.rows["sample_id"])  # repression
    assert "casme1/sub12/EP05_3" not in set(table.rows["sample_id"])  # tense


def test_locate_release_finds_both_sections(release: Path) -> None:
    """What preflight calls: the sections found from the folders alone."""
    sections = locate_release({"_target_": "mer.data.casme1.read_casme1", "root": str(release)})
    assert {letter: r.sheet_rel for letter, r in sections.items()} == {
        "A": "CASME_A/Section A/Section A.xlsx",
        "B": "CASME_B/Section B/Section B.csv",
    }


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    """conf/data/casme1.yaml builds the reader with data.root filled in."""
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert instantiate(cfg.data.reader).rows["sample_id"].tolist() == ALL_IDS


# ---------------------------------------------------------------- errors


def test_a_subject_in_both_sections(tmp_path: Path) -> None:
    """Subject ids must differ between the sections: both rows are named."""
    root = make_release(tmp_path / "CASME", "A")
    rows_b = [list(r) for r in ROWS_B]
    rows_b[1][0] = 3  # sub03 is Section A's
    write_section(root / "CASME_B" / "Section B", "B", rows_b, 3, ".csv")
    with pytest.raises(
        MerError,
        match=r"CASME_B/Section B/Section B\.csv row 3 names subject sub03, as "
        r"CASME_A/Section A/Section A\.xlsx row 4 does: subjects must differ between the sections",
    ):
        read_casme1(root)


def test_missing_sheet_names_the_section(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    (root / "CASME_B/Section B/Section B.csv").unlink()
    with pytest.raises(
        MerError,
        match=r"no CASME Section B coding sheet in CASME_B/Section B/ or CASME_B/: looked for "
        r"Section B\.xls, Section B\.xlsx, Section B\.csv; restore it",
    ):
        read_casme1(root)


def test_bad_frame_cell_names_sheet_row_and_column(release: Path, tmp_path: Path) -> None:
    root = copy_release(release, tmp_path)
    rows_b = [list(r) for r in ROWS_B]
    rows_b[2][3] = "5O"  # OnsetF of the sheet's row 4
    write_csv(root / "CASME_B/Section B/Section B.csv", rows_b)
    with pytest.raises(
        MerError, match=r"^CASME_B/Section B/Section B\.csv row 4: OnsetF '5O' is not a frame number; fix the sheet$"
    ):
        read_casme1(root)


def test_no_section_folder(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub01").mkdir(parents=True)
    with pytest.raises(MerError, match=r"no CASME section in .*looked for CASME_A/Section A/ and CASME_B/Section B/"):
        read_casme1(tmp_path / "empty")


def test_missing_apex_frame_error_or_drop(release: Path, tmp_path: Path) -> None:
    """A missing Section B apex file is named with its padding, or its clip dropped with a warning."""
    root = copy_release(release, tmp_path)
    (root / "CASME_B/Section B/sub08/EP01_1/EP01_1-009.jpg").unlink()
    with pytest.raises(
        MerError,
        match=r"Section B\.csv row 2 \(sub08/EP01_1\): apex frame .*sub08/EP01_1/EP01_1-009\.jpg does not exist",
    ):
        read_casme1(root)
    with pytest.warns(UserWarning, match=r"missing onset/apex frames in 1 clip, dropped: sub08/EP01_1"):
        table = read_casme1(root, missing_frames="drop")
    assert table.rows["sample_id"].tolist() == [i for i in ALL_IDS if i != "casme1/sub08/EP01_1"]
