"""Synthetic long videos for spotting: CAS(ME)^2's and SAMM Long Videos' layouts, read back by the real
readers, with the planted expressions really in the frames."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from mer.data.long_videos import LongVideos
from mer.errors import MerError
from mer.synthetic import GROUND_TRUTH_FILE, load_ground_truth
from mer.synthetic.layout_base import frame_file
from mer.synthetic.long_videos import (
    FRAME_SIZE,
    SAMM_LV_HEADER,
    SAMM_LV_SHEET,
    SAMM_LV_SHEET_NAME,
    expected_intervals,
    generate_long_videos,
    long_profile,
    read_synthetic_videos,
)
from mer.synthetic.meb_layouts import CASME_SQ_SHEET, CASME_SQ_SHEETS

#: Small releases: two subjects (so one video is filed under the other's folder), two videos each
#: (so one holds no expression); SAMM-LV's smallest length (3 s at 200 fps).
SIZES = {
    "casme_sq": dict(n_subjects=2, videos_per_subject=2, frames_per_video=300),
    "samm_lv": dict(n_subjects=2, videos_per_subject=2, frames_per_video=600),
}
FPS = {"casme_sq": 30, "samm_lv": 200}


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes: equal iff two releases are identical."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module", params=sorted(SIZES))
def release(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(layout, root) of a small release in each layout, shared by the module."""
    layout = request.param
    root = tmp_path_factory.mktemp(layout) / "release"
    return layout, generate_long_videos(root, layout, **SIZES[layout], progress=False)


@pytest.fixture(scope="module")
def truth(release: tuple[str, Path]) -> dict:
    """The release's ground-truth record."""
    return load_ground_truth(release[1])


def grey(root: Path, video: dict, frame: int) -> np.ndarray:
    """One frame of a video as float32 grey."""
    image = cv2.imread(str(root / video["frames_dir"] / frame_file(video, frame)), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"cannot read frame {frame} of {video['video']}"
    return image.astype(np.float32)


# --- the plan -------------------------------------------------------------------------------


def test_expressions_are_planted_apart_with_micro_and_macro_durations(truth: dict) -> None:
    """Micro 0.2–0.5 s and macro over 0.5 s at the layout's rate, non-overlapping with rest between,
    every subject's first video holding both, and some video holding none."""
    fps = truth["fps"]
    assert fps == FPS[truth["params"]["layout"]]
    empty = [v["video"] for v in truth["videos"] if not v["intervals"]]
    assert len(empty) == 1
    for video in truth["videos"]:
        motions = [i["motion"] for i in video["intervals"]]
        assert all(1 < m["onset"] < m["apex"] < m["offset"] < video["n_frames"] for m in motions)
        assert all(a["offset"] + 0.4 * fps <= b["onset"] for a, b in zip(motions, motions[1:]))
        for interval in video["intervals"]:
            seconds = (interval["motion"]["offset"] - interval["motion"]["onset"] + 1) / fps
            if interval["type"] == "micro":
                assert 0.2 <= seconds <= 0.5 and 1.0 <= interval["motion"]["amplitude"] <= 2.0
            else:
                assert 0.5 < seconds <= 3.0 and 3.0 <= interval["motion"]["amplitude"] <= 6.0
        if video["index"] == 0:
            assert {i["type"] for i in video["intervals"]} == {"micro", "macro"}


def test_profile_rests_outside_the_interval() -> None:
    """0 at and outside onset and offset, 1 at the apex, rising then falling."""
    values = [long_profile(f, 10, 14, 20) for f in range(8, 23)]
    assert values[:3] == [0.0, 0.0, 0.0] and values[-3:] == [0.0, 0.0, 0.0]
    assert values[6] == 1.0
    assert values[2:7] == sorted(values[2:7]) and values[6:13] == sorted(values[6:13], reverse=True)


# --- the layouts ----------------------------------------------------------------------------


def test_folders_and_frames_follow_the_release(release: tuple[str, Path], truth: dict) -> None:
    """Every frame from 1 in the release's names; CAS(ME)^2 in colour, SAMM-LV in grey, 256×256."""
    layout, root = release
    for video in truth["videos"]:
        names = sorted(p.name for p in (root / video["frames_dir"]).iterdir())
        if layout == "casme_sq":
            assert re.fullmatch(r"CAS\(ME\)\^2/rawpic/s\d+/\d+_\d{4}[a-z]+", video["frames_dir"])
            expected = [f"img{n:03d}.jpg" for n in range(1, video["n_frames"] + 1)]
        else:
            assert video["frames_dir"] == f"SAMM_longvideos/{video['video']}"
            assert re.fullmatch(r"\d{3}_\d", video["video"])
            expected = [f"{video['video']}_{n:04d}.jpg" for n in range(1, video["n_frames"] + 1)]
        assert names == sorted(expected)
    first = truth["videos"][0]
    image = cv2.imread(str(root / first["frames_dir"] / frame_file(first, 1)), cv2.IMREAD_UNCHANGED)
    assert image.shape == ((FRAME_SIZE, FRAME_SIZE, 3) if layout == "casme_sq" else (FRAME_SIZE, FRAME_SIZE))


@pytest.mark.parametrize("release", ["casme_sq"], indirect=True)
def test_casme_sq_quirks(release: tuple[str, Path], truth: dict) -> None:
    """Headerless sheets, the misspelt stimulus, a video under another participant's folder, an offset
    written 0 and an empty AU cell."""
    _, root = release
    book = load_workbook(root / CASME_SQ_SHEET)
    assert book.sheetnames == list(CASME_SQ_SHEETS)
    codes = [row for row in book[CASME_SQ_SHEETS[0]].iter_rows(values_only=True)]
    assert codes[0][0] == 1 and re.fullmatch(r"[a-z]+\d_\d+", codes[0][1])  # no header row
    assert sum(row[4] == 0 for row in codes) == 1 and sum(row[5] is None for row in codes) == 1
    assert {row[7] for row in codes} == {"micro-expression", "macro-expression"}
    folders = [v["frames_dir"] for v in truth["videos"]]
    assert "CAS(ME)^2/rawpic/s15/15_0503unnyfarting" in folders
    assert "CAS(ME)^2/rawpic/s15/16_0102eatingworms" in folders  # s16's last video, filed under s15


@pytest.mark.parametrize("release", ["samm_lv"], indirect=True)
def test_samm_lv_quirks(release: tuple[str, Path]) -> None:
    """Note rows, the header, `006_1_2` filenames, both types, an offset written 0, a float onset and
    subject cells as numbers and text."""
    _, root = release
    book = load_workbook(root / SAMM_LV_SHEET)
    assert book.sheetnames == [SAMM_LV_SHEET_NAME]
    rows = [row for row in book[SAMM_LV_SHEET_NAME].iter_rows(values_only=True)]
    at = rows.index(SAMM_LV_HEADER)
    assert at > 0
    data = rows[at + 1 :]
    assert all(re.fullmatch(r"\d{3}_\d_\d+", row[1]) for row in data)
    assert {row[7] for row in data} == {"Micro - 1/2", "Macro"}
    assert sum(row[5] == 0 for row in data) == 1
    assert [row[3] % 1 for row in data if isinstance(row[3], float)] == [0.5]
    assert {type(row[0]) for row in data} == {int, str}


# --- reading it back ------------------------------------------------------------------------


def test_the_real_reader_returns_the_ground_truth(release: tuple[str, Path], truth: dict) -> None:
    """Every video (the one without expressions too) and every interval as planned, after the quirks."""
    layout, root = release
    stamp = (root / GROUND_TRUTH_FILE).stat().st_mtime_ns
    videos = read_synthetic_videos(root, layout, **SIZES[layout])
    assert (root / GROUND_TRUTH_FILE).stat().st_mtime_ns == stamp, "matching parameters must not regenerate"
    assert isinstance(videos, LongVideos) and videos.fps == FPS[layout]
    assert videos.provenance["synthetic"] == truth["params"]
    table = videos.videos.set_index("video")
    assert sorted(table.index) == sorted(v["video"] for v in truth["videos"])
    for video in truth["videos"]:
        row = table.loc[video["video"]]
        assert row["subject"] == video["subject"]
        assert (videos.root / row["frames_dir"]).resolve() == (root / video["frames_dir"]).resolve()
        assert (row["first_frame"], row["last_frame"], row["n_frames"]) == (1, video["n_frames"], video["n_frames"])
    columns = ["video", "subject", "onset", "apex", "offset", "type", "action_units", "emotion"]
    got = videos.intervals[columns].sort_values(["video", "onset"]).reset_index(drop=True)
    expected = pd.DataFrame(expected_intervals(truth), columns=columns)
    expected = expected.sort_values(["video", "onset"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got.astype(str), expected.astype(str))
    empty = next(v["video"] for v in truth["videos"] if not v["intervals"])
    assert empty in set(table.index) - set(videos.intervals["video"])
    quirked = expected_intervals(truth)[0]
    assert quirked["offset"] == quirked["apex"]  # the offset written 0


def test_action_units_name_the_moved_region(truth: dict) -> None:
    """Each interval's bumps are those of its planned AUs, which the sheet writes (but the one empty cell)."""
    for video in truth["videos"]:
        for interval in video["intervals"]:
            planned = interval["planned_action_units"]
            assert {b["au"] for b in interval["motion"]["bumps"]} == set(planned.split("+"))
            assert interval["action_units"] in (planned, "")


def region_change(root: Path, video: dict, motion: dict, a: int, b: int) -> float:
    """Mean absolute grey difference of frames a and b in the box around a motion's bumps (±2σ)."""
    centres = np.asarray([bump["centre"] for bump in motion["bumps"]])
    sigma = motion["bumps"][0]["sigma"]
    x0, y0 = np.maximum(centres.min(axis=0) - 2 * sigma, 0).astype(int)
    x1, y1 = (centres.max(axis=0) + 2 * sigma).astype(int)
    return float(np.abs(grey(root, video, a) - grey(root, video, b))[y0:y1, x0:x1].mean())


def test_the_motion_is_in_the_frames(release: tuple[str, Path], truth: dict) -> None:
    """In each expression's region, onset→apex changes the frame far more than the same span of rest
    in the same video (where the video has one)."""
    _, root = release
    checked = {"micro": 0, "macro": 0}
    for video in truth["videos"]:
        busy = {f for i in video["intervals"] for f in range(i["motion"]["onset"], i["motion"]["offset"] + 1)}
        for interval in video["intervals"]:
            motion = interval["motion"]
            span = motion["apex"] - motion["onset"]
            starts = range(1, video["n_frames"] - span + 1)
            quiet = next((a for a in starts if not busy & set(range(a, a + span + 1))), None)
            if quiet is None:
                continue
            moved = region_change(root, video, motion, motion["onset"], motion["apex"])
            rest = region_change(root, video, motion, quiet, quiet + span)
            assert moved > (2.0 if interval["type"] == "macro" else 1.3) * rest, (video["video"], motion)
            checked[interval["type"]] += 1
    assert checked["micro"] and checked["macro"]


def test_same_seed_is_byte_identical_other_seed_differs(tmp_path: Path) -> None:
    """Deterministic by seed, whatever the number of threads."""
    tiny = dict(n_subjects=1, videos_per_subject=2, frames_per_video=90, progress=False)
    a = generate_long_videos(tmp_path / "a", "casme_sq", **tiny, workers=1)
    b = generate_long_videos(tmp_path / "b", "casme_sq", **tiny, workers=2)
    c = generate_long_videos(tmp_path / "c", "casme_sq", **tiny, seed=1)
    assert tree_digest(a) == tree_digest(b) != tree_digest(c)


def test_regenerates_on_new_params_and_refuses_a_foreign_folder(tmp_path: Path) -> None:
    """Other sizes regenerate with a warning; a folder that is no synthetic release is never touched;
    sizes out of range are one clear error."""
    root = tmp_path / "videos"
    generate_long_videos(root, "casme_sq", n_subjects=1, videos_per_subject=1, frames_per_video=90, progress=False)
    with pytest.warns(UserWarning, match="regenerating"):
        generate_long_videos(root, "casme_sq", n_subjects=1, videos_per_subject=1, frames_per_video=91, progress=False)
    assert json.loads((root / GROUND_TRUTH_FILE).read_text())["params"]["frames_per_video"] == 91
    foreign = tmp_path / "SAMM-LV"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(MerError, match="not empty.*synthetic.json"):
        read_synthetic_videos(foreign, "samm_lv")
    with pytest.raises(MerError, match=r"data.videos.frames_per_video=100.*\[600, 60000\]"):
        generate_long_videos(tmp_path / "short", "samm_lv", frames_per_video=100)
    with pytest.raises(MerError, match="unknown long-video layout data.videos.layout='casme2'"):
        generate_long_videos(tmp_path / "clips", "casme2")


def test_the_data_config_instantiates_the_reader(tmp_path: Path) -> None:
    """conf/data/synthetic_spot.yaml resolves and its `videos` node reads a generated release."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    data = OmegaConf.load(Path(__file__).parents[1] / "conf" / "data" / "synthetic_spot.yaml")
    cfg = OmegaConf.create({"paths": {"data_dir": str(tmp_path)}, "data": data})
    assert cfg.data.name == "synthetic_spot" and cfg.data.root == str(tmp_path / "synthetic-spot-casme_sq")
    cfg.data.videos.n_subjects, cfg.data.videos.videos_per_subject, cfg.data.videos.frames_per_video = 1, 1, 90
    videos = instantiate(cfg.data.videos)
    assert videos.dataset == "casme_sq" and len(videos.videos) == 1 and len(videos.intervals) >= 2
