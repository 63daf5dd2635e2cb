"""The spotting readers on crafted releases in the real layouts: CAS(ME)^2 (`read_casme_sq_videos`) and
SAMM Long Videos (`read_samm_lv`) give every video holding frames (an unannotated one too) and every
annotated interval, micro and macro, each quirk read and each mistake refused in one line."""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pytest
from helpers import compose_train
from hydra.utils import instantiate
from omegaconf import OmegaConf
from test_casme_sq_reader import CODES, SHEET, copy_release, make_release, with_cell, write_workbook

from mer.data import locate_release
from mer.data.casme_sq import read_casme_sq_videos
from mer.data.long_videos import INTERVAL_COLUMNS, VIDEO_COLUMNS, LongVideos
from mer.data.samm_lv import read_samm_lv
from mer.data.samples import file_sha256
from mer.errors import MerError
from mer.preflight import check_command_line, check_data_serves, check_release

CONF = Path(__file__).resolve().parents[1] / "conf" / "data"
GREY = np.full((8, 8), 90, np.uint8)


def read(reader, root: Path, **kwargs) -> tuple[LongVideos, list[str]]:
    """(what the reader returned, the warnings it raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        videos = reader(root, **kwargs)
    return videos, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def intervals_of(videos: LongVideos) -> list[tuple]:
    """Every interval as (video, subject, onset, apex, offset, type, action units, emotion)."""
    return list(videos.intervals[list(INTERVAL_COLUMNS)].itertuples(index=False, name=None))


# ---------------------------------------------------------------- CAS(ME)^2

#: A video folder no sheet row codes (spotting scores what is spotted there as false positives).
UNANNOTATED = "s16/16_0101disgustingteeth"


@pytest.fixture(scope="module")
def casme_sq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CAS(ME)^2 test release, plus an unannotated video and a video folder without frames."""
    top = make_release(tmp_path_factory.mktemp("casme_sq_videos") / "CAS(ME)^2")
    (top / "rawpic" / UNANNOTATED).mkdir()
    for number in (1, 2, 3):
        assert cv2.imwrite(str(top / "rawpic" / UNANNOTATED / f"img{number:03d}.jpg"), GREY)
    (top / "rawpic/s16/16_0503empty").mkdir()
    return top


def test_casme_sq_every_video_and_every_interval(casme_sq: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Micro and macro rows kept; offset 0 is the apex; the misfiled and misspelt videos found; the
    unannotated video listed; the folder without frames logged, not read."""
    with caplog.at_level(logging.INFO, logger="mer.data.casme_sq"):
        videos, said = read(read_casme_sq_videos, casme_sq)
    assert said == []
    assert "1 video folder without frames (like img001.jpg), not read: s16/16_0503empty" in caplog.text
    assert (videos.dataset, videos.fps, videos.root) == ("casme_sq", 30.0, casme_sq.resolve())
    assert list(videos.videos.columns) == list(VIDEO_COLUMNS)
    assert list(videos.videos[list(VIDEO_COLUMNS)].itertuples(index=False, name=None)) == [
        ("15_0101disgustingteeth", "s15", "rawpic/s15/15_0101disgustingteeth", 20, 705, 11),
        ("15_0503unnyfarting", "s15", "rawpic/s15/15_0503unnyfarting", 101, 110, 4),
        ("16_0101disgustingteeth", "s16", "rawpic/s16/16_0101disgustingteeth", 1, 3, 3),
        ("16_0401angrywhole", "s16", "rawpic/s16/16_0401angrywhole", 33, 40, 3),
        ("19_0101disgustingteeth", "s19", "rawpic/s19/19_0101disgustingteeth", 9, 15, 3),
        ("23_0101disgustingteeth", "s23", "rawpic/s23/23_0101disgustingteeth", 1000, 1008, 4),
        ("23_0502funnyerrors", "s23", "rawpic/s19/23_0502funnyerrors", 150, 158, 4),  # the person, not s19
    ]
    assert intervals_of(videos) == [
        ("15_0101disgustingteeth", "s15", 20, 30, 45, "macro", "4+7", "negative"),
        ("15_0101disgustingteeth", "s15", 557, 560, 570, "micro", "4+9", "negative"),
        ("15_0101disgustingteeth", "s15", 700, 705, 705, "micro", "4", "negative"),  # offset 0
        ("15_0503unnyfarting", "s15", 101, 103, 110, "micro", "", "positive"),  # misspelt; no AUs
        ("16_0401angrywhole", "s16", 33, 36, 40, "micro", "R4", "others"),
        ("19_0101disgustingteeth", "s19", 9, 12, 15, "micro", "1+2", "surprise"),
        ("23_0101disgustingteeth", "s23", 1000, 1003, 1008, "macro", "9", "negative"),
        ("23_0502funnyerrors", "s23", 150, 152, 158, "micro", "12", "positive"),  # filed under s19/
    ]
    assert len(videos.intervals) == len(CODES)
    assert videos.provenance["sheet_sha256"] == file_sha256(casme_sq / SHEET)
    assert videos.provenance["frames_dir"] == "rawpic"
    assert re.match(videos.frame_regex, "IMG046").group(1) == "046"


def test_casme_sq_root_may_hold_the_release_and_the_config_reads_it(casme_sq: Path) -> None:
    cfg = OmegaConf.create({"data": OmegaConf.load(CONF / "casme_sq.yaml")})
    cfg.data.root = str(casme_sq.parent)
    videos = instantiate(cfg.data.videos)
    assert videos.videos["frames_dir"][0] == "CAS(ME)^2/rawpic/s15/15_0101disgustingteeth"
    assert intervals_of(videos) == intervals_of(read_casme_sq_videos(casme_sq))
    assert locate_release(OmegaConf.to_container(cfg.data.videos, resolve=True)).root == casme_sq.parent.resolve()


@pytest.mark.parametrize(
    "policy, apex, warned",
    [
        ("midpoint", 563, "CAS(ME)^2: apex missing or outside [onset, offset] in 1 interval, used midpoint "
                          "(onset+offset)//2: 15_0101disgustingteeth [557, 570]"),
        ("drop", None, "CAS(ME)^2: apex missing or outside [onset, offset] in 1 interval, dropped: "
                       "15_0101disgustingteeth [557, 570]"),
    ],
)  # fmt: skip
def test_casme_sq_apex_policy(casme_sq: Path, tmp_path: Path, policy: str, apex: int | None, warned: str) -> None:
    root = copy_release(casme_sq, tmp_path)
    write_workbook(root / SHEET, with_cell(0, 3, "/"))
    videos, said = read(read_casme_sq_videos, root, apex_policy=policy)
    assert said == [warned]
    at_557 = videos.intervals[videos.intervals["onset"] == 557]
    assert at_557["apex"].tolist() == ([] if apex is None else [apex])
    assert videos.provenance["apex_fixed" if policy == "midpoint" else "apex_dropped"] == [
        "15_0101disgustingteeth [557, 570]"
    ]


@pytest.mark.parametrize(
    "codes, broken, message",
    [
        (with_cell(0, 3, 999), None,
         r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 1: apex '999' is not a frame in \[onset 557, "
         r"offset 570\]; fix the sheet or set data\.videos\.apex_policy=midpoint or drop$"),
        (with_cell(0, 2, 600), None,
         r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 1: onset 600 is after offset 570; fix the sheet$"),
        (with_cell(1, 3, "/"), None,
         r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 2: offset 0 means the apex ends the expression, "
         r"but the apex '/' is not a frame number; fix the sheet$"),
        (CODES, "rmtree",
         r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 6 \(disgust1_1 of s19\): no video folder "
         r"19_0101\* in rawpic/s19/ or another participant's folder; restore it or fix the sheet$"),
        (CODES, "frames",
         r"^CAS\(ME\)\^2code_final\.xlsx sheet CASFEcode_final row 6 \(disgust1_1 of s19\): video folder "
         r"rawpic/s19/19_0101disgustingteeth holds no frames \(like img001\.jpg\); restore them or fix the sheet$"),
    ],
    ids=["apex-error", "onset-after-offset", "offset-0-without-apex", "no-video-folder", "no-frames"],
)  # fmt: skip
def test_casme_sq_mistakes_are_one_line(
    casme_sq: Path, tmp_path: Path, codes: list[list], broken: str | None, message: str
) -> None:
    root = copy_release(casme_sq, tmp_path)
    write_workbook(root / SHEET, codes)
    video = root / "rawpic/s19/19_0101disgustingteeth"
    if broken == "rmtree":
        shutil.rmtree(video)
    elif broken == "frames":
        for frame in video.iterdir():
            frame.unlink()
    with pytest.raises(MerError, match=message):
        read_casme_sq_videos(root, apex_policy="error")


def test_unknown_apex_policy(casme_sq: Path) -> None:
    with pytest.raises(MerError, match=r"^unknown data\.videos\.apex_policy='middle': choose one of midpoint, drop"):
        read_casme_sq_videos(casme_sq, apex_policy="middle")


# ---------------------------------------------------------------- SAMM Long Videos

SAMM_LV_SHEET = "SAMM_LongVideos_V2_Release.xlsx"
HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type", "Action Units",
          "Notes"]  # fmt: skip
#: FACS_Movement_Only below its note rows: the quirks of the release.
MOVEMENTS = [
    ["006", "006_1_1", 1, 100, 105, 120, 21, "Micro - 1/2", "4+7", None],
    [6, "006_1_2", 1, 1234.5, 1240.49, 1250.5, 17, "macro", "R12", "float frames"],  # rounded half up
    ["007", "007_3_1", 3, 500, 510, 0, 11, " Micro - 1/2", None, "offset 0: the apex ends it"],
    [7, "007_3_2", 3, 600, "-", 650, 51, "MACRO ", "12+25", "no apex"],
]
#: Each video's frame numbers (006_2 is coded nowhere).
FRAMES = {"006_1": [1, 2, 1300], "006_2": [1, 2], "007_3": [1, 700]}


def write_samm_lv_workbook(path: Path, rows: list[list], interval_sheet: str = "FACS_Movement_Only") -> None:
    """The release's workbook: another sheet first, then the intervals below note rows."""
    book = openpyxl.Workbook()
    book.active.title = "Read_Me"
    book.active.append(["SAMM Long Videos: see FACS_Movement_Only"])
    sheet = book.create_sheet(interval_sheet)
    for values in [["SAMM Long Videos, V2"], ["Frame numbers count from the video's first frame."], [], HEADER,
                   *rows]:  # fmt: skip
        sheet.append(values)
    book.save(path)


def make_samm_lv(top: Path) -> Path:
    """`SAMM_LongVideos/`: `SAMM_longvideos/006_1/006_1_0001.jpg` greyscale frames, a folder that is no
    video, and the workbook."""
    for video, numbers in FRAMES.items():
        (top / "SAMM_longvideos" / video).mkdir(parents=True)
        for number in numbers:
            assert cv2.imwrite(str(top / "SAMM_longvideos" / video / f"{video}_{number:04d}.jpg"), GREY)
    (top / "SAMM_longvideos" / "thumbnails").mkdir()
    write_samm_lv_workbook(top / SAMM_LV_SHEET, MOVEMENTS)
    return top


@pytest.fixture(scope="module")
def samm_lv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_samm_lv(tmp_path_factory.mktemp("samm_lv") / "SAMM_LongVideos")


def copy_samm_lv(release: Path, tmp_path: Path) -> Path:
    """A private copy of the release that a test may break."""
    return Path(shutil.copytree(release, tmp_path / "SAMM_LongVideos"))


def with_movement(row: int, column: int, value: object) -> list[list]:
    """MOVEMENTS with one cell (0-based row and column) replaced."""
    rows = [list(r) for r in MOVEMENTS]
    rows[row][column] = value
    return rows


def test_samm_lv_every_video_and_every_interval(samm_lv: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Root = the folder holding the release; note rows; `Micro - 1/2`; frames rounded half up;
    offset 0; a missing apex at the midpoint; the unannotated video listed."""
    with caplog.at_level(logging.INFO, logger="mer.data.samm_lv"):
        videos, said = read(read_samm_lv, samm_lv.parent)
    assert said == [
        "SAMM Long Videos: apex missing or outside [onset, offset] in 1 interval, used midpoint (onset+offset)//2: "
        "007_3 [600, 650]"
    ]
    assert "1 folder not a video of frames (like 006_1/006_1_0001.jpg), not read: thumbnails" in caplog.text
    assert (videos.dataset, videos.fps) == ("samm_lv", 200.0)
    assert re.match(videos.frame_regex, "006_1_0001").group(1) == "0001"  # as mer-spot lists a video's frames
    assert list(videos.videos[list(VIDEO_COLUMNS)].itertuples(index=False, name=None)) == [
        ("006_1", "006", "SAMM_LongVideos/SAMM_longvideos/006_1", 1, 1300, 3),
        ("006_2", "006", "SAMM_LongVideos/SAMM_longvideos/006_2", 1, 2, 2),
        ("007_3", "007", "SAMM_LongVideos/SAMM_longvideos/007_3", 1, 700, 2),
    ]
    assert intervals_of(videos) == [
        ("006_1", "006", 100, 105, 120, "micro", "4+7", ""),
        ("006_1", "006", 1235, 1240, 1251, "macro", "R12", ""),
        ("007_3", "007", 500, 510, 510, "micro", "", ""),
        ("007_3", "007", 600, 625, 650, "macro", "12+25", ""),
    ]
    assert videos.provenance["sheet"] == f"SAMM_LongVideos/{SAMM_LV_SHEET}"
    assert videos.provenance["sheet_sha256"] == file_sha256(samm_lv / SAMM_LV_SHEET)
    assert videos.provenance["apex_fixed"] == ["007_3 [600, 650]"]


def test_samm_lv_config_reads_it(samm_lv: Path) -> None:
    """conf/data/samm_lv.yaml has a `videos` reader and no recognition reader."""
    cfg = OmegaConf.create({"data": OmegaConf.load(CONF / "samm_lv.yaml")})
    assert "reader" not in cfg.data
    cfg.data.root = str(samm_lv)
    with pytest.warns(UserWarning, match="in 1 interval, used midpoint"):
        videos = instantiate(cfg.data.videos)
    assert videos.videos["frames_dir"][0] == "SAMM_longvideos/006_1"
    assert locate_release(OmegaConf.to_container(cfg.data.videos, resolve=True)).sheet == samm_lv / SAMM_LV_SHEET


@pytest.mark.parametrize(
    "rows, message",
    [
        (with_movement(1, 7, "Blink"),
         r"row 6: Type 'Blink' is neither Micro \(e\.g\. 'Micro - 1/2'\) nor Macro; "
         r"fix the sheet$"),
        (with_movement(0, 1, "006-1-1"),
         r"row 5: Filename '006-1-1' is not a movement of a video like 006_1_2; fix the sheet$"),
        (with_movement(0, 1, "006_9_1"),
         r"row 5: no video folder 006_9 holding frames in SAMM_longvideos/ for Filename '006_9_1'; restore it or "
         r"fix the sheet$"),
        (with_movement(0, 0, 7),
         r"row 5: Subject '7' is not the subject of Filename '006_1_1' \(006\); fix the sheet$"),
        (with_movement(0, 3, "1O0"), r"row 5: Onset '1O0' is not a frame number; fix the sheet$"),
        (with_movement(0, 3, 130), r"row 5: onset 130 is after offset 120; fix the sheet$"),
        (with_movement(2, 4, None),
         r"row 7: offset 0 means the apex ends the expression, but the apex '' is not a frame number; fix the sheet$"),
        (with_movement(1, 4, 1300), r"row 6: apex '1300' is not a frame in \[onset 1235, offset 1251\]; fix the "
                                    r"sheet or set data\.videos\.apex_policy=midpoint or drop$"),
    ],
    ids=["type", "filename", "no-video", "subject", "onset", "onset-after-offset", "offset-0", "apex"],
)  # fmt: skip
def test_samm_lv_mistakes_name_the_row(samm_lv: Path, tmp_path: Path, rows: list[list], message: str) -> None:
    root = copy_samm_lv(samm_lv, tmp_path)
    write_samm_lv_workbook(root / SAMM_LV_SHEET, rows)
    with pytest.raises(MerError, match=rf"^{re.escape(SAMM_LV_SHEET)} sheet FACS_Movement_Only {message}"):
        read_samm_lv(root, apex_policy="error")


def test_samm_lv_workbook_without_the_interval_sheet(samm_lv: Path, tmp_path: Path) -> None:
    root = copy_samm_lv(samm_lv, tmp_path)
    write_samm_lv_workbook(root / SAMM_LV_SHEET, MOVEMENTS, interval_sheet="Sheet2")
    with pytest.raises(MerError, match=r"has no worksheet 'FACS_Movement_Only' \(its sheets: Read_Me, Sheet2\)"):
        read_samm_lv(root)


def test_samm_lv_folder_that_is_not_the_release(samm_lv: Path, tmp_path: Path) -> None:
    """No workbook, or a workbook without the frames folder: one line each, as preflight says it."""
    with pytest.raises(MerError, match=r"^no SAMM Long Videos coding sheet in .*SAMM_LongVideos_V1_Release\.xlsx"):
        read_samm_lv(tmp_path)
    shutil.copy(samm_lv / SAMM_LV_SHEET, tmp_path)
    with pytest.raises(MerError, match=r"^no SAMM Long Videos frames in .* looked for SAMM_longvideos/ holding video"):
        read_samm_lv(tmp_path)


# ---------------------------------------------------------------- the command line


def test_mer_train_on_a_spotting_release_says_use_mer_spot(samm_lv: Path) -> None:
    message = (
        "data=samm_lv is a spotting release (long videos with annotated intervals, no clips to recognise): "
        "use mer-spot data=samm_lv data.root=DIR"
    )
    for app, args in (("train", ["data=samm_lv"]), ("prepare", ["data=samm_lv", f"data.root={samm_lv}"])):
        with pytest.raises(MerError) as caught:
            check_command_line(app, args)
        assert str(caught.value) == message


def test_mer_spot_locates_the_release_through_videos(samm_lv: Path, tmp_path: Path) -> None:
    """mer-spot's check reads `data.videos`: the release found from its parent, a folder without it
    refused, a recognition-only release refused."""
    check_release(compose_train("data=samm_lv", f"data.root={samm_lv.parent}"), "mer-spot")
    with pytest.raises(MerError, match=r"^no SAMM Long Videos coding sheet in "):
        check_release(compose_train("data=samm_lv", f"data.root={tmp_path}"), "mer-spot")
    with pytest.raises(MerError) as caught:
        check_data_serves(compose_train("data=casme2", "data.root=/nowhere"), "mer-spot")
    assert str(caught.value) == (
        "data=casme2 has no long videos to spot in: mer-spot reads data=casme_sq, samm_lv or synthetic_spot "
        "(mer-train recognises clips)"
    )
    check_data_serves(compose_train("data=casme_sq", "data.root=/nowhere"), "mer-spot")
    check_data_serves(compose_train("data=casme_sq", "data.root=/nowhere"), "mer-train")
