"""CASME II reader and coding-sheet parsing on crafted releases: every quirk and every error."""

from __future__ import annotations

import csv
import logging
import re
import shutil
import struct
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

from mer.data import casme2 as casme2_module
from mer.data.casme2 import find_release, list_frames, read_casme2
from mer.data.labels import CLASSES
from mer.data.samples import COLUMNS, file_sha256
from mer.data.sheet import cell_frame, cell_text, read_sheet
from mer.errors import MerError

CONFIG = Path(__file__).resolve().parents[1] / "conf" / "data" / "casme2.yaml"
SHEET = "CASME2-coding-20140508.xlsx"
RAW = "CASME2_RAW_selected"

# The 20140508 sheet's header row, two blank header cells included.
HEADER = [
    "Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
    "Action Units", "Estimated Emotion",
]  # fmt: skip


def row(subject, clip, onset, apex, offset, aus, emotion) -> list:
    """One sheet row in the 20140508 column order (blank cells in columns 3 and 7)."""
    return [subject, clip, None, onset, apex, offset, None, aus, emotion]


# Irregular file names (verbatim), int and text action units, every label incl. fear/sadness.
ROWS = [
    row(1, "EP02_01f", 46, 59, 86, "4+7+L10", "happiness"),
    row(1, "EP03_02", 10, 20, 30, 4, "others"),
    row(2, "EP01_2", 5, 9, 15, "12", "surprise"),
    row(2, "EP04_01", 1, 2, 3, "R14", "others"),
    row(3, "EP09f", 100, 110, 120, "1+2", "disgust"),
    row(3, "EP06_02_01", 7, 8, 9, "14", "repression"),
    row(4, "EP18_03", 3, 6, 9, 4, "fear"),
    row(4, "EP19_01", 2, 4, 6, "4", "sadness"),
]
FIVE_CLASS_IDS = [
    "casme2/sub01/EP02_01f",
    "casme2/sub01/EP03_02",
    "casme2/sub02/EP01_2",
    "casme2/sub02/EP04_01",
    "casme2/sub03/EP06_02_01",
    "casme2/sub03/EP09f",
]
KNOWN = "disgust, fear, happiness, others, repression, sadness, surprise"

_ok, _buf = cv2.imencode(".jpg", np.full((8, 8), 128, np.uint8))
JPEG = _buf.tobytes()  # a tiny real JPEG, written as every frame file


# ---------------------------------------------------------------- building crafted releases


def subject_folder(subject) -> str:
    """Folder name the release uses for a sheet `Subject` cell."""
    text = str(subject)
    return text if text.startswith("sub") else f"sub{int(float(text)):02d}"


def write_frames(folder: Path, prefix: str, numbers) -> None:
    """Real JPEG files `{prefix}N.jpg` in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"{prefix}{n}.jpg").write_bytes(JPEG)


def frame_numbers(r: list) -> set[int]:
    """The frames a sheet row needs: onset, apex (when numeric), offset and the midpoint."""
    onset, apex, offset = r[3], r[4], r[5]
    numbers = {onset, offset, (onset + offset) // 2}
    if isinstance(apex, int):
        numbers.add(apex)
    return numbers


def write_xlsx(path: Path, rows: list[list], notes: int = 0) -> None:
    """An .xlsx with `notes` note rows (and a blank row) above the header, like SAMM's sheet."""
    wb = openpyxl.Workbook()
    ws = wb.active
    lines = [[f"note {i}: CASME II coding"] for i in range(notes)] + ([[]] if notes else [])
    for r, values in enumerate(lines + rows, start=1):
        for c, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    wb.save(path)


def write_csv(path: Path, rows: list[list]) -> None:
    """A CSV export of the sheet: blank cells are empty fields."""
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([["" if v is None else v for v in r] for r in rows])


def _record(code: int, payload: bytes = b"") -> bytes:
    """One BIFF record."""
    return struct.pack("<HH", code, len(payload)) + payload


def _biff8(rows: list[list]) -> bytes:
    """A BIFF8 Workbook stream with one sheet: numbers as NUMBER, text as LABEL, None left empty."""

    def bof(kind: int) -> bytes:
        return _record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    xf = _record(0x00E0, struct.pack("<HHHBBBBIiH", 0, 0, 1, 0x20, 0, 0, 0, 0, 0, 0x20C0))
    head = bof(0x0005) + _record(0x0042, struct.pack("<H", 1200)) + xf * 16

    def boundsheet(offset: int) -> bytes:
        return _record(0x0085, struct.pack("<IBBBB", offset, 0, 0, 6, 0) + b"Sheet1")

    cells = b""
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if isinstance(value, (int, float)):
                cells += _record(0x0203, struct.pack("<HHHd", r, c, 15, float(value)))
            elif value is not None:
                text = str(value).encode("latin-1")
                cells += _record(0x0204, struct.pack("<HHHHB", r, c, 15, len(text), 0) + text)
    sheet_at = len(head) + len(boundsheet(0)) + len(_record(0x000A))
    return head + boundsheet(sheet_at) + _record(0x000A) + bof(0x0010) + cells + _record(0x000A)


def write_xls(path: Path, rows: list[list]) -> None:
    """A real BIFF8 .xls (OLE2 compound file), hand-built: no installed package writes .xls."""
    stream = _biff8(rows)
    stream += b"\0" * (-len(stream) % 512)
    stream += b"\0" * max(0, 4096 - len(stream))  # >= 4096 bytes: no mini stream needed
    n = len(stream) // 512
    end, free, fatsect, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    fat = [fatsect] + [i + 2 for i in range(n - 1)] + [end, end]
    fat += [free] * (128 - len(fat))
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("D0CF11E0A1B11AE1"), b"\0" * 16,
        0x3E, 3, 0xFFFE, 9, 6, b"\0" * 6, 0, 1, n + 1, 0, 4096, end, 0, end, 0,
    )  # fmt: skip
    header += struct.pack("<109I", 0, *([free] * 108))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        return struct.pack(
            "<64sHBBIII16sIQQII", raw.ljust(64, b"\0"), len(raw), kind, 1 if name else 0,
            nostream, nostream, child, b"\0" * 16, 0, 0, 0, start, size,
        ) + b"\0" * 4  # fmt: skip

    directory = entry("Root Entry", 5, 1, end, 0) + entry("Workbook", 2, nostream, 1, len(stream))
    directory += entry("", 0, nostream, 0, 0) * 2
    path.write_bytes(header + struct.pack("<128I", *fat) + stream + directory)


def write_sheet(path: Path, rows: list[list], notes: int = 0) -> Path:
    """The coding sheet (header + rows) in the format its suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = [HEADER] + rows
    if path.suffix == ".xlsx":
        write_xlsx(path, table, notes)
    elif path.suffix == ".xls":
        write_xls(path, table)
    else:
        write_csv(path, table)
    return path


def make_release(
    root: Path,
    rows: list[list] = ROWS,
    frames: str = RAW,
    sheet: str | None = SHEET,
    frame_rows: list[list] | None = None,
    notes: int = 0,
) -> Path:
    """A crafted CASME II release: coding sheet plus frames for `frame_rows` (default: `rows`)."""
    prefix = "img" if "RAW" in frames else "reg_img"
    for r in rows if frame_rows is None else frame_rows:
        write_frames(root / frames / subject_folder(r[0]) / r[1], prefix, frame_numbers(r))
    if sheet is not None:
        write_sheet(root / sheet, rows, notes)
    return root


def replaced(index: int, **cells) -> list[list]:
    """ROWS with cells of one row replaced (subject, clip, onset, apex, offset, aus, emotion)."""
    return replaced_cells(
        ROWS, index, {"subject": 0, "clip": 1, "onset": 3, "apex": 4, "offset": 5, "aus": 7, "emotion": 8}, **cells
    )


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """The default crafted release: raw frames and the 20140508 .xlsx in the root."""
    return make_release(tmp_path / "CASME2")


# ---------------------------------------------------------------- output table


def test_output_columns_ids_paths_and_provenance(release: Path) -> None:
    table = read_casme2(release)
    assert list(table.rows.columns) == list(COLUMNS)
    assert table.rows["sample_id"].tolist() == FIVE_CLASS_IDS
    assert table.dataset == "casme2" and table.root == release.resolve()
    assert table.classes == CLASSES["casme2"]["5class"]
    first = table.rows.iloc[0].to_dict()
    assert first == {
        "sample_id": "casme2/sub01/EP02_01f",
        "dataset": "casme2",
        "subject": "sub01",
        "clip": "EP02_01f",
        "label": "happiness",
        "emotion": "happiness",
        "action_units": "4+7+L10",
        "onset_frame": 46,
        "apex_frame": 59,
        "offset_frame": 86,
        "clip_dir": f"{RAW}/sub01/EP02_01f",
        "onset_path": f"{RAW}/sub01/EP02_01f/img46.jpg",
        "apex_path": f"{RAW}/sub01/EP02_01f/img59.jpg",
    }
    for column in ("onset_frame", "apex_frame", "offset_frame"):
        assert pd.api.types.is_integer_dtype(table.rows[column])
    for path in table.rows["onset_path"].tolist() + table.rows["apex_path"].tolist():
        assert table.path(path).is_file()
    prov = table.provenance
    assert prov["reader"] == "casme2" and prov["sheet"] == SHEET
    assert prov["sheet_sha256"] == file_sha256(release / SHEET)
    assert prov["layout"] == RAW
    assert (prov["apex_policy"], prov["missing_frames"], prov["label_set"]) == (
        "midpoint",
        "error",
        "5class",
    )
    assert prov["apex_fixed"] == []
    assert prov["dropped"] == [
        {"sample_id": "casme2/sub04/EP18_03", "reason": "label 'fear' not in 5class"},
        {"sample_id": "casme2/sub04/EP19_01", "reason": "label 'sadness' not in 5class"},
    ]


def test_irregular_filenames_verbatim_and_action_units_as_text(release: Path) -> None:
    rows = read_casme2(release, label_set="all").rows.set_index("clip")
    assert {"EP02_01f", "EP03_02", "EP01_2", "EP09f", "EP06_02_01"} <= set(rows.index)
    assert rows.loc["EP02_01f", "action_units"] == "4+7+L10"
    assert rows.loc["EP03_02", "action_units"] == "4"  # an int cell
    assert rows.loc["EP18_03", "action_units"] == "4"
    assert rows.loc["EP04_01", "action_units"] == "R14"


def test_labels_lower_cased_and_stripped(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(0, emotion="  Happiness "))
    rows = read_casme2(root).rows
    assert rows.loc[rows["clip"] == "EP02_01f", ["label", "emotion"]].values.tolist() == [["happiness", "happiness"]]


@pytest.mark.parametrize("subject", ["sub01", "1", 1.0])
def test_subject_as_text_or_number(tmp_path: Path, subject) -> None:
    root = make_release(tmp_path, replaced(0, subject=subject), frame_rows=ROWS)
    assert "casme2/sub01/EP02_01f" in read_casme2(root).rows["sample_id"].tolist()


def test_hydra_config_instantiates_the_reader(release: Path) -> None:
    cfg = OmegaConf.create({"data": OmegaConf.load(CONFIG)})
    cfg.data.root = str(release)
    assert cfg.data.name == "casme2"
    table = instantiate(cfg.data.reader)
    assert table.rows["sample_id"].tolist() == FIVE_CLASS_IDS


# ---------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    "folder, prefix, kind",
    [
        ("CASME2_RAW_selected", "img", "raw"),
        ("CASME2-RAW", "img", "raw"),
        ("Cropped", "reg_img", "cropped"),
        ("Cropped_original", "reg_img", "cropped"),
        ("Cropped-updated/Cropped", "reg_img", "cropped"),
    ],
)
def test_layouts_auto_and_forced(tmp_path: Path, caplog, folder, prefix, kind) -> None:
    root = make_release(tmp_path, frames=folder)
    for layout in ("auto", kind):
        with caplog.at_level(logging.INFO, logger="mer.data.casme2"):
            table = read_casme2(root, layout=layout)
        assert table.provenance["layout"] == folder
        assert table.provenance["layout_kind"] == kind
        assert table.rows["onset_path"].iloc[0] == f"{folder}/sub01/EP02_01f/{prefix}46.jpg"
        assert folder in caplog.text
    other = "cropped" if kind == "raw" else "raw"
    with pytest.raises(MerError, match=rf"no CASME II frames folder.*layout={other}"):
        read_casme2(root, layout=other)


def test_auto_prefers_raw_forced_cropped_and_frames_dir_override(tmp_path: Path, caplog) -> None:
    root = make_release(tmp_path, frames=RAW)
    make_release(root, frames="Cropped", sheet=None)
    make_release(root, frames="frames/mine", sheet=None)  # "RAW" not in name: reg_img frames
    with caplog.at_level(logging.INFO, logger="mer.data.casme2"):
        assert read_casme2(root).provenance["layout"] == RAW
    assert "chose raw frames in CASME2_RAW_selected" in caplog.text
    cropped = read_casme2(root, layout="cropped")
    assert cropped.provenance["layout"] == "Cropped"
    assert cropped.rows["apex_path"].iloc[0] == "Cropped/sub01/EP02_01f/reg_img59.jpg"
    mine = read_casme2(root, frames_dir="frames/mine")  # auto: kind guessed from the files
    assert mine.provenance["layout"] == "frames/mine"
    assert mine.rows["onset_path"].iloc[0] == "frames/mine/sub01/EP02_01f/reg_img46.jpg"
    absolute = read_casme2(root, frames_dir=str(root / "Cropped"))
    assert absolute.provenance["layout"] == "Cropped"
    with pytest.raises(MerError, match=r"no frames \(imgN\.jpg\) in .*mine.*data\.reader\.layout"):
        read_casme2(root, frames_dir="frames/mine", layout="raw")


def test_frames_dir_that_does_not_exist(release: Path) -> None:
    with pytest.raises(MerError, match=r"frames folder .*nope \(data\.reader\.frames_dir\) does"):
        read_casme2(release, frames_dir="nope")


def test_no_frames_folder(tmp_path: Path) -> None:
    root = make_release(tmp_path, frames="elsewhere")
    pattern = (
        r"no CASME II frames folder in .*looked for CASME2_RAW_selected/ \(imgN\.jpg\), "
        r"CASME2-RAW/ \(imgN\.jpg\), Cropped/ \(reg_imgN\.jpg\), Cropped_original/ "
        r"\(reg_imgN\.jpg\), Cropped-updated/Cropped/ \(reg_imgN\.jpg\).*data\.reader\.frames_dir"
    )
    with pytest.raises(MerError, match=pattern):
        read_casme2(root)


def test_no_frames(tmp_path: Path) -> None:
    root = make_release(tmp_path)
    for jpg in (root / RAW).rglob("*.jpg"):
        jpg.rename(jpg.with_name("frame_" + jpg.name))  # not imgN.jpg
    with pytest.raises(MerError, match=r"no frames \(imgN\.jpg\) in .*CASME2_RAW_selected"):
        read_casme2(root)
    shutil.rmtree(root / RAW)
    (root / RAW).mkdir()  # an empty frames folder
    with pytest.raises(MerError, match=r"no frames \(imgN\.jpg\).*sub01/EP02_01f"):
        read_casme2(root)


def test_frames_sorted_by_number_not_string(tmp_path: Path) -> None:
    clip = tmp_path / RAW / "sub01" / "EP02_01f"
    write_frames(clip, "img", [8, 9, 10, 99, 100, 101])
    (clip / "notes.txt").write_text("not a frame")
    (clip / "reg_img5.jpg").write_bytes(JPEG)
    assert [n for n, _ in list_frames(clip, "img")] == [8, 9, 10, 99, 100, 101]
    assert [name for _, name in list_frames(clip, "img")][3:5] == ["img99.jpg", "img100.jpg"]
    assert list_frames(clip, "reg_img") == [(5, "reg_img5.jpg")]
    write_sheet(tmp_path / SHEET, [row(1, "EP02_01f", 99, 100, 101, "4", "others")])
    table = read_casme2(tmp_path)
    assert table.rows["onset_path"].iloc[0].endswith("/img99.jpg")
    assert table.rows["apex_path"].iloc[0].endswith("/img100.jpg")


# ---------------------------------------------------------------- sheets


@pytest.mark.parametrize(
    "sheet",
    [
        "CASME2-coding-20140508.xlsx",
        "CASME2-coding-20190701.xlsx",
        "CASME2_label_Ver_2.xls",
        "CASME2-coding-20140508.csv",
        "Casme2_export.csv",
        "docs/CASME2-coding-20140508.xlsx",  # one level down
        "docs/CASME2_label_Ver_2.xls",
    ],
)
def test_sheet_formats_and_places(tmp_path: Path, release: Path, sheet: str) -> None:
    reference = read_casme2(release).rows
    root = make_release(tmp_path / "other", sheet=sheet)
    table = read_casme2(root)
    assert table.provenance["sheet"] == sheet
    pd.testing.assert_frame_equal(table.rows, reference)


def test_xls_sheet_is_a_real_biff8_file(tmp_path: Path) -> None:
    import xlrd

    path = write_sheet(tmp_path / "CASME2_label_Ver_2.xls", ROWS)
    book = xlrd.open_workbook(str(path))
    assert book.biff_version == 80
    assert book.sheet_by_index(0).row_values(0)[:2] == ["Subject", "Filename"]


def test_header_found_below_note_rows_and_blank_rows_dropped(tmp_path: Path) -> None:
    rows = ROWS[:2] + [[None] * 9] + ROWS[2:]  # a blank row in the middle
    root = make_release(tmp_path, rows, frame_rows=ROWS, notes=3)
    assert read_casme2(root, label_set="all").rows["sample_id"].size == len(ROWS)
    sheet = read_sheet(root / SHEET, casme2_module.SHEET_COLUMNS)
    # 3 notes + 1 blank row, header on row 5, data from row 6, blank row 8 dropped
    assert sheet["_row"].tolist() == [6, 7, 9, 10, 11, 12, 13, 14]
    assert list(sheet.columns) == ["_row", *casme2_module.SHEET_COLUMNS]
    bad = ROWS[:2] + [[None] * 9] + [replaced(2, emotion="angry")[2]] + ROWS[3:]
    make_release(root, bad, frame_rows=ROWS, notes=3)
    with pytest.raises(MerError, match=rf"{re.escape(SHEET)} row 9 "):
        read_casme2(root)


def test_read_sheet_spellings_blank_columns_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "Subject,File Name,,Onset Frame,apex_frame,Offset,Unnamed: 6,ACTION UNITS,Emotion,Notes\n"
        "1,EP02_01f,,46,/,86,,4+7+L10,happiness,first\n"
        ",,,,,,,,,\n"
        "2,EP09f,,3,4,5,,4,others,\n"
    )
    sheet = read_sheet(path, casme2_module.SHEET_COLUMNS)
    assert list(sheet.columns) == ["_row", *casme2_module.SHEET_COLUMNS, "Notes"]
    assert sheet["_row"].tolist() == [2, 4]
    assert sheet["apex"].tolist() == ["/", "4"]


def test_read_sheet_without_header(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(MerError, match=r"s\.csv has no header row .*onset \(OnsetFrame / Onset"):
        read_sheet(path, casme2_module.SHEET_COLUMNS)
    path.write_text("Subject,Filename,OnsetFrame,OffsetFrame,Action Units,Estimated Emotion\n")
    with pytest.raises(MerError, match=r"s\.csv row 1 looks like the header .*lacks columns: apex"):
        read_sheet(path, casme2_module.SHEET_COLUMNS)


@pytest.mark.parametrize("name", ["bad.xlsx", "bad.xls", "bad.txt"])
def test_read_sheet_unreadable(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00garbage, not a spreadsheet\xff" * 10)
    with pytest.raises(MerError, match=rf"cannot read coding sheet .*{re.escape(name)}"):
        read_sheet(path, casme2_module.SHEET_COLUMNS)


def test_unreadable_sheet_through_the_reader(tmp_path: Path) -> None:
    root = make_release(tmp_path, sheet=None)
    (root / SHEET).write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(MerError, match=rf"cannot read coding sheet .*{re.escape(SHEET)}"):
        read_casme2(root)


@pytest.mark.parametrize(
    "value, text, frame",
    [
        (4, "4", 4),
        (4.0, "4", 4),
        (np.int64(7), "7", 7),
        (float("nan"), "", None),
        (None, "", None),
        ("  4+7+L10 ", "4+7+L10", None),
        ("/", "/", None),
        (" 46 ", "46", 46),
        ("46.0", "46.0", 46),
        (46.5, "46.5", None),
        ("", "", None),
    ],
)
def test_cell_text_and_cell_frame(value, text, frame) -> None:
    assert cell_text(value) == text
    assert cell_frame(value) == frame


def test_no_sheet(tmp_path: Path) -> None:
    root = make_release(tmp_path, sheet=None)
    (root / "notes.csv").write_text("x\n")  # a CSV not named like a sheet
    (root / f"~${SHEET}").write_bytes(b"lock")  # Excel's lock file
    pattern = (
        r"no CASME II coding sheet in .* looked for CASME2-coding-20140508\.xlsx, "
        r"CASME2-coding-20190701\.xlsx, CASME2_label_Ver_2\.xls or a \*\.csv whose name contains "
        r"'coding' or 'casme'.*data\.reader\.sheet=PATH"
    )
    with pytest.raises(MerError, match=pattern):
        read_casme2(root)


def test_several_sheets_and_choosing_one(tmp_path: Path) -> None:
    root = make_release(tmp_path)
    write_sheet(root / "old" / "CASME2_label_Ver_2.xls", ROWS)
    pattern = (
        r"several CASME II coding sheets .*: CASME2-coding-20140508\.xlsx, "
        r"old/CASME2_label_Ver_2\.xls; choose one with data\.reader\.sheet=PATH"
    )
    with pytest.raises(MerError, match=pattern):
        read_casme2(root)
    assert read_casme2(root, sheet="old/CASME2_label_Ver_2.xls").provenance["sheet"] == ("old/CASME2_label_Ver_2.xls")
    assert read_casme2(root, sheet=str(root / SHEET)).provenance["sheet"] == SHEET
    with pytest.raises(MerError, match=r"coding sheet .*missing\.xlsx \(data\.reader\.sheet\)"):
        read_casme2(root, sheet="missing.xlsx")


def test_root_that_does_not_exist(tmp_path: Path) -> None:
    pattern = r"CASME II root .*nowhere does not exist .*data\.root.*CASME2_RAW_selected"
    with pytest.raises(MerError, match=pattern):
        read_casme2(tmp_path / "nowhere")


# ---------------------------------------------------------------- sheet values


@pytest.mark.parametrize(
    "options, pattern",
    [
        ({"apex_policy": "mid"}, r"data\.reader\.apex_policy='mid': choose one of midpoint, drop"),
        ({"missing_frames": "skip"}, r"data\.reader\.missing_frames='skip': .*error, drop"),
        ({"layout": "crop"}, r"data\.reader\.layout='crop': choose one of auto, raw, cropped"),
        ({"label_set": "6class"}, r"data\.reader\.label_set='6class': .*5class, all, composite3"),
    ],
)
def test_unknown_option_values(release: Path, options: dict, pattern: str) -> None:
    with pytest.raises(MerError, match=pattern):
        read_casme2(release, **options)


def test_apex_slash_and_outside_range_midpoint(tmp_path: Path) -> None:
    rows = replaced(0, apex="/")
    rows[4][4] = 130  # EP09f: apex after offset 120
    root = make_release(tmp_path, rows)
    with pytest.warns(UserWarning) as record:
        table = read_casme2(root)
    apex_warnings = [str(w.message) for w in record if "apex" in str(w.message)]
    assert apex_warnings == [
        "apex '/' or outside [onset, offset] in 2 clips, used midpoint (onset+offset)//2: sub01/EP02_01f, sub03/EP09f"
    ]
    fixed = table.rows.set_index("clip")
    assert fixed.loc["EP02_01f", "apex_frame"] == (46 + 86) // 2
    assert fixed.loc["EP02_01f", "apex_path"] == f"{RAW}/sub01/EP02_01f/img66.jpg"
    assert fixed.loc["EP09f", "apex_frame"] == 110
    assert table.provenance["apex_fixed"] == ["casme2/sub01/EP02_01f", "casme2/sub03/EP09f"]


def test_apex_drop(tmp_path: Path) -> None:
    rows = replaced(0, apex="/")
    rows[4][4] = 99  # EP09f: apex before onset 100
    root = make_release(tmp_path, rows)
    match = r"apex '/' or outside \[onset, offset\] in 2 clips, dropped: sub01/EP02_01f, sub03"
    with pytest.warns(UserWarning, match=match):
        table = read_casme2(root, apex_policy="drop")
    assert set(table.rows["sample_id"]) == set(FIVE_CLASS_IDS) - {
        "casme2/sub01/EP02_01f",
        "casme2/sub03/EP09f",
    }
    assert {"sample_id": "casme2/sub01/EP02_01f", "reason": "apex '/' not in [46, 86]"} in (table.provenance["dropped"])
    assert table.provenance["apex_fixed"] == []


@pytest.mark.parametrize("apex, shown", [("/", "'/'"), (200, "'200'")])
def test_apex_error(tmp_path: Path, apex, shown: str) -> None:
    root = make_release(tmp_path, replaced(0, apex=apex))
    pattern = (
        rf"{re.escape(SHEET)} row 2 \(sub01/EP02_01f\): ApexFrame {shown} is not a frame in "
        r"\[onset 46, offset 86\]; .*data\.reader\.apex_policy=midpoint or drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_casme2(root, apex_policy="error")


def test_apex_of_a_dropped_label_is_not_checked(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(6, apex="/"))  # EP18_03 is fear
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_casme2(root, apex_policy="error")) == len(FIVE_CLASS_IDS)


@pytest.mark.parametrize("clip", ["../sub02/EP01_2", "..", "/etc", "EP02_01f/../../x", "a\\b", "C:evil"])
def test_path_traversal_in_filename(tmp_path: Path, clip: str) -> None:
    root = make_release(tmp_path, replaced(2, clip=clip), frame_rows=ROWS)
    pattern = rf"{re.escape(SHEET)} row 4: Filename .* is not a plain folder name"
    with pytest.raises(MerError, match=pattern):
        read_casme2(root)


@pytest.mark.parametrize("subject", ["../sub01", "sub01/..", "x", ""])
def test_bad_subject(tmp_path: Path, subject: str) -> None:
    root = make_release(tmp_path, replaced(0, subject=subject), frame_rows=ROWS)
    with pytest.raises(MerError, match=rf"{re.escape(SHEET)} row 2: Subject .* not a subject"):
        read_casme2(root)


@pytest.mark.parametrize("key", ["frames_dir", "sheet"])
def test_overrides_outside_the_root(tmp_path: Path, key: str) -> None:
    root = make_release(tmp_path / "CASME2")
    outside = make_release(tmp_path / "other")
    for value in ("../other/" + (RAW if key == "frames_dir" else SHEET), str(outside / SHEET)):
        with pytest.raises(MerError, match=rf"data\.reader\.{key}=.* leads outside the root"):
            read_casme2(root, **{key: value})


def test_frame_cells_must_be_numbers(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(1, onset="abc"), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 3: OnsetFrame 'abc' is not a frame number"):
        read_casme2(root)
    make_release(root, replaced(1, offset="/"), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 3: OffsetFrame '/' is not a frame number"):
        read_casme2(root)
    make_release(root, replaced(1, onset=40), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 3 \(sub01/EP03_02\): OnsetFrame 40 is after Offset"):
        read_casme2(root)


def test_empty_filename_and_duplicate_rows(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(1, clip=None), frame_rows=ROWS)
    with pytest.raises(MerError, match=r"row 3: Filename is empty"):
        read_casme2(root)
    make_release(root, ROWS + [ROWS[0]])
    with pytest.raises(MerError, match=r"rows 2 and 10 both name sub01/EP02_01f"):
        read_casme2(root)


def test_unknown_label(tmp_path: Path) -> None:
    root = make_release(tmp_path, replaced(1, emotion="angry"))
    pattern = rf"{re.escape(SHEET)} row 3 \(sub01/EP03_02\): unknown emotion 'angry'; .*{KNOWN}"
    with pytest.raises(MerError, match=pattern):
        read_casme2(root)


@pytest.mark.parametrize(
    "label_set, counts",
    [
        ("5class", {"happiness": 1, "disgust": 1, "repression": 1, "surprise": 1, "others": 2}),
        (
            "all",
            {
                "happiness": 1,
                "disgust": 1,
                "repression": 1,
                "surprise": 1,
                "others": 2,
                "fear": 1,
                "sadness": 1,
            },
        ),
        ("composite3", {"negative": 2, "positive": 1, "surprise": 1}),
    ],
)
def test_label_sets(release: Path, caplog, label_set: str, counts: dict) -> None:
    with caplog.at_level(logging.INFO, logger="mer.data.casme2"):
        table = read_casme2(release, label_set=label_set)
    assert table.classes == CLASSES["casme2"][label_set]
    assert table.counts()["label"] == counts
    assert len(table) == sum(counts.values())
    assert table.provenance["label_set"] == label_set
    dropped = len(ROWS) - len(table)
    assert len(table.provenance["dropped"]) == dropped
    if label_set == "5class":
        assert "label set 5class drops 2 clips (fear 1, sadness 1)" in caplog.text
    if label_set == "composite3":
        assert "drops 4 clips (fear 1, others 2, sadness 1)" in caplog.text


# ---------------------------------------------------------------- frames on disk


def test_missing_onset_file_is_an_error(release: Path) -> None:
    onset = release.resolve() / RAW / "sub01" / "EP02_01f" / "img46.jpg"
    onset.unlink()
    pattern = (
        rf"{re.escape(SHEET)} row 2 \(sub01/EP02_01f\): onset frame {re.escape(str(onset))} "
        r"does not exist; .*data\.reader\.missing_frames=drop"
    )
    with pytest.raises(MerError, match=pattern):
        read_casme2(release)


def test_missing_clip_folder_is_an_error(release: Path) -> None:
    folder = release.resolve() / RAW / "sub02" / "EP01_2"
    shutil.rmtree(folder)
    pattern = rf"row 4 \(sub02/EP01_2\): clip folder {re.escape(str(folder))} does not exist"
    with pytest.raises(MerError, match=pattern):
        read_casme2(release)


def test_missing_frames_drop(release: Path) -> None:
    (release / RAW / "sub01" / "EP02_01f" / "img46.jpg").unlink()  # onset
    (release / RAW / "sub03" / "EP09f" / "img110.jpg").unlink()  # apex
    shutil.rmtree(release / RAW / "sub02" / "EP01_2")  # the whole clip folder
    match = (
        r"missing onset/apex frames in 3 clips, dropped: sub01/EP02_01f \(onset frame .*img46\.jpg "
        r"does not exist\), sub02/EP01_2 \(clip folder .* does not exist\), sub03/EP09f \(apex "
        r"frame .*img110\.jpg does not exist\)"
    )
    with pytest.warns(UserWarning, match=match) as record:
        table = read_casme2(release, missing_frames="drop")
    assert len([w for w in record if "missing" in str(w.message)]) == 1
    gone = {"casme2/sub01/EP02_01f", "casme2/sub02/EP01_2", "casme2/sub03/EP09f"}
    assert set(table.rows["sample_id"]) == set(FIVE_CLASS_IDS) - gone
    assert gone <= {d["sample_id"] for d in table.provenance["dropped"]}
    assert table.provenance["missing_frames"] == "drop"


def test_folders_without_sheet_row_are_logged(release: Path, caplog) -> None:
    write_frames(release / RAW / "sub05" / "EP99_99", "img", [1, 2])
    with caplog.at_level(logging.INFO, logger="mer.data.casme2"):
        read_casme2(release)
    assert "CASME II: ignored 1 clip folder with no sheet row: sub05/EP99_99" in caplog.messages
    caplog.clear()
    write_frames(release / RAW / "sub01" / "EP07_01", "img", [1, 2])
    with caplog.at_level(logging.INFO, logger="mer.data.casme2"):
        table = read_casme2(release)
    assert table.rows["sample_id"].tolist() == FIVE_CLASS_IDS
    assert "CASME II: ignored 2 clip folders with no sheet row: sub01/EP07_01, sub05/EP99_99" in caplog.messages


def test_reads_no_image(release: Path, monkeypatch) -> None:
    before = read_casme2(release).rows
    for path in (release / RAW).rglob("*.jpg"):
        path.write_bytes(b"garbage, not a JPEG")

    def refuse(*args, **kwargs):
        raise AssertionError("the reader opened an image")

    monkeypatch.setattr(cv2, "imread", refuse)
    pd.testing.assert_frame_equal(read_casme2(release).rows, before)


def test_250_clips_of_25_subjects_are_read(tmp_path: Path) -> None:
    """A full-size sheet (its reading time is `make bench-prepare`'s, not a test's)."""
    emotions = ["happiness", "disgust", "repression", "surprise", "others"]
    rows = [
        row(s, f"EP{c:02d}_01f", 10 * c + 1, 10 * c + 5, 10 * c + 9, "4", emotions[c % 5])
        for s in range(1, 26)
        for c in range(10)
    ]
    root = make_release(tmp_path, rows)
    table = read_casme2(root)
    assert len(table) == 250 and len(table.subjects) == 25


def test_find_release_lists_folders_and_reads_no_row(release: Path) -> None:
    """What mer's command-line check calls before any job: the sheet and frames folder the reader
    would read, found without opening the sheet; the folder above the release is refused."""
    (release / SHEET).write_bytes(b"not a workbook")
    found, kind = find_release(release)
    root = release.resolve()
    assert (found.root, found.sheet, found.frames_root, kind) == (root, root / SHEET, root / RAW, "raw")
    with pytest.raises(MerError, match=rf"cannot read coding sheet .*{re.escape(SHEET)}"):
        read_casme2(release)  # the reader reads it
    with pytest.raises(MerError, match=rf"no CASME II frames folder in {re.escape(str(release.parent))} "):
        find_release(release.parent)  # its sheet is one level down, its frames are not
